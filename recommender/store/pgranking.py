"""What ranking inside PostgreSQL reads and keeps: candidates from the passages' HNSW index and from
per-article term frequencies, and the rows that rescore a candidate exactly.

BM25 here uses fixed reference idf and a fixed reference length (recommender/index/term_weights.py),
so one document's lexical score needs only its own term frequencies and length. `article_terms` holds
them (term, article, tf, the article's length), written by the index layer with the service's own
tokeniser (the store does not tokenise: that belongs to recommender/index/lexical.py). They are
derived rows, like links: `article_lengths` records the content hash they were made from, so rows
made from an older version of an article are found and rewritten (`stale_term_articles`) by the next
process that opens the index. A lexical candidate query sums the BM25 weights of the query's terms in
SQL over the `(term, article_id)` primary key, whose INCLUDE columns let it read only the index.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from recommender.store.base import IndexData
from recommender.domain import QuestionRow
from recommender.store.core import text_hash
from recommender.store.pgvector import HNSW_INDEX, PgVectors, as_f32, nearest_order
from recommender.store.pgvector import _read_matrix as read_matrix
from recommender.store.schema import TERM_IMPACT


def join_terms(terms: Sequence[str]) -> str:
    """An article's terms in text order as one column value (terms never hold a space)."""
    return " ".join(terms)


def split_terms(value: str | None) -> list[str]:
    return value.split(" ") if value else []


def lexical_candidates_sql(postings: int) -> str:
    """The articles of highest BM25 for a query given as (terms, idf) arrays, params: terms, idfs, then
    k1, b, b, average length, limit. `postings` > 0 reads only each term's `postings` best postings by
    saturated tf (the article_terms_impact index; an article outside all of them is not a candidate,
    and a candidate's sum counts only the postings read); 0 reads every posting (exact BM25 order)."""
    if postings <= 0:
        source = "article_terms t JOIN unnest(%s::text[], %s::real[]) AS q(term, idf) ON t.term = q.term"
    else:
        source = f"""unnest(%s::text[], %s::real[]) AS q(term, idf)
                     CROSS JOIN LATERAL (SELECT i.article_id, i.tf, i.length FROM article_terms i WHERE i.term = q.term
                                         ORDER BY ({TERM_IMPACT}) DESC LIMIT {int(postings)}) t"""
    return f"""SELECT t.article_id FROM {source}
               GROUP BY t.article_id
               ORDER BY SUM(q.idf * t.tf / (t.tf + %s * (1 - %s + %s * t.length / %s))) DESC, t.article_id
               LIMIT %s"""


