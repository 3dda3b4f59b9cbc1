"""Typed dependencies shared by the routes, and the token check of the protected ones."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool

from recommender.config import Settings
from recommender.domain import Editor, Role
from recommender.services import Services
from recommender.services.catalog import CatalogService
from recommender.services.editorial import EditorialService
from recommender.services.models import ModelsService
from recommender.services.reading import ReadingService


# Async on purpose: FastAPI runs plain `def` dependencies in its thread pool, a thread hop per request
# for an attribute read.
async def get_services(request: Request) -> Services:
    return request.app.state.services


async def get_reading(request: Request) -> ReadingService:
    return request.app.state.services.reading


async def get_catalog(request: Request) -> CatalogService:
    return request.app.state.services.catalog


async def get_editorial(request: Request) -> EditorialService:
    return request.app.state.services.editorial


async def get_models(request: Request) -> ModelsService:
    return request.app.state.services.models


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


ReadingDep = Annotated[ReadingService, Depends(get_reading)]
CatalogDep = Annotated[CatalogService, Depends(get_catalog)]
EditorialDep = Annotated[EditorialService, Depends(get_editorial)]
ModelsDep = Annotated[ModelsService, Depends(get_models)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

# Only documents the scheme in the OpenAPI schema: the token itself is checked by `authenticate`.
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="EditorToken",
    description="A token from `recommender editors add NAME --role ROLE`, sent as `Authorization: Bearer <token>`. "
    "Roles: publisher (PUT/DELETE articles), editor (review, decisions, audit), admin (everything, and models).",
)


ANY_ROLE = "any"  # a valid token of any role (who am I?)


def _check(editorial: EditorialService, authorization: str | None, role: Role | None) -> Editor:
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            401, "missing editor token: send Authorization: Bearer <token>", headers={"WWW-Authenticate": "Bearer"}
        )
    editor = editorial.editor_for_token(token)
    if editor is None:
        raise HTTPException(401, "invalid editor token", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if not editor.active:
        raise HTTPException(403, f"the token of editor {editor.name!r} was revoked")
    if role is not None and not editor.may(role):
        raise HTTPException(
            403, f"this needs a token with the {role} role (or admin); {editor.name!r} has the {editor.role} role"
        )
    return editor


async def authenticate(request: Request, role: Role | None) -> Editor:
    """The editor whose bearer token came with the request, allowed to act as `role`: 401 when the token is
    missing or unknown, 403 when revoked or of another role. Checked once per request (kept in its state)."""
    done: dict[Role | None, Editor] = request.state._state.setdefault("editors_checked", {})
    if role not in done:
        editorial: EditorialService = request.app.state.services.editorial
        done[role] = await run_in_threadpool(_check, editorial, request.headers.get("authorization"), role)
    return done[role]


def needs(role: Role | None) -> Any:
    """`editor: Annotated[Editor, needs("publisher")]`: the route needs a token of this role (or admin);
    None: a valid token of any role."""

    async def dependency(request: Request, _scheme: Annotated[Any, Depends(_bearer)]) -> Editor:
        return await authenticate(request, role)

    dependency.role = role or ANY_ROLE  # type: ignore[attr-defined]  # read by AuthFirstRoute
    return Depends(dependency)


def _required_role(dependant: Dependant) -> str | None:
    for sub in dependant.dependencies:
        role = getattr(sub.call, "role", None) or _required_role(sub)
        if role:
            return role
    return None


class AuthFirstRoute(APIRoute):
    """A route whose token is checked before FastAPI reads and parses the request body: a caller without
    a valid token gets 401 (or 403), never a body error that tells what the route would accept."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        role = _required_role(self.dependant)
        if role is None:
            return handler

        async def authenticated_first(request: Request) -> Response:
            await authenticate(request, None if role == ANY_ROLE else role)  # type: ignore[arg-type]
            return await handler(request)

        return authenticated_first


PublisherDep = Annotated[Editor, needs("publisher")]
EditorDep = Annotated[Editor, needs("editor")]
AdminDep = Annotated[Editor, needs("admin")]
AnyRoleDep = Annotated[Editor, needs(None)]
