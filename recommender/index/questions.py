"""Every question in memory: its row, vector and BM25 token ids, updatable like the rest of the index.

Rows of a replaced or deleted article's questions stay (dead) until the next full build, so an
update appends only the new rows. The token ids let the linker score one changed article against
every question at once (see linking.linker.entering_hits) without ranking each question.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from recommender.index.layered import Layered
from recommender.index.proximity import OFF, PairPostings, Proximity
from recommender.index.question_rows import HashGroups, HashRows, QuestionRows
from recommender.index.query import is_post
from recommender.index.rows import RowBuffer
from recommender.index.vectors import VectorRows
from recommender.domain import QuestionRow
from recommender.store.vectors import Int8Rows


_MOD = 2**64
H = TypeVar("H", HashRows, HashGroups)


@dataclass(frozen=True)
class QuestionChange:
    """Questions a write removed (id, key, vector as it was) and the ids of those it added."""

    removed: tuple[tuple[str, str, np.ndarray], ...]
    added: tuple[str, ...]


def question_digest(question: QuestionRow) -> int:
    """A 64-bit hash of a question's id and wording key; summed, it identifies a set of questions in
    any order and is updated by adding and subtracting (see QuestionTable.digest)."""
    raw = hashlib.blake2b(f"{question.id}\t{question.key}".encode(), digest_size=8).digest()
    return int.from_bytes(raw, "little")


@dataclass(frozen=True)
class QuestionTable:
    rows: QuestionRows  # by row, dead ones included (compact columns: index/question_rows.py)
    vectors: VectorRows  # (rows, dim) int8 codes, read as float32 (index/vectors.py)
    alive: np.ndarray  # (rows,) bool
    row_of: Mapping[str, int]  # live question id -> row (Layered over hashed arrays: an update copies only its changes)
    by_article: Mapping[str, tuple[int, ...]]  # article id -> rows of its live questions
    by_key: Mapping[str, tuple[int, ...]]  # wording key -> rows of the live questions worded so
    token_ids: np.ndarray  # int32, every row's BM25 token ids one after the other
    token_ends: np.ndarray  # int64 (rows + 1,): row r's ids are token_ids[token_ends[r]:token_ends[r + 1]]
    digest: int  # sum of question_digest() over the live questions, mod 2**64: which questions there are
    pairs: PairPostings = field(repr=False, compare=False)  # each row's term pairs (index/proximity.py)
    proximity: Proximity = field(repr=False, compare=False)
    _tokens: RowBuffer = field(repr=False, compare=False)
    _ends: RowBuffer = field(repr=False, compare=False)

    @classmethod
    def build(
        cls,
        rows: Sequence[QuestionRow],
        vectors: np.ndarray | Int8Rows,
        tokens: Sequence[Sequence[int]],
        dim: int,
        proximity: Proximity = OFF,
    ) -> QuestionTable:
        flat = np.fromiter((t for ids in tokens for t in ids), dtype=np.int32)
        ends = np.concatenate([[0], np.cumsum([len(ids) for ids in tokens], dtype=np.int64)]).astype(np.int64)
        matrix = vectors if len(rows) else np.zeros((0, dim), np.float32)
        return cls.of(rows, VectorRows.of(matrix, dim), flat, ends, proximity=proximity)

    @classmethod
    def of(
        cls,
        rows: Sequence[QuestionRow],
        vectors: VectorRows,
        token_ids: np.ndarray,
        token_ends: np.ndarray,
        digest: int | None = None,
        proximity: Proximity = OFF,
        pairs: PairPostings | None = None,
    ) -> QuestionTable:
        """A table over vectors and token ids already made (e.g. mapped from the index files, which
        also keep the digest of their questions and their term pairs)."""
        if len(vectors) != len(rows) or len(token_ends) != len(rows) + 1:
            raise ValueError(f"{len(rows)} questions but {len(vectors)} vectors and {len(token_ends) - 1} token rows")
        table_rows = rows if isinstance(rows, QuestionRows) else QuestionRows(rows)
        token_buffer, end_buffer = _buffer(token_ids), _buffer(token_ends)
        return cls(
            rows=table_rows,
            vectors=vectors,
            alive=np.ones(len(rows), dtype=bool),
            row_of=Layered(HashRows.of_rows([q.id for q in rows], table_rows.id_of), adopt=True),
            by_article=Layered(HashGroups.of_rows([q.article_id for q in rows], table_rows.article_of), adopt=True),
            by_key=Layered(HashGroups.of_rows([q.key for q in rows], table_rows.key_of), adopt=True),
            token_ids=token_buffer.view(len(token_ids)),
            token_ends=end_buffer.view(len(token_ends)),
            digest=sum(question_digest(q) for q in rows) % _MOD if digest is None else digest,
            pairs=pairs if pairs is not None else PairPostings.of(token_ids, token_ends, proximity, _phrases(rows, proximity)),
            proximity=proximity,
            _tokens=token_buffer,
            _ends=end_buffer,
        )

    @property
    def identity(self) -> tuple[int, int]:
        """(live questions, digest): which questions the table holds, as duplicate clusters are keyed."""
        return int(self.alive.sum()), self.digest

    def __len__(self) -> int:
        return len(self.rows)

    def vector(self, question_id: str) -> np.ndarray | None:
        row = self.row_of.get(question_id)
        return None if row is None else self.vectors[row]

    def updated(
        self,
        articles: Collection[str],
        rows: Sequence[QuestionRow],
        vectors: np.ndarray,
        tokens: Sequence[Sequence[int]],
    ) -> QuestionTable:
        """A new table where the questions of `articles` are replaced by `rows` (all of those articles)."""
        gone = [r for a in articles for r in self.by_article.get(a, ())]
        start = len(self.rows)
        alive = np.concatenate([self.alive, np.ones(len(rows), dtype=bool)])
        alive[gone] = False
        # Only the changed entries are written (Layered.with_changes), not the whole lookups.
        gone_set = set(gone)
        keys: dict[str, tuple[int, ...]] = {}
        for key in {self.rows.key_of(r) for r in gone}:
            keys[key] = tuple(r for r in self.by_key.get(key, ()) if r not in gone_set)
        ids: dict[str, int] = {}
        added: dict[str, list[int]] = {}
        for n, question in enumerate(rows):
            ids[question.id] = start + n
            added.setdefault(question.article_id, []).append(start + n)
            keys[question.key] = (*keys.get(question.key, self.by_key.get(question.key, ())), start + n)
        new_rows = self.rows.appended(rows)
        # A fold (the changes outgrew the base) makes new hashed arrays over the new rows.
        row_of = Layered.of(self.row_of).with_changes(
            ids,
            [gone_id for r in gone if (gone_id := self.rows.id_of(r)) not in ids],
            fold=lambda base, changed, gone: _hashed(base, HashRows).merged(changed, gone, new_rows.id_of),
        )
        by_article = Layered.of(self.by_article).with_changes(
            {a: tuple(r) for a, r in added.items()},
            [a for a in articles if a not in added],
            fold=lambda base, changed, gone: _hashed(base, HashGroups).merged(changed, gone, new_rows.article_of),
        )
        by_key = Layered.of(self.by_key).with_changes(
            {k: r for k, r in keys.items() if r},
            [k for k, r in keys.items() if not r],
            fold=lambda base, changed, gone: _hashed(base, HashGroups).merged(changed, gone, new_rows.key_of),
        )
        flat = np.fromiter((t for ids in tokens for t in ids), dtype=np.int32)
        count = int(self.token_ends[-1])
        ends = count + np.cumsum([len(ids) for ids in tokens], dtype=np.int64)
        vector_rows = self.vectors.appended(vectors) if len(rows) else self.vectors
        token_buffer = self._tokens.extend(count, flat)
        end_buffer = self._ends.extend(start + 1, ends)
        total = start + len(rows)
        return QuestionTable(
            rows=new_rows,
            vectors=vector_rows,
            alive=alive,
            row_of=row_of,
            by_article=by_article,
            by_key=by_key,
            token_ids=token_buffer.view(count + len(flat)),
            token_ends=end_buffer.view(total + 1),
            digest=(self.digest - sum(question_digest(self.rows[r]) for r in gone) + sum(question_digest(q) for q in rows))
            % _MOD,
            pairs=(
                self.pairs.appended(flat, np.concatenate([[0], ends - count]), self.proximity, start, _phrases(rows, self.proximity))
                if len(rows)
                else self.pairs
            ),
            proximity=self.proximity,
            _tokens=token_buffer,
            _ends=end_buffer,
        )

    def lexical_sums(
        self, weights: np.ndarray, pair_keys: np.ndarray | None = None, pair_weights: np.ndarray | None = None
    ) -> np.ndarray:
        """(rows,) each row's BM25 score for one document: its terms' `weights` summed, then the weights
        of the document's pairs (`pair_keys`, sorted) that the row holds, added in key order."""
        sums = self.token_sums(weights)
        if pair_keys is not None and pair_weights is not None and len(sums):
            self.pairs.add_to(sums, pair_keys, pair_weights)
        return sums

    def token_sums(self, weights: np.ndarray) -> np.ndarray:
        """(rows,) the sum of `weights[id]` over each row's token ids (0 for ids beyond `weights`)."""
        if not len(self.rows):
            return np.zeros(0, dtype=np.float32)
        ids = self.token_ids
        values = np.where(ids < len(weights), weights[np.minimum(ids, len(weights) - 1)], 0.0).astype(np.float32)
        sums = np.add.reduceat(np.append(values, np.float32(0)), self.token_ends[:-1])
        sums[self.token_ends[1:] == self.token_ends[:-1]] = 0.0  # reduceat gives a value, not 0, for empty rows
        return sums.astype(np.float32)


def _hashed(base: Mapping[str, object], kind: type[H]) -> H:
    """A lookup's base, which QuestionTable.of and every fold make hashed."""
    if not isinstance(base, kind):
        raise TypeError(f"a question lookup's base is a {type(base).__name__}, not a {kind.__name__}")
    return base


def _phrases(rows: Sequence[QuestionRow], proximity: Proximity) -> np.ndarray | None:
    """Which questions may hold term pairs: not worded as a social-media post (as Ranker ranks them)."""
    return np.array([not is_post(q.text) for q in rows], dtype=bool) if proximity.on else None


def _buffer(rows: np.ndarray) -> RowBuffer:
    """Rows to append after: a read-only (mapped) array is copied only by the first append."""
    return RowBuffer(rows, len(rows)) if not rows.flags.writeable else RowBuffer.of(rows)
