"""The `recommender` command. Configuration comes from RECOMMENDER_* variables (see config.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
import typer.core

from recommender.config import Settings
from recommender.store.factory import describe_store
from recommender.domain import LinkRow

def where_the_data_is() -> str:
    """For --help: the database and models folder these settings use, as absolute paths."""
    try:
        settings = Settings()
    except ValueError:  # a bad RECOMMENDER_* value: the command itself reports it
        return "Data: RECOMMENDER_DB or RECOMMENDER_DATABASE_URL; models: RECOMMENDER_MODELS_DIR (docs/operations.md)."
    if settings.database_url:
        data = f"Database: {describe_store(settings)} (RECOMMENDER_DATABASE_URL)."
    else:
        data = (
            f"Database: {settings.db.absolute()} (RECOMMENDER_DB, default var/recommender.db; a relative path is "
            "taken from the current directory; RECOMMENDER_DATABASE_URL for PostgreSQL)."
        )
    return f"{data} Models: {settings.models_dir.absolute()} (RECOMMENDER_MODELS_DIR). Settings: docs/operations.md."


class _Help(typer.core.TyperGroup):
    """The top-level help ends with where the data is, computed when the help is shown."""

    def format_help(self, ctx, formatter):  # type: ignore[no-untyped-def]
        self.epilog = where_the_data_is()
        super().format_help(ctx, formatter)


app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="dive-deeper: related questions for fact checks.", cls=_Help
)


def _engine(settings: Settings):  # type: ignore[no-untyped-def]
    from recommender.engine import Engine

    # One-shot commands work with the encoder of the stored vectors and leave a changed encoder to the
    # server's background re-embedding or `recommender reembed`: re-encoding at open here would rewrite
    # every vector under a server that may be re-embedding the same database right now.
    return Engine.open(settings, reembed="later")


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
        f"{report.relinked} questions relinked ({describe_store(settings)})"
    )


@app.command()
def suggest(
    question: Annotated[str, typer.Argument(help="A question or claim.")],
    k: Annotated[int, typer.Option("-k", help="How many fact checks.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Rank fact checks for free text (the same ranking as the API's search)."""
    from recommender.queries import QueryError, check_query

    settings = Settings()
    try:  # the limits of the API's /v1/search
        question = check_query(question, k, settings)
    except QueryError as exc:
        _fail(str(exc))
    engine = _engine(settings)
    try:
        hits = engine.search(question, k)
        rows = engine.articles([h.doc_id for h in hits])
        answered = bool(hits) and not engine.is_gap([LinkRow("", 0, h.doc_id, h.score, h.dense, h.lexical, h.passage) for h in hits])
        confidence = engine.confidence(hits[0].score) if hits else None
    finally:
        engine.close()
    if as_json:
        results = [{"id": h.doc_id, "title": rows[h.doc_id].title, "score": round(h.score, 4)} for h in hits]
        typer.echo(json.dumps({"answered": answered, "results": results}, indent=2))
        return
    if not answered:
        best = f"{confidence:.0%} confidence" if confidence is not None else f"score {hits[0].score:.3f}" if hits else "none"
        typer.echo(f"no fact check answers this; best match {best}. Closest fact checks:")
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
            typer.echo(f"  {question.text if question else question_id}\n    -> not shown (a gap, hidden, or waiting for review)")
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
    typer.echo(f"{len(found)} gaps (best score below {engine.thresholds.gap_score:.3f})")
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
    name: Annotated[str, typer.Option(help="Folder name under models/ for the new model.")],
    corpus: Annotated[Path | None, typer.Option(help="Corpus JSON Lines: {id, title, text}.")] = None,
    queries: Annotated[Path | None, typer.Option(help="Training queries JSON Lines.")] = None,
    qrels: Annotated[Path | None, typer.Option(help="Training qrels (TREC).")] = None,
    eval_queries: Annotated[Path | None, typer.Option(help="Queries to report before/after (e.g. dev).")] = None,
    eval_qrels: Annotated[Path | None, typer.Option(help="Qrels of --eval-queries.")] = None,
    from_decisions: Annotated[
        bool, typer.Option("--from-decisions", help="Train on editors' decisions in the database instead of --corpus/--queries/--qrels.")
    ] = False,
    benchmark: Annotated[
        Path | None,
        typer.Option(help="With --from-decisions: a benchmark folder (corpus.jsonl, dev.*, train.*) whose dev split is reported before/after and gates the model."),
    ] = None,
    with_benchmark_pairs: Annotated[bool, typer.Option(help="With --benchmark: also train on its train pairs.")] = False,
    key: Annotated[
        Path | None, typer.Option(help="With --from-decisions: an answer key (qrels of the database's questions) for calibration when decisions are few.")
    ] = None,
    use: Annotated[bool, typer.Option("--use", help="Switch the database to the new model if its gate passed.")] = False,
    epochs: Annotated[int, typer.Option(min=1, max=20)] = 1,
    batch_size: Annotated[int, typer.Option(min=2, max=512)] = 32,
    held_out: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="Share of training queries (or decided questions) kept out to judge the model.")
    ] = 0.1,
) -> None:
    """Fine-tune the encoder on benchmark pairs or on editors' decisions; writes models/NAME/ with a model card."""
    from recommender.articles.model import is_valid_id
    from recommender.training.finetune import TrainConfig

    settings = Settings()
    if not is_valid_id(name):
        _fail(f"--name {name!r}: use letters, digits, '.', '_' or '-'")
    for path in (corpus, queries, qrels, eval_queries, eval_qrels, key):
        if path is not None and not path.is_file():
            _fail(f"{path}: no such file")
    config = TrainConfig(epochs=epochs, batch_size=batch_size)
    if from_decisions:
        if benchmark is not None:
            for file in ("corpus.jsonl", "dev.queries.jsonl", "dev.qrels") + (("train.queries.jsonl", "train.qrels") if with_benchmark_pairs else ()):
                if not (benchmark / file).is_file():
                    _fail(f"{benchmark / file}: no such file (--benchmark needs corpus.jsonl and dev.*)")
        elif with_benchmark_pairs:
            _fail("--with-benchmark-pairs needs --benchmark")
        _train_from_decisions(settings, name, config, held_out, benchmark, with_benchmark_pairs, key, use)
        return
    if corpus is None or queries is None or qrels is None:
        _fail("--corpus, --queries and --qrels are needed (or --from-decisions)")
    if (eval_queries is None) != (eval_qrels is None):
        _fail("--eval-queries and --eval-qrels go together")
    from recommender.training.benchmark import EvalSet, train_from_benchmark

    sets = [EvalSet("eval", eval_queries, eval_qrels)] if eval_queries and eval_qrels else []
    card = train_from_benchmark(
        corpus, queries, qrels, name, settings, config,  # type: ignore[arg-type]
        held_out=held_out, eval_sets=sets, progress=sys.stderr.isatty(),
    )
    typer.echo((settings.models_dir / name / "README.md").read_text())
    typer.echo(f"use it with RECOMMENDER_MODEL={card.name}")


