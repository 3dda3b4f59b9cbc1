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

from recommender.index import proximity as prox
from recommender.index.heap import release_freed_memory
from recommender.index.proximity import OFF, Proximity
from recommender.index.rows import RowBuffer
from recommender.index.term_weights import TermWeights

K1 = 1.5
B = 0.75
EMPTY = 0  # bm25s's id of the empty token (a text without any indexable word)
VOCAB_FILE = "vocab.tokenizer.json"
_CHUNK = 4096  # documents tokenised at a time: token lists of Python ints are ~40 bytes a token


def new_tokenizer() -> Tokenizer:
    return Tokenizer(stopwords="en", stemmer=Stemmer.Stemmer("english"))


def terms_of(texts: Sequence[str]) -> list[list[str]]:
    """Each text's terms as the index tokenises it (stop words out, stemmed), every word kept (a
    throwaway vocabulary), '' for a text without any word."""
    if not texts:
        return []
    return new_tokenizer().tokenize(list(texts), update_vocab=True, return_as="string", show_progress=False)


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


def _flat(ids: list[list[int]]) -> np.ndarray:
    return np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int32, count=sum(map(len, ids)))


def _mapped(rows: np.ndarray) -> RowBuffer:
    """Rows to append after: a read-only (mapped) array is copied only by the first append."""
    return RowBuffer(rows, len(rows)) if not rows.flags.writeable else RowBuffer.of(rows)


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
        proximity: Proximity = OFF,
    ) -> None:
        """`consume`: `texts` is a list the caller is done with; each chunk is removed from it once
        tokenised, so the bodies (at 100k articles a few hundred MB) are not held while the postings
        are merged and sorted, the build's peak. `proximity` on: every document's terms are also kept
        in text order, with each term's positions (index/proximity.py)."""
        self._tokenizer = new_tokenizer()
        self._weights = weights or TermWeights()
        self.average_length = average_length
        self.proximity = proximity
        parts = []
        sequences: list[np.ndarray] = []
        size = len(texts)
        for start in range(0, size, _CHUNK):
            if consume and isinstance(texts, list):
                chunk = texts[:_CHUNK]
                del texts[:_CHUNK]
            else:
                chunk = list(texts[start : start + _CHUNK])
            ids = _tokenize(self._tokenizer, chunk, True)
            parts.append(_counts(ids, start))
            if proximity.on:
                sequences.append(_flat(ids))
            del chunk, ids
        if size > _CHUNK:
            release_freed_memory()  # the tokenised chunks' lists, before the postings are merged and sorted
        # Each column's chunks are let go as soon as they are merged: at 100k articles a column is 14M
        # postings, and holding every chunk next to every merged column would double the build's peak.
        columns = [[p[n] for p in parts] for n in range(4)]
        del parts
        terms, docs, tfs, lengths = (_merged(columns, n, dtype) for n, dtype in enumerate(_COLUMN_TYPES))
        n_terms = len(self._tokenizer.get_vocab_dict())
        # By term, documents ascending within a term: the chunked counting sort of the term positions gives
        # that order as int32, where a whole-column argsort holds an int64 index (and its merge buffer) per
        # posting, the peak of a first start at 100k articles.
        order, self._indptr = prox.positions_by_term(terms, n_terms)
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
        sequence = np.concatenate(sequences) if sequences else np.zeros(0, dtype=np.int32)
        del sequences
        self._set_sequences(sequence, lengths, n_terms)

    def _set_sequences(self, sequence: np.ndarray, lengths: np.ndarray, n_terms: int) -> None:
        """Every document's terms in text order, where each begins, and each term's positions in them
        (sorted; by term like the postings). Nothing is kept when proximity is off."""
        if not self.proximity.on:
            sequence, lengths = np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        starts = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(np.asarray(lengths).astype(np.int64), out=starts[1:])
        self._sequence = RowBuffer.of(sequence.astype(np.int32, copy=False))
        self._starts = RowBuffer.of(starts)
        self._positions, self._position_ptr = prox.positions_by_term(sequence, n_terms)
        self._overlay_positions: dict[int, np.ndarray] = {}

    # -- the index files (index/files.py) ---------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        """The postings and lengths of a fully built index (nothing added or removed since)."""
        if self._overlay_docs or self._dead:
            raise ValueError("only a freshly built lexical index is saved (it has overlay or dead documents)")
        arrays = {"indptr": self._indptr, "docs": self._docs, "tfs": self._tfs, "lengths": self._lengths.view(self.size)}
        if self.proximity.on:
            arrays |= {
                "sequence": self._sequence.view(int(self._starts.view(self.size + 1)[-1])),
                "starts": self._starts.view(self.size + 1),
                "positions": self._positions,
                "position_ptr": self._position_ptr,
            }
        return arrays

    def save_vocab(self, folder: Path) -> None:
        """The tokenizer's vocabulary, as bm25s saves it (JSON): word and stem ids stay as they are."""
        self._tokenizer.save_vocab(str(folder), VOCAB_FILE)

    @classmethod
    def restored(
        cls,
        arrays: dict[str, np.ndarray],
        folder: Path,
        average_length: float,
        weights: TermWeights | None = None,
        proximity: Proximity = OFF,
    ) -> LexicalIndex:
        """The index `arrays()` and `save_vocab()` saved (the arrays may be read-only memory maps)."""
        new = object.__new__(cls)
        new.proximity = proximity
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
        if proximity.on:
            if "sequence" not in arrays or len(arrays["starts"]) != new.size + 1:
                raise ValueError("lexical term positions are missing or do not match the documents")
            new._sequence = _mapped(arrays["sequence"])
            new._starts = _mapped(arrays["starts"])
            new._positions, new._position_ptr = arrays["positions"], arrays["position_ptr"]
            new._overlay_positions = {}
        else:
            new._set_sequences(np.zeros(0, dtype=np.int32), np.zeros(0), 0)
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

    def _term_positions(self, term: int) -> np.ndarray:
        base = len(self._position_ptr) - 1
        found = self._positions[self._position_ptr[term] : self._position_ptr[term + 1]] if term < base else self._positions[:0]
        extra = self._overlay_positions.get(term)
        return found if extra is None else np.concatenate([found, extra])

    def _score_ids(self, ids: Sequence[int], pair_ids: Sequence[int] = ()) -> np.ndarray:
        scores = np.zeros(self.size, dtype=np.float32)
        norm = self._norm.view(self.size)
        idf = self._idf()
        for term in ids:
            if term == EMPTY:
                continue
            docs, tfs = self._postings(term)
            if len(docs):
                scores[docs] += idf[term] * tfs / (norm[docs] + tfs)
        pairs = prox.query_pairs(pair_ids, self.proximity)
        if len(pairs):
            starts = self._starts.view(self.size + 1)
            for key, weight in zip(pairs, prox.pair_idf(idf, pairs, self.proximity)):
                first, second = prox.split(key[None])
                docs, tfs = prox.pair_tf(
                    self._term_positions(int(first[0])), self._term_positions(int(second[0])), starts, self.proximity.window
                )
                if len(docs):
                    scores[docs] += weight * tfs / (norm[docs] + tfs)
        return scores

    def query_ids(self, queries: Sequence[str]) -> list[list[int]]:
        """Token ids of each query (unknown words dropped); one tokeniser call for all of them."""
        return [[i for i in ids if i != EMPTY] for ids in _tokenize(self._tokenizer, queries, False)]

    def text_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of texts whose words should stay known (e.g. questions), as queries will see them.

        Their words join the vocabulary even if no document has them yet, so ids taken now still match
        a query's tokens after a document brings the word in. Tokenised a chunk at a time: bm25s holds
        every text's stemmed strings until the call returns (at 300k questions, a first start's peak).
        """
        return [
            [i for i in ids if i != EMPTY]
            for start in range(0, len(texts), _CHUNK)
            for ids in _tokenize(self._tokenizer, texts[start : start + _CHUNK], True)
        ]

    def scores(self, query: str) -> np.ndarray:
        """(documents,) BM25 score of each document for `query`; zeros when nothing matches (dead ones included)."""
        return self.scores_batch([query])[0] if self.size else np.zeros(0, dtype=np.float32)

    def scores_batch(self, queries: Sequence[str], phrases: Sequence[bool] | None = None) -> np.ndarray:
        """(queries, documents) BM25 scores; `phrases`: per query, whether it may get term-pair
        evidence (None: every query may; see index/proximity.py)."""
        out = np.zeros((len(queries), self.size), dtype=np.float32)
        if self.size and queries:
            pair_ids = self._pair_ids(queries) if self.proximity.on else [[] for _ in queries]
            if phrases is not None:
                pair_ids = [ids if phrase else [] for ids, phrase in zip(pair_ids, phrases)]
            for row, ids in enumerate(self.query_ids(queries)):
                out[row] = self._score_ids(ids, pair_ids[row])
        return out

    def _pair_ids(self, queries: Sequence[str]) -> list[list[int]]:
        """Each query's terms in order as ids for query_pairs: every word keeps its place, one that no
        document or question holds gets its own negative id (it counts, but pairs with nothing)."""
        vocabulary = self._tokenizer.get_vocab_dict()
        rows = []
        for terms in terms_of(queries):
            unknown: dict[str, int] = {}
            rows.append(
                [
                    known if (known := vocabulary.get(t)) is not None else unknown.setdefault(t, -1 - len(unknown))
                    for t in terms
                    if t
                ]
            )
        return rows

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

    def pair_weights(self, position: int) -> tuple[np.ndarray, np.ndarray]:
        """(sorted pair keys, weights) of one document: what a query holding each pair adds to its score
        (empty when proximity is off)."""
        if not self.proximity.on or not self._alive[position]:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        starts = self._starts.view(self.size + 1)
        terms = self._sequence.view(int(starts[-1]))[starts[position] : starts[position + 1]]
        pair_keys, tfs = prox.document_pairs(terms, self.proximity.window)
        norm = self._norm.view(self.size)[position]
        return pair_keys, (prox.pair_idf(self._idf(), pair_keys, self.proximity) * tfs / (norm + tfs)).astype(np.float32)

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
        new._weights, new.average_length, new.proximity = self._weights, self.average_length, self.proximity
        new._positions, new._position_ptr = self._positions, self._position_ptr
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
            ids = _tokenize(self._tokenizer, texts, True)
            terms, docs, tfs, added = _counts(ids, self.size)
            new._sequence, new._starts, new._overlay_positions = self._appended_sequences(ids)
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
            new._sequence, new._starts, new._overlay_positions = self._sequence, self._starts, self._overlay_positions
        new._overlay = overlay
        new._overlay_docs = self._overlay_docs + len(texts)
        return new

    def _appended_sequences(self, ids: list[list[int]]) -> tuple[RowBuffer, RowBuffer, dict[int, np.ndarray]]:
        """The term sequences and per-term overlay positions with the documents `ids` appended."""
        if not self.proximity.on:
            return self._sequence, self._starts, self._overlay_positions
        starts = self._starts.view(self.size + 1)
        end = int(starts[-1])
        flat = _flat(ids)
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        sequence = self._sequence.extend(end, flat)
        new_starts = self._starts.extend(self.size + 1, end + np.cumsum(lengths))
        overlay = dict(self._overlay_positions)
        order = np.argsort(flat, kind="stable")
        sorted_terms = flat[order]
        bounds = np.flatnonzero(np.diff(sorted_terms)) + 1
        for start, stop in zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [len(flat)]])):
            if stop > start:
                term = int(sorted_terms[start])
                fresh = end + order[start:stop].astype(np.int64)
                old = overlay.get(term)
                overlay[term] = fresh if old is None else np.concatenate([old, fresh])
        return sequence, new_starts, overlay
