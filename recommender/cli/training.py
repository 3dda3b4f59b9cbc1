"""`recommender train`: fine-tune the encoder on benchmark pairs or on editors' decisions."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from recommender.cli import context
from recommender.cli.errors import fail
from recommender.config import Settings

if TYPE_CHECKING:
    from recommender.training.finetune import TrainConfig


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
        fail(f"--name {name!r}: use letters, digits, '.', '_' or '-'")
    for path in (corpus, queries, qrels, eval_queries, eval_qrels, key):
        if path is not None and not path.is_file():
            fail(f"{path}: no such file")
    config = TrainConfig(epochs=epochs, batch_size=batch_size)
    if from_decisions:
        if benchmark is not None:
            for file in ("corpus.jsonl", "dev.queries.jsonl", "dev.qrels") + (("train.queries.jsonl", "train.qrels") if with_benchmark_pairs else ()):
                if not (benchmark / file).is_file():
                    fail(f"{benchmark / file}: no such file (--benchmark needs corpus.jsonl and dev.*)")
        elif with_benchmark_pairs:
            fail("--with-benchmark-pairs needs --benchmark")
        _train_from_decisions(settings, name, config, held_out, benchmark, with_benchmark_pairs, key, use)
        return
    if corpus is None or queries is None or qrels is None:
        fail("--corpus, --queries and --qrels are needed (or --from-decisions)")
    if (eval_queries is None) != (eval_qrels is None):
        fail("--eval-queries and --eval-qrels go together")
    from recommender.training.from_benchmark import EvalSet, train_from_benchmark

    sets = [EvalSet("eval", eval_queries, eval_qrels)] if eval_queries and eval_qrels else []
    card = train_from_benchmark(
        corpus, queries, qrels, name, settings, config,
        held_out=held_out, eval_sets=sets, progress=sys.stderr.isatty(),
    )
    typer.echo((settings.models_dir / name / "README.md").read_text())
    typer.echo(f"use it with RECOMMENDER_MODEL={card.name}")


def _train_from_decisions(
    settings: Settings,
    name: str,
    config: TrainConfig,
    held_out: float,
    benchmark: Path | None,
    pairs: bool,
    key: Path | None,
    use: bool,
) -> None:
    from recommender.services.retraining import train_from_decisions

    with context.opened(settings) as services:
        # NotEnoughDecisions is reported by cli/errors.py
        card = train_from_decisions(services, name, config, held_out, benchmark, pairs, key, progress=sys.stderr.isatty())
        typer.echo((settings.models_dir / name / "README.md").read_text())
        if use and card.gate.get("passed"):
            job = services.models.switch_model(name, background=False)
            if job.state != "done":
                fail(f"switching to {name!r} failed: {job.error}")
            typer.echo(f"the database now serves {name!r} ({job.model_id})")
        elif use:
            fail(f"not switching: the gate did not pass ({card.gate.get('reason')}); the live model stays")
        else:
            typer.echo(f"switch with: recommender models use {name}")
