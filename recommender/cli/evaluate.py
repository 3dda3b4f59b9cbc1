"""`recommender evaluate`: a benchmark ranked with the service's ranking code."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from recommender.cli.errors import fail
from recommender.config import Settings


def evaluate(
    corpus: Annotated[Path, typer.Option(help="Corpus JSON Lines: {id, title, text}.")],
    queries: Annotated[Path, typer.Option(help="Queries JSON Lines: {id, text, exclude?}.")],
    qrels: Annotated[Path, typer.Option(help="TREC qrels: query_id 0 doc_id relevance.")],
    method: Annotated[
        list[str] | None, typer.Option("--method", help="default, dense, lexical or hybrid; repeatable.")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the metrics as JSON here.")] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Rank inside this PostgreSQL database with the service's PostgreSQL backend (pgvector and BM25 "
            "candidates, exact rescoring) instead of in memory. A scratch database: the benchmark's documents "
            "replace what an earlier evaluation loaded; one holding real articles is refused.",
        ),
    ] = None,
) -> None:
    """Rank a benchmark with the service's ranking code and print MAP@5, MRR, recall and nDCG."""
    from recommender.embedding.factory import create_encoder
    from recommender.evaluation.runner import format_table, run_benchmark, to_json

    settings = Settings()
    for path in (corpus, queries, qrels):
        if not path.is_file():
            fail(f"{path}: no such file")
    try:
        results = run_benchmark(
            corpus,
            queries,
            qrels,
            method or ["default"],
            settings,
            lambda: create_encoder(settings.model, settings.models_dir, backend=settings.backend),
            progress=sys.stderr.isatty(),
            database_url=database_url,
        )
    except ValueError as exc:  # a BenchmarkFormatError (names file:line) or an unknown --method
        fail(str(exc))
    typer.echo(format_table(results))
    skipped = {r.skipped for r in results.values()}
    if skipped != {0}:
        typer.echo(f"queries without any relevant document (skipped): {max(skipped)}")
    if json_out:
        json_out.write_text(json.dumps(to_json(results), indent=2) + "\n")