class PgRanking(PgVectors):
    """The ranking reads of PostgresStore (its connections: postgres.py)."""

    def _write(self, counter: str | None = "generation", changed: Collection[str] | None = None) -> Any:
        raise NotImplementedError

    # -- the index without passages ----------------------------------------------------------
    def load_index_rows(self) -> IndexData:
        """What a worker ranking in PostgreSQL keeps: article rows and questions with their vectors;
        no passage vectors and no article texts (those stay in the database)."""
        with self._read() as conn:
            generation = self._counter(conn, "generation")
            article_rows = conn.execute(
                "SELECT id, title, checked_on, url, topic, content_hash, NULL FROM articles ORDER BY id"
            ).fetchall()
            questions = self._read_matrix(
                conn,
                f"SELECT id, article_id, position, text, key, {self.VECTOR} FROM questions ORDER BY article_id, position",
                "questions",
            )
        articles = [self._article_row(r[:6]) for r in article_rows]
        q_matrix, q_rows = questions
        return IndexData(generation, articles, [], [], [QuestionRow(*r) for r in q_rows], q_matrix)

    def hnsw_state(self) -> str:
        """'ready' when the passages' HNSW index can serve, 'building' while it is being built
        (CREATE INDEX CONCURRENTLY not finished), 'missing' when there is none."""
        row = self._rows(
            "SELECT i.indisvalid AND i.indisready FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = %s",
            (HNSW_INDEX,),
        )
        if not row:
            return "missing"
        return "ready" if row[0][0] else "building"

    # -- term frequencies --------------------------------------------------------------------
    def stale_term_articles(self, limit: int = 2000) -> list[tuple[str, str, str]]:
        """(id, content hash, body) of articles whose term rows are missing or of an older version."""
        return self._rows(
            """SELECT a.id, a.content_hash, a.body FROM articles a LEFT JOIN article_lengths l ON l.article_id = a.id
               WHERE l.content_hash IS DISTINCT FROM a.content_hash OR l.terms IS NULL ORDER BY a.id LIMIT %s""",
            (limit,),
        )

    def write_terms(self, rows: Sequence[tuple[str, str, int, Mapping[str, int], Sequence[str]]]) -> None:
        """Replace the term rows of articles: (id, content hash they come from, length, term -> tf, the
        terms in text order).
        One transaction; articles deleted meanwhile are skipped. The generation does not move: these
        rows are derived from articles already counted."""
        if not rows:
            return
        with self._write(counter=None) as conn:
            ids = [r[0] for r in rows]
            present = {r[0] for r in conn.execute("SELECT id FROM articles WHERE id = ANY(%s)", (ids,)).fetchall()}
            rows = [r for r in rows if r[0] in present]
            ids = [r[0] for r in rows]
            conn.execute("DELETE FROM article_terms WHERE article_id = ANY(%s)", (ids,))
            conn.execute("DELETE FROM article_lengths WHERE article_id = ANY(%s)", (ids,))
            with conn.cursor() as cur:
                with cur.copy("COPY article_terms (term, article_id, tf, length) FROM STDIN") as copy:
                    for article_id, _, length, terms, _ in rows:
                        for term, tf in terms.items():
                            copy.write_row((term, article_id, tf, length))
                with cur.copy("COPY article_lengths (article_id, content_hash, length, terms) FROM STDIN") as copy:
                    for article_id, content_hash, length, _, sequence in rows:
                        copy.write_row((article_id, content_hash, length, join_terms(sequence)))

    def document_terms(self, article_ids: Sequence[str]) -> dict[str, tuple[int, dict[str, int], list[str]]]:
        """Article id -> (length, term -> tf, its terms in text order)."""
        found: dict[str, tuple[int, dict[str, int], list[str]]] = {}
        with self._conn() as conn:
            for article_id, length, sequence in conn.execute(
                "SELECT article_id, length, terms FROM article_lengths WHERE article_id = ANY(%s)", (list(article_ids),)
            ).fetchall():
                found[article_id] = (length, {}, split_terms(sequence))
            for term, article_id, tf in conn.execute(
                "SELECT term, article_id, tf FROM article_terms WHERE article_id = ANY(%s)", (list(article_ids),)
            ).fetchall():
                found[article_id][1][term] = tf
        return found

    # -- candidates --------------------------------------------------------------------------
    def dense_candidates(self, vectors: np.ndarray, passages: int, ef_search: int, exact: bool = False) -> list[list[str]]:
        """Per query vector, the articles of its `passages` nearest passages (HNSW; `exact`: a scan),
        nearest first, each article once."""
        found: list[list[str]] = []
        with self._conn(replica=True) as conn, conn.transaction():
            conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(max(passages, ef_search)),))
            if exact:
                conn.execute("SELECT set_config('enable_indexscan', 'off', true)")
            for vector in vectors:
                query = as_f32(vector)
                order = nearest_order(len(query), exact)
                rows = conn.execute(f"SELECT article_id FROM passages ORDER BY {order} LIMIT %s", (query, passages)).fetchall()
                found.append(list(dict.fromkeys(r[0] for r in rows)))
        return found

    def lexical_candidates(
        self,
        terms: Sequence[str],
        weights: Sequence[float],
        limit: int,
        k1: float,
        b: float,
        average_length: float,
        postings: int = 0,
    ) -> list[str]:
        """The `limit` articles of highest BM25 for a query given as terms (repeats count) with their idf
        (`postings`: see lexical_candidates_sql)."""
        if not terms:
            return []
        rows = self._rows(
            lexical_candidates_sql(postings),
            (list(terms), [float(w) for w in weights], k1, b, b, average_length, limit),
            replica=True,
        )
        return [r[0] for r in rows]

    def ranked_candidates(
        self,
        queries: Sequence[tuple[np.ndarray | None, Sequence[str], Sequence[float]]],
        passages: int,
        lexical: int,
        ef_search: int,
        bm25: tuple[float, float, float],
        exact: bool = False,
        postings: int = 0,
    ) -> list[list[tuple[str, float, int, int, dict[str, int]]]]:
        """Per query (vector or None, terms with repeats, their idf): its candidates, each as (article
        id, best passage inner product, that passage's position, length, term -> tf of the query's
        terms); an article's terms in text order (term pairs) are read for the few candidates that
        need them (`term_sequences`). Candidates: the articles of the `passages` nearest
        passages (HNSW) and the `lexical` articles of highest BM25 (k1, b, average length = `bm25`;
        `postings`: see lexical_candidates_sql). One statement and one round trip per query, one
        connection for all."""
        k1, b, average = bm25
        found: list[list[tuple[str, float, int, int, dict[str, int]]]] = []
        with self._conn(replica=True) as conn, conn.transaction():
            conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(max(passages, ef_search)),))
            if exact:
                conn.execute("SELECT set_config('enable_indexscan', 'off', true)")
            for vector, terms, weights in queries:
                parts, params = [], []
                if vector is not None:
                    parts.append(f"(SELECT article_id FROM passages ORDER BY {nearest_order(len(vector), exact)} LIMIT %s)")
                    params += [as_f32(vector), passages]
                if terms and lexical:
                    parts.append(f"({lexical_candidates_sql(postings)})")
                    params += [list(terms), [float(w) for w in weights], k1, b, b, average, lexical]
                if not parts:
                    found.append([])
                    continue
                # The best passage: one distance per passage, nearest first, ties by position.
                dense = (
                    """LEFT JOIN LATERAL (SELECT -(p.vector <#> %s::vector) AS score, p.position FROM passages p
                                          WHERE p.article_id = c.article_id ORDER BY 1 DESC, 2 LIMIT 1) d ON TRUE"""
                    if vector is not None
                    else "LEFT JOIN LATERAL (SELECT NULL::float8 AS score, NULL::int AS position) d ON TRUE"
                )
                # A candidate's term frequencies: one probe of the (term, article_id) key per query term,
                # not a scan of all of the article's term rows (~150) filtered by term (OFFSET 0 keeps
                # the planner from flattening the probe into that scan).
                sql = f"""WITH c AS ({" UNION ".join(parts)})
                          SELECT c.article_id, ARRAY[d.score, d.position], l.length, f.terms, f.tfs
                          FROM c {dense}
                          LEFT JOIN article_lengths l ON l.article_id = c.article_id
                          LEFT JOIN LATERAL (SELECT ARRAY_AGG(t.term ORDER BY t.term) AS terms,
                                                    ARRAY_AGG(t.tf ORDER BY t.term) AS tfs
                                             FROM unnest(%s::text[]) AS w(term)
                                             CROSS JOIN LATERAL (SELECT i.term, i.tf FROM article_terms i
                                                                 WHERE i.term = w.term AND i.article_id = c.article_id
                                                                 OFFSET 0) t) f ON TRUE"""
                tail = [*([as_f32(vector)] if vector is not None else []), sorted(set(terms))]
                rows = conn.execute(sql, [*params, *tail]).fetchall()
                found.append(
                    [
                        (
                            article_id,
                            float(best[0]) if best and best[0] is not None else 0.0,
                            int(best[1]) if best and best[1] is not None else -1,
                            int(length or 0),
                            dict(zip(names or [], tfs or [])),
                        )
                        for article_id, best, length, names, tfs in rows
                    ]
                )
        return found

    def term_sequences(self, article_ids: Sequence[str]) -> dict[str, list[str]]:
        """Article id -> its terms in text order (what term-pair evidence is counted on)."""
        if not article_ids:
            return {}
        rows = self._rows(
            "SELECT article_id, terms FROM article_lengths WHERE article_id = ANY(%s)", (list(article_ids),), replica=True
        )
        return {article_id: split_terms(sequence) for article_id, sequence in rows}

    def candidate_rows(
        self, article_ids: Sequence[str], terms: Sequence[str], vectors: bool = True, sequences: bool = False
    ) -> tuple[dict[str, np.ndarray], dict[str, tuple[int, dict[str, int], list[str]]]]:
        """What rescoring candidates needs: their passage vectors (by position) and, of `terms` only,
        their term frequencies with the article's length (and, with `sequences`, its terms in text order)."""
        ids = list(article_ids)
        matrices: dict[str, np.ndarray] = {}
        tfs: dict[str, tuple[int, dict[str, int], list[str]]] = {}
        if not ids:
            return matrices, tfs
        with self._conn(replica=True) as conn:
            if vectors:
                matrix, owners = read_matrix(
                    conn,
                    "SELECT article_id, vector_send(vector) FROM passages WHERE article_id = ANY(%s) "
                    "ORDER BY article_id, position",
                    (ids,),
                )
                start = 0
                for n in range(1, len(owners) + 1):
                    if n == len(owners) or owners[n][0] != owners[start][0]:
                        matrices[owners[start][0]] = matrix[start:n]
                        start = n
            if terms:
                for term, article_id, tf, length in conn.execute(
                    "SELECT term, article_id, tf, length FROM article_terms WHERE term = ANY(%s) AND article_id = ANY(%s)",
                    (list(set(terms)), ids),
                ).fetchall():
                    tfs.setdefault(article_id, (length, {}, []))[1][term] = tf
                if sequences:
                    for article_id, sequence in conn.execute(
                        "SELECT article_id, terms FROM article_lengths WHERE article_id = ANY(%s)", (list(tfs),)
                    ).fetchall():
                        tfs[article_id][2].extend(split_terms(sequence))
        return matrices, tfs

    # -- benchmarks ----------------------------------------------------------------------------
    def load_benchmark(
        self, fingerprint: str, documents: Sequence[tuple[str, str, str, Sequence[str], np.ndarray]]
    ) -> bool:
        """Make a scratch database hold exactly a benchmark's documents (id, title, text, passages,
        passage vectors) as articles without questions, for `recommender evaluate --database-url`.

        Refused on a database holding articles that no earlier call wrote (never overwrite a real
        one). Returns False when it already holds this `fingerprint` (nothing written)."""
        with self._write() as conn:
            marked = conn.execute("SELECT value FROM meta WHERE key = 'benchmark'").fetchone()
            if marked is None and conn.execute("SELECT EXISTS (SELECT 1 FROM articles)").fetchone()[0]:
                raise ValueError(
                    f"{self._where()} holds articles of its own: evaluate on an empty (scratch) database"
                )
            if marked is not None and marked[0] == fingerprint:
                return False
            conn.execute("DELETE FROM articles")
            conn.execute("DELETE FROM meta WHERE key = 'benchmark'")
            dims = {int(np.shape(d[4])[1]) for d in documents if len(d[4])}
            if dims:
                self._fit_dim(conn, "passages", dims.pop())
            with conn.cursor() as cur:
                with cur.copy(
                    "COPY articles (id, title, summary, sections, body, content_hash, updated_at) FROM STDIN"
                ) as copy:
                    for doc_id, title, text, _, _ in documents:
                        copy.write_row((doc_id, title, "", "[]", text, text_hash(text), "now"))
                with cur.copy(
                    "COPY passages (article_id, position, text, text_hash, model_id, vector) FROM STDIN WITH (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(["text", "int4", "text", "text", "text", "vector"])
                    for doc_id, _, _, passages, vectors in documents:
                        for position, (passage, vector) in enumerate(zip(passages, vectors)):
                            copy.write_row((doc_id, position, passage, text_hash(passage), self.model_id, as_f32(vector)))
            conn.execute("INSERT INTO meta (key, value) VALUES ('benchmark', %s)", (fingerprint,))
        return True

    def _where(self) -> str:
        raise NotImplementedError
