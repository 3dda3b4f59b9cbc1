"""The updatable BM25 scores exactly as bm25s does, also after updates."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest
import Stemmer
from bm25s.tokenization import Tokenizer

from recommender.index.lexical import LexicalIndex

TEXTS = [
    "Tariffs raise prices for consumers, economists say; importers pay the tariff first.",
    "Was 2024 the warmest year on record? Copernicus and the WMO agree it was.",
    "Measles outbreaks grew in 2025 where vaccination rates fell.",
    "the of and",  # only stop words: bm25s's empty token
    "Wind turbines and whales: no evidence links offshore wind to whale deaths.",
    "Prices of eggs rose after bird flu, not because of tariffs.",
]
QUERIES = ["Who pays for tariffs?", "warmest year record", "whales wind turbines", "nothing matches zzz", "prices prices"]


def bm25s_scores(texts: list[str], query: str) -> np.ndarray:
    """What bm25s itself gives (the reference implementation)."""
    tokenizer = Tokenizer(stopwords="en", stemmer=Stemmer.Stemmer("english"))
    ids = tokenizer.tokenize(texts, show_progress=False, return_as="ids")
    index = bm25s.BM25()
    index.index((ids, tokenizer.get_vocab_dict()), show_progress=False)
    query_ids = [i for i in tokenizer.tokenize([query], update_vocab=False, show_progress=False, return_as="ids")[0] if i]
    return np.asarray(index.get_scores_from_ids(query_ids), np.float32) if query_ids else np.zeros(len(texts), np.float32)


@pytest.mark.parametrize("query", QUERIES)
def test_scores_match_bm25s(query: str) -> None:
    np.testing.assert_allclose(LexicalIndex(TEXTS).scores(query), bm25s_scores(TEXTS, query), rtol=1e-5, atol=1e-6)


def test_batch_equals_one_at_a_time() -> None:
    index = LexicalIndex(TEXTS)
    np.testing.assert_array_equal(index.scores_batch(QUERIES), np.stack([index.scores(q) for q in QUERIES]))


def test_updated_equals_a_fresh_index_over_the_live_documents() -> None:
    index = LexicalIndex(TEXTS[:3])
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
        np.testing.assert_allclose(updated.scores(query)[keep], bm25s_scores(live, query), rtol=1e-5, atol=1e-6)
    # The old index still answers as before (readers may hold it).
    np.testing.assert_allclose(index.scores("tariffs"), bm25s_scores(TEXTS[:3], "tariffs"), rtol=1e-5, atol=1e-6)


def test_weights_give_each_documents_score_for_a_query() -> None:
    index = LexicalIndex(TEXTS).updated(["Tariff prices and whale prices."], [5])
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
