"""BM25 over whole documents, updatable without a rebuild.

Texts are tokenised by bm25s's Tokenizer (English stop words, Snowball stemming) and scored as
bm25s.BM25(method="lucene", k1=1.5, b=0.75) scores them over the live documents:

    idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5)),  tf part = tf / (tf + k1 * (1 - b + b * len / avglen)),

summed over the query's tokens (a repeated token counts again). tests/index/test_lexical.py checks
the scores against bm25s itself.

Why not bm25s's index: it bakes idf and document length into every stored weight, so one new article
means re-tokenising and re-indexing every document (seconds at 10k articles, a minute at 100k). Here
postings keep raw term frequencies and N, df and the average length are applied when scoring, so
`updated()` only tokenises the new documents, appends their postings and marks replaced ones dead;
the scores equal those of a fresh index over the live documents. Postings of documents added since
the last full build sit in a small per-term overlay; the engine rebuilds from scratch once enough
of them (or of dead documents) piled up (see Snapshot.needs_compaction).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence

import numpy as np
import Stemmer
from bm25s.tokenization import Tokenizer

from recommender.index.rows import RowBuffer

K1 = 1.5
B = 0.75
EMPTY = 0  # bm25s's id of the empty token (a text without any indexable word)
_CHUNK = 4096  # documents tokenised at a time: token lists of Python ints are ~40 bytes a token


def new_tokenizer() -> Tokenizer:
    return Tokenizer(stopwords="en", stemmer=Stemmer.Stemmer("english"))


def _tokenize(tokenizer: Tokenizer, texts: Sequence[str], update: bool) -> list[list[int]]:
    if not texts:
        return []
    return tokenizer.tokenize(list(texts), update_vocab=update, show_progress=False, return_as="ids")


def _counts(ids: list[list[int]], first_doc: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(terms, docs, term frequencies) sorted by document then term, and each document's length."""
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
    docs = np.repeat(np.arange(len(ids), dtype=np.int64), lengths)
    width = int(flat.max(initial=0)) + 1
    keys, tfs = np.unique(docs * width + flat, return_counts=True)
    return (
        (keys % width).astype(np.int32),
        (keys // width + first_doc).astype(np.int32),
        tfs.astype(np.float32),
        lengths.astype(np.float32),
    )


class LexicalIndex:
    """Documents are positions 0..size-1; `alive` marks those not replaced or deleted since."""

    def __init__(self, texts: Sequence[str] = ()) -> None:
        self._tokenizer = new_tokenizer()
        parts = []
        for start in range(0, len(texts), _CHUNK):
            parts.append(_counts(_tokenize(self._tokenizer, texts[start : start + _CHUNK], True), start))
        terms = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int32)
        docs = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int32)
        tfs = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, np.float32)
        lengths = np.concatenate([p[3] for p in parts]) if parts else np.zeros(0, np.float32)
        order = np.argsort(terms, kind="stable")  # by term, documents ascending within a term
        n_terms = len(self._tokenizer.get_vocab_dict())
        self._indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms, minlength=n_terms), out=self._indptr[1:])
        self._docs = docs[order]
        self._tfs = tfs[order]
        self._overlay: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._overlay_docs = 0
        self._lengths = RowBuffer.of(lengths)
        self.size = len(texts)
        self._alive = np.ones(self.size, dtype=bool)
        self._dead = 0
        self._total = float(lengths.sum())
        self._norm_cache: np.ndarray | None = None

    # -- reading ---------------------------------------------------------------------------
    @property
    def overlay_documents(self) -> int:
        """Documents added since the last full build (scored from the overlay)."""
        return self._overlay_docs

    @property
    def dead(self) -> int:
        return self._dead

    def _norm(self) -> np.ndarray:
        """k1 * (1 - b + b * len / avglen) per document: the length part of every tf weight."""
        if self._norm_cache is None:
            live = self.size - self._dead
            average = self._total / live if live else 1.0
            lengths = self._lengths.view(self.size)
            self._norm_cache = (K1 * (1 - B + B * lengths / np.float32(average))).astype(np.float32)
        return self._norm_cache

    def _postings(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        base = len(self._indptr) - 1
        docs, tfs = (
            (self._docs[self._indptr[term] : self._indptr[term + 1]], self._tfs[self._indptr[term] : self._indptr[term + 1]])
            if term < base
            else (self._docs[:0], self._tfs[:0])
        )
        extra = self._overlay.get(term)
        if extra is not None:
            docs, tfs = np.concatenate([docs, extra[0]]), np.concatenate([tfs, extra[1]])
        return docs, tfs

    def _score_ids(self, ids: Sequence[int]) -> np.ndarray:
        scores = np.zeros(self.size, dtype=np.float32)
        live = self.size - self._dead
        if live == 0:
            return scores
        norm = self._norm()
        for term in ids:
            if term == EMPTY:
                continue
            docs, tfs = self._postings(term)
            df = int(np.count_nonzero(self._alive[docs])) if self._dead else len(docs)
            if df == 0:
                continue
            idf = np.float32(math.log(1 + (live - df + 0.5) / (df + 0.5)))
            scores[docs] += idf * tfs / (norm[docs] + tfs)
        return scores

    def query_ids(self, queries: Sequence[str]) -> list[list[int]]:
        """Token ids of each query (unknown words dropped); one tokeniser call for all of them."""
        return [[i for i in ids if i != EMPTY] for ids in _tokenize(self._tokenizer, queries, False)]

    def text_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of texts whose words should stay known (e.g. questions), as queries will see them.

        Their words join the vocabulary even if no document has them yet, so ids taken now still match
        a query's tokens after a document brings the word in.
        """
        return [[i for i in ids if i != EMPTY] for ids in _tokenize(self._tokenizer, texts, True)]

    def scores(self, query: str) -> np.ndarray:
        """(documents,) BM25 score of each document for `query`; zeros when nothing matches (dead ones included)."""
        return self.scores_batch([query])[0] if self.size else np.zeros(0, dtype=np.float32)

    def scores_batch(self, queries: Sequence[str]) -> np.ndarray:
        """(queries, documents) BM25 scores."""
        out = np.zeros((len(queries), self.size), dtype=np.float32)
        if self.size and queries:
            for row, ids in enumerate(self.query_ids(queries)):
                out[row] = self._score_ids(ids)
        return out

    def weights(self, positions: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        """(position, (vocabulary,) weights) per document: what one occurrence of each term in a query
        adds to that document's score. The documents' terms are gathered in one pass over the postings."""
        vocabulary = len(self._tokenizer.get_vocab_dict()) + 1
        live = self.size - self._dead
        norm = self._norm()
        for position, terms, tfs in self._document_terms([p for p in positions if self._alive[p]]):
            df = np.array([self._df(int(t)) for t in terms], dtype=np.float64)
            idf = np.log(1 + (live - df + 0.5) / (df + 0.5)).astype(np.float32)
            out = np.zeros(vocabulary, dtype=np.float32)
            out[terms] = idf * tfs / (norm[position] + tfs)
            out[EMPTY] = 0.0
            yield position, out

    def _df(self, term: int) -> int:
        docs, _ = self._postings(term)
        return int(np.count_nonzero(self._alive[docs])) if self._dead else len(docs)

    def _document_terms(self, positions: Sequence[int]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(position, terms, tfs) of each document, from the overlay or one scan of the base postings."""
        wanted = set(positions)
        found: dict[int, tuple[list[int], list[float]]] = {p: ([], []) for p in wanted}
        for term, (docs, tfs) in self._overlay.items():
            for hit in np.flatnonzero(np.isin(docs, list(wanted))) if wanted else ():
                found[int(docs[hit])][0].append(term)
                found[int(docs[hit])][1].append(float(tfs[hit]))
        base = [p for p in wanted if p < self._base_size()]
        if base:
            hits = np.flatnonzero(np.isin(self._docs, base))
            terms = np.searchsorted(self._indptr, hits, side="right") - 1
            for hit, term in zip(hits, terms):
                found[int(self._docs[hit])][0].append(int(term))
                found[int(self._docs[hit])][1].append(float(self._tfs[hit]))
        for position in positions:
            if position in found:
                terms, tfs = found[position]
                yield position, np.array(terms, dtype=np.int64), np.array(tfs, dtype=np.float32)

    def _base_size(self) -> int:
        return self.size - self._overlay_docs

    # -- updating --------------------------------------------------------------------------
    def updated(self, texts: Sequence[str], remove: Sequence[int] = ()) -> LexicalIndex:
        """A new index with `texts` appended as positions size.. and the documents at `remove` dead.

        This index is left as it was (readers may still use it); the two share the base postings.
        """
        new = object.__new__(LexicalIndex)
        new._tokenizer = self._tokenizer  # append-only vocabulary: ids of new words are unknown here
        new._indptr, new._docs, new._tfs = self._indptr, self._docs, self._tfs
        new.size = self.size + len(texts)
        alive = np.ones(new.size, dtype=bool)
        alive[: self.size] = self._alive
        removed = [p for p in set(remove) if p < self.size and alive[p]]
        alive[removed] = False
        new._alive = alive
        new._dead = self._dead + len(removed)
        lengths = self._lengths.view(self.size)
        total = self._total - float(lengths[removed].sum()) if removed else self._total
        overlay = dict(self._overlay)
        if texts:
            terms, docs, tfs, added = _counts(_tokenize(self._tokenizer, texts, True), self.size)
            new._lengths = self._lengths.extend(self.size, added)
            total += float(added.sum())
            order = np.argsort(terms, kind="stable")
            terms, docs, tfs = terms[order], docs[order], tfs[order]
            bounds = np.flatnonzero(np.diff(terms)) + 1
            for start, end in zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [len(terms)]])):
                term = int(terms[start])
                old = overlay.get(term)
                fresh = (docs[start:end], tfs[start:end])
                overlay[term] = fresh if old is None else (
                    np.concatenate([old[0], fresh[0]]), np.concatenate([old[1], fresh[1]])
                )
        else:
            new._lengths = self._lengths
        new._overlay = overlay
        new._overlay_docs = self._overlay_docs + len(texts)
        new._total = total
        new._norm_cache = None
        return new
