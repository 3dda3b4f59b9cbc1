"""The published OpenAPI schema says what the service really answers.

Every error is `{"detail": "<message>"}` (app.py's handlers), but FastAPI documents a 422 as its
own list-shaped `HTTPValidationError`; this rewrites those to ErrorBody and documents the 413 of
the body-size limit on operations that take a body, so clients (and the schema-driven fuzz test)
can rely on the document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from recommender.config import Settings

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
_ERROR_BODY = {
    "properties": {"detail": {"type": "string", "title": "Detail"}},
    "type": "object",
    "required": ["detail"],
    "title": "ErrorBody",
}


def fix_error_schemas(schema: dict[str, Any]) -> dict[str, Any]:
    schema.setdefault("components", {}).setdefault("schemas", {}).setdefault("ErrorBody", _ERROR_BODY)
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            if "422" in responses:
                responses["422"] = {
                    "description": responses["422"].get("description", "Invalid request"),
                    "content": _ERROR,
                }
            if "requestBody" in operation:
                responses.setdefault("400", {"description": "Request body is not readable JSON", "content": _ERROR})
                responses.setdefault(
                    "413", {"description": "Request body over RECOMMENDER_MAX_ARTICLE_BYTES", "content": _ERROR}
                )
    components = schema["components"]["schemas"]
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return schema


def add_setting_limits(schema: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The limits that come from settings (so no decorator can state them): /v1/search's q and k."""
    search = schema.get("paths", {}).get("/v1/search", {}).get("get")
    for parameter in (search or {}).get("parameters", []):
        if parameter["name"] == "q":
            parameter["schema"]["maxLength"] = settings.max_query_chars
        elif parameter["name"] == "k":
            parameter["schema"].update(minimum=1, maximum=settings.max_search_k)
    return schema


def install(app: FastAPI, settings: Settings) -> None:
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_setting_limits(fix_error_schemas(original()), settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
