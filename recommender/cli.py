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
            lambda: create_encoder(settings.model, settings.models_dir, backend=settings.backend),
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
def train(
    corpus: Annotated[Path, typer.Option(help="Corpus JSON Lines: {id, title, text}.")],
    queries: Annotated[Path, typer.Option(help="Training queries JSON Lines.")],
    qrels: Annotated[Path, typer.Option(help="Training qrels (TREC).")],
    name: Annotated[str, typer.Option(help="Folder name under models/ for the new model.")],
    eval_queries: Annotated[Path | None, typer.Option(help="Queries to report before/after (e.g. dev).")] = None,
    eval_qrels: Annotated[Path | None, typer.Option(help="Qrels of --eval-queries.")] = None,
    epochs: Annotated[int, typer.Option(min=1, max=20)] = 1,
    batch_size: Annotated[int, typer.Option(min=2, max=512)] = 32,
    held_out: Annotated[float, typer.Option(min=0.0, max=0.5, help="Share of training queries kept out.")] = 0.1,
) -> None:
    """Fine-tune the encoder on benchmark pairs; writes models/NAME/ with a model card."""
    from recommender.articles.model import is_valid_id
    from recommender.training.benchmark import EvalSet, train_from_benchmark
    from recommender.training.finetune import TrainConfig

    settings = Settings()
    if not is_valid_id(name):
        _fail(f"--name {name!r}: use letters, digits, '.', '_' or '-'")
    for path in (corpus, queries, qrels, eval_queries, eval_qrels):
        if path is not None and not path.is_file():
            _fail(f"{path}: no such file")
    if (eval_queries is None) != (eval_qrels is None):
        _fail("--eval-queries and --eval-qrels go together")
    sets = [EvalSet("eval", eval_queries, eval_qrels)] if eval_queries and eval_qrels else []
    card = train_from_benchmark(
        corpus, queries, qrels, name, settings, TrainConfig(epochs=epochs, batch_size=batch_size),
        held_out=held_out, eval_sets=sets, progress=sys.stderr.isatty(),
    )
    typer.echo((settings.models_dir / name / "README.md").read_text())
    typer.echo(f"use it with RECOMMENDER_MODEL={card.name}")


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


# -- editors: tokens for the review page and the publishing system ---------------------------------
editors_app = typer.Typer(no_args_is_help=True, help="Editor tokens (stored hashed; a token is shown once, at creation).")
app.add_typer(editors_app, name="editors")


def _store(settings: Settings):  # type: ignore[no-untyped-def]
    """The database without loading a model: editor commands touch no vectors."""
    from recommender.store.sqlite import SQLiteStore

    return SQLiteStore(settings.db, model_id="-")


@editors_app.command("add")
def editors_add(name: Annotated[str, typer.Argument(help="Editor name, e.g. alice, or publisher for the CMS.")]) -> None:
    """Create an editor (or renew a revoked one) and print the new token once, on stdout."""
    from recommender.editorial.auth import NAME_PATTERN, hash_token, new_token, valid_name

    if not valid_name(name):
        _fail(f"editor name {name!r} must match {NAME_PATTERN}")
    store = _store(Settings())
    token = new_token()
    try:
        store.add_editor(name, hash_token(token))
    except ValueError as exc:
        _fail(str(exc))
    finally:
        store.close()
    typer.echo(f"token for {name!r} (shown only now; send it as 'Authorization: Bearer <token>'):", err=True)
    typer.echo(token)


@editors_app.command("revoke")
def editors_revoke(name: Annotated[str, typer.Argument(help="Editor name.")]) -> None:
    """Revoke an editor's token at once (its requests then get 403)."""
    store = _store(Settings())
    try:
        revoked = store.revoke_editor(name)
    finally:
        store.close()
    if not revoked:
        _fail(f"no active editor named {name!r}")
    typer.echo(f"revoked the token of {name!r}")


@editors_app.command("list")
def editors_list() -> None:
    """Editors with when their token was created and revoked (never the tokens)."""
    store = _store(Settings())
    try:
        records = store.editor_records()
    finally:
        store.close()
    if not records:
        typer.echo("no editors yet: recommender editors add NAME")
    for record in records:
        editor = record.editor
        state = f"revoked {editor.revoked_at}" if editor.revoked_at else "active"
        typer.echo(f"{editor.name}\tcreated {editor.created_at}\t{state}")


# -- models: ONNX exports for the torch-free backend (RECOMMENDER_BACKEND) -------------------------
models_app = typer.Typer(no_args_is_help=True, help="Model exports for the ONNX Runtime backend.")
app.add_typer(models_app, name="models")


@models_app.command("export")
def models_export(
    name: Annotated[str | None, typer.Option(help="Model name (default RECOMMENDER_MODEL).")] = None,
    int8: Annotated[bool, typer.Option("--int8/--no-int8", help="Also write the int8 (dynamic quantisation) model.")] = True,
    force: Annotated[bool, typer.Option(help="Export again even if the export matches the model.")] = False,
) -> None:
    """Export the model to models/<name>-onnx/ and print how far it is from the torch encoder (needs torch)."""
    from recommender.embedding.factory import ModelNotFound, torch_available

    settings = Settings()
    if not torch_available():
        _fail("exporting needs torch and sentence-transformers (the full install); serving the export does not")
    from recommender.embedding.export import ExportError, export_onnx

    try:
        report = export_onnx(name or settings.model, settings.models_dir, quantize=int8, force=force)
    except (ModelNotFound, ExportError) as exc:
        _fail(str(exc))
    for line in report.lines():
        typer.echo(line)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
