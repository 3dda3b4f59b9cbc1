"""Products on int8 codes (index/products.py): exact, the same on both backends, in any shape and
orientation."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pytest

from recommender.index import products as products_module
from recommender.index.products import GRAPH, _exact, all_products, as_int8, integer_backend, products
from recommender.index.vectors import VectorRows
from recommender.store.vectors import Int8Rows


def _unit(rng: np.random.Generator, n: int, dim: int = 48) -> np.ndarray:
    rows = rng.normal(size=(n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _reference(left: Int8Rows, right: Int8Rows) -> np.ndarray:
    """Integer dot products of the codes, then one float32 multiplication by the two scales' product."""
    exact = left.codes.astype(np.int64) @ right.codes.astype(np.int64).T
    return exact.astype(np.float32) * (left.scales[:, None] * right.scales[None, :])


@pytest.fixture(params=["onnxruntime", "float32"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "onnxruntime":
        if integer_backend() is None:
            pytest.skip("ONNX Runtime's integer kernel is not exact on this CPU (the float32 path serves)")
    else:
        monkeypatch.setattr(products_module, "integer_backend", lambda: None)
    return request.param


def test_products_equal_integer_arithmetic_on_either_backend(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(products_module, "KERNEL_ROWS", 7)  # several blocks
    rng = np.random.default_rng(3)
    left = as_int8(np.concatenate([_unit(rng, 40), np.full((1, 48), 1.0), np.full((1, 48), -1.0), np.zeros((1, 48))]))
    right = as_int8(np.concatenate([_unit(rng, 5), np.full((1, 48), 1.0), np.full((1, 48), -1.0)]))
    assert np.array_equal(products(left, right), _reference(left, right))


def test_a_product_depends_on_its_two_vectors_alone(backend: str) -> None:
    rng = np.random.default_rng(4)
    left, right = as_int8(_unit(rng, 30)), as_int8(_unit(rng, 6))
    whole = products(left, right)
    assert np.array_equal(whole, products(right, left).T)  # either side may be the row
    for i in (0, 17, 29):
        for j in (0, 5):
            assert whole[i, j] == products(left[i : i + 1], right[j : j + 1])[0, 0]


def test_both_backends_give_the_same_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    if integer_backend() is None:
        pytest.skip("ONNX Runtime's integer kernel is not exact on this CPU")
    rng = np.random.default_rng(5)
    left, right = as_int8(_unit(rng, 200, 384)), as_int8(_unit(rng, 9, 384))
    fast = products(left, right)
    monkeypatch.setattr(products_module, "integer_backend", lambda: None)
    assert np.array_equal(fast, products(left, right))


@pytest.mark.parametrize("dim", [384, products_module.EXACT_FLOAT_DIM + 1])
def test_all_products_in_blocks_are_the_products(backend: str, dim: int) -> None:
    rng = np.random.default_rng(6)
    left = as_int8(np.concatenate([_unit(rng, 23, dim), np.full((1, dim), 1.0), np.full((1, dim), -1.0)]))
    right = as_int8(np.concatenate([_unit(rng, 11, dim), np.full((1, dim), 1.0)]))
    whole = np.full((len(left), len(right)), np.nan, dtype=np.float32)
    for first_row, first_column, block in all_products(left, right, row_block=4, column_block=5):
        whole[first_row : first_row + block.shape[0], first_column : first_column + block.shape[1]] = block
    assert np.array_equal(whole, _reference(left, right))  # every cell written, each the exact product


def test_float_vectors_are_quantised_and_close_to_their_float_product() -> None:
    rng = np.random.default_rng(6)
    rows, queries = _unit(rng, 50), _unit(rng, 3)
    found = products(rows, queries)
    assert found.shape == (50, 3) and found.dtype == np.float32
    assert np.abs(found - rows @ queries.T).max() < 0.02  # the quantisation error, not more


def test_vector_rows_multiply_base_and_tail_alike() -> None:
    rng = np.random.default_rng(7)
    rows = _unit(rng, 60)
    whole = VectorRows.of(rows, 48)
    split = VectorRows.of(rows[:35], 48).appended(rows[35:])
    queries = _unit(rng, 4)
    assert np.array_equal(whole.products(queries), split.products(queries))
    picked = split.take_quantized([50, 3, 50])
    assert np.array_equal(products(picked, queries), whole.products(queries)[[50, 3, 50]])


def test_mismatched_dimensions_are_refused() -> None:
    with pytest.raises(ValueError, match="48 and 12 dimensions"):
        products(np.ones((2, 48), np.float32), np.ones((1, 12), np.float32))


class _Saturating:
    """A kernel that sums pairs of products in saturating 16-bit lanes (x86 u8 x s8 without VNNI)."""

    def run(self, _outputs: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        rows = feeds["rows"].astype(np.int64)
        columns = feeds["columns"].astype(np.int64)
        pairs = rows[:, :, None] * columns[None, :, :]  # (n, dim, k)
        paired = np.clip(pairs[:, 0::2] + pairs[:, 1::2], -32768, 32767).sum(axis=1)
        return [(paired - 128 * columns.sum(axis=0)[None, :]).astype(np.int32)]


def test_a_kernel_that_saturates_is_not_used() -> None:
    assert not _exact(_Saturating())
    session = integer_backend()
    if session is not None:
        assert _exact(session)


def test_the_committed_graph_is_what_the_script_writes() -> None:
    if importlib.util.find_spec("onnx") is None:
        pytest.skip("the onnx package (the torch extra) is not installed")
    from scripts.make_products_graph import graph_bytes

    assert GRAPH.read_bytes() == graph_bytes()
