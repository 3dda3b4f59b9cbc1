"""Question rows and their lookups, stored as a few numpy arrays instead of Python objects.

A worker holds every question (the linker scores a changed article against all of them). As
dataclass instances with their own strings, and with dicts from id, article and wording key to
rows, that was ~870 bytes a question: 260 MB at 300k questions (100k articles), 2.6 GB at a
million articles. Here the strings of a full build sit in one UTF-8 buffer per column and a row
is made when it is read; the lookups are sorted 64-bit hashes with their rows, each hit confirmed by
reading the name back, so a hash collision can never answer for another name. Rows that upserts
append (a few per write, until the next full build) are kept as they come, after the columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain
from typing import overload

import numpy as np

from recommender.domain import QuestionRow


def name_hash(name: str) -> int:
    """A name's 64-bit hash (Python's, salted per process: the arrays are never saved)."""
    return hash(name)


class Strings:
    """Immutable strings in one UTF-8 buffer: string i is data[ends[i-1]:ends[i]]."""

    __slots__ = ("_data", "_ends")

    def __init__(self, values: Sequence[str]) -> None:
        joined = "".join(values)
        if joined.isascii():  # the usual case: a character is a byte, nothing is encoded one by one
            self._data = joined.encode("ascii")
            lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        else:
            encoded = [v.encode() for v in values]
            self._data = b"".join(encoded)
            lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        # int32 offsets while the buffer allows (half the memory), int64 beyond 2 GB.
        dtype = np.int32 if len(self._data) < 2**31 else np.int64
        self._ends = np.cumsum(lengths).astype(dtype)

    @classmethod
    def joined(cls, first: Strings, rows: np.ndarray, values: Sequence[str]) -> Strings:
        """`first`'s strings at `rows` (in that order, copied as bytes: none is decoded), then `values`."""
        starts = np.concatenate([[0], first._ends[:-1]]).astype(np.int64) if len(first._ends) else np.zeros(0, np.int64)
        lengths = first._ends[rows].astype(np.int64) - starts[rows]
        new_starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if len(rows) else np.zeros(0, np.int64)
        picked = np.frombuffer(first._data, dtype=np.uint8)[np.repeat(starts[rows] - new_starts, lengths) + np.arange(int(lengths.sum()))]
        encoded = [v.encode() for v in values]
        strings = cls.__new__(cls)
        strings._data = picked.tobytes() + b"".join(encoded)
        all_lengths = np.concatenate([lengths, np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))])
        strings._ends = np.cumsum(all_lengths).astype(np.int32 if len(strings._data) < 2**31 else np.int64)
        return strings

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, i: int) -> str:
        start = int(self._ends[i - 1]) if i else 0
        return self._data[start : int(self._ends[i])].decode()

    @property
    def nbytes(self) -> int:
        return len(self._data) + self._ends.nbytes


