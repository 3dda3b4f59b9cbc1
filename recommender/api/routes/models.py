"""The live encoder and switching it: re-embedded in the background, swapped at once (admin token needed)."""

from __future__ import annotations

import logging
import re
from dataclasses import asdict

from fastapi import APIRouter, HTTPException

from recommender.api import schemas
from recommender.api.deps import AdminDep, AuthFirstRoute, ModelsDep
from recommender.services.models import GateNotPassed, ModelsService

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


def _out(models: ModelsService) -> schemas.ModelsOut:
    job = models.switch_job
    calibrator = models.calibrator
    return schemas.ModelsOut(
        live=models.model_name,
        model_id=models.encoder.model_id,
        calibrator={k: v for k, v in asdict(calibrator).items() if k not in ("x", "y")} if calibrator else None,
        switch=schemas.SwitchOut(
            name=job.name, model_id=job.model_id, state=job.state, done=job.done, total=job.total,
            error=without_paths(job.error) if job.error else None, started=job.started, finished=job.finished,
        )
        if job
        else None,
        trained=[
            schemas.ModelInfo(name=name, gate=card.get("gate") or None, created=card.get("created"))
            for name, card in models.trained()
        ],
    )


@router.get("", response_model=schemas.ModelsOut)
def list_models(models: ModelsDep, editor: AdminDep) -> schemas.ModelsOut:
    """The live model, its calibrator, the progress of a switch, and the trained models with their gate."""
    return _out(models)


@router.post(
    "/use",
    response_model=schemas.ModelsOut,
    status_code=202,
    responses={404: {"model": schemas.ErrorBody}, 409: {"model": schemas.ErrorBody}, 422: {"model": schemas.ErrorBody}},
)
def use(body: schemas.ModelUseIn, models: ModelsDep, editor: AdminDep) -> schemas.ModelsOut:
    """Start switching to another model: the old one serves until the new vectors and links are
    swapped in in one transaction (follow `switch.state` in GET /v1/models). Decisions are untouched.
    A trained model whose card's gate did not pass is refused unless `force`."""
    from recommender.embedding.factory import BackendUnavailable
    from recommender.embedding.registry import ModelNotFound

    try:
        models.use(body.name, force=body.force)
    except GateNotPassed as exc:
        raise HTTPException(422, str(exc)) from None
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
    return _out(models)
