"""SqlStore: the SQL of every aggregate, composed; SQLiteStore and PostgresStore add their dialect.

Each part is one module: articles.py (articles, passages, vectors, pending relinks), questions.py
(questions, links, clusters), decisions.py (decisions, audit, superseded), editors.py (tokens),
models.py (staged vectors, model swap) and dump.py (backup and restore), all over core.py.
Together with a dialect this implements recommender.store.base.Store.
"""

from __future__ import annotations

from recommender.store.dump import SqlDump
from recommender.store.models import SqlModels


class SqlStore(SqlDump, SqlModels):
    """Every aggregate's SQL; a subclass supplies connections and the dialect's own statements."""