def _train_from_decisions(settings: Settings, name: str, config, held_out: float, benchmark, pairs: bool, key, use: bool) -> None:  # type: ignore[no-untyped-def]
    from recommender.learning.retrain import NotEnoughDecisions, train_from_decisions

    engine = _engine(settings)
    try:
        try:
            card = train_from_decisions(engine, name, config, held_out, benchmark, pairs, key, progress=sys.stderr.isatty())
        except NotEnoughDecisions as exc:
            _fail(str(exc))
        typer.echo((settings.models_dir / name / "README.md").read_text())
        if use and card.gate.get("passed"):
            job = engine.switch_model(name, background=False)
            if job.state != "done":
                _fail(f"switching to {name!r} failed: {job.error}")
            typer.echo(f"the database now serves {name!r} ({job.model_id})")
        elif use:
            _fail(f"not switching: the gate did not pass ({card.gate.get('reason')}); the live model stays")
        else:
            typer.echo(f"switch with: recommender models use {name}")
    finally:
        engine.close()


@app.command()
def calibrate(
    key: Annotated[
        Path | None,
        typer.Option(help="An answer key (TREC qrels over the database's question ids) used when editors' decisions are too few."),
    ] = None,
    method: Annotated[str | None, typer.Option(help="logistic or isotonic (default RECOMMENDER_CALIBRATION_METHOD).")] = None,
) -> None:
    """Fit the confidence calibrator on editors' decisions (plus --key when they are few) for the live model."""
    from recommender.evaluation.benchmark import BenchmarkFormatError, load_qrels
    from recommender.learning.calibration import (
        METHODS,
        CalibrationError,
        brier,
        calibrator_path,
        examples_from_decisions,
        examples_from_key,
        fit,
        training_examples,
    )

    settings = Settings()
    chosen = method or settings.calibration_method
    if chosen not in METHODS:
        _fail(f"--method must be one of {', '.join(METHODS)}, not {chosen!r}")
    if key is not None and not key.is_file():
        _fail(f"{key}: no such file")
    try:
        qrels = load_qrels(key) if key is not None else {}
    except BenchmarkFormatError as exc:
        _fail(str(exc))
    engine = _engine(settings)
    try:
        statuses = engine.statuses()
        decided = examples_from_decisions(statuses)
        links = engine.store.links_of([q for q in qrels if engine.store.get_question(q) is not None])
        examples, source = training_examples(decided, examples_from_key(links, qrels, settings.top_k), settings.calibration_min_decisions)
        ranking = {"method": settings.method, "dense_weight": settings.dense_weight, "lexical_saturation": settings.lexical_saturation}
        try:
            fitted = fit([e.score for e in examples], [e.label for e in examples], chosen, engine.encoder.model_id, source, ranking)  # type: ignore[arg-type]
        except CalibrationError as exc:
            _fail(f"{exc} (pass --key with an answer key to fill in)")
        path = calibrator_path(settings.models_dir, engine.model_name)
        fitted.save(path)
        probs = fitted.predict([e.score for e in examples])
        typer.echo(f"fitted {chosen} on {source}; in-sample Brier {brier(probs, [e.label for e in examples]):.4f}")
        typer.echo(f"wrote {path} (used at the next start: RECOMMENDER_CALIBRATION=auto)")
        for label, p in (("gap below", settings.review_threshold), ("live from", settings.auto_approve_threshold)):
            typer.echo(f"  {label} probability {p:.2f} = score {fitted.score_for(p):.3f}")
    finally:
        engine.close()


