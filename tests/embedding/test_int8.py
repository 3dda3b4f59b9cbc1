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


def norm_then_gelu(gain: np.ndarray, w1: np.ndarray, w2: np.ndarray) -> onnx.ModelProto:
    """LayerNorm(x) @ W1 -> BiasGelu -> @ W2, the shape of a transformer's feed-forward block."""
    width, hidden = w1.shape
    graph = helper.make_graph(
        [
            helper.make_node("LayerNormalization", ["x", "gain", "bias"], ["n"], axis=-1),
            helper.make_node("MatMul", ["n", "w1"], ["h"]),
            helper.make_node("BiasGelu", ["h", "b1"], ["g"], domain="com.microsoft"),
            helper.make_node("MatMul", ["g", "w2"], ["y"]),
        ],
        "feed_forward",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "tokens", width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "tokens", w2.shape[1]])],
        [
            numpy_helper.from_array(gain, "gain"),
            numpy_helper.from_array(np.zeros(width, np.float32), "bias"),
            numpy_helper.from_array(w1, "w1"),
            numpy_helper.from_array(np.zeros(hidden, np.float32), "b1"),
            numpy_helper.from_array(w2, "w2"),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])


def test_loud_layer_norm_columns_are_multiplied_in_fp32_and_gelu_inputs_use_the_whole_uint8_range() -> None:
    from recommender.embedding.int8 import OUTLIERS

    rng = np.random.default_rng(11)
    width = 32
    gain = np.ones(width, np.float32)
    loud = [3, 17, 20, 29]
    gain[loud] = 40.0  # as in BERT: a few LayerNorm outputs are always far larger than the rest
    w1 = (rng.standard_normal((width, 48)) / np.sqrt(width)).astype(np.float32)
    w2 = (rng.standard_normal((48, 8)) / np.sqrt(48)).astype(np.float32)
    model = norm_then_gelu(gain, w1, w2)
    exact = run(model, x := rng.standard_normal((4, 9, width)).astype(np.float32))
    assert quantize_rows(model) == 2
    kept = {tuple(numpy_helper.to_array(i)) for i in model.graph.initializer if i.name.endswith("/outliers")}
    assert kept == {tuple(sorted(loud))} and len(loud) == OUTLIERS
    assert any(n.op_type == "QuantizeLinear" and n.input[2].endswith("/zero") for n in model.graph.node)  # GELU: uint8, no sign
    quantised = run(model, x)
    plain = norm_then_gelu(gain, w1, w2)
    with pytest.MonkeyPatch.context() as patch:  # the same graph with neither treatment: every row symmetric
        import recommender.embedding.int8 as int8

        patch.setattr(int8, "_LAYER_NORMS", {})
        patch.setattr(int8, "_GELUS", set())
        quantize_rows(plain)
    error, plain_error = np.abs(quantised - exact).mean(), np.abs(run(plain, x) - exact).mean()
    assert error < 0.7 * plain_error, (error, plain_error)  # about half, over seeds
    alone = np.concatenate([run(model, x[i : i + 1]) for i in range(len(x))])
    assert np.array_equal(quantised, alone)  # still a function of each row alone
