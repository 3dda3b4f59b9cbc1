"""Getting articles in and out: ingest, watch a CMS export folder, export and import a backup."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from recommender.cli import context
from recommender.cli.errors import fail
from recommender.config import Settings
from recommender.store.factory import describe_store


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Article files (.txt, .jsonl) or folders of them.")],
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Parse every input first; store new and changed articles; relink what they affect."""
    from recommender.articles.loader import load_paths

    settings = Settings()
    loaded = load_paths(paths, settings.max_article_bytes)  # LoadErrors: every file:line, nothing stored
    with context.opened(settings) as services:
        report = services.catalog.ingest([item.article for item in loaded], progress=progress and sys.stderr.isatty())
    typer.echo(
        f"{len(report.added)} added, {len(report.updated)} updated, {len(report.unchanged)} unchanged; "
        f"{report.relinked} questions relinked ({describe_store(settings)})"
    )


def watch(
    folder: Annotated[Path, typer.Argument(help="Folder the CMS exports article files (.txt, .jsonl) into.")],
    interval: Annotated[
        float | None, typer.Option(min=0.01, help="Seconds between passes (default RECOMMENDER_WATCH_INTERVAL).")
    ] = None,
    once: Annotated[bool, typer.Option(help="One pass (files settled over one interval), then exit: for cron.")] = False,
    delete: Annotated[
        bool, typer.Option(help="Delete the articles of files that disappear (by default they stay served).")
    ] = False,
) -> None:
    """Ingest new and changed article files as they appear in FOLDER, until interrupted.

    A file is read once its size and modification time hold still for one interval; hidden files are
    ignored. A file that does not parse is reported (file:line) and skipped until it changes; the rest
    is ingested. Unchanged articles are not stored again."""
    import threading

    from recommender.articles.watch import FolderWatcher, PassReport

    settings = Settings()
    if not folder.is_dir():
        fail(f"{folder}: no such folder")
    interval = interval or settings.watch_interval

    def show(report: PassReport) -> None:
        for error in report.errors:
            typer.echo(f"error: {error}", err=True)
        for path in report.gone:
            typer.echo(f"gone: {path}" + ("" if delete else " (its articles stay; --delete to remove them)"), err=True)
        if report.read or report.deleted:
            typer.echo(report.summary())

    with context.opened(settings) as services:
        watcher = FolderWatcher(
            folder, services.catalog.ingest, services.catalog.delete, max_bytes=settings.max_article_bytes, delete_missing=delete
        )
        if once:
            report = watcher.once(interval)
            show(report)
            if report.errors:
                raise typer.Exit(1)
            return
        typer.echo(f"watching {folder} every {interval:g}s ({describe_store(settings)}); Ctrl-C to stop", err=True)
        stop = threading.Event()
        try:
            watcher.run(interval, stop, show)
        except KeyboardInterrupt:
            stop.set()


def export_cmd(
    out: Annotated[Path | None, typer.Argument(help="Backup file to write (JSON Lines); stdout when left out.")] = None,
    editors: Annotated[bool, typer.Option(help="Include editors (names and token hashes, never tokens).")] = True,
) -> None:
    """Back up articles, editors' decisions, the audit log and editors as JSON Lines (no vectors)."""
    from recommender.backup import write_backup

    with context.opened_store(Settings()) as store:  # no model needed: vectors are not exported
        dump = store.dump()
        model = store.live_model()[1]
    counts = write_backup(dump, out, model_id=model, editors=editors)
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items() if kind != "header")
    typer.echo(f"exported {summary} to {out or 'stdout'}", err=True)


def import_cmd(
    backup: Annotated[Path, typer.Argument(help="A file written by `recommender export`.")],
    force: Annotated[bool, typer.Option(help="Replace what the database holds (otherwise it must be empty).")] = False,
) -> None:
    """Restore a backup: every line is checked first, then everything is written in one transaction."""
    from recommender.backup import read_backup

    settings = Settings()
    parsed = read_backup(backup)  # BackupError: every file:line, nothing imported
    with context.opened(settings) as services:
        if not force and not services.catalog.is_empty():
            fail(f"{describe_store(settings)} is not empty; import into an empty database, or pass --force to replace its content")
        linked = services.catalog.restore(parsed.dump, replace=force, progress=sys.stderr.isatty())
    dump = parsed.dump
    typer.echo(
        f"imported {len(dump.articles)} articles, {len(dump.decisions)} decisions, {len(dump.audit)} audit entries, "
        f"{len(dump.superseded)} superseded, {len(dump.editors)} editors; {linked} questions linked ({describe_store(settings)})"
    )
