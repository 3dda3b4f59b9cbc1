"""Term proximity (index/proximity.py): pair scores by their definition, on every path that scores."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import numpy as np
import pytest

from recommender.index import proximity as prox
from recommender.index.lexical import LexicalIndex, terms_of
from recommender.index.proximity import Proximity
from recommender.index.questions import QuestionTable
from recommender.index.term_weights import TermWeights
from recommender.domain import QuestionRow

AVERAGE = 12.0
ON = Proximity(window=4, max_terms=10, weight=1.0)

TEXTS = [
    "ICE agents can search homes without a warrant under current law, a memo says.",
    "Homes of agents: a warrant is needed for any search, and ICE agents rarely search without one.",
    "Trump never filed for personal bankruptcy; his companies filed six times.",
    "Bankruptcy filings by Trump's casinos were corporate, not personal.",
    "the of and",
    "Warrant search homes ICE without agents current law.",
]
QUERIES = [
    "Can ICE agents search homes without a warrant?",
    "How many times did Trump personally file for bankruptcy?",
    "search warrant",
    "zebra quagga search homes",
    "one two three four five six seven eight nine ten eleven twelve search homes",
]


def reference(texts: list[str], query: str, proximity: Proximity = ON) -> np.ndarray:
    """Unigram BM25 plus each query pair's BM25, written out from the definition over term strings."""
    weights = TermWeights()
    docs = [[t for t in terms if t] for terms in terms_of(texts)]
    words = [t for t in terms_of([query])[0] if t]
    known = {t for d in docs for t in d}
    pairs: set[frozenset[str]] = set()
    if proximity.on and len(set(words)) <= proximity.max_terms:
        for i, j in itertools.combinations(range(len(words)), 2):
            a, b = words[i], words[j]
            if j - i < proximity.window and a != b and a in known and b in known:
                pairs.add(frozenset((a, b)))
    out = np.zeros(len(texts), np.float64)
    for d, terms in enumerate(docs):
        norm = 1.5 * (1 - 0.75 + 0.75 * len(terms_of([texts[d]])[0]) / AVERAGE)
        for term in words:
            tf = terms.count(term)
            if tf:
                out[d] += weights.of(term) * tf / (tf + norm)
        for pair in pairs:
            a, b = sorted(pair)
            tf = sum(
                1 for i, j in itertools.combinations(range(len(terms)), 2)
                if j - i < proximity.window and {terms[i], terms[j]} == {a, b}
            )
            if tf:
                out[d] += proximity.weight * (weights.of(a) + weights.of(b)) * tf / (tf + norm)
    return out.astype(np.float32)


@pytest.mark.parametrize("query", QUERIES)
def test_scores_follow_the_definition(query: str) -> None:
    index = LexicalIndex(TEXTS, AVERAGE, proximity=ON)
    np.testing.assert_allclose(index.scores(query), reference(TEXTS, query), rtol=1e-5, atol=1e-6)


def test_pairs_move_the_page_that_shares_the_phrase_above_one_that_shares_the_words() -> None:
    off = LexicalIndex(TEXTS, AVERAGE).scores(QUERIES[0])
    on = LexicalIndex(TEXTS, AVERAGE, proximity=ON).scores(QUERIES[0])
    assert off[1] > off[0]  # more occurrences of the words
    assert on[0] > on[1]  # the phrase itself


def test_long_queries_get_no_pairs_and_every_word_counts_for_the_limit() -> None:
    index = LexicalIndex(TEXTS, AVERAGE, proximity=ON)
    plain = LexicalIndex(TEXTS, AVERAGE)
    np.testing.assert_array_equal(index.scores(QUERIES[4]), plain.scores(QUERIES[4]))
    # unknown words keep their place: "zebra quagga" do not make "search homes" a pair of theirs
    assert not np.array_equal(index.scores(QUERIES[3]), plain.scores(QUERIES[3]))
    assert len(prox.query_pairs([-1, -2, 5, 7], ON)) == 1
    assert len(prox.query_pairs(list(range(11)), ON)) == 0


def test_pair_tf_equals_counting_in_each_document() -> None:
    rng = random.Random(3)
    docs = [[rng.randrange(6) for _ in range(rng.randrange(0, 30))] for _ in range(40)]
    flat = np.array([t for d in docs for t in d], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum([len(d) for d in docs])]).astype(np.int64)
    positions = {t: np.flatnonzero(flat == t) for t in range(6)}
    for window in (2, 4, 7):
        for a, b in itertools.combinations(range(6), 2):
            found, tfs = prox.pair_tf(positions[a], positions[b], starts, window)
            got = dict(zip(found.tolist(), tfs.tolist()))
            for n, d in enumerate(docs):
                want = sum(1 for i, j in itertools.combinations(range(len(d)), 2) if j - i < window and {d[i], d[j]} == {a, b})
                assert got.get(n, 0) == want
            keys, counts = prox.document_pairs(np.array(docs[5]), window)
            key = prox.keys(np.array([a]), np.array([b]))[0]
            want5 = sum(1 for i, j in itertools.combinations(range(len(docs[5])), 2) if j - i < window and {docs[5][i], docs[5][j]} == {a, b})
            assert dict(zip(keys.tolist(), counts.tolist())).get(int(key), 0) == want5


