"""`recommender calibrate`: arguments and printing; the fitting is recommender/learning/calibration_fit.py."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recommender.cli import context
from recommender.cli.errors import fail
from recommender.config import Settings


def calibrate(
    key: Annotated[
        Path | None,
        typer.Option(help="An answer key (TREC qrels over the database's question ids) used when editors' decisions are too few."),
    ] = None,
    method: Annotated[str | None, typer.Option(help="logistic or isotonic (default RECOMMENDER_CALIBRATION_METHOD).")] = None,
) -> None:
    """Fit the confidence calibrator on editors' decisions (plus --key when they are few) for the live model."""
    from recommender.evaluation.benchmark import load_qrels
    from recommender.learning.calibration import METHODS, CalibrationError, calibrator_path
    from recommender.learning.calibration_fit import fit_calibration

    settings = Settings()
    chosen = method or settings.calibration_method
    if chosen not in METHODS:
        fail(f"--method must be one of {', '.join(METHODS)}, not {chosen!r}")
    if key is not None and not key.is_file():
        fail(f"{key}: no such file")
    qrels = load_qrels(key) if key is not None else {}  # BenchmarkFormatError names file:line
    with context.opened(settings) as services:
        statuses = services.reading.statuses()
        key_links = services.reading.stored_links(list(qrels))
        try:
            fitted = fit_calibration(statuses, key_links, qrels, chosen, services.holder.encoder.model_id, settings)  # type: ignore[arg-type]
        except CalibrationError as exc:
            fail(f"{exc} (pass --key with an answer key to fill in)")
        path = calibrator_path(settings.models_dir, services.models.model_name)
    fitted.calibrator.save(path)
    typer.echo(f"fitted {chosen} on {fitted.source}; in-sample Brier {fitted.brier:.4f}")
    typer.echo(f"wrote {path} (used at the next start: RECOMMENDER_CALIBRATION=auto)")
    typer.echo(f"  gap below probability {settings.review_threshold:.2f} = score {fitted.review_score:.3f}")
    typer.echo(f"  live from probability {settings.auto_approve_threshold:.2f} = score {fitted.live_score:.3f}")
