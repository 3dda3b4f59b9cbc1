"""How the links stand: duplicate-question clusters, the operator's status, verifying and relinking stored links."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from recommender.cli import context
from recommender.cli.errors import fail
from recommender.config import Settings
from recommender.store.factory import describe_store


def clusters(
    rebuild: Annotated[bool, typer.Option(help="Recompute the clusters now (needs scikit-learn).")] = False,
    limit: Annotated[int, typer.Option(help="How many clusters to list.")] = 50,
) -> None:
    """Duplicate-question clusters across the site (RECOMMENDER_CLUSTER_THRESHOLD), largest first."""
    from recommender.linking.clusters import sklearn_available

    settings = Settings()
    with context.opened(settings) as services:
        if rebuild:
            if not sklearn_available():
                fail("clustering needs scikit-learn (pip install '.[learn]')")
            services.linking.recluster()
        found = services.reading.clusters()
        texts = {status.question.id: status.question.text for status in services.reading.statuses()}
    groups: dict[str, list[str]] = {}
    for question_id, cluster in found.items():
        groups.setdefault(cluster, []).append(question_id)
    typer.echo(f"{len(groups)} clusters of {len(found)} questions (threshold {settings.cluster_threshold})")
    for cluster, members in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0]))[:limit]:
        typer.echo(f"{cluster} ({len(members)}):")
        for question_id in sorted(members):
            typer.echo(f"  {question_id}: {texts.get(question_id, '?')}")


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts and monitoring).")] = False,
    verify_sample: Annotated[
        int, typer.Option("--verify-sample", min=0, help="Questions whose links are recomputed and compared (0: none).")
    ] = 200,
) -> None:
    """Counts, encoder, index age, queues and whether links are stale; changes nothing."""
    from recommender.status import collect_status, format_status

    settings = Settings()
    with context.opened_store(settings, existing=True) as store:
        encoder, error = context.server_encoder(settings, store)
        report = collect_status(settings, store, describe_store(settings), encoder, error, verify=verify_sample or None)
    typer.echo(json.dumps(report.to_json(), indent=2) if as_json else format_status(report))


def verify(
    sample: Annotated[
        Optional[int], typer.Option("--sample", min=1, help="Recompute this many questions (seeded), not all.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sample.")] = 0,
    examples: Annotated[int, typer.Option(min=0, help="Differences to list.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Recompute links and compare them with the stored ones; exit 1 when any shown answer or link differs.

    Changes nothing (no Services is opened: it would relink what is pending first)."""
    from dataclasses import asdict

    from recommender.linking.verify import format_verification
    from recommender.status import model_name, served_thresholds, verify_database

    settings = Settings()
    with context.opened_store(settings, existing=True) as store:
        encoder, error = context.server_encoder(settings, store)
        if encoder is None:
            fail(f"cannot load the encoder to size the index: {error}")
        notes: list[str] = []
        thresholds = served_thresholds(settings, model_name(settings, store), encoder.model_id, notes)
        result = verify_database(settings, store, encoder, thresholds, sample=sample, examples=examples)
    typer.echo(json.dumps({**asdict(result), "ok": result.ok}, indent=2) if as_json else format_verification(result))
    if not result.ok:
        raise typer.Exit(1)


def relink(
    everything: Annotated[bool, typer.Option("--all", help="Recompute every question's links, not only what is owed.")] = False,
) -> None:
    """Link what is owed: questions marked by an interrupted write, and every question when the ranking
    settings changed since the links were stored (what a server's start does before it serves)."""
    settings = Settings()
    if not settings.database_url and not settings.db.exists():
        fail(f"no database at {settings.db} (set RECOMMENDER_DB or RECOMMENDER_DATABASE_URL, or run `recommender ingest`)")
    with context.opened(settings) as services:  # its start relinks what is owed (Services.startup)
        relinked = services.linking.relink_all() if everything else 0
        counts = services.store.counts()
    what = f"every question relinked ({relinked})" if everything else "links current"
    typer.echo(f"{what}: {counts['questions']} questions, {counts['links']} links ({describe_store(settings)})")
