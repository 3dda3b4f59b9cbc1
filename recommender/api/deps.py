"""Typed dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from recommender.config import Settings
from recommender.editorial.auth import Editor, find_editor
from recommender.engine import Engine


# Async on purpose: FastAPI runs plain `def` dependencies in its thread pool, a thread hop per request
# for an attribute read.
async def get_engine(request: Request) -> Engine:
    return request.app.state.engine


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="EditorToken",
    description="An editor token from `recommender editors add NAME`, sent as `Authorization: Bearer <token>`.",
)


def require_editor(
    engine: EngineDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Editor:
    """The editor whose bearer token came with the request: 401 when missing or unknown, 403 when revoked."""
    if credentials is None or not credentials.credentials:
        raise HTTPException(
            401, "missing editor token: send Authorization: Bearer <token>", headers={"WWW-Authenticate": "Bearer"}
        )
    editor = find_editor(engine.store.editor_records(), credentials.credentials)
    if editor is None:
        raise HTTPException(401, "invalid editor token", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if not editor.active:
        raise HTTPException(403, f"the token of editor {editor.name!r} was revoked")
    return editor


EditorDep = Annotated[Editor, Depends(require_editor)]
