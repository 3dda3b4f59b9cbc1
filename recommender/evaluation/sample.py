"""The sample corpus in the benchmark format, so `evaluate` reads it like checkthat2020."""

from __future__ import annotations

from recommender.articles.model import Article


def corpus_record(article: Article) -> dict[str, str]:
    """{"id","title","text"}: text is the summary and sections, one paragraph per block."""
    blocks = [article.summary] + [f"{s.heading}\n{s.text}" for s in article.sections]
    return {"id": article.id, "title": article.title, "text": "\n\n".join(b for b in blocks if b.strip())}


def query_records(article: Article) -> list[dict[str, object]]:
    """One query per dive-deeper question; its own article is excluded from ranking."""
    return [{"id": q.id, "text": q.text, "exclude": [article.id]} for q in article.question_records()]