def test_updated_and_restored_indexes_score_as_a_fresh_one(tmp_path: Path) -> None:
    base = LexicalIndex(TEXTS[:3], AVERAGE, proximity=ON)
    updated = base.updated(TEXTS[3:] + ["ICE agents search homes without a warrant."], remove=[1])
    fresh = LexicalIndex(TEXTS + ["ICE agents search homes without a warrant."], AVERAGE, proximity=ON)
    for query in QUERIES:
        got, want = updated.scores(query), fresh.scores(query)
        alive = [0, 2, 3, 4, 5, 6]
        np.testing.assert_allclose(got[alive], want[alive], rtol=1e-6)
    fresh.save_vocab(tmp_path)
    arrays = dict(fresh.arrays())
    restored = LexicalIndex.restored(arrays, tmp_path, AVERAGE, proximity=ON)
    for query in QUERIES:
        np.testing.assert_array_equal(restored.scores(query), fresh.scores(query))
    again = restored.updated(["Can agents search homes?"])
    assert again.scores(QUERIES[0])[-1] > 0


def test_questions_get_each_documents_pair_weights_as_ranking_scores_them() -> None:
    """The linker's sums (QuestionTable.lexical_sums with a document's weights and pair weights) equal
    the index's score of each question for that document, bit for bit."""
    questions = [*QUERIES, "Did Trump file for personal bankruptcy?", "search homes warrant ICE agents"]
    index = LexicalIndex(TEXTS, AVERAGE, proximity=ON)
    tokens = index.text_ids(questions)
    rows = [QuestionRow(f"q{n}", "a", n, text, text) for n, text in enumerate(questions)]
    table = QuestionTable.build(rows, np.zeros((len(rows), 4), np.float32), tokens, 4, ON)
    expected = index.scores_batch(questions)
    for position, weights in index.weights(range(len(TEXTS))):
        sums = table.lexical_sums(weights, *index.pair_weights(position))
        np.testing.assert_array_equal(sums, expected[:, position])
    grown = table.updated(["a"], rows[:2], np.zeros((2, 4), np.float32), tokens[:2])
    for position, weights in index.weights(range(len(TEXTS))):
        sums = grown.lexical_sums(weights, *index.pair_weights(position))
        np.testing.assert_array_equal(sums[len(rows) :], expected[:2, position])


def test_social_media_posts_get_no_pairs_on_either_path() -> None:
    """A tweet's word order is a slogan's: with a trailer, link, @handle or #hashtag a text is ranked
    without pairs (RankingIndex.rank_batch), and a question worded so holds none in the linker's table."""
    from recommender.index.query import is_post

    post = "ICE agents search homes without a warrant — Some One (@someone) May 1, 2025"
    assert is_post(post) and is_post("agents search homes #ICE") and not is_post(QUERIES[0])
    index = LexicalIndex(TEXTS, AVERAGE, proximity=ON)
    plain = LexicalIndex(TEXTS, AVERAGE)
    cleaned = "ICE agents search homes without a warrant Some One"
    np.testing.assert_array_equal(index.scores_batch([cleaned], [False]), plain.scores_batch([cleaned]))
    assert not np.array_equal(index.scores_batch([cleaned], [True]), plain.scores_batch([cleaned]))
    rows = [QuestionRow("q0", "a", 0, post, "k0"), QuestionRow("q1", "a", 1, cleaned, "k1")]
    table = QuestionTable.build(rows, np.zeros((2, 4), np.float32), index.text_ids([cleaned, cleaned]), 4, ON)
    assert set(table.pairs.rows.tolist()) == {1}


def test_row_pairs_are_the_same_made_in_chunks_of_rows() -> None:
    rng = np.random.default_rng(3)
    lengths = rng.integers(0, 14, 500)
    ends = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    ids = rng.integers(0, 40, int(ends[-1])).astype(np.int32)
    phrases = rng.random(500) > 0.1
    whole = prox.row_pairs(ids, ends, Proximity(), 7, phrases, chunk=10_000)
    assert len(whole[0]) > 0
    for chunk in (1, 3, 64, 499):
        keys, rows = prox.row_pairs(ids, ends, Proximity(), 7, phrases, chunk=chunk)
        np.testing.assert_array_equal(keys, whole[0])
        np.testing.assert_array_equal(rows, whole[1])


def test_a_documents_pair_bound_is_above_what_its_pairs_add() -> None:
    """TermPairs.bound (what PgRanker prunes candidates by) is never below what add_to adds, and is 0
    exactly when the document holds no two terms of a query pair."""
    weights = TermWeights()
    rng = random.Random(5)
    vocabulary = {t: n + 1 for n, t in enumerate(sorted({t for d in terms_of(TEXTS) for t in d if t}))}
    for query in QUERIES[:4]:
        pairs = prox.TermPairs.of([t for t in terms_of([query])[0] if t], vocabulary, lambda t: np.float32(weights.of(t)), ON)
        assert pairs is not None
        words = sorted({w for pair in pairs.words for w in pair})
        for _ in range(200):
            sequence = [rng.choice(words + ["filler", "other"]) for _ in range(rng.randint(0, 30))]
            norm = np.float32(rng.uniform(0.4, 3.0))
            added = pairs.add_to(np.float32(0), sequence, norm, ON.window)
            bound = pairs.bound(set(sequence))
            assert added <= bound
            if bound == 0:
                assert added == 0
