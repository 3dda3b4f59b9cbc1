"""The shared SQL of both stores (recommender/store/core.py): placeholder rewriting for psycopg."""

from __future__ import annotations

from recommender.store.core import percent_placeholders


def test_question_marks_become_percent_s_outside_string_literals() -> None:
    sql = "SELECT value FROM meta WHERE key = ? AND value <> '?' AND other = ?"
    assert percent_placeholders(sql) == "SELECT value FROM meta WHERE key = %s AND value <> '?' AND other = %s"


def test_literal_percent_is_doubled_inside_and_outside_strings() -> None:
    sql = "SELECT 10 % 3, 'it''s 5%' FROM meta WHERE key LIKE 'a%?' AND value = ?"
    assert percent_placeholders(sql) == "SELECT 10 %% 3, 'it''s 5%%' FROM meta WHERE key LIKE 'a%%?' AND value = %s"
