"""Compute and refresh question -> fact check links."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from recommender.index.fusion import combine, saturate
from recommender.index.products import as_int8, products
from recommender.index.base import Evidence, RankerConfig
from recommender.index.ranker import Hit
from recommender.index.snapshot import Snapshot
from recommender.index.floors import CandidateFloors
from recommender.index.questions import QuestionTable
from recommender.domain import LinkRow
from recommender.store.vectors import Int8Rows

SCORE_TOLERANCE = 1e-5  # float32 products of the same vectors in other shapes agree to ~1e-6
BOUND_SLACK = 1e-4  # what _bounds adds for float32 rounding: 384 products summed err by at most ~2e-5
# Score cells (questions x documents) ranked at once: each of the ranker's score matrices of a batch is
# 16 MB at most, whatever the corpus size (256 questions at 16k documents, 41 at 100k).
BATCH_CELLS = 2**22


def link_rows(question_id: str, hits: Sequence[Hit]) -> list[LinkRow]:
    return [
        LinkRow(question_id, rank, h.doc_id, h.score, h.dense, h.lexical, h.passage)
        for rank, h in enumerate(hits)
    ]


@dataclass(frozen=True)
class DocumentScores:
    """One document's scores for every question row, as Ranker.rank_batch computes them; with
    `bounded`, dense and fused are upper bounds of them instead (exact_dense gives a row's score)."""

    doc_id: str
    fused: np.ndarray  # (question rows,)
    dense: np.ndarray
    lexical: np.ndarray
    passages: np.ndarray | Int8Rows | None  # its passage vectors (which one a question matched best), None: no dense part
    bounded: bool = False


class RideAlong:
    """Vectors whose product with every question row another step needs after document_scores (the
    duplicate search's starts): made in document_scores' first pass over the rows, which is the cost.
    `products` stays None when that pass did not run (then the other step makes its own)."""

    def __init__(self, table: QuestionTable, vectors: np.ndarray) -> None:
        self.table = table
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.products: np.ndarray | None = None

    def products_for(self, table: QuestionTable, vectors: np.ndarray) -> np.ndarray | None:
        """The products, when made for this very table and these very vectors."""
        if self.products is None or table is not self.table or not np.array_equal(vectors, self.vectors):
            return None
        return self.products


def document_scores(
    snapshot: Snapshot, doc_ids: Sequence[str], ride_along: RideAlong | None = None
) -> Iterator[DocumentScores]:
    """Per live document of `doc_ids`: its fused, dense and lexical score for every question row, as
    Ranker.rank_batch gives them (on the question text as cleaned for ranking), computed for all
    questions at once from the document's passage vectors and term weights (whichever backend holds them).
    `ride_along` vectors are multiplied in the first pass too (see RideAlong)."""
    ranker, table = snapshot.ranker, snapshot.table
    method = ranker.config.method
    zeros = np.zeros(len(table), dtype=np.float32)
    extra = ride_along.vectors if ride_along is not None and ride_along.table is table and len(ride_along.vectors) else None
    for group in _passage_groups(ranker.evidence(doc_ids), len(table)):
        # One pass over the question rows for the passages of several documents (it is the cost).
        with_passages = [e.passages for e in group if e.passages is not None and method != "lexical"]
        # The in-memory index hands over its int8 codes: multiplied on the codes as its ranker does. Float
        # rows (PostgreSQL's) are scored in float32 as pgvector scores them, but only for the rows that
        # can reach a floor: every row is first bounded from above on the codes (_bounds; the
        # duplicate search's integer products cannot ride along with that).
        on_codes = all(isinstance(p, Int8Rows) for p in with_passages)
        riding = extra is not None and on_codes
        if riding:
            with_passages.append(as_int8(extra))
        products = None
        if with_passages:
            products = _products(table, with_passages) if on_codes else _bounds(table, with_passages)  # type: ignore[arg-type]
        if riding and products is not None and ride_along is not None:
            ride_along.products = products[:, products.shape[1] - len(extra) :]
            extra = None
        column = 0
        for evidence in group:
            lexical = zeros
            if method != "dense" and evidence.weights is not None:
                pairs = evidence.pairs or (None, None)
                lexical = saturate(table.lexical_sums(evidence.weights, *pairs), ranker.config.lexical_saturation)
            dense = zeros
            if method != "lexical" and products is not None and evidence.passages is not None:
                dense = products[:, column : column + len(evidence.passages)].max(axis=1)
                column += len(evidence.passages)
            fused = dense if method == "dense" else lexical if method == "lexical" else combine(dense, lexical, ranker.config.dense_weight)
            bounded = not on_codes and method != "lexical" and evidence.passages is not None
            yield DocumentScores(evidence.doc_id, fused, dense, lexical, evidence.passages, bounded)


def _products(table: QuestionTable, passages: Sequence[Int8Rows]) -> np.ndarray:
    """Every question row times every passage, on the codes (one pass over the rows)."""
    return table.vectors.products(Int8Rows(np.concatenate([p.codes for p in passages]), np.concatenate([p.scales for p in passages])))


def _bounds(table: QuestionTable, passages: Sequence[np.ndarray | Int8Rows]) -> np.ndarray:
    """Upper bounds of every question row times every float32 passage, from the integer products of
    the row's codes with the passage quantised (index/products.py; a third of the float product's
    time on the rows). The passage's quantisation error e moves a product by at most |q||e|
    (Cauchy-Schwarz), with q the row's vector as the table holds it; BOUND_SLACK covers the float32
    rounding of the product the row's exact score is then computed with (exact_dense)."""
    stacked = np.concatenate([np.asarray(p, dtype=np.float32) for p in passages])
    quantized = Int8Rows.of(stacked)
    errors = np.linalg.norm(stacked - quantized.dequantized(), axis=1).astype(np.float32)
    bounds = table.vectors.products(quantized)
    bounds += np.outer(table.vectors.norms(), errors * np.float32(1.001))
    bounds += np.float32(BOUND_SLACK)
    return bounds


def exact_dense(table: QuestionTable, rows: np.ndarray, passages: np.ndarray | Int8Rows) -> np.ndarray:
    """The dense score of each of `rows` for one document's float32 passages (PostgreSQL's): its best
    passage's product with the row as the table holds it, in float32."""
    picked = table.vectors.take_quantized(rows)
    product = picked.codes.astype(np.float32) @ np.asarray(passages, dtype=np.float32).T
    product *= picked.scales[:, None]
    return product.max(axis=1)


def best_passage_of(passages: np.ndarray | Int8Rows, table: QuestionTable, row: int) -> int:
    """Which of a document's passages a question row matched best, in the arithmetic its scores used."""
    if isinstance(passages, Int8Rows):
        return int(np.argmax(products(passages, table.vectors.quantized(row, row + 1))[:, 0]))
    return int(np.argmax(passages @ table.vectors[row]))


def _passage_groups(evidence: Iterable[Evidence], rows: int) -> Iterator[list[Evidence]]:
    """Consecutive documents whose passages times `rows` question rows fit in BATCH_CELLS (at least one each)."""
    group: list[Evidence] = []
    cells = 0
    for item in evidence:
        size = rows * (len(item.passages) if item.passages is not None else 0)
        if group and cells + size > BATCH_CELLS:
            yield group
            group, cells = [], 0
        group.append(item)
        cells += size
    if group:
        yield group


def entering_hits(
    snapshot: Snapshot,
    changed: Collection[str],
    floors: CandidateFloors,
    candidates: int,
    pending: Collection[str] = (),
    ride_along: RideAlong | None = None,
) -> dict[str, list[Hit]]:
    """Questions whose stored candidates a changed article now joins, with the hits that reach them.

    Each changed article is scored exactly against every question at once, as the ranker would score
    it (best-passage cosine with the question vectors, BM25 of the article's terms with the questions'
    tokens, fused), and a question is affected when that reaches its lowest stored candidate, or fewer
    than `candidates` are stored. Scores depend on the question and the article alone (no corpus
    statistics, see index/term_weights.py), so every other question's links stay exactly as a
    recomputation would make them: this set is exact, not a heuristic. Questions that pointed at a changed
    article are marked for relinking by the store; an article's own questions never link to it.
    Questions already `pending` (relinked anyway) are not scored. `ride_along`: see document_scores.
    """
    table = snapshot.table
    present = sorted(doc for doc in changed if snapshot.ranker.contains(doc))
    if not present or not len(table) or len(pending) >= int(table.alive.sum()):
        return {}
    own = np.zeros(len(table), dtype=bool)
    for article_id in changed:
        own[list(table.by_article.get(article_id, ()))] = True  # its own article is never a candidate
    open_rows = table.alive & ~own
    open_rows[[r for q in pending if (r := table.row_of.get(q)) is not None]] = False
    reached: dict[int, list[Hit]] = {}
    config = snapshot.ranker.config
    for scores in document_scores(snapshot, present, ride_along):
        # >= and a small margin: a tie with the lowest stored candidate is decided by document id, and this
        # all-questions product may round differently from the ranker's batched one in the last bits.
        rows = np.flatnonzero(open_rows & ((floors.count < candidates) | (scores.fused >= floors.lowest - SCORE_TOLERANCE)))
        dense, fused = scores.dense[rows], scores.fused[rows]
        if scores.bounded and len(rows) and scores.passages is not None:
            # Upper bounds let these rows through: their exact scores decide.
            dense = exact_dense(table, rows, scores.passages)
            fused = dense if config.method == "dense" else combine(dense, scores.lexical[rows], config.dense_weight)
            keep = (floors.count[rows] < candidates) | (fused >= floors.lowest[rows] - SCORE_TOLERANCE)
            rows, dense, fused = rows[keep], dense[keep], fused[keep]
        for n, row in enumerate(rows.tolist()):
            passage = -1
            if scores.passages is not None:
                passage = best_passage_of(scores.passages, table, row)
            hit = Hit(scores.doc_id, float(fused[n]), float(dense[n]), float(scores.lexical[row]), passage)
            reached.setdefault(row, []).append(hit)
    return {table.rows[row].id: hits for row, hits in reached.items()}


def merged_links(
    question_id: str, stored: Sequence[LinkRow], entering: Sequence[Hit], candidates: int
) -> list[LinkRow] | None:
    """The question's links with the changed articles' hits merged in, or None when only ranking it
    again gives a recomputation's answer.

    Every other article's score is unchanged by the write (scores depend on the question and the
    article alone), so the top `candidates` of a recomputation are the top of the stored ones and
    the entering hits together, as long as the stored list is complete (`candidates` long), holds
    none of the changed articles (their old scores are gone) and no entering hit is within float
    rounding of another candidate (the order of near ties is the ranker's, by document id on its
    own arithmetic).
    """
    if len(stored) < candidates:
        return None
    entering_ids = {h.doc_id for h in entering}
    if any(link.article_id in entering_ids for link in stored):
        return None
    return _top_of(question_id, stored, entering, candidates)


def rewritten_links(
    question_id: str, stored: Sequence[LinkRow], entering: Sequence[Hit], changed: Collection[str], candidates: int
) -> list[LinkRow] | None:
    """The links of a question whose stored list holds a changed (rewritten) article, with that
    article's new hit in place of its old one, or None when only ranking it again gives a
    recomputation's answer.

    Every article outside the stored list scores at most the lowest stored score (the list was a
    recomputation's top `candidates`), and no score but the changed articles' moved. So the stored
    others plus the changed articles' new hits that score above that floor are the top of a
    recomputation, as long as there are `candidates` of them (else an article that was not stored
    may take the last place) and no new hit is within float rounding of another score or the floor.
    `entering` holds the changed articles' hits that reach the floor (entering_hits).
    """
    if len(stored) < candidates:
        return None
    floor = min(link.score for link in stored)
    others = [link for link in stored if link.article_id not in changed]
    new = [h for h in entering if h.doc_id in changed]
    if any(abs(h.score - floor) <= SCORE_TOLERANCE for h in new):
        return None
    strong = [h for h in new if h.score > floor]
    if len(others) + len(strong) < candidates:
        return None
    return _top_of(question_id, others, strong, candidates)


def _top_of(question_id: str, links: Sequence[LinkRow], hits: Sequence[Hit], candidates: int) -> list[LinkRow] | None:
    """The top `candidates` of stored links and new hits by (score, id), or None when a new hit is
    within float rounding of another score (the order of near ties is the ranker's own arithmetic)."""
    scores = [link.score for link in links] + [h.score for h in hits]
    for hit in hits:
        if sum(abs(hit.score - score) <= SCORE_TOLERANCE for score in scores) > 1:
            return None
    pool = [(link.score, link.article_id, link.dense, link.lexical, link.passage) for link in links]
    pool += [(h.score, h.doc_id, h.dense, h.lexical, h.passage) for h in hits]
    top = sorted(pool, key=lambda item: (-item[0], item[1]))[:candidates]
    return [LinkRow(question_id, rank, doc, score, dense, lexical, passage) for rank, (score, doc, dense, lexical, passage) in enumerate(top)]


def compute_links(
    snapshot: Snapshot,
    question_ids: Sequence[str],
    candidates: int,
    batch: int = 256,
    cells: int = BATCH_CELLS,
    also: Mapping[str, Collection[str]] | None = None,
) -> dict[str, list[LinkRow]]:
    """Rank every given question (never against its own article) with the stored question vectors;
    `cells` bounds each batch's score matrices (more: fewer passes over the passages, more memory).
    `also`: per question, articles scored even where an approximate candidate stage misses them."""
    table = snapshot.table
    wanted = [table.rows[r] for q in question_ids if (r := table.row_of.get(q)) is not None]
    batch = max(1, min(batch, cells // max(1, snapshot.ranker.size)))
    links: dict[str, list[LinkRow]] = {}
    for start in range(0, len(wanted), batch):
        chunk = wanted[start : start + batch]
        vectors = table.vectors[[table.row_of[q.id] for q in chunk]]
        extra = [also.get(q.id, ()) for q in chunk] if also is not None else None
        results = snapshot.ranker.rank_batch(
            [q.text for q in chunk], candidates, [[q.article_id] for q in chunk], vectors=vectors, also=extra
        )
        for question, hits in zip(chunk, results):
            links[question.id] = link_rows(question.id, hits)
    return links


def link_settings(config: RankerConfig, candidates: int) -> str:
    """Everything besides the articles, questions and vectors that a stored link depends on, as JSON: the
    ranking (method, fusion, BM25 reference length, term proximity, query cleaning) and how many candidates
    a question keeps. The gap and review thresholds are applied when links are read, so they are not in it."""
    ranking = dataclasses.asdict(config)
    if not config.proximity.on:
        ranking["proximity"] = None  # every "off" is the same ranking
    return json.dumps({"ranking": ranking, "candidates": candidates}, sort_keys=True)
