"""Compact question rows and hashed lookups answer as the lists and dicts they replace."""

from __future__ import annotations

import random

import numpy as np
import pytest

from recommender.domain import QuestionRow
from recommender.index import layered, question_rows
from recommender.index.question_rows import HashGroups, HashRows, QuestionRows, Strings
from recommender.index.questions import QuestionTable


def _row(article: int, position: int, text: str) -> QuestionRow:
    return QuestionRow(f"a{article}-q{position}", f"a{article}", position, text, text.lower().rstrip("?"))


def test_strings_give_back_what_they_hold_unicode_and_empty_ones_included() -> None:
    values = ["", "Who pays for tariffs?", "Qui paie les droits de douane ? é ü 中文 🙂", "", "x"]
    strings = Strings(values)
    assert [strings[i] for i in range(len(values))] == values and len(strings) == 5


def test_rows_read_back_as_the_rows_they_were_made_of_and_appends_share_the_columns() -> None:
    rows = [_row(n // 3, n % 3 + 1, f"Question {n} é?") for n in range(30)]
    table_rows = QuestionRows(rows)
    assert list(table_rows) == rows and table_rows[-1] == rows[-1] and table_rows[3:6] == rows[3:6]
    more = [_row(99, 1, "Appended?"), _row(99, 2, "And another?")]
    grown = table_rows.appended(more)
    assert list(grown) == rows + more and len(table_rows) == 30  # the earlier rows object is unchanged
    assert grown.id_of(30) == "a99-q1" and grown.key_of(31) == "and another" and grown.article_of(0) == "a0"
    with pytest.raises(IndexError):
        grown[32]


def test_hashed_lookups_built_either_way_equal_the_dicts_they_replace() -> None:
    rng = random.Random(9)
    names = [f"name{rng.randrange(300)}" for _ in range(2000)]
    expected: dict[str, list[int]] = {}
    for row, name in enumerate(names):
        expected.setdefault(name, []).append(row)
    for groups in (HashGroups.of_rows(names, names.__getitem__), HashGroups(expected.items(), names.__getitem__)):
        assert {k: tuple(v) for k, v in expected.items()} == dict(groups.items())
        assert "name-missing" not in groups and len(groups) == len(expected)
    assert len(HashGroups.of_rows([], str)) == 0 and "x" not in HashRows.of_rows([], str) and not list(QuestionRows())
    unique = [f"q{n}" for n in range(500)]
    rows = HashRows.of_rows(unique, unique.__getitem__)
    assert all(rows[name] == n for n, name in enumerate(unique)) and rows.get("q500") is None


def test_hashed_lookups_tell_colliding_names_apart(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Every name gets the same hash: only reading names back can find the right group.
    monkeypatch.setattr(question_rows, "name_hash", lambda name: 7)
    names = ["alpha", "beta", "gamma", "beta"]
    groups = HashGroups([("alpha", [0]), ("beta", [1, 3]), ("gamma", [2])], names.__getitem__)
    assert groups["beta"] == (1, 3) and groups["gamma"] == (2,) and "delta" not in groups
    assert groups.get("delta") is None and sorted(groups) == ["alpha", "beta", "gamma"] and len(groups) == 3
    by_row = HashGroups.of_rows(names, names.__getitem__)
    assert dict(by_row.items()) == {"alpha": (0,), "beta": (1, 3), "gamma": (2,)}
    single = HashRows([("alpha", 0), ("gamma", 2)], names.__getitem__)
    assert single["gamma"] == 2 and single.get("beta") is None
    with pytest.raises(KeyError):
        single["beta"]


@pytest.mark.parametrize("fold_minimum", [8, 1024])  # the hashed base folded again often, and never
def test_a_table_updated_many_times_keeps_its_lookups_equal_to_plain_dicts(monkeypatch, fold_minimum: int) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(layered, "FOLD_MINIMUM", fold_minimum)
    rng = random.Random(5)
    wordings = [f"Is claim {n} true?" for n in range(12)]  # few wordings: many rows share a key
    articles = {a: [_row(a, p + 1, rng.choice(wordings)) for p in range(rng.randrange(1, 4))] for a in range(40)}
    rows = [q for a in sorted(articles) for q in articles[a]]
    table = QuestionTable.build(rows, np.ones((len(rows), 4), np.float32), [[1, 2]] * len(rows), 4)
    for step in range(120):
        article = rng.randrange(50)
        new = [_row(article, p + 1, rng.choice(wordings)) for p in range(rng.randrange(0, 4))]
        articles[article] = new
        table = table.updated([f"a{article}"], new, np.ones((len(new), 4), np.float32), [[3]] * len(new))
        live = [r for r in np.flatnonzero(table.alive).tolist()]
        expected_ids = {table.rows[r].id: r for r in live}
        assert dict(table.row_of.items()) == expected_ids
        by_article: dict[str, list[int]] = {}
        by_key: dict[str, list[int]] = {}
        for r in live:
            by_article.setdefault(table.rows[r].article_id, []).append(r)
            by_key.setdefault(table.rows[r].key, []).append(r)
        assert {a: tuple(r) for a, r in by_article.items()} == dict(table.by_article.items())
        assert {k: tuple(sorted(r)) for k, r in by_key.items()} == {k: tuple(sorted(r)) for k, r in table.by_key.items()}
        assert sorted(q.id for a in articles.values() for q in a) == sorted(expected_ids)
