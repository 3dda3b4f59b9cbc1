"""benchmark_document: a benchmark record is split into passages as the service splits the same text."""

from __future__ import annotations

from recommender.articles.text_format import parse_text
from recommender.embedding.passages import article_passages
from recommender.index.builder import benchmark_document, site_page
from tests.fakes import HashingEncoder

PAGE = """Checked on October 4, 2025

Executive Summary

Countries cooperate through joint task forces. Europol and INTERPOL share leads.

1. Context: what the networks are

Dark-web forums move between hosts. Police infiltrate them.

2. What the arrests show

Hundreds of arrests followed in 2024 and 2025.
"""


def test_a_page_of_the_site_gets_the_passages_its_article_gets() -> None:
    encoder = HashingEncoder(max_tokens=64)
    doc = benchmark_document("f1", "", PAGE, encoder)
    article = parse_text("Fact check: How do countries cooperate?\n" + PAGE, "f1")
    expected = article_passages(article.model_copy(update={"title": ""}), encoder.count_tokens, encoder.max_tokens)
    assert list(doc.passages) == expected
    assert doc.passages[0].startswith("Countries cooperate")  # no date line, no bare heading passage
    assert not any(p.startswith(("Checked on", "Executive Summary")) for p in doc.passages)
    assert any(p.startswith("Context: what the networks are.") for p in doc.passages)  # a heading leads its section
    assert doc.text.startswith("Checked on")  # BM25 still reads the whole record


def test_a_title_is_kept_and_other_records_split_on_blank_lines() -> None:
    encoder = HashingEncoder(max_tokens=64)
    assert benchmark_document("f1", "The question", PAGE, encoder).passages[0] == "The question"
    plain = benchmark_document("d1", "A claim", "First block.\n\nSecond block.", encoder)
    assert plain.passages == ("A claim", "First block.", "Second block.")
    assert site_page("d1", "", "Checked with friends, this is not a page.\n\nSo it stays as it is.") is None