@app.command()
def clusters(
    rebuild: Annotated[bool, typer.Option(help="Recompute the clusters now (needs scikit-learn).")] = False,
    limit: Annotated[int, typer.Option(help="How many clusters to list.")] = 50,
) -> None:
    """Duplicate-question clusters across the site (RECOMMENDER_CLUSTER_THRESHOLD), largest first."""
    from recommender.learning.clusters import sklearn_available

    settings = Settings()
    engine = _engine(settings)
    try:
        if rebuild:
            if not sklearn_available():
                _fail("clustering needs scikit-learn (pip install '.[learn]')")
            engine.recluster()
        found = engine.clusters()
        groups: dict[str, list[str]] = {}
        for question_id, cluster in found.items():
            groups.setdefault(cluster, []).append(question_id)
        typer.echo(f"{len(groups)} clusters of {len(found)} questions (threshold {settings.cluster_threshold})")
        for cluster, members in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0]))[:limit]:
            typer.echo(f"{cluster} ({len(members)}):")
            for question_id in sorted(members):
                row = engine.store.get_question(question_id)
                typer.echo(f"  {question_id}: {row.text if row else '?'}")
    finally:
        engine.close()


@app.command()
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
    engine = _engine(settings)
    try:
        job = engine.reindex(batch_size, fresh)
    except RuntimeError as exc:
        _fail(str(exc))
    finally:
        engine.close()
    counts = f"{job.done} passages and questions re-embedded" if job.done else "every vector was already staged"
    typer.echo(f"reindexed with {job.model_id}: {counts}; every question relinked ({describe_store(settings)})")


