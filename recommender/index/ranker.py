"""The one ranking path: the API's search, `suggest`, the linker and `evaluate` all call Ranker.rank."""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterator, Sequence

import numpy as np

from recommender.embedding.base import Encoder
from recommender.index.base import METHODS, Added, Evidence, Hit, Method, RankerConfig, RankingIndex
from recommender.index.dense import DenseIndex
from recommender.index.fusion import combine, saturate
from recommender.index.lexical import LexicalIndex

__all__ = ["METHODS", "Hit", "Method", "Ranker", "RankerConfig"]


class Ranker(RankingIndex):
    """Ranks every document exactly, in memory; immutable, so a rebuilt Ranker can be swapped in atomically."""

    def __init__(
        self,
        doc_ids: Sequence[str],
        encoder: Encoder | None,
        config: RankerConfig,
        dense: DenseIndex | None = None,
        lexical: LexicalIndex | None = None,
        alive: np.ndarray | None = None,
        positions: dict[str, int] | None = None,
    ) -> None:
        if config.method in ("dense", "hybrid") and (dense is None or encoder is None):
            raise ValueError(f"method {config.method!r} needs an encoder and a dense index")
        if config.method in ("lexical", "hybrid") and lexical is None:
            raise ValueError(f"method {config.method!r} needs a lexical index")
        self.doc_ids = list(doc_ids)
        # Positions of replaced or deleted documents stay (dead) until the next full build: see with_changes.
        self.alive = alive if alive is not None else np.ones(len(self.doc_ids), dtype=bool)
        self._dead = np.flatnonzero(~self.alive)
        # `positions` (live id -> position) may be handed over by with_changes: rebuilding it is a pass
        # over every document id per write.
        if positions is None:
            positions = {doc_id: i for i, doc_id in enumerate(self.doc_ids) if self.alive[i]}
        self._position = positions
        self.encoder = encoder
        self.config = config
        self.dense = dense
        self.lexical = lexical

    def with_changes(self, added: Sequence[Added], removed: Collection[str] = (), derived: bool = True) -> Ranker:
        """A new Ranker with documents (id, passage vectors, text) added (replacing any of the same id)
        and the ids in `removed` gone. This one is unchanged; the two share every unchanged row.

        Replaced documents keep their position, dead (never ranked), and new ones are appended, so ties
        between exactly equal scores may order differently than after a full build.
        """
        gone = [self._position[d] for d in {*removed, *(a[0] for a in added)} if d in self._position]
        alive = np.concatenate([self.alive, np.ones(len(added), dtype=bool)])
        alive[gone] = False
        dense = self.dense.appended([a[1] for a in added]) if self.dense is not None else None
        lexical = self.lexical.updated([a[2] for a in added], gone) if self.lexical is not None else None
        positions = dict(self._position)
        for doc_id in {*removed, *(a[0] for a in added)}:
            positions.pop(doc_id, None)
        positions.update((a[0], len(self.doc_ids) + i) for i, a in enumerate(added))
        doc_ids = [*self.doc_ids, *(a[0] for a in added)]
        return Ranker(doc_ids, self.encoder, self.config, dense, lexical, alive, positions)

    def position(self, doc_id: str) -> int | None:
        """Where a live document sits in the score vectors."""
        return self._position.get(doc_id)

    @property
    def live_size(self) -> int:
        return len(self._position)

    @property
    def size(self) -> int:
        """Positions in the score vectors, dead ones included (see live_size)."""
        return len(self.doc_ids)

    def contains(self, doc_id: str) -> bool:
        return doc_id in self._position

    @property
    def stale(self) -> int:
        dead = self.size - self.live_size
        return max(dead, self.lexical.overlay_documents) if self.lexical is not None else dead

    def score(self, text: str, doc_id: str, exclude: Collection[str] = (), vector: np.ndarray | None = None) -> float | None:
        vectors = vector[None, :] if vector is not None else None
        hits = self.rank_batch([text], self.size, [exclude], vectors=vectors)[0]
        return next((h.score for h in hits if h.doc_id == doc_id), None)

    def text_ids(self, texts: Sequence[str]) -> list[list[int]]:
        return self.lexical.text_ids(texts) if self.lexical is not None else [[] for _ in texts]

    def evidence(self, doc_ids: Sequence[str]) -> Iterator[Evidence]:
        positions = [p for d in doc_ids if (p := self._position.get(d)) is not None]
        weights: dict[int, np.ndarray] = {}
        if self.config.method != "dense" and self.lexical is not None:
            weights = dict(self.lexical.weights(positions))
        for position in positions:
            passages = self.dense.passage_codes(position) if self.config.method != "lexical" and self.dense is not None else None
            pairs = None
            if self.config.method != "dense" and self.lexical is not None and self.lexical.proximity.on:
                pairs = self.lexical.pair_weights(position)
            yield Evidence(self.doc_ids[position], passages, weights.get(position), pairs)

    def centroid(self, doc_id: str) -> np.ndarray | None:
        position = self._position.get(doc_id)
        if position is None or self.dense is None:
            return None
        return self.dense.centroid(position)

    def _rank(
        self,
        texts: Sequence[str],
        k: int,
        excludes: Sequence[Collection[str]],
        vectors: np.ndarray | None,
        also: Sequence[Collection[str]] | None = None,
        phrases: Sequence[bool] | None = None,
    ) -> list[list[Hit]]:
        # `also` changes nothing here: every document is scored.
        dense_all, lexical_all, scores_all = self.score_matrix(texts, vectors, phrases)
        results: list[list[Hit]] = []
        for row, exclude in enumerate(excludes):
            scores = scores_all[row].copy()
            for doc_id in exclude:
                position = self._position.get(doc_id)
                if position is not None:
                    scores[position] = -np.inf
            results.append(self._top(row, scores, k, dense_all, lexical_all, vectors))
        return results

    def score_matrix(
        self, texts: Sequence[str], vectors: np.ndarray | None, phrases: Sequence[bool] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(dense, lexical, combined) scores, each (texts, documents); `phrases`: see RankingIndex._rank."""
        shape = (len(texts), self.size)
        dense = np.zeros(shape, np.float32)
        lexical = np.zeros(shape, np.float32)
        if self.config.method != "lexical":
            assert self.dense is not None and vectors is not None
            dense = self.dense.scores(vectors)
        if self.config.method != "dense":
            assert self.lexical is not None
            raw = self.lexical.scores_batch(texts, phrases) if self.size else np.zeros(shape, np.float32)
            lexical = saturate(raw, self.config.lexical_saturation)
        if self.config.method == "dense":
            combined = dense.copy() if len(self._dead) else dense
        elif self.config.method == "lexical":
            combined = lexical.copy() if len(self._dead) else lexical
        else:
            combined = combine(dense, lexical, self.config.dense_weight)
        if len(self._dead):
            combined[:, self._dead] = -np.inf  # replaced or deleted documents are never ranked
        return dense, lexical, combined

    def _top(
        self,
        row: int,
        scores: np.ndarray,
        k: int,
        dense: np.ndarray,
        lexical: np.ndarray,
        vectors: np.ndarray | None,
    ) -> list[Hit]:
        k = min(k, int(np.isfinite(scores).sum()))
        if k <= 0:
            return []
        kth = scores[np.argpartition(-scores, k - 1)[k - 1]]
        # Every document tied with the k-th, then ties broken by document id: the result depends on the
        # documents and the query only, never on where an update happened to append a document.
        above = np.flatnonzero(scores > kth)
        tied = heapq.nsmallest(k - len(above), np.flatnonzero(scores == kth).tolist(), key=self.doc_ids.__getitem__)
        top = sorted([*above.tolist(), *tied], key=lambda d: (-scores[d], self.doc_ids[d]))
        passages = [-1] * len(top)
        if vectors is not None and self.dense is not None:
            passages = self.dense.best_passages(vectors[row], top).tolist()
        return [
            Hit(
                doc_id=self.doc_ids[doc],
                score=float(scores[doc]),
                dense=float(dense[row, doc]),
                lexical=float(lexical[row, doc]),
                passage=passage,
            )
            for doc, passage in zip(top, passages)
        ]
