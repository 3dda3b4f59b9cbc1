from __future__ import annotations

import json
from pathlib import Path

import pytest

from recommender.articles.jsonl import write_jsonl
from recommender.articles.loader import LoadErrors, load_paths
from recommender.articles.text_format import parse_text

GOOD = "Fact check: Is water wet?\nChecked on May 1, 2024\nExecutive Summary\nYes [1].\n1. Physics\nIt is [1].\nWant to dive deeper?\nIs ice wet?\n"


def test_loads_folders_of_text_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "water.txt").write_text(GOOD)
    other = parse_text(GOOD.replace("water wet", "fire hot"), "fire")
    write_jsonl([other], tmp_path / "more.jsonl")
    loaded = load_paths([tmp_path])
    assert sorted(item.article.id for item in loaded) == ["fire", "water"]


def test_every_problem_is_reported_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text(GOOD)
    (tmp_path / "bad.txt").write_text("no title here\n")
    (tmp_path / "bad id!.txt").write_text(GOOD)
    good = {"id": "a", "title": "A", "summary": "Yes."}
    (tmp_path / "rows.jsonl").write_text(
        json.dumps(good) + "\n" + "{not json\n" + json.dumps({"id": "jl-blank", "title": "   "}) + "\n"
        + json.dumps({"id": "c", "title": "Only a title here?"}) + "\n"
    )
    with pytest.raises(LoadErrors) as caught:
        load_paths([tmp_path])
    text = str(caught.value)
    rows = tmp_path / "rows.jsonl"
    assert f"{tmp_path / 'bad.txt'}:1: no 'Fact check:" in text
    assert "not a valid article id" in text
    # Every bad line of a JSON Lines file, not only the first (issue 13.2).
    assert f"{rows}:2: invalid JSON at column 2: expecting property name enclosed in double quotes" in text
    assert f"{rows}:3: title: empty (or only spaces)" in text
    assert f"{rows}:4: the article has no body" in text
    assert len(caught.value.errors) == 5


def test_duplicate_ids_and_size_limit(tmp_path: Path) -> None:
    (tmp_path / "water.txt").write_text(GOOD)
    write_jsonl([parse_text(GOOD, "water")], tmp_path / "dup.jsonl")
    (tmp_path / "huge.txt").write_text(GOOD + "x" * 5000)
    with pytest.raises(LoadErrors) as caught:
        load_paths([tmp_path], max_bytes=2000)
    text = str(caught.value)
    assert "duplicate article id 'water'" in text
    assert "over the limit of 2000" in text


def test_the_size_limit_bounds_each_article_of_a_jsonl_file(tmp_path: Path) -> None:
    # A CMS export holds many articles in one file: the limit is per article (line), not per file.
    many = [parse_text(GOOD, f"water-{i}") for i in range(40)]
    write_jsonl(many, tmp_path / "export.jsonl")
    assert (tmp_path / "export.jsonl").stat().st_size > 2000
    assert [item.article.id for item in load_paths([tmp_path], max_bytes=2000)] == [a.id for a in many]
    big = parse_text(GOOD.replace("Yes [1].", "Yes [1]. " + "x" * 5000), "big")
    write_jsonl([*many[:2], big], tmp_path / "export.jsonl")
    with pytest.raises(LoadErrors) as caught:
        load_paths([tmp_path], max_bytes=2000)
    assert "export.jsonl:3: line is " in str(caught.value) and "over the limit of 2000 per article" in str(caught.value)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(LoadErrors, match="no such file"):
        load_paths([tmp_path / "nope"])


def test_jsonl_field_errors_name_the_field(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(json.dumps({"id": "a", "title": "T", "summary": "S.", "questions": ["ok?", " "]}) + "\n")
    with pytest.raises(LoadErrors, match=r"a.jsonl:1: questions: question 2 is empty"):
        load_paths([tmp_path])
