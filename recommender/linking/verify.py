"""Are the stored links what a recomputation gives? (`recommender verify`, `status`, `/metrics`)

Links are a deterministic function of (articles, decisions, model, settings): every write relinks
exactly the questions it can move (see linker.entering_hits). This recomputes the links of every
question, or of a seeded sample, from the same index and compares them with the stored ones, both
as candidate lists (fact check and rank, score within float rounding) and as what a reader is
shown (the answer after editors' decisions). Nothing is written.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from recommender.index.snapshot import Snapshot
from recommender.linking.linker import SCORE_TOLERANCE, compute_links
from recommender.domain import LinkRow, QuestionRow

SCORE_PLACES = 4  # shown in a difference; the API shows scores to 3 places
# Question rows and their links -> the fact check each one shows readers (None: nothing shown).
Shown = Callable[[Sequence[QuestionRow], Mapping[str, list[LinkRow]]], Mapping[str, str | None]]


@dataclass(frozen=True)
class Difference:
    question_id: str
    question: str
    stored: list[tuple[str, float]]  # (fact check, score) by rank, as stored
    computed: list[tuple[str, float]]  # ... as a recomputation gives them
    shown_stored: str | None  # the answer readers get now
    shown_computed: str | None  # the answer they would get from a recomputation


@dataclass(frozen=True)
class Verification:
    questions: int  # in the index
    checked: int  # recomputed (all, or the sample)
    links_differ: int  # questions whose stored candidates differ from the recomputed ones
    answers_differ: int  # questions whose shown answer differs
    examples: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.links_differ == 0 and self.answers_differ == 0


def _ranked(links: Sequence[LinkRow]) -> list[tuple[str, float]]:
    return [(link.article_id, round(link.score, SCORE_PLACES)) for link in sorted(links, key=lambda r: r.rank)]


def _same(stored: Sequence[LinkRow], computed: Sequence[LinkRow]) -> bool:
    """Same fact checks in the same order, scores equal within float rounding (compared unrounded: two
    sums of the same products in another order can straddle a rounding boundary)."""
    a, b = sorted(stored, key=lambda r: r.rank), sorted(computed, key=lambda r: r.rank)
    return len(a) == len(b) and all(
        x.article_id == y.article_id and abs(x.score - y.score) <= SCORE_TOLERANCE for x, y in zip(a, b)
    )


def verify_links(
    snapshot: Snapshot,
    stored: Callable[[Sequence[str]], Mapping[str, list[LinkRow]]],
    shown: Shown,
    candidates: int,
    sample: int | None = None,
    seed: int = 0,
    examples: int = 5,
    include: Collection[str] = (),
) -> Verification:
    """Recompute the links of every question (or `sample` of them, chosen with `seed`, plus those
    in `include`) and compare."""
    questions = snapshot.questions
    chosen = list(questions)
    if sample is not None and sample < len(chosen):
        picked = {q.id for q in random.Random(seed).sample(chosen, sample)} | set(include)
        chosen = sorted((q for q in chosen if q.id in picked), key=lambda q: (q.article_id, q.position))
    ids = [q.id for q in chosen]
    current = stored(ids)
    # An approximate candidate stage may not reach every stored article: those are scored too, so
    # what is compared is each stored score and order against every candidate the ranker finds.
    also = None if snapshot.ranker.exhaustive else {q: {link.article_id for link in links} for q, links in current.items()}
    computed = compute_links(snapshot, ids, candidates, also=also)
    now = shown(chosen, {q: current.get(q, []) for q in ids})
    then = shown(chosen, {q: computed.get(q, []) for q in ids})
    links_differ = answers_differ = 0
    found: list[Difference] = []
    for question in chosen:
        links_same = _same(current.get(question.id, []), computed.get(question.id, []))
        before, after = _ranked(current.get(question.id, [])), _ranked(computed.get(question.id, []))
        answer_differs = now.get(question.id) != then.get(question.id)
        links_differ += not links_same
        answers_differ += answer_differs
        if (not links_same or answer_differs) and len(found) < examples:
            found.append(
                Difference(question.id, question.text, before, after, now.get(question.id), then.get(question.id))
            )
    return Verification(len(questions), len(chosen), links_differ, answers_differ, found)


def format_verification(result: Verification) -> str:
    scope = "all" if result.checked == result.questions else f"a sample of {result.checked} of"
    lines = [
        f"checked {scope} {result.questions} questions: {result.links_differ} with links that differ from a "
        f"recomputation, {result.answers_differ} whose shown answer differs"
    ]
    for d in result.examples:
        lines.append(f"- {d.question_id} {d.question!r}")
        lines.append(f"    stored   {d.stored}  shows {d.shown_stored}")
        lines.append(f"    computed {d.computed}  shows {d.shown_computed}")
    return "\n".join(lines)
