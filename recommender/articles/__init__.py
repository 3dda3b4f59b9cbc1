"""The site's article formats: the record model, the plain-text parser and JSON Lines."""

from recommender.articles.model import Article, ArticleError, Question, Section

__all__ = ["Article", "ArticleError", "Question", "Section"]
