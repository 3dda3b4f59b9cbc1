"""Freshness: newer fact checks win close calls, and superseded ones hand over to their successor.

Pure functions over the model's ranked links; the engine applies them before editors' decisions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace

from recommender.store.base import LinkRow


def prefer_recent(
    links: Sequence[LinkRow], checked_on: Mapping[str, dt.date | None], margin: float
) -> list[LinkRow]:
    """Within `margin` of score, a more recently checked fact check moves ahead of an older one.

    Adjacent swaps only where both dates are known, the later one is newer and the scores are
    close; each swap removes one date inversion, so this ends, and far-apart scores never swap.
    """
    out = list(links)
    if margin <= 0 or len(out) < 2:
        return out
    changed = True
    while changed:
        changed = False
        for i in range(len(out) - 1):
            upper, lower = out[i], out[i + 1]
            a, b = checked_on.get(upper.article_id), checked_on.get(lower.article_id)
            if a is not None and b is not None and b > a and upper.score - lower.score <= margin:
                out[i], out[i + 1] = lower, upper
                changed = True
    return out


def successor(article_id: str, superseded: Mapping[str, str]) -> str:
    """The newest fact check in the chain article -> its replacement -> ...; a cycle stops where it closes."""
    seen = {article_id}
    current = article_id
    while current in superseded and superseded[current] not in seen:
        current = superseded[current]
        seen.add(current)
    return current


def follow_superseded(links: Sequence[LinkRow], superseded: Mapping[str, str], own_article: str) -> list[LinkRow]:
    """Replace superseded fact checks by their successor, keeping the position and score the older one
    earned; drop one when its successor is already listed higher, or is the question's own article."""
    if not superseded:
        return list(links)
    out: list[LinkRow] = []
    taken: set[str] = set()
    for link in links:
        target = successor(link.article_id, superseded)
        if target in taken or target == own_article:
            continue
        if target != link.article_id:
            link = replace(link, article_id=target, passage=-1)  # the passage belonged to the old one
        out.append(link)
        taken.add(target)
    return out