class QuestionRows(Sequence[QuestionRow]):
    """The rows of a question table, by row number: a full build's as columns, then appended ones."""

    __slots__ = ("_ids", "_articles", "_positions", "_texts", "_keys", "_tail")

    def __init__(self, rows: Sequence[QuestionRow] = ()) -> None:
        self._ids = Strings([q.id for q in rows])
        self._articles = Strings([q.article_id for q in rows])
        self._positions = np.fromiter((q.position for q in rows), dtype=np.int32, count=len(rows))
        self._texts = Strings([q.text for q in rows])
        self._keys = Strings([q.key for q in rows])
        self._tail: tuple[QuestionRow, ...] = ()

    def appended(self, rows: Iterable[QuestionRow]) -> QuestionRows:
        """These rows followed by `rows`; the columns are shared, not copied."""
        new = QuestionRows.__new__(QuestionRows)
        new._ids, new._articles, new._positions = self._ids, self._articles, self._positions
        new._texts, new._keys = self._texts, self._keys
        new._tail = (*self._tail, *rows)
        return new

    def __len__(self) -> int:
        return len(self._positions) + len(self._tail)

    @overload
    def __getitem__(self, i: int) -> QuestionRow: ...
    @overload
    def __getitem__(self, i: slice) -> list[QuestionRow]: ...
    def __getitem__(self, i: int | slice) -> QuestionRow | list[QuestionRow]:
        if isinstance(i, slice):
            return [self[n] for n in range(*i.indices(len(self)))]
        i = self._index(i)
        built = len(self._positions)
        if i >= built:
            return self._tail[i - built]
        return QuestionRow(self._ids[i], self._articles[i], int(self._positions[i]), self._texts[i], self._keys[i])

    def __iter__(self) -> Iterator[QuestionRow]:
        return (self[i] for i in range(len(self)))

    def id_of(self, i: int) -> str:
        return self._column(i, self._ids, "id")

    def article_of(self, i: int) -> str:
        return self._column(i, self._articles, "article_id")

    def key_of(self, i: int) -> str:
        return self._column(i, self._keys, "key")

    @property
    def nbytes(self) -> int:
        """Memory of the columns (the appended rows' objects not counted)."""
        return sum(s.nbytes for s in (self._ids, self._articles, self._texts, self._keys)) + self._positions.nbytes

    def _column(self, i: int, strings: Strings, field: str) -> str:
        built = len(self._positions)
        return strings[i] if i < built else getattr(self._tail[i - built], field)

    def _index(self, i: int) -> int:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"row {i} of {n}")
        return i + n if i < 0 else i


