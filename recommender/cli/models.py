"""The encoder: ONNX exports, switching the live model, re-embedding and reindexing the database."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from recommender.cli import context
from recommender.cli.errors import fail
from recommender.config import Settings
from recommender.store.factory import describe_store

models_app = typer.Typer(no_args_is_help=True, help="Model exports for the ONNX Runtime backend; switching the live model.")


@models_app.command("export")
def models_export(
    name: Annotated[str | None, typer.Option(help="Model name (default RECOMMENDER_MODEL).")] = None,
    int8: Annotated[bool, typer.Option("--int8/--no-int8", help="Also write the int8 (row-wise quantisation) model.")] = True,
    force: Annotated[bool, typer.Option(help="Export again even if the export matches the model.")] = False,
) -> None:
    """Export the model to models/<name>-onnx/ and print how far it is from the torch encoder (needs torch)."""
    from recommender.embedding.factory import torch_available

    settings = Settings()
    if not torch_available():
        fail("exporting needs torch and sentence-transformers (the full install); serving the export does not")
    from recommender.embedding.export import export_onnx

    # ModelNotFound and ExportError are reported by cli/errors.py
    report = export_onnx(name or settings.model, settings.models_dir, quantize=int8, force=force)
    for line in report.lines():
        typer.echo(line)


@models_app.command("use")
def models_use(
    name: Annotated[str, typer.Argument(help="A model from the registry or a trained folder under models/.")],
    force: Annotated[bool, typer.Option(help="Switch even when the model card's gate did not pass.")] = False,
) -> None:
    """Switch the database to another model: re-embed beside the live vectors, then swap in one transaction.

    A server on the same database keeps serving the old model until the swap and follows it at once.
    """
    from recommender.learning.cards import read_card

    settings = Settings()
    card = read_card(settings.models_dir, name)
    if card is not None and not card.get("gate", {}).get("passed", True) and not force:
        fail(f"{name!r} did not pass its gate ({card['gate'].get('reason')}); --force to switch anyway")
    with context.opened(settings) as services:
        try:  # ModelNotFound and BackendUnavailable are reported by cli/errors.py
            job = services.models.switch_model(name, background=False)
        except RuntimeError as exc:  # another switch running
            fail(str(exc))
        if job.state != "done":
            fail(f"switching to {name!r} failed: {job.error}")
    typer.echo(f"the database now serves {name!r} ({job.model_id}); {job.done} texts re-embedded; decisions untouched")


def reindex(
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Texts per transaction (default RECOMMENDER_REINDEX_BATCH_SIZE).")
    ] = None,
    fresh: Annotated[bool, typer.Option(help="Discard vectors staged by an interrupted run instead of reusing them.")] = False,
) -> None:
    """Re-embed every passage and question with the current model and relink every question.

    New vectors are staged in batches and swapped in with the new links at once: the service keeps
    serving the old index meanwhile, and an interrupted run resumes where it stopped."""
    settings = Settings()
    with context.opened(settings) as services:
        try:
            job = services.models.reindex(batch_size, fresh)
        except RuntimeError as exc:
            fail(str(exc))
    counts = f"{job.done} passages and questions re-embedded" if job.done else "every vector was already staged"
    typer.echo(f"reindexed with {job.model_id}: {counts}; every question relinked ({describe_store(settings)})")


def reembed(
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Re-embed the database with the configured encoder (RECOMMENDER_MODEL / RECOMMENDER_BACKEND), now.

    What a server does in the background after the encoder changed: stage new vectors beside the live
    ones, newest articles first, then swap them in with fresh links at once. Decisions are untouched;
    an interrupted run resumes from the staged batches."""
    import time

    from tqdm import tqdm

    settings = Settings()
    with context.opened(settings) as services:
        job = services.models.reembed(background=True)  # a thread, so this one can draw the progress bar
        if job is None:
            typer.echo(f"nothing to do: every vector comes from {services.holder.encoder.model_id} ({describe_store(settings)})")
            return
        with tqdm(total=job.total or None, unit="text", desc="re-embedding", disable=not progress, file=sys.stderr) as bar:
            while job.running:
                bar.total = job.total or bar.total
                bar.update(job.done - bar.n)
                time.sleep(0.2)
            job.wait()
            bar.total = job.total or bar.total
            bar.update(job.done - bar.n)
    if job.state != "done":
        fail(f"re-embedding with {job.model_id} failed: {job.error}")
    typer.echo(
        f"now serving {job.model_id}: {job.done} passages and questions re-embedded, every question relinked, "
        f"decisions untouched ({describe_store(settings)})"
    )
