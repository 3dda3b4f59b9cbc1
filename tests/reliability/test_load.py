"""A short run of scripts/load_test.py against the real service: zero errors, zero lost writes.
(The long run and its figures: docs/reliability.md. No timing is asserted here.)"""

from __future__ import annotations

import asyncio

import pytest

from recommender.store.sqlite import SQLiteStore
from scripts.load_test import report, run_load
from tests.conftest import add_editor
from tests.server import Server

pytestmark = pytest.mark.slow


def test_short_load_run_has_no_errors_and_loses_no_write(served_sample: Server) -> None:
    store = SQLiteStore(served_sample.db, model_id="-")
    token = add_editor(store, "load")
    store.close()
    result = asyncio.run(run_load(served_sample.base, token, requests=400, concurrency=8, duration=120))
    print(report(result))
    assert result.requests > 0 and result.counts.get("widget", 0) > result.counts.get("write", 0)
    assert result.errors == 0, result.error_samples
    assert result.writes_acknowledged > 0
    assert result.writes_lost == 0, result.lost_samples


def test_the_load_script_refuses_anything_but_loopback() -> None:
    with pytest.raises(SystemExit, match="only loopback"):
        asyncio.run(run_load("http://192.0.2.1:8000", "token", requests=1))
