from __future__ import annotations

import pytest

from recommender.embedding.passages import article_passages, pack, split_sentences


def words(text: str) -> int:
    return len(text.split())


def test_sentences_are_split_at_boundaries() -> None:
    assert split_sentences("One. Two? Three! four") == ["One.", "Two?", "Three! four"]


def test_packing_respects_the_budget_and_keeps_every_word() -> None:
    text = " ".join(f"Sentence number {i} has exactly six words." for i in range(30))
    passages = pack(text, "Heading", words, 40)
    assert all(words(p) <= 40 for p in passages)
    assert all(p.startswith("Heading. ") for p in passages)
    assert " ".join(p.removeprefix("Heading. ") for p in passages) == text


def test_a_sentence_longer_than_the_budget_is_cut_between_words() -> None:
    text = " ".join(["word"] * 100)
    passages = pack(text, "", words, 30)
    assert all(words(p) <= 30 for p in passages) and sum(words(p) for p in passages) == 100


@pytest.mark.slow
def test_no_sample_passage_exceeds_the_model_limit(sample_articles, real_encoder) -> None:  # type: ignore[no-untyped-def]
    for article in sample_articles:
        for passage in article_passages(article, real_encoder.count_tokens, real_encoder.max_tokens):
            assert real_encoder.count_tokens(passage) + 2 <= real_encoder.max_tokens, article.id


def test_a_heading_that_ends_a_sentence_gets_no_second_full_stop(sample_articles) -> None:  # type: ignore[no-untyped-def]
    """Issue 18.6: the 'Why:' text read "What the IPCC said.. The IPCC's…"."""
    assert pack("The IPCC's report is clear.", "What the IPCC said.", words, 100) == [
        "What the IPCC said. The IPCC's report is clear."
    ]
    assert pack("Prices rose.", "Why?", words, 100) == ["Why? Prices rose."]
    assert pack("Prices rose.", "Context", words, 100) == ["Context. Prices rose."]
    for article in sample_articles:
        headings = [s.heading for s in article.sections if s.heading.endswith(".")]
        for passage in article_passages(article, words, 256):
            assert not any(passage.startswith(heading + ".") for heading in headings), (article.id, passage[:80])