@app.command("export")
def export_cmd(
    out: Annotated[Path | None, typer.Argument(help="Backup file to write (JSON Lines); stdout when left out.")] = None,
    editors: Annotated[bool, typer.Option(help="Include editors (names and token hashes, never tokens).")] = True,
) -> None:
    """Back up articles, editors' decisions, the audit log and editors as JSON Lines (no vectors)."""
    from recommender.backup import write_backup

    settings = Settings()
    store = _store(settings)  # no model needed: vectors are not exported
    try:
        dump = store.dump()
        model = store.live_model()[1]
    finally:
        store.close()
    counts = write_backup(dump, out, model_id=model, editors=editors)
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items() if kind != "header")
    typer.echo(f"exported {summary} to {out or 'stdout'}", err=True)


@app.command("import")
def import_cmd(
    backup: Annotated[Path, typer.Argument(help="A file written by `recommender export`.")],
    force: Annotated[bool, typer.Option(help="Replace what the database holds (otherwise it must be empty).")] = False,
) -> None:
    """Restore a backup: every line is checked first, then everything is written in one transaction."""
    from recommender.backup import BackupError, read_backup

    settings = Settings()
    try:
        parsed = read_backup(backup)
    except BackupError as exc:
        for error in exc.errors:
            typer.echo(f"error: {error}", err=True)
        typer.echo("nothing imported", err=True)
        raise typer.Exit(1) from None
    engine = _engine(settings)
    try:
        if not force and not engine.is_empty():
            _fail(f"{describe_store(settings)} is not empty; import into an empty database, or pass --force to replace its content")
        linked = engine.restore(parsed.dump, replace=force, progress=sys.stderr.isatty())
    finally:
        engine.close()
    dump = parsed.dump
    typer.echo(
        f"imported {len(dump.articles)} articles, {len(dump.decisions)} decisions, {len(dump.audit)} audit entries, "
        f"{len(dump.superseded)} superseded, {len(dump.editors)} editors; {linked} questions linked ({describe_store(settings)})"
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default RECOMMENDER_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default RECOMMENDER_PORT).")] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes, each with its own index in memory (see docs/performance.md).")
    ] = 1,
    proxy_headers: Annotated[
        bool | None,
        typer.Option(
            "--proxy-headers/--no-proxy-headers",
            help="Trust X-Forwarded-For/-Proto from --forwarded-allow-ips (default RECOMMENDER_PROXY_HEADERS: off).",
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(help="Proxies (addresses or networks, comma-separated) trusted with --proxy-headers "
        "(default RECOMMENDER_FORWARDED_ALLOW_IPS)."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Serve /metrics only on this port (default RECOMMENDER_METRICS_PORT: "
        "on the API port)."),
    ] = None,
) -> None:
    """Run the HTTP API."""
    import uvicorn

    from recommender.api import create_app

    updates = {
        "proxy_headers": proxy_headers,
        "forwarded_allow_ips": forwarded_allow_ips,
        "metrics_port": metrics_port,
    }
    settings = Settings().model_copy(update={k: v for k, v in updates.items() if v is not None})
    from recommender.api.http_protocol import PROTOCOL

    # uvicorn trusts X-Forwarded-For from 127.0.0.1 unless told otherwise: always say what the settings say.
    options = {
        "http": PROTOCOL,  # its 400 for a request the parser refuses is JSON too
        "host": host or settings.host,
        "port": port or settings.port,
        "server_header": False,
        "proxy_headers": settings.proxy_headers,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        **_log_options(settings),
    }
    if workers > 1:  # uvicorn starts each worker from the app factory (settings come from the environment)
        if settings.metrics_port is not None:
            _fail("--metrics-port needs a single worker process (each worker would bind the port)")
        uvicorn.run("recommender.api:create_app", factory=True, workers=workers, **options)
        return
    uvicorn.run(create_app(settings), **options)


# -- editors: tokens for the review page and the publishing system ---------------------------------
editors_app = typer.Typer(no_args_is_help=True, help="Editor tokens (stored hashed; a token is shown once, at creation).")
app.add_typer(editors_app, name="editors")


def _store(settings: Settings):  # type: ignore[no-untyped-def]
    """The database without loading a model: editor commands touch no vectors."""
    from recommender.store.factory import open_store

    return open_store(settings, model_id="-")


@editors_app.command("add")
def editors_add(
    name: Annotated[str, typer.Argument(help="Editor name, e.g. alice, or publisher for the CMS.")],
    role: Annotated[
        str,
        typer.Option(
            help="publisher (PUT/DELETE articles: the publishing system), editor (review, decisions, audit) "
            "or admin (models, editors, thresholds, and all of the others)."
        ),
    ] = "editor",
) -> None:
    """Create an editor (or renew a revoked one) with a role and print the new token once, on stdout."""
    from recommender.domain import ROLES
    from recommender.editorial.auth import hash_token, name_problem, new_token

    problem = name_problem(name)
    if problem:
        _fail(problem)
    if role not in ROLES:
        _fail(f"role {role!r} is not one of {', '.join(ROLES)}")
    store = _store(Settings())
    token = new_token()
    try:
        store.add_editor(name, hash_token(token), role)  # type: ignore[arg-type]  # checked against ROLES
    except ValueError as exc:
        _fail(str(exc))
    finally:
        store.close()
    typer.echo(f"token for {name!r}, role {role} (shown only now; send it as 'Authorization: Bearer <token>'):", err=True)
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
    """Editors with their role and when their token was created and revoked (never the tokens)."""
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
        typer.echo(f"{editor.name}\t{editor.role}\tcreated {editor.created_at}\t{state}")


# -- models: ONNX exports for the torch-free backend (RECOMMENDER_BACKEND) -------------------------
models_app = typer.Typer(no_args_is_help=True, help="Model exports for the ONNX Runtime backend; switching the live model.")
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


@models_app.command("use")
def models_use(
    name: Annotated[str, typer.Argument(help="A model from the registry or a trained folder under models/.")],
    force: Annotated[bool, typer.Option(help="Switch even when the model card's gate did not pass.")] = False,
) -> None:
    """Switch the database to another model: re-embed beside the live vectors, then swap in one transaction.

    A server on the same database keeps serving the old model until the swap and follows it at once.
    """
    from recommender.embedding.factory import BackendUnavailable, ModelNotFound
    from recommender.learning.retrain import read_card

    settings = Settings()
    card = read_card(settings.models_dir, name)
    if card is not None and not card.get("gate", {}).get("passed", True) and not force:
        _fail(f"{name!r} did not pass its gate ({card['gate'].get('reason')}); --force to switch anyway")
    engine = _engine(settings)
    try:
        try:
            job = engine.switch_model(name, background=False)
        except (ModelNotFound, BackendUnavailable, RuntimeError) as exc:
            _fail(str(exc))
        if job.state != "done":
            _fail(f"switching to {name!r} failed: {job.error}")
        typer.echo(f"the database now serves {name!r} ({job.model_id}); {job.done} texts re-embedded; decisions untouched")
    finally:
        engine.close()


# -- keeping current: re-embedding after an encoder change, ingesting a CMS export folder ------------
@app.command()
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
    engine = _engine(settings)
    try:
        job = engine.reembed(background=True)  # a thread, so this one can draw the progress bar
        if job is None:
            typer.echo(f"nothing to do: every vector comes from {engine.encoder.model_id} ({describe_store(settings)})")
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
            _fail(f"re-embedding with {job.model_id} failed: {job.error}")
        typer.echo(
            f"now serving {job.model_id}: {job.done} passages and questions re-embedded, every question relinked, "
            f"decisions untouched ({describe_store(settings)})"
        )
    finally:
        engine.close()


@app.command()
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
        _fail(f"{folder}: no such folder")
    interval = interval or settings.watch_interval
    engine = _engine(settings)
    watcher = FolderWatcher(
        folder, engine.ingest, engine.delete, max_bytes=settings.max_article_bytes, delete_missing=delete
    )

    def show(report: PassReport) -> None:
        for error in report.errors:
            typer.echo(f"error: {error}", err=True)
        for path in report.gone:
            typer.echo(f"gone: {path}" + ("" if delete else " (its articles stay; --delete to remove them)"), err=True)
        if report.read or report.deleted:
            typer.echo(report.summary())

    try:
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
    finally:
        engine.close()


def _log_options(settings: Settings) -> dict:
    """uvicorn's logging for `serve`: JSON lines at RECOMMENDER_LOG_LEVEL, one access line per request
    from the app (recommender/api/observe.py) instead of uvicorn's, which would log query strings."""
    from recommender.api.logs import logging_config

    return {"log_config": logging_config(settings.log_level), "log_level": settings.log_level.lower(), "access_log": False}


# -- status: what an operator checks first ------------------------------------------------------
def _encoder(settings: Settings, name: str):  # type: ignore[no-untyped-def]
    """The encoder a server would load (only its model id and runtime are used)."""
    from recommender.embedding.factory import create_encoder

    return create_encoder(name, settings.models_dir, backend=settings.backend)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts and monitoring).")] = False,
    verify_sample: Annotated[
        int, typer.Option("--verify-sample", min=0, help="Questions whose links are recomputed and compared (0: none).")
    ] = 200,
) -> None:
    """Counts, encoder, index age, queues and whether links are stale; changes nothing."""
    from recommender.status import collect_status, format_status

    settings = Settings()
    store = _existing_store(settings)
    try:
        encoder, error = _status_encoder(settings, store)
        report = collect_status(settings, store, describe_store(settings), encoder, error, verify=verify_sample or None)
    finally:
        store.close()
    typer.echo(json.dumps(report.to_json(), indent=2) if as_json else format_status(report))


