"""The PostgreSQL test server (scripts/start_postgres.sh) and throwaway databases on it.

Each test that runs on PostgreSQL gets a database of its own, created empty or from a template
(`CREATE DATABASE ... TEMPLATE`, a file copy: the ingested sample costs no re-ingest per test) and
dropped afterwards. Names carry the pid, so several test sessions can share the server.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
URL_FILE = ROOT / "var" / "pgtest" / "url"
START = ROOT / "scripts" / "start_postgres.sh"


class PostgresUnavailable(RuntimeError):
    pass


class PgServer:
    def __init__(self, url: str) -> None:
        self.url = url  # of the server's `recommender_test` database, used for admin statements
        self._names = (f"t{os.getpid()}_{n}" for n in itertools.count())

    def url_of(self, name: str) -> str:
        return self.url.rsplit("/", 1)[0] + "/" + name

    def create(self, template: str | None = None) -> str:
        """A new database (empty, or a copy of `template`); returns its name."""
        name = next(self._names)
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            if template:
                conn.execute(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
            else:
                conn.execute(f"CREATE DATABASE {name}")
        return name

    def drop(self, name: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def drop_all_of_this_session(self) -> None:
        prefix = f"t{os.getpid()}_"
        with psycopg.connect(self.url, autocommit=True) as conn:
            names = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",))]
            for name in names:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _reachable(url: str) -> str | None:
    """None when the server answers with pgvector available, else why not."""
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            if conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone() is None:
                return "the pgvector extension is not installed on the server"
    except psycopg.Error as exc:
        return str(exc).strip()
    return None


def connect_server() -> PgServer:
    """The test server: from RECOMMENDER_TEST_DATABASE_URL, or var/pgtest/url, else started by the script."""
    url = os.environ.get("RECOMMENDER_TEST_DATABASE_URL")
    if url:
        problem = _reachable(url)
        if problem:
            raise PostgresUnavailable(f"RECOMMENDER_TEST_DATABASE_URL does not answer: {problem}")
        return PgServer(url)
    if URL_FILE.exists() and _reachable(URL_FILE.read_text().strip()) is None:
        return PgServer(URL_FILE.read_text().strip())
    # Not running (e.g. pytest started without `make test`): the script is idempotent and quick once installed.
    result = subprocess.run(["bash", str(START)], capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        raise PostgresUnavailable(f"scripts/start_postgres.sh failed: {tail}")
    url = URL_FILE.read_text().strip()
    problem = _reachable(url)
    if problem:
        raise PostgresUnavailable(f"the server started by scripts/start_postgres.sh does not answer: {problem}")
    return PgServer(url)


class KnownVectors:
    """An encoder that answers from the vectors a SQLite database already holds (same model), and
    asks the wrapped encoder only for texts it lacks: a second ingest of the sample costs seconds."""

    def __init__(self, encoder, sqlite_path: Path) -> None:  # type: ignore[no-untyped-def]
        import sqlite3

        import numpy as np

        self._encoder = encoder
        self._np = np
        conn = sqlite3.connect(sqlite_path)
        try:
            rows = conn.execute("SELECT text, vector FROM passages UNION ALL SELECT text, vector FROM questions").fetchall()
        finally:
            conn.close()
        self._known = {text: np.frombuffer(blob, dtype=np.float32) for text, blob in rows}

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._encoder, name)  # model_id, dim, count_tokens, max_tokens, ...

    def encode(self, texts, batch_size: int = 64, progress: bool = False):  # type: ignore[no-untyped-def]
        missing = [t for t in dict.fromkeys(texts) if t not in self._known]
        if missing:
            self._known.update(zip(missing, self._encoder.encode(missing)))
        if not texts:
            return self._np.zeros((0, self._encoder.dim), dtype=self._np.float32)
        return self._np.stack([self._known[t] for t in texts])
