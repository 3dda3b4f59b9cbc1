"""docs/operations.md lists every RECOMMENDER_* variable with its default, as the Settings model has it."""

from __future__ import annotations

import re

from recommender.config import Settings
from scripts import config_reference


def test_the_operations_page_has_the_current_configuration_reference() -> None:
    page = config_reference.PAGE.read_text()
    assert config_reference.updated(page) == page, "docs/operations.md is out of date: run `python -m scripts.config_reference`"


def test_every_setting_is_a_row_with_its_default() -> None:
    table = config_reference.render()
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(RECOMMENDER_\w+)` \| (.*?) \|", table, flags=re.M)}
    assert set(rows) == {f"RECOMMENDER_{name.upper()}" for name in Settings.model_fields}
    assert rows["RECOMMENDER_LOG_LEVEL"] == "`INFO`"
    assert rows["RECOMMENDER_DATABASE_URL"] == "*(none)*"
    assert rows["RECOMMENDER_CORS_ORIGINS"] == "*(empty)*"
    assert rows["RECOMMENDER_CLEAN_QUERIES"] == "`true`"


def test_a_stale_page_is_detected() -> None:
    page = config_reference.PAGE.read_text()
    stale = page.replace("| `RECOMMENDER_LOG_LEVEL` |", "| `RECOMMENDER_LOG_LEVELS` |")
    assert stale != page and config_reference.updated(stale) == page
