"""Term proximity: BM25 evidence for two query terms that stand close together in a fact check.

A reader's question and the page that answers it often share a phrase ("search homes without a
warrant", "personal bankruptcy filings"), while a near-duplicate page on the same subject shares the
words but not their arrangement. Unigram BM25 cannot tell the two apart; a pair term can:

    pairs(q)  = unordered pairs {a, b} (a != b) of q's terms at most `window - 1` terms apart
    tf(p, d)  = occurrences of a and b in d at most `window - 1` terms apart (each (a, b) occurrence pair once)
    score(q, d) += sum over p in pairs(q) of weight * (idf(a) + idf(b)) * tf / (tf + norm(d))

with idf and norm(d) those of the unigram terms (index/lexical.py), so the pair part is, like the rest
of the score, a pure function of the query and the one document. Terms are the tokeniser's (stop
words dropped, stemmed), so positions count indexed terms only.

Only short queries (at most `max_terms` distinct terms: questions, headlines) get pair evidence: in a
long post (a tweet of 20-30 terms) most close pairs are incidental, and on CheckThat's tweets pair
evidence lowered MAP@5 (docs/quality.md). Terms are token ids of one tokeniser's vocabulary; a pair is
one int64 key, smaller id in the high half.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

_HALF = np.int64(1 << 32)


@dataclass(frozen=True)
class Proximity:
    """window: terms at most window - 1 apart form a pair (below 2: off); max_terms: queries with more
    distinct terms get no pair evidence; weight: a pair's idf is weight * (idf(a) + idf(b))."""

    window: int = 4
    max_terms: int = 10
    weight: float = 1.0

    @property
    def on(self) -> bool:
        return self.window > 1 and self.weight > 0 and self.max_terms > 1


OFF = Proximity(window=0)


