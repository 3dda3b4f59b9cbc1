"""An immutable mapping that a write derives from the last one without copying it.

A snapshot's lookups (question id -> row, article -> rows, article id -> row) have one entry per
question or article; copying them for every one-article upsert made each write linear in the
corpus (~20 ms at 100k articles, 10x that at 1M). A `Layered` mapping is a large base dict that is
never changed plus a small dict of the entries changed since (a removal is a marker): `with_changes`
copies only that small dict, and folds everything into a new base once it outgrows a fraction of
the base, so a write costs the size of its own changes, amortised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

FOLD_FRACTION = 0.05  # the changes on top are folded into a new base beyond this share of it...
FOLD_MINIMUM = 1024  # ...but never below this many (a small mapping is cheap to copy anyway)


class _Gone:
    __slots__ = ()


_GONE = _Gone()


class Layered(Mapping[K, V], Generic[K, V]):
    __slots__ = ("_base", "_top", "_size")

    def __init__(self, base: Mapping[K, V] | None = None, adopt: bool = False) -> None:
        # A dict is kept as it is (its maker hands it over), as is any mapping with `adopt` (an
        # immutable one, e.g. index/question_rows.py's); any other mapping is copied once.
        self._base: Mapping[K, V] = base if isinstance(base, dict) or (adopt and base is not None) else dict(base or {})
        self._top: dict[K, V | _Gone] = {}
        self._size = len(self._base)

    @classmethod
    def of(cls, mapping: Mapping[K, V]) -> Layered[K, V]:
        """`mapping` itself when it already is one, else a Layered over it (which must not change after)."""
        return mapping if isinstance(mapping, Layered) else cls(mapping)

    def with_changes(
        self,
        changed: Mapping[K, V],
        removed: Iterable[K] = (),
        fold: Callable[[Mapping[K, V], dict[K, V], set[K]], Mapping[K, V]] | None = None,
    ) -> Layered[K, V]:
        """A new mapping with `removed` keys gone and then `changed` set (this one is unchanged).
        When the changes are folded into a new base, `fold(base, set, removed)` makes it (default: a
        dict of every entry)."""
        top = dict(self._top)
        size = self._size
        for key in removed:
            size -= _present(self._base, top, key)
            top[key] = _GONE
        for key, value in changed.items():
            size += not _present(self._base, top, key)
            top[key] = value
        new: Layered[K, V] = Layered.__new__(Layered)
        new._base, new._top, new._size = self._base, top, size
        if len(top) > max(FOLD_MINIMUM, FOLD_FRACTION * len(self._base)):
            if fold is None:
                return Layered(dict(new.items()))
            kept: dict[K, V] = {k: v for k, v in top.items() if not isinstance(v, _Gone)}
            return Layered(fold(self._base, kept, {k for k, v in top.items() if isinstance(v, _Gone)}), adopt=True)
        return new

    def __getitem__(self, key: K) -> V:
        if key in self._top:
            value = self._top[key]
            if isinstance(value, _Gone):
                raise KeyError(key)
            return value
        return self._base[key]

    def __contains__(self, key: object) -> bool:
        return _present(self._base, self._top, key)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[K]:
        for key in self._base:
            if key not in self._top:
                yield key
        for key, value in self._top.items():
            if not isinstance(value, _Gone):
                yield key

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return f"Layered({len(self)} entries, {len(self._top)} changed since the base)"


def _present(base: Mapping[K, V], top: dict[K, V | _Gone], key: K) -> bool:
    """Whether `key` is in the mapping made of `base` with the changes `top` on it."""
    if key in top:
        return not isinstance(top[key], _Gone)
    return key in base
