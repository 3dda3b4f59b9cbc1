"""Row-wise int8 (recommender.embedding.int8) on a small graph: fast, no model export needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from recommender.embedding.export import ExportError, _quantize
from recommender.embedding.int8 import quantize_rows

RNG = np.random.default_rng(7)
W1 = RNG.standard_normal((8, 6)).astype(np.float32)
W2 = RNG.standard_normal((6, 4)).astype(np.float32)


def two_layers(opset: int = 17) -> onnx.ModelProto:
    """x @ W1 -> Relu -> @ W2, on [batch, tokens, 8] inputs."""
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h"]),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("MatMul", ["r", "w2"], ["y"]),
        ],
        "two_layers",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "tokens", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "tokens", 4])],
        [numpy_helper.from_array(W1, "w1"), numpy_helper.from_array(W2, "w2")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def reference(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """What the rewrite computes, in numpy: per-row int8 activations times per-column int8 weights."""
    w_scale = np.abs(w).max(axis=0) / 127
    wq = np.clip(np.rint(w / w_scale), -127, 127)
    x_scale = np.maximum(np.abs(x).max(axis=-1, keepdims=True), 1e-12) / 127
    xq = np.clip(np.rint(x / x_scale), -127, 127)
    return (xq @ wq) * x_scale * w_scale


@pytest.mark.parametrize("opset", [17, 18])  # ReduceMax takes its axes as an attribute, then as an input
def test_every_constant_matmul_becomes_int8_and_computes_the_row_wise_product(opset: int) -> None:
    model = two_layers(opset)
    assert quantize_rows(model) == 2
    ops = [n.op_type for n in model.graph.node]
    assert "MatMul" not in ops and ops.count("MatMulIntegerToFloat") == 2
    assert {i.name for i in model.graph.initializer}.isdisjoint({"w1", "w2"})  # the fp32 weights are gone
    x = RNG.standard_normal((3, 5, 8)).astype(np.float32)
    expected = reference(np.maximum(reference(x, W1), 0), W2)
    assert np.abs(run(model, x) - expected).max() < 1e-4
    exact = np.maximum(x @ W1, 0) @ W2
    assert np.abs(run(model, x) - exact).max() < 0.05 * np.abs(exact).max()  # int8 is close to fp32


def test_a_row_does_not_depend_on_the_other_rows_of_the_batch() -> None:
    model = two_layers()
    quantize_rows(model)
    x = RNG.standard_normal((4, 6, 8)).astype(np.float32)
    x[1] *= 50  # one loud text: a per-batch scale would crush the others' precision
    together = run(model, x)
    alone = np.concatenate([run(model, x[i : i + 1]) for i in range(len(x))])
    assert np.array_equal(together, alone)
    assert np.array_equal(run(model, x[::-1])[::-1], together)


def test_the_rewrite_is_deterministic(tmp_path: Path) -> None:
    source = tmp_path / "model.onnx"
    onnx.save(two_layers(), str(source))
    _quantize(source, tmp_path / "a.onnx")
    _quantize(source, tmp_path / "b.onnx")
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()


def test_a_graph_without_weights_to_quantise_is_an_error(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "no_weights",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "m.onnx"))
    with pytest.raises(ExportError, match="no MatMul by a constant weight"):
        _quantize(tmp_path / "m.onnx", tmp_path / "q.onnx")
    assert not (tmp_path / "q.onnx").exists()
