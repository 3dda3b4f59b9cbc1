"""The updatable BM25 scores by its formula (corpus-independent weights), also after updates."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest
import Stemmer
from bm25s.tokenization import Tokenizer

from recommender.index.lexical import LexicalIndex
from recommender.index.term_weights import TermWeights

AVERAGE = 12.0

TEXTS = [
    "Tariffs raise prices for consumers, economists say; importers pay the tariff first.",
    "Was 2024 the warmest year on record? Copernicus and the WMO agree it was.",
    "Measles outbreaks grew in 2025 where vaccination rates fell.",
    "the of and",  # only stop words: bm25s's empty token
    "Wind turbines and whales: no evidence links offshore wind to whale deaths.",
    "Prices of eggs rose after bird flu, not because of tariffs.",
]
QUERIES = ["Who pays for tariffs?", "warmest year record", "whales wind turbines", "nothing matches zzz", "prices prices"]


def reference_scores(texts: list[str], query: str, average_length: float = AVERAGE) -> np.ndarray:
    """The formula of recommender/index/lexical.py written out term by term, over bm25s's tokens."""
    tokenizer = Tokenizer(stopwords="en", stemmer=Stemmer.Stemmer("english"))
    docs = tokenizer.tokenize(texts, show_progress=False, return_as="tuple")
    names = {i: t for t, i in docs.vocab.items()}
    terms = [[names[i] for i in ids if names[i]] for ids in docs.ids]
    query_terms = [names[i] for i in tokenizer.tokenize([query], update_vocab=False, show_progress=False, return_as="ids")[0] if names[i]]
    weights = TermWeights()
    out = np.zeros(len(texts), np.float32)
    for d, words in enumerate(terms):
        for term in query_terms:
            tf = words.count(term)
            if tf:
                out[d] += weights.of(term) * tf / (tf + 1.5 * (1 - 0.75 + 0.75 * len(words) / average_length))
    return out


@pytest.mark.parametrize("query", QUERIES)
def test_scores_follow_the_formula(query: str) -> None:
    np.testing.assert_allclose(LexicalIndex(TEXTS, AVERAGE).scores(query), reference_scores(TEXTS, query), rtol=1e-5, atol=1e-6)


def test_term_frequencies_and_lengths_are_bm25s_own() -> None:
    """With every idf 1 and the corpus's own average length, our scores are bm25s's with idf set aside."""
    tokenizer = Tokenizer(stopwords="en", stemmer=Stemmer.Stemmer("english"))
    ids = tokenizer.tokenize(TEXTS, show_progress=False, return_as="ids")
    index = bm25s.BM25(idf_method="lucene")
    index.index((ids, tokenizer.get_vocab_dict()), show_progress=False)
    query = "tariffs prices whales warmest"
    query_ids = [i for i in tokenizer.tokenize([query], update_vocab=False, show_progress=False, return_as="ids")[0] if i]
    average = float(np.mean([len([i for i in doc if i]) or 1 for doc in ids]))
    ours = LexicalIndex(TEXTS, average)
    for term in query_ids:  # one term at a time: bm25s's score divided by its idf is the tf part
        bm25s_tf = np.asarray(index.get_scores_from_ids([term]), np.float32)
        name = {i: t for t, i in tokenizer.get_vocab_dict().items()}[term]
        ours_tf = ours.scores(name) / TermWeights().of(name)
        df = int((bm25s_tf > 0).sum())
        idf = np.log(1 + (len(TEXTS) - df + 0.5) / (df + 0.5))
        np.testing.assert_allclose(ours_tf, bm25s_tf / idf, rtol=1e-4, atol=1e-6)


def test_a_documents_score_ignores_every_other_document() -> None:
    """What makes links a function of the articles: no corpus statistic enters a score."""
    alone = LexicalIndex(TEXTS[:1], AVERAGE).scores("tariffs prices importers")[0]
    among = LexicalIndex(TEXTS, AVERAGE).scores("tariffs prices importers")[0]
    grown = LexicalIndex(TEXTS[:2], AVERAGE).updated(TEXTS[2:] * 3, [1]).scores("tariffs prices importers")[0]
    assert alone > 0 and alone == among == grown


def test_batch_equals_one_at_a_time() -> None:
    index = LexicalIndex(TEXTS, AVERAGE)
    np.testing.assert_array_equal(index.scores_batch(QUERIES), np.stack([index.scores(q) for q in QUERIES]))


def test_updated_equals_a_fresh_index_over_the_live_documents() -> None:
    index = LexicalIndex(TEXTS[:3], AVERAGE)
    # Replace document 1, delete document 0, add three more (one brings a word nobody had: "zebra").
    updated = index.updated(["Zebra crossings and tariffs on zebra imports.", TEXTS[1] + " Updated.", *TEXTS[3:]], [0, 1])
    live = ["Measles outbreaks grew in 2025 where vaccination rates fell."] + [
        "Zebra crossings and tariffs on zebra imports.",
        TEXTS[1] + " Updated.",
        *TEXTS[3:],
    ]
    assert updated.size == 3 + 5 and updated.dead == 2
    keep = [2, 3, 4, 5, 6, 7]  # positions of the live documents, in `live` order
    for query in [*QUERIES, "zebra"]:
        np.testing.assert_allclose(updated.scores(query)[keep], reference_scores(live, query), rtol=1e-5, atol=1e-6)
    # The old index still answers as before (readers may hold it).
    np.testing.assert_allclose(index.scores("tariffs"), reference_scores(TEXTS[:3], "tariffs"), rtol=1e-5, atol=1e-6)


def test_weights_give_each_documents_score_for_a_query() -> None:
    index = LexicalIndex(TEXTS, AVERAGE).updated(["Tariff prices and whale prices."], [5])
    ids = index.query_ids(["tariffs raise whale prices"])[0]
    expected = index.scores("tariffs raise whale prices")
    for position, weights in index.weights([0, 4, 6, 5]):
        assert position != 5  # dead documents have no weights
        assert float(weights[ids].sum()) == pytest.approx(float(expected[position]), rel=1e-5)


def test_empty_index() -> None:
    index = LexicalIndex([])
    assert index.scores("anything").shape == (0,)
    grown = index.updated(["Tariffs on steel."])
    assert grown.scores("steel tariffs")[0] > 0


def test_a_consumed_list_of_texts_is_emptied_and_indexed_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    from recommender.index import lexical

    monkeypatch.setattr(lexical, "_CHUNK", 4)  # several chunks over the six texts
    texts = list(TEXTS)
    consumed = LexicalIndex(texts, AVERAGE, consume=True)
    kept = LexicalIndex(TEXTS, AVERAGE)
    assert texts == [] and consumed.size == kept.size == len(TEXTS)
    for query in QUERIES:
        np.testing.assert_array_equal(consumed.scores_batch([query]), kept.scores_batch([query]))


def test_positions_by_term_equal_a_stable_argsort_chunk_by_chunk() -> None:
    from recommender.index.proximity import positions_by_term

    rng = np.random.default_rng(5)
    for size, terms, chunk in ((0, 4, 8), (1, 3, 8), (1000, 7, 64), (5000, 300, 333), (777, 50, 10_000)):
        sequence = rng.integers(0, terms, size).astype(np.int32)
        positions, ptr = positions_by_term(sequence, terms, chunk=chunk)
        np.testing.assert_array_equal(positions, np.argsort(sequence, kind="stable"))
        np.testing.assert_array_equal(ptr[1:], np.cumsum(np.bincount(sequence, minlength=terms)[:terms]))
        assert positions.dtype == np.int32 and ptr[0] == 0
