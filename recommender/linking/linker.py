"""Compute and refresh question -> fact check links."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence

import numpy as np

from recommender.index.fusion import combine, saturate
from recommender.index.ranker import Hit
from recommender.index.snapshot import Snapshot
from recommender.index.floors import CandidateFloors
from recommender.domain import LinkRow

SCORE_TOLERANCE = 1e-5  # float32 products of the same vectors in other shapes agree to ~1e-6
# Score cells (questions x documents) ranked at once: each of the ranker's score matrices of a batch is
# 16 MB at most, whatever the corpus size (256 questions at 16k documents, 41 at 100k).
BATCH_CELLS = 2**22


def link_rows(question_id: str, hits: Sequence[Hit]) -> list[LinkRow]:
    return [
        LinkRow(question_id, rank, h.doc_id, h.score, h.dense, h.lexical, h.passage)
        for rank, h in enumerate(hits)
    ]


def question_scores(snapshot: Snapshot, doc_ids: Sequence[str]) -> Iterator[tuple[str, np.ndarray]]:
    """Per live document of `doc_ids`: (id, its score for every question row), as Ranker.rank_batch gives
    it (fused, on the question text as cleaned for ranking), computed for all questions at once from the
    document's passage vectors and term weights (whichever backend holds them)."""
    ranker, table = snapshot.ranker, snapshot.table
    method = ranker.config.method
    zeros = np.zeros(len(table), dtype=np.float32)
    for evidence in ranker.evidence(doc_ids):
        lexical = zeros
        if method != "dense" and evidence.weights is not None:
            lexical = saturate(table.token_sums(evidence.weights), ranker.config.lexical_saturation)
        dense = zeros
        if method != "lexical" and evidence.passages is not None:
            dense = (table.vectors @ evidence.passages.T).max(axis=1)
        if method == "dense":
            yield evidence.doc_id, dense
        elif method == "lexical":
            yield evidence.doc_id, lexical
        else:
            yield evidence.doc_id, combine(dense, lexical, ranker.config.dense_weight)


def could_enter(
    snapshot: Snapshot,
    changed: Collection[str],
    floors: CandidateFloors,
    candidates: int,
    pending: Collection[str] = (),
) -> set[str]:
    """Questions whose stored candidates a changed article now joins.

    Each changed article is scored exactly against every question at once, as the ranker would score
    it (best-passage cosine with the question vectors, BM25 of the article's terms with the questions'
    tokens, fused), and a question is affected when that reaches its lowest stored candidate, or fewer
    than `candidates` are stored. Scores depend on the question and the article alone (no corpus
    statistics, see index/term_weights.py), so every other question's links stay exactly as a
    recomputation would make them: this set is exact, not a heuristic. Questions that pointed at a changed article are marked for
    relinking by the store; an article's own questions never link to it. Questions already
    `pending` (relinked anyway) are not scored.
    """
    table = snapshot.table
    present = sorted(doc for doc in changed if snapshot.ranker.contains(doc))
    if not present or not len(table) or len(pending) >= int(table.alive.sum()):
        return set()
    best = np.full(len(table), -np.inf, dtype=np.float32)
    for _, scores in question_scores(snapshot, present):
        np.maximum(best, scores, out=best)
    # >= and a small margin: a tie with the lowest stored candidate is decided by document id, and this
    # all-questions product may round differently from the ranker's batched one in the last bits.
    wanted = table.alive & ((floors.count < candidates) | (best >= floors.lowest - SCORE_TOLERANCE))
    for article_id in changed:
        wanted[list(table.by_article.get(article_id, ()))] = False  # its own article is never a candidate
    return {table.rows[r].id for r in np.flatnonzero(wanted)}


def compute_links(
    snapshot: Snapshot, question_ids: Sequence[str], candidates: int, batch: int = 256
) -> dict[str, list[LinkRow]]:
    """Rank every given question (never against its own article) with the stored question vectors."""
    table = snapshot.table
    wanted = [table.rows[r] for q in question_ids if (r := table.row_of.get(q)) is not None]
    batch = max(1, min(batch, BATCH_CELLS // max(1, snapshot.ranker.size)))
    links: dict[str, list[LinkRow]] = {}
    for start in range(0, len(wanted), batch):
        chunk = wanted[start : start + batch]
        vectors = table.vectors[[table.row_of[q.id] for q in chunk]]
        results = snapshot.ranker.rank_batch(
            [q.text for q in chunk], candidates, [[q.article_id] for q in chunk], vectors=vectors
        )
        for question, hits in zip(chunk, results):
            links[question.id] = link_rows(question.id, hits)
    return links
