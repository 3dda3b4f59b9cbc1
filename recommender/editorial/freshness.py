"""Freshness: newer fact checks win close calls, and superseded ones hand over to their successor.

Pure functions over the model's ranked links; the reading service applies them before editors' decisions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace

from recommender.domain import LinkRow


def prefer_recent(
    links: Sequence[LinkRow], checked_on: Mapping[str, dt.date | None], margin: float
) -> list[LinkRow]:
    """The most recently checked fact check within `margin` of the best score answers (moves first);
    the others keep their score order.

    Only the top moves, and only ahead of a dated best: every list stays ordered by its score except
    for that one entry, which readers of the list can tell (see `fresher`), where a bubble of swaps
    would leave scores and order disagreeing all the way down.
    """
    out = list(links)
    if margin <= 0 or len(out) < 2:
        return out
    best = out[0]
    best_date = checked_on.get(best.article_id)
    if best_date is None:
        return out
    close = [
        (date, -position, link)
        for position, link in enumerate(out)
        if best.score - link.score <= margin and (date := checked_on.get(link.article_id)) is not None and date > best_date
    ]
    if not close:
        return out
    newest = max(close, key=lambda c: (c[0], c[1]))[2]
    return [newest, *(link for link in out if link is not newest)]


def fresher(links: Sequence[LinkRow]) -> bool:
    """Whether the first link was moved ahead of a higher-scoring one by prefer_recent."""
    return len(links) > 1 and links[0].score < max(link.score for link in links[1:])


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
