"""The live encoder and switching it: re-embedded in the background, swapped at once (admin token needed)."""

from __future__ import annotations

import logging
import re
from dataclasses import asdict

from fastapi import APIRouter, HTTPException

from recommender.api import schemas
from recommender.api.deps import AdminDep, AuthFirstRoute, EngineDep
from recommender.learning.retrain import read_card, trained_models

log = logging.getLogger(__name__)
# An absolute file path (POSIX or Windows) inside a message: where the server keeps its models is
# nobody's business but the operator's, who finds the full message in the log.
_PATH = re.compile(r"(?<![\w:/])(?:[A-Za-z]:\\|/)(?:[^\s'\"():,;]+)")


def without_paths(message: str) -> str:
    return _PATH.sub("<path>", message)


router = APIRouter(
    prefix="/v1/models",
    tags=["models"],
    responses={401: {"model": schemas.ErrorBody}, 403: {"model": schemas.ErrorBody}},
    route_class=AuthFirstRoute,
)


def _out(engine: EngineDep) -> schemas.ModelsOut:
    job = engine.switch_job
    calibrator = engine.calibrator
    return schemas.ModelsOut(
        live=engine.model_name,
        model_id=engine.encoder.model_id,
        calibrator={k: v for k, v in asdict(calibrator).items() if k not in ("x", "y")} if calibrator else None,
        switch=schemas.SwitchOut(
            name=job.name, model_id=job.model_id, state=job.state, done=job.done, total=job.total,
            error=without_paths(job.error) if job.error else None, started=job.started, finished=job.finished,
        )
        if job
        else None,
        trained=[
            schemas.ModelInfo(name=name, gate=card.get("gate") or None, created=card.get("created"))
            for name, card in trained_models(engine.settings.models_dir)
        ],
    )


@router.get("", response_model=schemas.ModelsOut)
def models(engine: EngineDep, editor: AdminDep) -> schemas.ModelsOut:
    """The live model, its calibrator, the progress of a switch, and the trained models with their gate."""
    return _out(engine)


@router.post(
    "/use",
    response_model=schemas.ModelsOut,
    status_code=202,
    responses={404: {"model": schemas.ErrorBody}, 409: {"model": schemas.ErrorBody}, 422: {"model": schemas.ErrorBody}},
)
def use(body: schemas.ModelUseIn, engine: EngineDep, editor: AdminDep) -> schemas.ModelsOut:
    """Start switching to another model: the old one serves until the new vectors and links are
    swapped in in one transaction (follow `switch.state` in GET /v1/models). Decisions are untouched.
    A trained model whose card's gate did not pass is refused unless `force`."""
    from recommender.embedding.factory import BackendUnavailable, ModelNotFound

    card = read_card(engine.settings.models_dir, body.name)
    if card is not None and not (card.get("gate") or {}).get("passed", True) and not body.force:
        raise HTTPException(422, f"model {body.name!r} did not pass its gate ({card['gate'].get('reason')}); send force to switch anyway")
    try:
        engine.switch_model(body.name, background=True)
    except ModelNotFound as exc:
        log.info("POST /v1/models/use: %s", exc)
        raise HTTPException(
            404, f"unknown model {body.name!r}: neither in the model registry nor a trained model (GET /v1/models lists them)"
        ) from None
    except BackendUnavailable as exc:
        log.warning("POST /v1/models/use: %s", exc)
        raise HTTPException(422, f"model {body.name!r} cannot be loaded here: {without_paths(str(exc))}") from None
    except RuntimeError as exc:
        log.warning("POST /v1/models/use: %s", exc)
        raise HTTPException(409, without_paths(str(exc))) from None
    return _out(engine)
