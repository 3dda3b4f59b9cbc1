"""The `recommender` command. Configuration comes from RECOMMENDER_* variables (see config.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from recommender.config import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="dive-deeper: related questions for fact checks.")


def _engine(settings: Settings):  # type: ignore[no-untyped-def]
    from recommender.engine import Engine

    return Engine.open(settings)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Article files (.txt, .jsonl) or folders of them.")],
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Parse every input first; store new and changed articles; relink what they affect."""
    from recommender.articles.loader import LoadErrors, load_paths

    settings = Settings()
    try:
        loaded = load_paths(paths, settings.max_article_bytes)
    except LoadErrors as exc:
        for error in exc.errors:
            typer.echo(f"error: {error}", err=True)
        typer.echo(f"nothing stored: {len(exc.errors)} problem(s) in the input", err=True)
        raise typer.Exit(1) from None
    engine = _engine(settings)
    try:
        report = engine.ingest([item.article for item in loaded], progress=progress and sys.stderr.isatty())
    finally:
        engine.close()
    typer.echo(
        f"{len(report.added)} added, {len(report.updated)} updated, {len(report.unchanged)} unchanged; "
        f"{report.relinked} questions relinked ({settings.db})"
    )


@app.command()
def suggest(
    question: Annotated[str, typer.Argument(help="A question or claim.")],
    k: Annotated[int, typer.Option("-k", help="How many fact checks.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Rank fact checks for free text (the same ranking as the API's search)."""
    settings = Settings()
    if not question.strip():
        _fail("the question is empty")
    if not 1 <= k <= settings.max_search_k:
        _fail(f"-k must be between 1 and {settings.max_search_k}")
    engine = _engine(settings)
    try:
        hits = engine.search(question, k)
        rows = engine.articles([h.doc_id for h in hits])
    finally:
        engine.close()
    if as_json:
        typer.echo(json.dumps([{"id": h.doc_id, "title": rows[h.doc_id].title, "score": round(h.score, 4)} for h in hits], indent=2))
        return
    for rank, hit in enumerate(hits, start=1):
        typer.echo(f"{rank}. {hit.score:.3f}  {hit.doc_id}  {rows[hit.doc_id].title}")


@app.command()
def links(article_id: Annotated[str, typer.Argument(help="Article id.")]) -> None:
    """What the widget shows for an article: its questions and related questions with their answers."""
    settings = Settings()
    engine = _engine(settings)
    try:
        result = engine.dive_deeper(article_id)
        if result is None:
            _fail(f"article {article_id!r} not found")
        assert result is not None
        own = {q.id for q in engine.store.questions_of(article_id)}
        shown = {item.question.id for item in result.questions}
        titles = engine.articles([i.answer.article_id for i in result.questions + result.related])
        typer.echo(f"{result.article.id}: {result.article.title}")
        typer.echo("questions:")
        for item in result.questions:
            typer.echo(f"  {item.question.text}\n    -> {item.answer.score:.3f} {item.answer.article_id}: {titles[item.answer.article_id].title}")
        for question_id in sorted(own - shown):
            question = engine.store.get_question(question_id)
            typer.echo(f"  {question.text if question else question_id}\n    -> gap (nothing answers it well)")
        typer.echo("related questions:")
        for item in result.related:
            typer.echo(
                f"  {item.question.text}  [from {item.question.article_id}]\n"
                f"    -> {item.answer.score:.3f} {item.answer.article_id}: {titles[item.answer.article_id].title}"
            )
    finally:
        engine.close()


@app.command()
def gaps(limit: Annotated[int, typer.Option(help="How many to list.")] = 50) -> None:
    """Questions nothing answers well (candidates for new fact checks), worst first."""
    settings = Settings()
    engine = _engine(settings)
    try:
        found = engine.gaps()
    finally:
        engine.close()
    typer.echo(f"{len(found)} gaps (best score below {settings.gap_threshold})")
    for gap in found[:limit]:
        best = f"{gap.best.score:.3f} {gap.best.article_id}" if gap.best else "no candidate"
        typer.echo(f"  {gap.question.id}: {gap.question.text}  (best: {best})")


@app.command()
def evaluate(
    corpus: Annotated[Path, typer.Option(help="Corpus JSON Lines: {id, title, text}.")],
    queries: Annotated[Path, typer.Option(help="Queries JSON Lines: {id, text, exclude?}.")],
    qrels: Annotated[Path, typer.Option(help="TREC qrels: query_id 0 doc_id relevance.")],
    method: Annotated[
        list[str] | None, typer.Option("--method", help="default, dense, lexical or hybrid; repeatable.")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the metrics as JSON here.")] = None,
) -> None:
    """Rank a benchmark with the service's ranking code and print MAP@5, MRR, recall and nDCG."""
    from recommender.embedding.factory import create_encoder
    from recommender.evaluation.benchmark import BenchmarkFormatError
    from recommender.evaluation.runner import format_table, run_benchmark, to_json

    settings = Settings()
    for path in (corpus, queries, qrels):
        if not path.is_file():
            _fail(f"{path}: no such file")
    try:
        results = run_benchmark(
            corpus,
            queries,
            qrels,
            method or ["default"],
            settings,
            lambda: create_encoder(settings.model, settings.models_dir),
            progress=sys.stderr.isatty(),
        )
    except (BenchmarkFormatError, ValueError) as exc:
        _fail(str(exc))
    typer.echo(format_table(results))
    skipped = {r.skipped for r in results.values()}
    if skipped != {0}:
        typer.echo(f"queries without any relevant document (skipped): {max(skipped)}")
    if json_out:
        json_out.write_text(json.dumps(to_json(results), indent=2) + "\n")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default RECOMMENDER_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default RECOMMENDER_PORT).")] = None,
) -> None:
    """Run the HTTP API."""
    import uvicorn

    from recommender.api import create_app

    settings = Settings()
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        server_header=False,
        log_level="info",
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
