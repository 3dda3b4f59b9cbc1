"""BM25 over whole documents, updatable without a rebuild, with corpus-independent term weights.

Texts are tokenised by bm25s's Tokenizer (English stop words, Snowball stemming) and scored as BM25
(Lucene's variant, k1=1.5, b=0.75), except that idf and the average document length do not come from
the indexed documents: idf comes from a fixed English word list (term_weights.py) and lengths are
normalised against a fixed reference length (RankerConfig.average_length):

    score(q, d) = sum over q's tokens of idf(t) * tf / (tf + k1 * (1 - b + b * len(d) / average_length))

So a document's score for a query depends on that query and that document only, as its dense score
does: adding, changing or deleting one article moves no other article's scores, and stored links stay
equal to a recomputation when only the questions a write can move are relinked (see linking/linker.py).
tests/index/test_lexical.py checks the scores against a direct implementation of the formula and the
term frequencies and lengths against bm25s's own index.

Postings keep raw term frequencies and weights are applied when scoring, so `updated()` only tokenises
the new documents, appends their postings and marks replaced ones dead. Postings of documents added
since the last full build sit in a small per-term overlay; the index holder rebuilds from scratch once
enough of them (or of dead documents) piled up (see Snapshot.needs_compaction).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import Stemmer
from bm25s.tokenization import Tokenizer

from recommender.index.rows import RowBuffer
from recommender.index.term_weights import TermWeights

K1 = 1.5
B = 0.75
EMPTY = 0  # bm25s's id of the empty token (a text without any indexable word)
VOCAB_FILE = "vocab.tokenizer.json"
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


_COLUMN_TYPES = (np.int32, np.int32, np.float32, np.float32)  # terms, docs, tfs, lengths (see _counts)


def _merged(columns: list[list[np.ndarray]], n: int, dtype: type) -> np.ndarray:
    """Column n of every chunk as one array; the chunks themselves are dropped."""
    parts, columns[n] = columns[n], []
    return np.concatenate(parts) if parts else np.zeros(0, dtype)


class LexicalIndex:
    """Documents are positions 0..size-1; `alive` marks those not replaced or deleted since."""

    def __init__(
        self,
        texts: Sequence[str] = (),
        average_length: float = 300.0,
        weights: TermWeights | None = None,
        consume: bool = False,
    ) -> None:
        """`consume`: `texts` is a list the caller is done with; each chunk is removed from it once
        tokenised, so the bodies (at 100k articles a few hundred MB) are not held while the postings
        are merged and sorted, the build's peak."""
        self._tokenizer = new_tokenizer()
        self._weights = weights or TermWeights()
        self.average_length = average_length
        parts = []
        size = len(texts)
        for start in range(0, size, _CHUNK):
            if consume and isinstance(texts, list):
                chunk = texts[:_CHUNK]
                del texts[:_CHUNK]
            else:
                chunk = list(texts[start : start + _CHUNK])
            parts.append(_counts(_tokenize(self._tokenizer, chunk, True), start))
            del chunk
        # Each column's chunks are let go as soon as they are merged: at 100k articles a column is 14M
        # postings, and holding every chunk next to every merged column would double the build's peak.
        columns = [[p[n] for p in parts] for n in range(4)]
        del parts
        terms, docs, tfs, lengths = (_merged(columns, n, dtype) for n, dtype in enumerate(_COLUMN_TYPES))
        order = np.argsort(terms, kind="stable")  # by term, documents ascending within a term
        n_terms = len(self._tokenizer.get_vocab_dict())
        self._indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms, minlength=n_terms), out=self._indptr[1:])
        del terms
        self._docs = docs[order]
        del docs
        self._tfs = tfs[order]
        del tfs, order
        self._overlay: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._overlay_terms: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # position -> its (terms, tfs)
        self._overlay_docs = 0
        self._lengths = RowBuffer.of(lengths)
        self.size = size
        self._alive = np.ones(self.size, dtype=bool)
        self._dead = 0
        self._norm = RowBuffer.of(self._length_norm(lengths))

    # -- the index files (index/files.py) ---------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        """The postings and lengths of a fully built index (nothing added or removed since)."""
        if self._overlay_docs or self._dead:
            raise ValueError("only a freshly built lexical index is saved (it has overlay or dead documents)")
        return {"indptr": self._indptr, "docs": self._docs, "tfs": self._tfs, "lengths": self._lengths.view(self.size)}

    def save_vocab(self, folder: Path) -> None:
        """The tokenizer's vocabulary, as bm25s saves it (JSON): word and stem ids stay as they are."""
        self._tokenizer.save_vocab(str(folder), VOCAB_FILE)

    @classmethod
    def restored(
        cls, arrays: dict[str, np.ndarray], folder: Path, average_length: float, weights: TermWeights | None = None
    ) -> LexicalIndex:
        """The index `arrays()` and `save_vocab()` saved (the arrays may be read-only memory maps)."""
        new = object.__new__(cls)
        new._tokenizer = new_tokenizer()
        new._tokenizer.load_vocab(str(folder), VOCAB_FILE)
        new._weights, new.average_length = weights or TermWeights(), average_length
        new._indptr, new._docs, new._tfs = arrays["indptr"], arrays["docs"], arrays["tfs"]
        if len(new._indptr) > len(new._tokenizer.get_vocab_dict()) + 1 or int(new._indptr[-1]) != len(new._docs):
            raise ValueError("lexical postings do not match their vocabulary")
        lengths = np.asarray(arrays["lengths"], dtype=np.float32)
        new._overlay, new._overlay_terms, new._overlay_docs = {}, {}, 0
        new._lengths = RowBuffer.of(lengths)
        new.size = len(lengths)
        new._alive = np.ones(new.size, dtype=bool)
        new._dead = 0
        new._norm = RowBuffer.of(new._length_norm(lengths))
        return new

    # -- reading ---------------------------------------------------------------------------
    @property
    def overlay_documents(self) -> int:
        """Documents added since the last full build (scored from the overlay)."""
        return self._overlay_docs

    @property
    def dead(self) -> int:
        return self._dead

    def _length_norm(self, lengths: np.ndarray) -> np.ndarray:
        """k1 * (1 - b + b * len / average length) per document: the length part of every tf weight."""
        return (K1 * (1 - B + B * lengths / np.float32(self.average_length))).astype(np.float32)

    def _idf(self) -> np.ndarray:
        return self._weights.array(self._tokenizer.get_vocab_dict())

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
        norm = self._norm.view(self.size)
        idf = self._idf()
        for term in ids:
            if term == EMPTY:
                continue
            docs, tfs = self._postings(term)
            if len(docs):
                scores[docs] += idf[term] * tfs / (norm[docs] + tfs)
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
        idf = self._idf()
        norm = self._norm.view(self.size)
        for position, terms, tfs in self._document_terms([p for p in positions if self._alive[p]]):
            out = np.zeros(len(idf) + 1, dtype=np.float32)
            out[terms] = idf[terms] * tfs / (norm[position] + tfs)
            out[EMPTY] = 0.0
            yield position, out

    def _document_terms(self, positions: Sequence[int]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(position, terms, tfs) of each document, from the overlay or one scan of the base postings."""
        wanted = set(positions)
        found: dict[int, tuple[list[int], list[float]]] = {p: ([], []) for p in wanted}
        for position in wanted:
            if position in self._overlay_terms:
                terms, tfs = self._overlay_terms[position]
                found[position] = (terms.tolist(), tfs.tolist())
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
        new._weights, new.average_length = self._weights, self.average_length
        new._indptr, new._docs, new._tfs = self._indptr, self._docs, self._tfs
        new.size = self.size + len(texts)
        alive = np.ones(new.size, dtype=bool)
        alive[: self.size] = self._alive
        removed = [p for p in set(remove) if p < self.size and alive[p]]
        alive[removed] = False
        new._alive = alive
        new._dead = self._dead + len(removed)
        overlay = dict(self._overlay)
        if texts:
            terms, docs, tfs, added = _counts(_tokenize(self._tokenizer, texts, True), self.size)
            new._lengths = self._lengths.extend(self.size, added)
            new._norm = self._norm.extend(self.size, self._length_norm(added))
            new._overlay_terms = dict(self._overlay_terms)
            bounds = np.flatnonzero(np.diff(docs)) + 1  # _counts sorts by document: one run per document
            for start, end in zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [len(docs)]])):
                if end > start:
                    new._overlay_terms[int(docs[start])] = (terms[start:end].astype(np.int64), tfs[start:end])
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
            new._lengths, new._norm, new._overlay_terms = self._lengths, self._norm, self._overlay_terms
        new._overlay = overlay
        new._overlay_docs = self._overlay_docs + len(texts)
        return new