def keys(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """One int64 key per unordered pair of term ids."""
    low = np.minimum(first, second).astype(np.int64)
    high = np.maximum(first, second).astype(np.int64)
    return low * _HALF + high


def split(pair_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two term ids of each key (smaller first)."""
    return (pair_keys // _HALF).astype(np.int64), (pair_keys % _HALF).astype(np.int64)


def query_pairs(ids: Sequence[int], proximity: Proximity) -> np.ndarray:
    """The sorted distinct pair keys of a query's term ids (in text order); none for a long query.

    Every word of the query counts, for its place and for the length limit: a word no document holds
    has a negative id (distinct per word) and forms no pair."""
    terms = np.asarray(ids, dtype=np.int64)
    if not proximity.on or len(terms) < 2 or len(np.unique(terms)) > proximity.max_terms:
        return np.zeros(0, dtype=np.int64)
    found = [np.zeros(0, dtype=np.int64)]
    for gap in range(1, min(proximity.window, len(terms))):
        first, second = terms[:-gap], terms[gap:]
        usable = (first != second) & (first >= 0) & (second >= 0)
        found.append(keys(first[usable], second[usable]))
    return np.unique(np.concatenate(found))


def document_pairs(terms: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct pair keys, their tf) of one document's term ids in text order; a negative id
    (a term that no query can hold) keeps its place but forms no pair."""
    terms = np.asarray(terms, dtype=np.int64)
    places = np.flatnonzero(terms >= 0)
    ids = terms[places]
    if window < 2 or len(ids) < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    found = []
    for step in range(1, min(window, len(ids))):  # places are increasing: step k spans at least k places
        near = places[step:] - places[:-step] < window
        if not near.any():
            break
        close = near & (ids[step:] != ids[:-step])
        found.append(keys(ids[:-step][close], ids[step:][close]))
    if not found:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    unique, counts = np.unique(np.concatenate(found), return_counts=True)
    return unique, counts.astype(np.float32)


def pair_tf(
    positions_a: np.ndarray,
    positions_b: np.ndarray,
    starts: np.ndarray,
    window: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(documents, tf) of the pair {a, b} over a whole index, from each term's sorted positions.

    Positions number every document's terms one after the other; `starts` (documents + 1) is where
    each document begins. For each occurrence of a, the occurrences of b within window - 1 positions
    of it in the same document are counted (binary searches on b's positions)."""
    if not len(positions_a) or not len(positions_b):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    if len(positions_b) < len(positions_a):  # search the longer list for each item of the shorter
        positions_a, positions_b = positions_b, positions_a
    # One binary search finds the few occurrences of a with some b nearby (document bounds ignored);
    # only those are placed in their documents and counted exactly.
    first = np.searchsorted(positions_b, positions_a - (window - 1), side="left")
    near = first < len(positions_b)
    near[near] = positions_b[first[near]] <= positions_a[near] + (window - 1)
    if not near.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    positions_a = positions_a[near]
    docs = np.searchsorted(starts, positions_a, side="right") - 1
    low = np.maximum(positions_a - (window - 1), starts[docs])
    high = np.minimum(positions_a + (window - 1), starts[docs + 1] - 1)
    counts = np.searchsorted(positions_b, high, side="right") - np.searchsorted(positions_b, low, side="left")
    hit = counts > 0
    if not hit.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    found, inverse = np.unique(docs[hit], return_inverse=True)
    return found, np.bincount(inverse, weights=counts[hit]).astype(np.float32)


def positions_by_term(sequence: np.ndarray, n_terms: int, chunk: int = 1 << 20) -> tuple[np.ndarray, np.ndarray]:
    """(positions, ptr): every position of `sequence` grouped by its term, ascending within a term (what a
    stable argsort gives), and where each of the first `n_terms` terms begins. Placed a chunk at a time:
    at 100k articles a whole-sequence argsort makes an 8-byte index per term occurrence (~130 MB) on top of
    the result, the peak of a first start; positions are 4 bytes while the sequence is under 2^31 terms."""
    counts = np.bincount(sequence, minlength=n_terms) if len(sequence) else np.zeros(n_terms, dtype=np.int64)
    starts = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    positions = np.empty(len(sequence), dtype=np.int32 if len(sequence) < 2**31 else np.int64)
    fill = starts[:-1].copy()
    for begin in range(0, len(sequence), chunk):
        part = sequence[begin : begin + chunk]
        order = np.argsort(part, kind="stable")
        terms = part[order]
        here = np.bincount(part, minlength=len(counts))
        first = np.cumsum(here) - here  # where each term begins in this chunk's sorted order
        positions[fill[terms] + (np.arange(len(part)) - first[terms])] = order + begin
        fill += here
    return positions, starts[: n_terms + 1].copy()


def pair_idf(idf: np.ndarray, pair_keys: np.ndarray, proximity: Proximity) -> np.ndarray:
    """(pairs,) weight * (idf(a) + idf(b)); a term beyond `idf` (unknown) weighs 0."""
    first, second = split(pair_keys)
    size = len(idf)
    a = np.where(first < size, idf[np.minimum(first, size - 1)], 0.0) if size else np.zeros(len(first))
    b = np.where(second < size, idf[np.minimum(second, size - 1)], 0.0) if size else np.zeros(len(first))
    return (proximity.weight * (a + b)).astype(np.float32)


@dataclass(frozen=True)
class PairPostings:
    """Which rows (questions) hold which pair keys: keys sorted, each with its row; rows appended
    since the full build sit unsorted in a small tail (read by a scan), as the lexical overlay does."""

    keys: np.ndarray  # int64, sorted
    rows: np.ndarray  # int64, the row of each key
    tail_keys: np.ndarray
    tail_rows: np.ndarray

    @classmethod
    def of(
        cls, token_ids: np.ndarray, token_ends: np.ndarray, proximity: Proximity, phrases: np.ndarray | None = None
    ) -> PairPostings:
        found_keys, found_rows = row_pairs(token_ids, token_ends, proximity, 0, phrases)
        empty = np.zeros(0, dtype=np.int64)
        return cls(found_keys, found_rows, empty, empty)

    def appended(
        self,
        token_ids: np.ndarray,
        token_ends: np.ndarray,
        proximity: Proximity,
        first_row: int,
        phrases: np.ndarray | None = None,
    ) -> PairPostings:
        found_keys, found_rows = row_pairs(token_ids, token_ends, proximity, first_row, phrases)
        if not len(found_keys):
            return self
        return PairPostings(
            self.keys, self.rows, np.concatenate([self.tail_keys, found_keys]), np.concatenate([self.tail_rows, found_rows])
        )

    def add_to(self, sums: np.ndarray, pair_keys: np.ndarray, weights: np.ndarray) -> None:
        """sums[row] += weight for every (key, weight) of a document that a row holds, key by key in
        key order (the order Ranker scoring adds them in, so the float sums are the same)."""
        if not len(pair_keys) or not (len(self.keys) or len(self.tail_keys)):
            return
        low = np.searchsorted(self.keys, pair_keys, side="left")
        high = np.searchsorted(self.keys, pair_keys, side="right")
        in_tail = np.isin(pair_keys, self.tail_keys) if len(self.tail_keys) else np.zeros(len(pair_keys), dtype=bool)
        for n in np.flatnonzero((high > low) | in_tail):
            rows = self.rows[low[n] : high[n]]
            if in_tail[n]:
                rows = np.concatenate([rows, self.tail_rows[self.tail_keys == pair_keys[n]]])
            sums[rows] += weights[n]


def row_pairs(
    token_ids: np.ndarray,
    token_ends: np.ndarray,
    proximity: Proximity,
    first_row: int = 0,
    phrases: np.ndarray | None = None,
    chunk: int = 50_000,
) -> tuple[np.ndarray, np.ndarray]:
    """(keys, rows) sorted by key then row: each row's distinct pair keys (as query_pairs gives them).
    `token_ends` (rows + 1) starts at 0; rows are numbered from `first_row`; rows with more than
    proximity.max_terms distinct terms, or False in `phrases` (social-media posts, index/query.py
    is_post), hold no pairs. Made `chunk` rows at a time: the int64 temporaries of all 300k questions of
    a 100k-article site at once were the peak of a first start (~+260 MB)."""
    empty = np.zeros(0, dtype=np.int64)
    rows = len(token_ends) - 1
    if not proximity.on or rows <= 0 or not len(token_ids):
        return empty, empty.astype(np.int32)
    ends = np.asarray(token_ends, dtype=np.int64)
    key_parts, row_parts = [], []
    for start in range(0, rows, chunk):
        part_keys, part_rows = _chunk_pairs(
            token_ids, ends[start : min(rows, start + chunk) + 1], proximity, start,
            None if phrases is None else phrases[start : start + chunk],
        )
        key_parts.append(part_keys)
        row_parts.append((part_rows + first_row).astype(np.int32))  # rows: 4 bytes a pair
    # Each column is merged and its parts let go before the next: at 300k questions (~6M pairs) every
    # temporary here is tens of MB, and holding them all at once was the peak of a first start.
    found_keys = np.concatenate(key_parts)
    del key_parts
    order = np.argsort(found_keys, kind="stable")  # chunks come in row order, each sorted by key then row
    found_keys = found_keys[order]
    found_rows = np.concatenate(row_parts)
    del row_parts
    return found_keys, found_rows[order]


def _chunk_pairs(
    token_ids: np.ndarray, ends: np.ndarray, proximity: Proximity, first: int, phrases: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """row_pairs of the rows whose token ranges `ends` gives (absolute offsets), numbered from `first`."""
    empty = np.zeros(0, dtype=np.int64)
    rows = len(ends) - 1
    ids = np.asarray(token_ids[ends[0] : ends[-1]], dtype=np.int64)
    if not len(ids):
        return empty, empty
    ends = ends - ends[0]
    row_of = np.repeat(np.arange(rows, dtype=np.int64), np.diff(ends))
    width = int(ids.max()) + 1
    distinct = np.bincount(np.unique(row_of * width + ids) // width, minlength=rows)
    allowed = distinct <= proximity.max_terms
    if phrases is not None:
        allowed &= np.asarray(phrases, dtype=bool)
    found_keys, found_rows = [empty], [empty]
    for gap in range(1, proximity.window):
        if gap >= len(ids):
            break
        same = (row_of[:-gap] == row_of[gap:]) & (ids[:-gap] != ids[gap:]) & allowed[row_of[:-gap]]
        found_keys.append(keys(ids[:-gap][same], ids[gap:][same]))
        found_rows.append(row_of[:-gap][same])
    flat_keys, flat_rows = np.concatenate(found_keys), np.concatenate(found_rows)
    order = np.lexsort((flat_rows, flat_keys))
    flat_keys, flat_rows = flat_keys[order], flat_rows[order]
    keep = np.ones(len(flat_keys), dtype=bool)
    keep[1:] = (flat_keys[1:] != flat_keys[:-1]) | (flat_rows[1:] != flat_rows[:-1])
    return flat_keys[keep], flat_rows[keep] + first


# -- terms as strings (PostgreSQL's rows: recommender/index/pg_ranker.py) ----------------------------
Idf = Callable[[str], np.float32]


@dataclass(frozen=True)
class TermPairs:
    """A query's pairs over ids of a vocabulary (the linker's question words; terms it lacks are
    numbered after it), so that a question's pairs sort, and their scores sum, as the linker's do."""

    ids: dict[str, int]
    keys: np.ndarray
    weights: np.ndarray  # float32 pair idf, by key
    words: tuple[tuple[str, str], ...] = ()  # the two terms of each key

    @classmethod
    def of(cls, terms: Sequence[str], vocabulary: Mapping[str, int], idf: Idf, proximity: Proximity) -> TermPairs | None:
        """None when the query has no pairs (proximity off, a long query)."""
        if not proximity.on or len(terms) < 2:
            return None
        ids: dict[str, int] = {}
        for term in terms:
            if term not in ids:
                known = vocabulary.get(term)
                ids[term] = known if known else len(vocabulary) + len(ids)  # id 0 is the empty token
        found = query_pairs([ids[t] for t in terms], proximity)
        if not len(found):
            return None
        names = {i: t for t, i in ids.items()}
        first, second = split(found)
        words = tuple((names[a], names[b]) for a, b in zip(first.tolist(), second.tolist()))
        return cls(ids, found, _pair_idf(found, names, idf, proximity), words)

    def bound(self, present: Container[str]) -> np.float32:
        """More than add_to can add for a document holding the terms `present`: the weights of the
        pairs whose two terms it holds (each pair adds weight * tf / (tf + norm), below its weight)."""
        total = np.float32(0)
        for n, (a, b) in enumerate(self.words):
            if a in present and b in present:
                total += self.weights[n]
        return total

    def add_to(self, total: np.float32, sequence: Sequence[str], norm: np.float32, window: int) -> np.float32:
        """total plus the document's BM25 for these pairs, key by key, in float32."""
        found, tfs = document_pairs(np.array([self.ids.get(t, -1) for t in sequence], dtype=np.int64), window)
        if not len(found):
            return total
        places = np.minimum(np.searchsorted(found, self.keys), len(found) - 1)
        for n in np.flatnonzero(found[places] == self.keys):
            tf = tfs[places[n]]
            total += self.weights[n] * tf / (norm + tf)
        return total


def document_pair_weights(
    sequence: Sequence[str], vocabulary: Mapping[str, int], idf: Idf, norm: np.float32, proximity: Proximity
) -> tuple[np.ndarray, np.ndarray]:
    """(sorted pair keys, weights) of an article over a vocabulary's ids (the linker's question words:
    a question's pairs are made of those only, so the article's other words keep their place and form
    no pair)."""
    ids = np.array([vocabulary.get(t, -1) if t else -1 for t in sequence], dtype=np.int64)
    found, tfs = document_pairs(ids, proximity.window)
    if not len(found):
        return found, tfs
    words = {vocabulary[t]: t for t in set(sequence) if t in vocabulary}
    return found, _pair_idf(found, words, idf, proximity) * tfs / (norm + tfs)


def _pair_idf(pair_keys: np.ndarray, words: Mapping[int, str], idf: Idf, proximity: Proximity) -> np.ndarray:
    """pair_idf's arithmetic (float32) with each term's idf looked up by its string."""
    first, second = split(pair_keys)
    summed = np.array([idf(words[a]) + idf(words[b]) for a, b in zip(first.tolist(), second.tolist())], dtype=np.float32)
    return summed * np.float32(proximity.weight)
