"""Ranking inside PostgreSQL: approximate candidates, exact scores.

For each query, candidates are the articles of the `dense_candidates` passages nearest to the query
vector (pgvector's HNSW index; a scan while the index is building or missing) and the
`lexical_candidates` articles of highest BM25 (summed in SQL over `article_terms`, see
recommender/store/pgranking.py). Each candidate is then scored EXACTLY as the in-memory Ranker scores
it, from its own rows: best-passage cosine over its passage vectors, and BM25 from its term
frequencies and length with the fixed reference idf (index/term_weights.py) — no corpus statistic
enters a score. Only recall is approximate: an article in neither candidate list is never ranked,
even when its fused score would place it in the top k, unless the caller names it in `also` (the
articles a question already links to, when verify recomputes its links: linking/verify.py).

Term-pair evidence (index/proximity.py) needs a candidate's terms in text order (~2 kB an article);
they are read only for the candidates that it could lift into the top k (`_pair_plan`: a bound on
what pairs can add, then every candidate that may reach the top is scored exactly).

A worker keeps no passage vector and no posting: memory no longer grows with the passages. The
tokeniser's vocabulary holds the words of questions only (for the linker, see `text_ids`); queries
are tokenised by a throwaway tokeniser, so search traffic adds nothing to it.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
from bm25s.tokenization import Tokenizer

from recommender.embedding.base import Encoder
from recommender.index import proximity
from recommender.index.base import Added, Evidence, Hit, RankerConfig, RankingIndex
from recommender.index.fusion import combine, saturate
from recommender.index.lexical import B, EMPTY, K1, new_tokenizer, terms_of
from recommender.index.pg_contract import Candidate, PgOptions, Query, RankingStore, term_rows
from recommender.index.query import clean_query, is_post
from recommender.index.term_weights import TermWeights

if TYPE_CHECKING:
    pass

STATE_SECONDS = 10.0  # how long an HNSW index state read from the catalog is trusted
IDF_CACHE = 200_000  # terms whose float32 idf is kept (cleared when full)
_CHUNK = 2000  # articles whose term rows are written per transaction when catching up
# What _pair_plan's bounds allow for float32 rounding (the exact sum adds terms one at a time; scores
# are ~1, their last bits ~1e-7): a candidate is dropped only when clearly below the k-th.
PAIR_SLACK = 1e-4


class _HnswState:
    """The HNSW index's state, read from the catalog at most every STATE_SECONDS (shared by the
    PgRankers of one lineage)."""

    def __init__(self, store: RankingStore) -> None:
        self._store = store
        self._value = "missing"
        self._read_at = -np.inf

    def get(self) -> str:
        now = time.monotonic()
        if now - self._read_at > STATE_SECONDS:
            self._value = self._store.hnsw_state()
            self._read_at = now
        return self._value


class PgRanker(RankingIndex):
    exhaustive = False  # candidates come from an approximate stage: a recomputation may not reach a hit
    def __init__(
        self,
        store: RankingStore,
        doc_ids: Collection[str],
        encoder: Encoder | None,
        config: RankerConfig,
        options: PgOptions = PgOptions(),
        tokenizer: Tokenizer | None = None,
        weights: TermWeights | None = None,
        state: _HnswState | None = None,
        idfs: dict[str, np.float32] | None = None,
    ) -> None:
        if config.method != "lexical" and encoder is None:
            raise ValueError(f"method {config.method!r} needs an encoder")
        self.store = store
        self.live = frozenset(doc_ids)
        self.encoder = encoder
        self.config = config
        self.options = options
        self._tokenizer = tokenizer or new_tokenizer()  # question words only (see text_ids)
        self._weights = weights or TermWeights()
        self._state = state or _HnswState(store)
        self._idfs: dict[str, np.float32] = idfs if idfs is not None else {}

    @classmethod
    def open(
        cls, store: RankingStore, doc_ids: Collection[str], encoder: Encoder | None, config: RankerConfig, options: PgOptions
    ) -> PgRanker:
        """A ranker over the stored articles, after writing the term rows any article still lacks (written
        by a process that died before writing them, or made before this backend existed)."""
        while stale := store.stale_term_articles(_CHUNK):
            store.write_terms(term_rows(stale))
            if len(stale) < _CHUNK:
                break
        return cls(store, doc_ids, encoder, config, options)

    # -- the interface -------------------------------------------------------------------------
    @property
    def live_size(self) -> int:
        return len(self.live)

    @property
    def size(self) -> int:
        return len(self.live)

    @property
    def stale(self) -> int:
        return 0  # nothing piles up in memory: the database holds the rows

    def contains(self, doc_id: str) -> bool:
        return doc_id in self.live

    def with_changes(self, added: Sequence[Added], removed: Collection[str] = (), derived: bool = True) -> PgRanker:
        # The articles are stored by now; their term rows follow (derived rows: should this process die
        # first, the next one to open the index writes them, see `open`). A process following another
        # one's writes leaves them to the writer (it could otherwise overwrite a newer version's rows).
        if derived:
            written = [(a[0], a[3] if len(a) > 3 else "", a[2]) for a in added]
            self.store.write_terms(term_rows(written))
        live = (self.live - set(removed)) | {a[0] for a in added}
        return PgRanker(self.store, live, self.encoder, self.config, self.options, self._tokenizer, self._weights, self._state, self._idfs)

    def text_ids(self, texts: Sequence[str]) -> list[list[int]]:
        if self.config.method == "dense" or not texts:
            return [[] for _ in texts]
        ids = self._tokenizer.tokenize(list(texts), update_vocab=True, return_as="ids", show_progress=False)
        return [[i for i in row if i != EMPTY] for row in ids]

    def evidence(self, doc_ids: Sequence[str]) -> Iterator[Evidence]:
        wanted = [d for d in doc_ids if d in self.live]
        if not wanted:
            return
        dense = self.config.method != "lexical"
        matrices = self.store.candidate_rows(wanted, (), vectors=True)[0] if dense else {}
        terms = self.store.document_terms(wanted) if self.config.method != "dense" else {}
        vocabulary = self._tokenizer.get_vocab_dict()
        for doc_id in wanted:
            weights = None
            pairs = None
            if doc_id in terms:
                length, tfs, sequence = terms[doc_id]
                weights = np.zeros(len(vocabulary) + 1, dtype=np.float32)
                norm = self._norm(length)
                for term, tf in tfs.items():
                    token = vocabulary.get(term)
                    if token is not None and token != EMPTY:
                        weights[token] = self._idf(term) * np.float32(tf) / (norm + np.float32(tf))
                if self.config.proximity.on:
                    pairs = proximity.document_pair_weights(sequence, vocabulary, self._idf, norm, self.config.proximity)
            yield Evidence(doc_id, matrices.get(doc_id) if dense else None, weights, pairs)

    def centroid(self, doc_id: str) -> np.ndarray | None:
        if doc_id not in self.live or self.config.method == "lexical":
            return None
        matrix = self.store.candidate_rows([doc_id], (), vectors=True)[0].get(doc_id)
        if matrix is None or not len(matrix):
            return None
        mean = matrix.mean(axis=0)
        norm = float(np.linalg.norm(mean))
        return mean / norm if norm else mean

    def status(self) -> dict[str, str]:
        state = self._state.get() if self.config.method != "lexical" else "unused"
        return {
            "backend": "postgres",
            "hnsw": state,
            # While the index builds, dense candidates come from an exact scan (slower, nothing lost).
            "dense_candidates": "hnsw" if state == "ready" else "exact scan",
            "approximate": "candidate recall only; scores are exact",
        }

    # -- ranking -------------------------------------------------------------------------------
    def _rank(
        self,
        texts: Sequence[str],
        k: int,
        excludes: Sequence[Collection[str]],
        vectors: np.ndarray | None,
        also: Sequence[Collection[str]] | None = None,
        phrases: Sequence[bool] | None = None,
    ) -> list[list[Hit]]:
        queries = [[t for t in terms if t] for terms in terms_of(texts)] if self.config.method != "dense" else [[] for _ in texts]
        allowed = phrases if phrases is not None else [True] * len(texts)
        pairs = [self._query_pairs(terms) if phrase else None for terms, phrase in zip(queries, allowed)]
        use_dense = self.config.method != "lexical"
        found = self._candidates(
            [
                (vectors[row] if use_dense and vectors is not None else None, terms, [self._weights.of(t) for t in terms])
                for row, terms in enumerate(queries)
            ],
            k,
            exact=use_dense and self._state.get() != "ready",
        )
        kept = []
        for row, exclude in enumerate(excludes):
            skip = set(exclude)
            kept.append([r for r in found[row] if r[0] in self.live and r[0] not in skip])
        plans = [self._pair_plan(rows, queries[row], pairs[row], k) for row, rows in enumerate(kept)]
        needed = sorted({doc for _, wanted in plans for doc in wanted})
        sequences = self.store.term_sequences(needed) if needed else {}
        results = []
        for row, exclude in enumerate(excludes):
            skip = set(exclude)
            scored = self._fused(plans[row][0], queries[row], pairs[row], sequences)
            if also is not None:
                seen = {r[0] for r in kept[row]} | skip
                extra = sorted(d for d in also[row] if d in self.live and d not in seen)
                vector = vectors[row] if use_dense and vectors is not None else None
                scored += self._scored(extra, queries[row], vector, allowed[row])
            hits = self._top(scored, k)
            if len(hits) < k and self.config.method == "lexical":
                hits += self._unmatched(k - len(hits), {h.doc_id for h in hits} | skip)
            results.append(hits)
        return results

    def _pair_plan(
        self, rows: Sequence[Candidate], terms: Sequence[str], pairs: proximity.TermPairs | None, k: int
    ) -> tuple[list[Candidate], set[str]]:
        """The candidates that may reach the top `k`, and of those the ones whose term-pair evidence
        must be counted on their terms in text order (read from the database: ~2 kB an article, so
        only for these).

        A candidate's pairs add less than the sum of the weights of the query pairs whose two terms it
        holds (each adds weight * tf / (tf + norm) < weight). Its fused score without pair evidence is
        a lower bound, with that sum an upper bound: a candidate whose upper bound is below the k-th
        best lower bound can never be in the top k, and is dropped unscored. The rest are scored
        exactly, so the top k are a full scoring's."""
        if pairs is None or len(rows) <= k:
            wanted = {r[0] for r in rows if pairs is not None and pairs.bound(r[4]) > 0}
            return list(rows), wanted
        dense = np.array([r[1] for r in rows], dtype=np.float32)
        norms = self._norms([r[3] for r in rows])
        raw = np.array([self._bm25(norm, r[4], (), terms) for norm, r in zip(norms, rows)], dtype=np.float32)
        extra = np.array([pairs.bound(r[4]) for r in rows], dtype=np.float32)
        lower = self._combined(dense, raw)
        upper = self._combined(dense, raw + extra)
        floor = np.partition(lower, len(lower) - k)[len(lower) - k]
        keep = upper >= floor - PAIR_SLACK
        kept = [r for r, kept_row in zip(rows, keep.tolist()) if kept_row]
        return kept, {rows[n][0] for n in np.flatnonzero(keep & (extra > 0)).tolist()}

    def _candidates(self, queries: Sequence[Query], k: int, exact: bool) -> list[list[Candidate]]:
        """Each query's candidates (RankingStore.ranked_candidates). Many queries (the questions a write
        relinks) are split over `parallel_queries` connections at once: the database works on them side
        by side while this process waits, instead of one after the other."""

        def run(chunk: Sequence[Query]) -> list[list[Candidate]]:
            return self.store.ranked_candidates(
                chunk,
                max(self.options.dense_candidates, 4 * k),
                max(self.options.lexical_candidates, k) if self.options.lexical_candidates else 0,
                self.options.ef_search,
                (K1, B, self.config.average_length),
                exact=exact,
                postings=self.options.lexical_postings,
            )

        workers = min(self.options.parallel_queries, len(queries))
        if workers <= 1:
            return run(queries)
        size = -(-len(queries) // workers)
        chunks = [queries[start : start + size] for start in range(0, len(queries), size)]
        with ThreadPoolExecutor(len(chunks), thread_name_prefix="pg-rank") as pool:
            return [found for part in pool.map(run, chunks) for found in part]

    def _unmatched(self, count: int, taken: Collection[str]) -> list[Hit]:
        """Articles no query term matches score 0 and follow by id, as in the in-memory ranker (only a
        lexical ranking runs out of candidates: the dense part scores every article)."""
        rest = heapq.nsmallest(count, (d for d in self.live if d not in taken))
        return [Hit(doc_id, 0.0, 0.0, 0.0, -1) for doc_id in rest]

    def score(self, text: str, doc_id: str, exclude: Collection[str] = (), vector: np.ndarray | None = None) -> float | None:
        if doc_id not in self.live or doc_id in exclude:
            return None
        phrase = not is_post(text)
        text = clean_query(text) if self.config.clean_queries else text
        if vector is None and self.config.method != "lexical":
            encoded = self.encode([text])
            vector = encoded[0] if encoded is not None else None
        hits = self._scored([doc_id], terms_of([text])[0], vector, phrase)
        return hits[0].score if hits else None

    def _norm(self, length: int) -> np.float32:
        return self._norms([length])[0]

    def _norms(self, lengths: Sequence[int]) -> np.ndarray:
        """k1 * (1 - b + b * len / average length), in float32 as the in-memory index computes it."""
        values = np.array(lengths, dtype=np.float32)
        return (K1 * (1 - B + B * values / np.float32(self.config.average_length))).astype(np.float32)

    def _scored(self, ids: Sequence[str], terms: Sequence[str], vector: np.ndarray | None, phrase: bool = True) -> list[Hit]:
        """Every id's exact fused score (the in-memory Ranker's arithmetic, in float32); `phrase`:
        the text may get term-pair evidence (RankingIndex._rank)."""
        if not ids:
            return []
        use_dense = self.config.method != "lexical"
        use_lexical = self.config.method != "dense"
        kept = [t for t in terms if t]
        pairs = self._query_pairs(kept) if use_lexical and phrase else None
        matrices, tfs = self.store.candidate_rows(
            ids, kept if use_lexical else (), vectors=use_dense, sequences=pairs is not None
        )
        dense = np.zeros(len(ids), np.float32)
        passages = np.full(len(ids), -1, dtype=np.int64)
        raw = np.zeros(len(ids), np.float32)
        for n, doc_id in enumerate(ids):
            if use_dense and vector is not None and doc_id in matrices:
                sims = matrices[doc_id] @ np.asarray(vector, np.float32)
                passages[n] = int(np.argmax(sims))
                dense[n] = sims[passages[n]]
            if use_lexical and doc_id in tfs:
                length, counts, sequence = tfs[doc_id]
                raw[n] = self._bm25(self._norm(length), counts, sequence, kept, pairs)
        return self._hits(ids, dense, raw, passages.tolist())

    def _bm25(
        self,
        norm: np.float32,
        counts: Mapping[str, int],
        sequence: Sequence[str],
        terms: Sequence[str],
        pairs: proximity.TermPairs | None = None,
    ) -> np.float32:
        """BM25 of one document: the query's terms in order, repeats included, then its term pairs in
        key order, summed in float32 as the in-memory index sums them; `norm`: the document's (_norms)."""
        total = np.float32(0)
        for term in terms:
            tf = counts.get(term)
            if tf:
                total += self._idf(term) * np.float32(tf) / (norm + np.float32(tf))
        if pairs is not None and sequence:
            total = pairs.add_to(total, sequence, norm, self.config.proximity.window)
        return total

    def _query_pairs(self, terms: Sequence[str]) -> proximity.TermPairs | None:
        """The query's term pairs, None when it has none (proximity off, a long query)."""
        if self.config.method == "dense":
            return None
        return proximity.TermPairs.of(terms, self._tokenizer.get_vocab_dict(), self._idf, self.config.proximity)

    def _idf(self, term: str) -> np.float32:
        """The term's fixed reference idf as float32 (looked up once per term: a bounded cache, the
        English word list's size at most plus the words seen lately)."""
        found = self._idfs.get(term)
        if found is None:
            if len(self._idfs) > IDF_CACHE:
                self._idfs.clear()
            found = self._idfs[term] = np.float32(self._weights.of(term))
        return found

    def _fused(
        self,
        rows: Sequence[Candidate],
        terms: Sequence[str],
        pairs: proximity.TermPairs | None,
        sequences: Mapping[str, Sequence[str]],
    ) -> list[Hit]:
        """Hits of candidates whose best passage's cosine the database computed, with BM25 from their
        term frequencies (the in-memory index's float32 arithmetic, query terms in order) and term
        pairs from `sequences` (a candidate absent there holds no two of the query's terms)."""
        if not rows:
            return []
        dense = np.array([r[1] for r in rows], dtype=np.float32)
        raw = np.zeros(len(rows), np.float32)
        if self.config.method != "dense":
            norms = self._norms([r[3] for r in rows])
            for n, (doc_id, _, _, _, counts) in enumerate(rows):
                raw[n] = self._bm25(norms[n], counts, sequences.get(doc_id, ()), terms, pairs)
        return self._hits([r[0] for r in rows], dense, raw, [r[2] for r in rows])

    def _combined(self, dense: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """Fused scores of dense cosines and raw BM25 (the arithmetic of _hits)."""
        lexical = saturate(raw, self.config.lexical_saturation) if self.config.method != "dense" else raw
        if self.config.method == "dense":
            return dense
        if self.config.method == "lexical":
            return lexical
        return combine(dense, lexical, self.config.dense_weight)

    def _hits(self, ids: Sequence[str], dense: np.ndarray, raw: np.ndarray, passages: Sequence[int]) -> list[Hit]:
        lexical = saturate(raw, self.config.lexical_saturation) if self.config.method != "dense" else raw
        combined = self._combined(dense, raw)
        if self.config.method == "lexical":
            dense = np.zeros_like(dense)
        return [
            Hit(doc_id, float(combined[n]), float(dense[n]), float(lexical[n]), int(passages[n]) if self.config.method != "lexical" else -1)
            for n, doc_id in enumerate(ids)
        ]

    @staticmethod
    def _top(hits: list[Hit], k: int) -> list[Hit]:
        return sorted(hits, key=lambda h: (-h.score, h.doc_id))[: max(k, 0)]
