"""Ranking fact checks for a text: dense (encoder), lexical (BM25), their fusion, and the Ranker."""

from recommender.index.ranker import Hit, Ranker

__all__ = ["Hit", "Ranker"]