@app.command()
def verify(
    sample: Annotated[
        Optional[int], typer.Option("--sample", min=1, help="Recompute this many questions (seeded), not all.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sample.")] = 0,
    examples: Annotated[int, typer.Option(min=0, help="Differences to list.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Recompute links and compare them with the stored ones; exit 1 when any shown answer or link differs.

    Changes nothing (no Engine is opened: it would relink what is pending first)."""
    from dataclasses import asdict

    from recommender.linking.verify import format_verification
    from recommender.status import model_name, served_thresholds, verify_database

    settings = Settings()
    store = _existing_store(settings)
    try:
        encoder, error = _status_encoder(settings, store)
        if encoder is None:
            _fail(f"cannot load the encoder to size the index: {error}")
        notes: list[str] = []
        thresholds = served_thresholds(settings, model_name(settings, store), encoder.model_id, notes)
        result = verify_database(settings, store, encoder, thresholds, sample=sample, examples=examples)
    finally:
        store.close()
    typer.echo(json.dumps({**asdict(result), "ok": result.ok}, indent=2) if as_json else format_verification(result))
    if not result.ok:
        raise typer.Exit(1)


def _existing_store(settings: Settings):  # type: ignore[no-untyped-def]
    if not settings.database_url and not settings.db.exists():
        _fail(f"no database at {settings.db} (set RECOMMENDER_DB or RECOMMENDER_DATABASE_URL, or run `recommender ingest`)")
    return _store(settings)


def _status_encoder(settings: Settings, store) -> tuple[object | None, str | None]:  # type: ignore[no-untyped-def]
    """The encoder a server would load, or why it cannot be loaded here."""
    from recommender.embedding.factory import BackendUnavailable, ModelNotFound
    from recommender.status import model_name

    try:
        return _encoder(settings, model_name(settings, store)), None
    except (ModelNotFound, BackendUnavailable, ImportError, OSError) as exc:
        return None, str(exc)


def main() -> None:
    from recommender.domain import StoreUnavailable

    from pydantic import ValidationError

    try:
        app()
    except StoreUnavailable as exc:  # e.g. PostgreSQL unreachable: a message, not a traceback
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    except ValidationError as exc:  # a bad RECOMMENDER_* value: name the variable, not a traceback
        if exc.title != Settings.__name__:
            raise
        for error in exc.errors():
            name = "RECOMMENDER_" + "_".join(str(part) for part in error["loc"]).upper()
            typer.echo(f"error: {name}={error.get('input')!r}: {error['msg']}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
