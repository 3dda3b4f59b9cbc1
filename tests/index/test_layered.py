"""Layered mappings behave as the dicts they replace, whatever the sequence of changes."""

from __future__ import annotations

import random

import pytest

from recommender.index import layered
from recommender.index.layered import Layered


@pytest.mark.parametrize("fold_minimum", [4, 1024])  # folding often, and never
def test_a_layered_mapping_equals_a_dict_after_random_changes(monkeypatch, fold_minimum: int) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(layered, "FOLD_MINIMUM", fold_minimum)
    rng = random.Random(3)
    plain = {f"k{n}": n for n in range(50)}
    mapping = Layered(dict(plain))
    history = [(mapping, dict(plain))]
    for step in range(300):
        removed = rng.sample(sorted(plain) + ["missing"], k=rng.randrange(3))
        changed = {f"k{rng.randrange(80)}": step for _ in range(rng.randrange(4))}
        mapping = mapping.with_changes(changed, removed)
        for key in removed:
            plain.pop(key, None)
        plain.update(changed)
        history.append((mapping, dict(plain)))
    for seen, expected in history:  # every earlier version is unchanged by the later ones
        assert dict(seen.items()) == expected and len(seen) == len(expected)
        assert all(seen[k] == v and k in seen for k, v in expected.items())
        assert "missing" not in seen and seen.get("missing") is None
        with pytest.raises(KeyError):
            seen["missing"]


def test_changes_stay_small_until_they_are_folded_into_a_new_base(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(layered, "FOLD_MINIMUM", 10)
    mapping = Layered({n: n for n in range(100)})
    base = mapping._base
    for n in range(10):
        mapping = mapping.with_changes({1000 + n: n})
    assert mapping._base is base and len(mapping._top) == 10  # nothing copied but the changes
    mapping = mapping.with_changes({2000: 0})
    assert mapping._base is not base and not mapping._top and len(mapping) == 111
