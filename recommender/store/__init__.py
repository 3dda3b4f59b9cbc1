"""Persistence: the Store protocol and its SQLite implementation (the embedded default)."""

from recommender.store.base import ArticleRow, LinkRow, QuestionRow, Store, StoredArticle
from recommender.store.sqlite import SQLiteStore

__all__ = ["ArticleRow", "LinkRow", "QuestionRow", "SQLiteStore", "Store", "StoredArticle"]
