"""Property-based fuzzing of the whole HTTP API from its own OpenAPI schema (schemathesis).

Every operation, the editors' too (with a valid token), gets generated valid and invalid requests:
no 5xx, every error a JSON body with a `detail` message, every response as the schema documents it.
Bounded: a few dozen examples per operation, no deadline (the machine is shared), over a
fake-encoder engine with a handful of articles so each request is fast.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from recommender.api import create_app
from recommender.config import Settings
from recommender.engine import Engine
from tests.conftest import add_editor
from tests.fakes import HashingEncoder
from tests.reliability.conftest import small_articles

# Built at import: schemathesis makes one test per operation from a schema known at collection time
# (its fixture-based loader does not work with this pytest). The fake encoder makes this cheap.
_DIR = Path(tempfile.mkdtemp(prefix="fuzz-"))
_ENGINE = Engine.open(
    Settings(db=_DIR / "fuzz.db", refresh_seconds=0, rate_limit_per_minute=0), encoder=HashingEncoder()
)
_ENGINE.ingest(small_articles())
TOKEN = add_editor(_ENGINE.store, "fuzzer")
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_ENGINE.settings, engine=_ENGINE))


@pytest.fixture(scope="module", autouse=True)
def _close_engine() -> Iterator[None]:
    yield
    _ENGINE.close()
    shutil.rmtree(_DIR, ignore_errors=True)


def error_bodies_are_json_messages(ctx, response, case) -> None:  # type: ignore[no-untyped-def]
    """Every 4xx/5xx is application/json with a non-empty string `detail`."""
    if response.status_code < 400:
        return
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), f"{response.status_code} with content type {content_type!r}"
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"].strip(), body


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_api_answers_every_generated_request_as_documented(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
            error_bodies_are_json_messages,
        ],
    )
