"""Compact article rows answer as the dict of ArticleRow they replace, through folds and merges."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest

from recommender.domain import ArticleRow
from recommender.index import layered
from recommender.index.article_rows import ArticleRows, CheckedOn, merge_into
from recommender.index.layered import Layered
from recommender.index.question_rows import Strings


def _row(n: int, rng: random.Random) -> ArticleRow:
    return ArticleRow(
        f"a{n}",
        rng.choice(["Who pays for tariffs?", "Mesures sanitaires é ü", "中文标题", ""]) + f" {rng.randrange(99)}",
        rng.choice([None, dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(400)), dt.date(1, 1, 1)]),
        rng.choice([None, "", f"https://example.org/{n}"]),
        rng.choice([None, "", "health"]),
        f"{rng.getrandbits(256):064x}",
    )


def test_rows_read_back_exactly_none_and_empty_strings_told_apart() -> None:
    rng = random.Random(1)
    rows = [_row(n, rng) for n in range(200)]
    table = ArticleRows(rows)
    assert {a: table[a] for a in table} == {r.id: r for r in rows} and len(table) == 200
    assert "a200" not in table and table.get("a200") is None
    with pytest.raises(KeyError):
        table["a200"]
    assert CheckedOn(table)["a7"] == rows[7].checked_on and len(CheckedOn(table)) == 200


def test_strings_joined_copy_the_picked_strings_then_the_new_ones() -> None:
    first = Strings(["zero", "", "twö", "three"])
    joined = Strings.joined(first, np.array([3, 1, 2]), ["new", "é"])
    assert [joined[i] for i in range(len(joined))] == ["three", "", "twö", "new", "é"]
    assert len(Strings.joined(Strings([]), np.zeros(0, np.int64), [])) == 0


@pytest.mark.parametrize("fold_minimum", [5, 1024])  # merged often, and never
def test_a_layered_mapping_over_article_rows_equals_a_dict_after_random_writes(monkeypatch, fold_minimum: int) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(layered, "FOLD_MINIMUM", fold_minimum)
    rng = random.Random(4)
    plain = {r.id: r for r in (_row(n, rng) for n in range(60))}
    mapping: Layered[str, ArticleRow] = Layered(ArticleRows(list(plain.values())), adopt=True)
    for _ in range(150):
        changed = {r.id: r for r in (_row(rng.randrange(90), rng) for _ in range(rng.randrange(3)))}
        removed = [f"a{rng.randrange(90)}" for _ in range(rng.randrange(2))]
        removed = [a for a in removed if a not in changed]
        mapping = mapping.with_changes(changed, removed, fold=merge_into)
        for a in removed:
            plain.pop(a, None)
        plain.update(changed)
        assert dict(mapping.items()) == plain and len(mapping) == len(plain)
    assert isinstance(mapping._base, ArticleRows) or fold_minimum == 1024
