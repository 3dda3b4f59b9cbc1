from __future__ import annotations

import datetime as dt

import pytest

from recommender.articles.model import ArticleError
from recommender.articles.text_format import decode, format_text, parse_text
from tests.conftest import SHARED

ARTICLE = """Fact check: Do owls really turn their heads all the way around?

Checked on March 3, 2024

Executive Summary

No. Owls rotate their heads about 270 degrees [1]. That is far, but not a full circle [2].

1. What the anatomy allows

Owls have 14 neck vertebrae [1].
A second line of the same paragraph [3].

A second paragraph of section one.

2. Why the myth persists

Videos are cut to look like a full turn [2].

Want to dive deeper?
How do owls see in the dark?
Why do owls have 14 neck vertebrae?
"""


def test_parses_every_part() -> None:
    article = parse_text(ARTICLE, "owls")
    assert article.id == "owls"
    assert article.title == "Do owls really turn their heads all the way around?"
    assert article.checked_on == dt.date(2024, 3, 3)
    assert article.summary.startswith("No. Owls rotate")
    assert [s.heading for s in article.sections] == ["What the anatomy allows", "Why the myth persists"]
    assert article.sections[0].text == (
        "Owls have 14 neck vertebrae [1]. A second line of the same paragraph [3].\n\nA second paragraph of section one."
    )
    assert article.questions == ["How do owls see in the dark?", "Why do owls have 14 neck vertebrae?"]


def test_crlf_banner_and_extra_blank_lines_change_nothing() -> None:
    messy = "Support us!\r\nLoading...\r\n\r\n\r\n" + ARTICLE.replace("\n\n", "\n\n\n").replace("\n", "\r\n")
    assert parse_text(decode(messy.encode(), "x"), "owls") == parse_text(ARTICLE, "owls")


def test_missing_date_and_questions_are_tolerated() -> None:
    text = ARTICLE.replace("Checked on March 3, 2024\n", "").split("Want to dive deeper?")[0]
    article = parse_text(text, "owls")
    assert article.checked_on is None
    assert article.questions == []
    assert len(article.sections) == 2


def test_old_style_summary_section() -> None:
    text = """Fact check: Is the sky green?
Checked on January 2, 2023
1. Summary of the results
It is blue [1].
2. Light scattering
Rayleigh scattering favours blue light [1].
Want to dive deeper?
Why are sunsets red?
"""
    article = parse_text(text, "sky")
    assert article.summary == "It is blue [1]."
    assert [s.heading for s in article.sections] == ["Light scattering"]


def test_numbers_inside_paragraphs_do_not_start_sections() -> None:
    text = ARTICLE.replace("Owls have 14 neck vertebrae [1].", "Owls have 14 neck vertebrae [1].\n7. This is not a heading.")
    article = parse_text(text, "owls")
    assert len(article.sections) == 2
    assert "7. This is not a heading." in article.sections[0].text


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 1, "empty file"),
        ("\n\nJust some text\nwithout a title\n", 3, "no 'Fact check:"),
        ("Banner\nFact check:   \n", 2, "no question or claim"),
        ("Fact check: X?\n\nChecked on Smarch 40, 20x\n", 3, "unreadable date"),
        ("Fact check: X?\nWant to dive deeper?\nWhy?\n\nwhy\n", 5, "duplicate question"),
        ("Fact check: X?\nWant to dive deeper?\n???\n", 3, "no words"),
        ("Fact check: X?\nChecked on January 1, 2999\n", 2, "in the future"),
    ],
)
def test_malformed_input_names_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(ArticleError) as caught:
        parse_text(text, "bad", source="bad.txt")
    assert caught.value.source == "bad.txt"
    assert caught.value.line == line
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"bad.txt:{line}: ")


def test_binary_and_non_utf8_are_rejected_with_a_line() -> None:
    with pytest.raises(ArticleError, match=r"x.txt:2: binary"):
        decode(b"Fact check: a\n\x00\x01", "x.txt")
    with pytest.raises(ArticleError, match=r"x.txt:3: not valid UTF-8"):
        decode(b"Fact check: a\nok\n\xff\xfe bad", "x.txt")
    assert decode(b"\xef\xbb\xbfFact check: a\r\n", "x") == "Fact check: a\n"


def test_format_round_trips() -> None:
    article = parse_text(ARTICLE, "owls")
    assert parse_text(format_text(article), "owls") == article


def test_every_sample_article_parses_with_3_to_6_questions(sample_articles) -> None:  # type: ignore[no-untyped-def]
    assert len(sample_articles) >= 60
    for article in sample_articles:
        assert article.checked_on is not None, article.id
        assert article.summary, article.id
        assert len(article.sections) >= 3, article.id
        assert 3 <= len(article.questions) <= 6, article.id


def test_site_reference_article() -> None:
    path = SHARED / "reference" / "site-article-example.txt"
    if not path.exists():
        pytest.skip("../shared/reference is absent")
    article = parse_text(decode(path.read_bytes(), str(path)), "reference")
    assert article.title.endswith("?")
    assert article.checked_on is not None
    assert article.summary and len(article.sections) >= 5
    assert len(article.questions) == 5
    assert all(not s.heading[0].isdigit() for s in article.sections)
