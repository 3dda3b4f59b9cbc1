"""Append-only numpy rows shared between successive immutable index snapshots.

A snapshot holds a view of the first n rows. The next snapshot appends after row n in the same
buffer when there is spare capacity (readers of the old snapshot never look past their n), so a
one-article update copies nothing but the new rows; a full buffer is reallocated with 50% spare.
Snapshots are derived one from the other under the index holder's write lock, so two never append to
the same buffer from the same length; should that happen anyway, the second copies.
"""

from __future__ import annotations

import numpy as np

GROWTH = 1.5
SPARE = 0.25  # capacity a fresh buffer keeps for appends; untouched pages of np.empty cost no memory


class RowBuffer:
    def __init__(self, data: np.ndarray, length: int) -> None:
        self._data = data
        self._length = length  # rows written so far (the high-water mark of every view)

    @classmethod
    def empty(cls, length: int, shape: tuple[int, ...], dtype: np.dtype | type) -> RowBuffer:
        """A buffer of `length` rows to be filled in place (`view(length)`), with spare capacity."""
        data = np.empty((length + int(length * SPARE) + 16, *shape), dtype=dtype)
        return cls(data, length)

    @classmethod
    def of(cls, rows: np.ndarray) -> RowBuffer:
        rows = np.asarray(rows)
        buffer = cls.empty(len(rows), rows.shape[1:], rows.dtype)
        buffer.view(len(rows))[:] = rows
        return buffer

    @classmethod
    def adopt(cls, rows: np.ndarray) -> RowBuffer:
        """A buffer over `rows` without copying when they are the first rows of a larger array the
        caller hands over (spare rows after them become capacity); otherwise a copy."""
        base = rows.base
        if (
            isinstance(base, np.ndarray)
            and base.dtype == rows.dtype
            and base.shape[1:] == rows.shape[1:]
            and base.flags.c_contiguous
            and base.flags.writeable
            and rows.flags.c_contiguous
            and base.__array_interface__["data"][0] == rows.__array_interface__["data"][0]
        ):
            return cls(base, len(rows))
        return cls.of(rows)

    def view(self, length: int) -> np.ndarray:
        return self._data[:length]

    def extend(self, length: int, rows: np.ndarray) -> RowBuffer:
        """The buffer holding the first `length` rows followed by `rows` (this one, or a bigger copy)."""
        rows = np.asarray(rows, dtype=self._data.dtype)
        if not len(rows) and length <= self._length:
            return self  # nothing to write (the data may be a read-only mapped file)
        end = length + len(rows)
        if length == self._length and end <= len(self._data):
            self._data[length:end] = rows
            self._length = end
            return self
        capacity = max(end, int(len(self._data) * GROWTH), 16)
        data = np.empty((capacity, *self._data.shape[1:]), dtype=self._data.dtype)
        data[:length] = self._data[:length]
        data[length:end] = rows
        return RowBuffer(data, end)
