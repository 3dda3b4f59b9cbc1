"""Every article's row (id, title, date, url, topic, content hash) as columns, read as ArticleRow.

A snapshot maps every article id to its row: as slotted objects with their own strings that was
~510 bytes an article (510 MB at a million). Here the strings sit in UTF-8 buffers
(index/question_rows.py's Strings), the date as a day number, the id lookup as sorted hashes; a row is
made when it is read. The snapshot's Layered mapping keeps upserted rows on top; a fold merges them
in with array operations (ArticleRows.merged), without decoding the kept rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np

from recommender.domain import ArticleRow
from recommender.index.question_rows import HashRows, Strings

_NO_DATE = 0  # day 0 of the proleptic Gregorian calendar does not exist: no date


class ArticleRows(Mapping[str, ArticleRow]):
    """Article id -> its row, for the rows it was made of (immutable)."""

    __slots__ = ("_ids", "_titles", "_urls", "_topics", "_hashes", "_days", "_absent", "_row_of")

    def __init__(self, rows: Sequence[ArticleRow] = ()) -> None:
        self._fill(
            Strings([r.id for r in rows]),
            Strings([r.title for r in rows]),
            Strings([r.url or "" for r in rows]),
            Strings([r.topic or "" for r in rows]),
            Strings([r.content_hash for r in rows]),
            np.fromiter((r.checked_on.toordinal() if r.checked_on else _NO_DATE for r in rows), np.int32, len(rows)),
            np.fromiter((flag for r in rows for flag in (r.url is None, r.topic is None)), bool, 2 * len(rows)).reshape(-1, 2),
        )

    def _fill(
        self, ids: Strings, titles: Strings, urls: Strings, topics: Strings, hashes: Strings, days: np.ndarray, absent: np.ndarray
    ) -> None:
        self._ids, self._titles, self._urls, self._topics, self._hashes = ids, titles, urls, topics, hashes
        self._days, self._absent = days, absent  # absent[:, 0]: url is None, absent[:, 1]: topic is None
        self._row_of = HashRows.of_rows([ids[i] for i in range(len(ids))], ids.__getitem__)

    def merged(self, changed: Mapping[str, ArticleRow], removed: Iterable[str]) -> ArticleRows:
        """These rows without `removed` ids and with `changed` ones set (kept rows copied as bytes)."""
        keep = np.ones(len(self._days), dtype=bool)
        for article_id in (*changed, *removed):
            if (row := self._row_of.get(article_id)) is not None:
                keep[row] = False
        rows = np.flatnonzero(keep)
        new = list(changed.values())
        fresh = ArticleRows(new)
        merged = ArticleRows.__new__(ArticleRows)
        merged._fill(
            *(
                Strings.joined(old, rows, [added[i] for i in range(len(added))])
                for old, added in (
                    (self._ids, fresh._ids),
                    (self._titles, fresh._titles),
                    (self._urls, fresh._urls),
                    (self._topics, fresh._topics),
                    (self._hashes, fresh._hashes),
                )
            ),
            np.concatenate([self._days[rows], fresh._days]),
            np.concatenate([self._absent[rows], fresh._absent]),
        )
        return merged

    def _row(self, i: int) -> ArticleRow:
        day = int(self._days[i])
        no_url, no_topic = self._absent[i]
        return ArticleRow(
            self._ids[i],
            self._titles[i],
            dt.date.fromordinal(day) if day != _NO_DATE else None,
            None if no_url else self._urls[i],
            None if no_topic else self._topics[i],
            self._hashes[i],
        )

    def __getitem__(self, article_id: str) -> ArticleRow:
        return self._row(self._row_of[article_id])

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._row_of

    def __iter__(self) -> Iterator[str]:
        return (self._ids[i] for i in range(len(self._days)))

    def __len__(self) -> int:
        return len(self._days)


class CheckedOn(Mapping[str, "dt.date | None"]):
    """Article id -> the date it was checked, read from the articles' rows (no dict of every article)."""

    __slots__ = ("_articles",)

    def __init__(self, articles: Mapping[str, ArticleRow]) -> None:
        self._articles = articles

    def __getitem__(self, article_id: str) -> dt.date | None:
        return self._articles[article_id].checked_on

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._articles

    def __iter__(self) -> Iterator[str]:
        return iter(self._articles)

    def __len__(self) -> int:
        return len(self._articles)


def merge_into(base: Mapping[str, ArticleRow], changed: Mapping[str, ArticleRow], removed: set[str]) -> ArticleRows:
    """A snapshot's fold (Layered.with_changes): the article rows of `base` with the changes merged in."""
    if not isinstance(base, ArticleRows):
        base = ArticleRows(list(base.values()))
    return base.merged(changed, removed)