class HashGroups(Mapping[str, tuple[int, ...]]):
    """name -> its rows (all rows of one article, or of one wording), over arrays: the names' 64-bit
    hashes sorted, each with its rows. `name_of(row)` reads a row's name back to confirm a hit."""

    __slots__ = ("_hashes", "_starts", "_rows", "_name_of")

    def __init__(self, groups: Iterable[tuple[str, Sequence[int]]], name_of: Callable[[int], str]) -> None:
        names, members = [], []
        for name, rows in groups:
            if len(rows):
                names.append(name)
                members.append(rows)
        sizes = np.fromiter(map(len, members), dtype=np.int64, count=len(members))
        rows = np.fromiter(chain.from_iterable(members), dtype=np.int64, count=int(sizes.sum()))
        self._arrange(np.fromiter(map(name_hash, names), dtype=np.int64, count=len(names)), sizes, rows, name_of)

    @classmethod
    def of_rows(cls, names: Sequence[str], name_of: Callable[[int], str]) -> HashGroups:
        """Row r's name is names[r]: every name with the rows that bear it (a full build's lookups)."""
        hashes = np.fromiter(map(name_hash, names), dtype=np.int64, count=len(names))
        order = np.lexsort((np.arange(len(names)), hashes))  # by hash, rows ascending within a name
        ordered = hashes[order]
        same = np.flatnonzero(ordered[1:] == ordered[:-1])
        boxed = np.empty(len(names), dtype=object)  # names compared in one numpy loop, not one by one
        boxed[:] = names
        if len(same) and bool((boxed[order[same]] != boxed[order[same + 1]]).any()):
            # Two names share a hash (rare): group these by name the slow way.
            groups: dict[str, list[int]] = {}
            for row, name in enumerate(names):
                groups.setdefault(name, []).append(row)
            return cls(groups.items(), name_of)
        starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]])) if len(names) else np.zeros(0, np.int64)
        sizes = np.diff(np.append(starts, len(ordered)))
        table = cls.__new__(cls)
        table._arrange(ordered[starts], sizes, order.astype(np.int64), name_of, presorted=True)
        return table

    def _arrange(
        self, hashes: np.ndarray, sizes: np.ndarray, rows: np.ndarray, name_of: Callable[[int], str], presorted: bool = False
    ) -> None:
        """Groups (a hash, `sizes[g]` rows each, one after the other in `rows`) sorted by hash."""
        starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        if not presorted:
            order = np.argsort(hashes, kind="stable")
            # Each group's rows move with it: row i of the new layout comes from its group's old start.
            offsets = np.repeat(starts[:-1][order] - np.concatenate([[0], np.cumsum(sizes[order])[:-1]]), sizes[order])
            rows = rows[np.arange(len(rows)) + offsets]
            hashes, sizes = hashes[order], sizes[order]
            starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self._hashes, self._starts, self._rows, self._name_of = hashes, starts, rows, name_of

    def merged(
        self, changed: Mapping[str, Sequence[int]], removed: Iterable[str], name_of: Callable[[int], str]
    ) -> HashGroups:
        """A new mapping: these groups without `removed` names, with `changed` ones set, named by
        `name_of` (rows of both): array operations on the kept groups, no name is read back for them."""
        drop = np.zeros(len(self._hashes), dtype=bool)
        for name in (*changed, *removed):
            if (group := self._find(name)) >= 0:
                drop[group] = True
        sizes = np.diff(self._starts)
        kept_rows = self._rows[np.repeat(~drop, sizes)]
        new = [(name, rows) for name, rows in changed.items() if len(rows)]
        new_sizes = np.fromiter((len(rows) for _, rows in new), dtype=np.int64, count=len(new))
        table = HashGroups.__new__(HashGroups)
        table._arrange(
            np.concatenate([self._hashes[~drop], np.fromiter((name_hash(n) for n, _ in new), dtype=np.int64, count=len(new))]),
            np.concatenate([sizes[~drop], new_sizes]),
            np.concatenate([kept_rows, np.fromiter(chain.from_iterable(r for _, r in new), dtype=np.int64, count=int(new_sizes.sum()))]),
            name_of,
        )
        return table

    def _find(self, name: str) -> int:
        """The group of `name`, or -1 (groups of equal hash are told apart by their names)."""
        h = name_hash(name)
        low = int(np.searchsorted(self._hashes, h, side="left"))
        high = int(np.searchsorted(self._hashes, h, side="right"))
        for group in range(low, high):
            if self._name_of(int(self._rows[self._starts[group]])) == name:
                return group
        return -1

    def __getitem__(self, name: str) -> tuple[int, ...]:
        group = self._find(name) if isinstance(name, str) else -1
        if group < 0:
            raise KeyError(name)
        return tuple(self._rows[self._starts[group] : self._starts[group + 1]].tolist())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._find(name) >= 0

    def __iter__(self) -> Iterator[str]:
        return (self._name_of(int(self._rows[s])) for s in self._starts[:-1])

    def __len__(self) -> int:
        return len(self._hashes)

    @property
    def nbytes(self) -> int:
        return self._hashes.nbytes + self._starts.nbytes + self._rows.nbytes


class HashRows(Mapping[str, int]):
    """name -> its one row (a question id -> its row), as HashGroups of one row each."""

    __slots__ = ("_groups",)

    def __init__(self, rows: Iterable[tuple[str, int]], name_of: Callable[[int], str]) -> None:
        self._groups = HashGroups(((name, (row,)) for name, row in rows), name_of)

    def merged(self, changed: Mapping[str, int], removed: Iterable[str], name_of: Callable[[int], str]) -> HashRows:
        """As HashGroups.merged, one row a name."""
        table = HashRows.__new__(HashRows)
        table._groups = self._groups.merged({name: (row,) for name, row in changed.items()}, removed, name_of)
        return table

    @classmethod
    def of_rows(cls, names: Sequence[str], name_of: Callable[[int], str]) -> HashRows:
        """Row r's name is names[r], each name on one row (question ids)."""
        table = cls.__new__(cls)
        table._groups = HashGroups.of_rows(names, name_of)
        return table

    def __getitem__(self, name: str) -> int:
        return self._groups[name][0]

    def __contains__(self, name: object) -> bool:
        return name in self._groups

    def __iter__(self) -> Iterator[str]:
        return iter(self._groups)

    def __len__(self) -> int:
        return len(self._groups)

    @property
    def nbytes(self) -> int:
        return self._groups.nbytes
