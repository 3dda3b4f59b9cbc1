"""Property-based fuzzing of the whole HTTP API from its own OpenAPI schema (schemathesis).

Every operation, the editors' too (with an admin token), gets generated valid and invalid requests,
and every schemathesis check runs: no 5xx, every schema-valid request accepted and every invalid one
refused (so the schema states what the server enforces), every response as the schema documents it,
and every error a JSON body with a `detail` message.
Bounded: a few dozen examples per operation, no deadline (the machine is shared), over a
fake-encoder services with a handful of articles so each request is fast.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from schemathesis.config._checks import NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES
from hypothesis import HealthCheck, settings

from recommender.api import create_app
from recommender.articles.model import normalize_question
from recommender.config import Settings
from recommender.services import Services
from tests.conftest import add_editor
from tests.fakes import HashingEncoder
from tests.reliability.conftest import small_articles

# Built at import: schemathesis makes one test per operation from a schema known at collection time
# (its fixture-based loader does not work with this pytest). The fake encoder makes this cheap.
_DIR = Path(tempfile.mkdtemp(prefix="fuzz-"))
_SERVICES = Services.start(
    Settings(db=_DIR / "fuzz.db", refresh_seconds=0, rate_limit_per_minute=0), encoder=HashingEncoder()
)
_SERVICES.catalog.ingest(small_articles())
TOKEN = add_editor(_SERVICES.store, "fuzzer")
# The token through schemathesis's own auth (the schema's EditorToken scheme), not a header added to
# every call: then its negative cases that leave the token out really go without it.
schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    create_app(_SERVICES.settings, services=_SERVICES),
    config=schemathesis.Config.from_dict(
        {
            "auth": {"openapi": {"EditorToken": {"bearer": TOKEN}}},
            # An invalid body over RECOMMENDER_MAX_ARTICLE_BYTES is refused with 413 before it is read.
            "checks": {
                "negative_data_rejection": {
                    "expected-statuses": [*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, "413"]
                }
            },
            # An article's question must hold a word; the schema's pattern says so exactly up to U+00FF
            # (beyond, only the question key can tell: 752 ranges of code points), so this operation's
            # text is Latin-1. The others get all of Unicode.
            "operations": [
                {"include-path": "/v1/articles/{article_id}", "include-method": "PUT", "generation": {"codec": "latin-1"}}
            ],
        }
    ),
)


@schema.hook
def map_case(context, case: schemathesis.Case) -> schemathesis.Case:  # type: ignore[no-untyped-def]
    """The rules of PUT /v1/articles/{id} that OpenAPI cannot state (each in the schema's descriptions): a
    body `id` equals the URL's, no question comes twice once case, punctuation and spacing are ignored
    (the schema states only exact duplicates), and `checked_on` is not in the future. Applied to
    schema-valid cases only: a case made invalid on purpose stays exactly as generated."""
    body, meta = case.body, case.meta
    positive = meta is not None and meta.generation.mode.is_positive
    if case.operation.path != "/v1/articles/{article_id}" or not positive or not isinstance(body, dict):
        return case
    if isinstance(body.get("id"), str):
        body = {**body, "id": (case.path_parameters or {}).get("article_id")}
    if isinstance(body.get("checked_on"), str) and body["checked_on"] > dt.date.today().isoformat():
        body = {**body, "checked_on": dt.date.today().isoformat()}
    if isinstance(body.get("questions"), list):
        by_key = {normalize_question(q): q for q in reversed(body["questions"]) if isinstance(q, str)}
        body = {**body, "questions": [q for q in body["questions"] if by_key.get(normalize_question(q)) is q]}
    # Control characters (the schema's patterns say "has text", not "no U+0001"), and the body rule: a
    # summary or a section with text (an anyOf over two fields the generator rarely satisfies).
    body = _without_controls(body)
    if not (isinstance(body.get("summary"), str) and body["summary"].strip()) and not any(
        isinstance(section, dict) and str(section.get("text", "")).strip() for section in body.get("sections") or []
    ):
        body = {**body, "summary": "A summary."}
    case.body = body
    return case


def _without_controls(value, key: str = ""):  # type: ignore[no-untyped-def]
    """Control characters out; line breaks only where the model takes several lines (summary, a section's text)."""
    if isinstance(value, str):
        keep = "\t\n" if key in ("summary", "text") else "\t"
        cleaned = "".join(c for c in value if c in keep or unicodedata.category(c) != "Cc")
        if key == "heading" and not cleaned.strip():
            return "x"  # a heading must have text (the schema states only its length)
        return cleaned if cleaned or not value else "x"  # a string of controls only: still a string with text
    if isinstance(value, dict):
        return {k: _without_controls(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_controls(v, key) for v in value]
    return value


@pytest.fixture(scope="module", autouse=True)
def _close_services() -> Iterator[None]:
    yield
    _SERVICES.close()
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
    case.call_and_validate(additional_checks=[error_bodies_are_json_messages])  # every built-in check, and this
