"""Reads: rank fact checks for free text, what the widget shows for an article, the gaps."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from recommender.cli import context
from recommender.cli.errors import fail
from recommender.config import Settings


def suggest(
    question: Annotated[str, typer.Argument(help="A question or claim.")],
    k: Annotated[int, typer.Option("-k", help="How many fact checks.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Rank fact checks for free text (the same ranking as the API's search)."""
    from recommender.queries import check_query

    settings = Settings()
    question = check_query(question, k, settings)  # the limits of the API's /v1/search (QueryError)
    with context.opened(settings) as services:
        answered, found = services.reading.search_results(question, k)
    if as_json:
        results = [{"id": c.article.id, "title": c.article.title, "score": round(c.link.score, 4)} for c in found]
        typer.echo(json.dumps({"answered": answered, "results": results}, indent=2))
        return
    if not answered:
        confidence = found[0].confidence if found else None
        best = f"{confidence:.0%} confidence" if confidence is not None else f"score {found[0].link.score:.3f}" if found else "none"
        typer.echo(f"no fact check answers this; best match {best}. Closest fact checks:")
    for rank, c in enumerate(found, start=1):
        typer.echo(f"{rank}. {c.link.score:.3f}  {c.article.id}  {c.article.title}")


def links(article_id: Annotated[str, typer.Argument(help="Article id.")]) -> None:
    """What the widget shows for an article: its questions and related questions with their answers."""
    with context.opened(Settings()) as services:
        result = services.reading.dive_deeper(article_id)
        if result is None:
            fail(f"article {article_id!r} not found")
        own = {status.question.id: status.question for status in services.reading.statuses(article_id)}
        shown = {item.question.id for item in result.questions}
        titles = services.reading.articles([i.answer.article_id for i in result.questions + result.related])
    typer.echo(f"{result.article.id}: {result.article.title}")
    typer.echo("questions:")
    for item in result.questions:
        typer.echo(f"  {item.question.text}\n    -> {item.answer.score:.3f} {item.answer.article_id}: {titles[item.answer.article_id].title}")
    for question_id in sorted(own.keys() - shown):
        typer.echo(f"  {own[question_id].text}\n    -> not shown (a gap, hidden, or waiting for review)")
    typer.echo("related questions:")
    for item in result.related:
        typer.echo(
            f"  {item.question.text}  [from {item.question.article_id}]\n"
            f"    -> {item.answer.score:.3f} {item.answer.article_id}: {titles[item.answer.article_id].title}"
        )


def gaps(limit: Annotated[int, typer.Option(help="How many to list.")] = 50) -> None:
    """Questions nothing answers well (candidates for new fact checks), worst first."""
    with context.opened(Settings()) as services:
        found = services.reading.gaps()
        gap_score = services.models.thresholds.gap_score
    typer.echo(f"{len(found)} gaps (best score below {gap_score:.3f})")
    for gap in found[:limit]:
        best = f"{gap.best.score:.3f} {gap.best.article_id}" if gap.best else "no candidate"
        typer.echo(f"  {gap.question.id}: {gap.question.text}  (best: {best})")
