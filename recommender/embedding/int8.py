"""Row-wise int8 quantisation of an exported encoder (export time only: needs `onnx`, never torch).

Every MatMul by a constant weight matrix becomes an int8 matrix product (MatMulInteger's u8 x s8 kernels,
VNNI where the CPU has it) on:

- weights quantised per output column (symmetric, scale = max |column| / 127), once, at export;
- activations quantised per row, i.e. per token, when the model runs (symmetric, scale = max |row| / 127,
  stored as uint8 around a zero point of 128).

A token's scale comes from that token alone, so a text's vector never depends on the other texts of
its batch or on their padding: batches stay reproducible without the one-text-per-run rule that
dynamic quantisation (one scale for the whole input tensor) needed, and without a calibration set
(static quantisation's fixed scales lost more: cosine to torch ~0.93 on this model against ~0.999).
Everything else (attention, LayerNorm, GELU, pooling) stays fp32. The rewrite is a pure function of
the fp32 graph, so the same export gives the same bytes.

Two inputs are handled apart, because a per-row scale is set by the row's largest value and these
rows have a few large ones that cost every other value its precision:

- **After a LayerNorm** (the feed-forward block's first product), a few columns are always large:
  those whose LayerNorm gain and bias are largest (a BERT trait, read from the weights, no
  calibration). The OUTLIERS largest are multiplied in fp32 (a product with OUTLIERS rows) and left
  out of the int8 one, which then scales by the ordinary values.
- **After GELU** (its second product), values lie in [-0.17, max): a symmetric int8 wastes half of
  its range on negatives that never go below -0.17. The input is shifted by GELU_FLOOR to be
  non-negative and quantised on 0..255 with zero point 0 (twice the resolution); the shift's product
  with the weights is a constant row, subtracted after.

With both (variant `int8row2`), MAP@5 on checkthat2020 dev equals torch's to three decimals, where the
plain row-wise scheme (`int8row`) lost 0.005 (docs/performance.md, "Default encoder backend"),
at about the same speed (docs/performance.md, "Encoder backends").
"""

from __future__ import annotations

from typing import Any

import numpy as np

ZERO_POINT = 128  # symmetric activations: int8 values -127..127 stored as uint8 1..255
OUTLIERS = 4  # columns after a LayerNorm multiplied in fp32
GELU_FLOOR = 0.17  # GELU(x) >= -0.16997 (its minimum), so x + GELU_FLOOR >= 0
_CONSTANTS = "rowint8"
_LAYER_NORMS = {"SkipLayerNormalization": (2, 3), "LayerNormalization": (1, 2)}  # op -> inputs (gain, bias)
_GELUS = {"BiasGelu", "Gelu", "FastGelu"}


def quantize_rows(model: Any) -> int:
    """Rewrite `model` (an onnx.ModelProto) in place; returns how many MatMuls were quantised."""
    from onnx import helper, numpy_helper

    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    producers = {output: node for node in graph.node for output in node.output}
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    c = {n: f"{_CONSTANTS}/{n}" for n in ("one", "zero_point", "zero", "eps", "limit", "full", "floor", "axes")}

    def row_max(source: str, target: str) -> Any:
        if opset < 18:
            return helper.make_node("ReduceMax", [source], [target], axes=[-1], keepdims=1)
        return helper.make_node("ReduceMax", [source, c["axes"]], [target], keepdims=1)

    nodes: list[Any] = []
    count = 0
    for node in graph.node:
        weight = weights.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if weight is None or len(weight.dims) != 2:
            nodes.append(node)
            continue
        count += 1
        p = f"{_CONSTANTS}/{count}"
        matrix = numpy_helper.to_array(weight).astype(np.float32)
        x = node.input[0]
        producer = producers.get(x)
        after: list[tuple[str, str]] = []  # (op, constant or tensor) applied to the product, in order
        outliers = _outlier_columns(producer, weights, numpy_helper, matrix.shape[0])
        if outliers is not None:
            keep = np.ones(matrix.shape[0], np.float32)
            keep[outliers] = 0
            graph.initializer.extend(
                [
                    numpy_helper.from_array(outliers, f"{p}/outliers"),
                    numpy_helper.from_array(matrix[outliers], f"{p}/outlier_weight"),
                    numpy_helper.from_array(keep, f"{p}/keep"),
                ]
            )
            nodes += [
                helper.make_node("Gather", [x, f"{p}/outliers"], [f"{p}/outlier_input"], axis=-1),
                helper.make_node("MatMul", [f"{p}/outlier_input", f"{p}/outlier_weight"], [f"{p}/outlier_product"]),
                helper.make_node("Mul", [x, f"{p}/keep"], [f"{p}/kept"]),
            ]
            matrix = matrix * keep[:, None]
            x = f"{p}/kept"
            after.append(("Add", f"{p}/outlier_product"))
        column_scale = (np.maximum(np.abs(matrix).max(axis=0), 1e-12) / 127.0).astype(np.float32)
        quantised = np.clip(np.rint(matrix / column_scale), -127, 127).astype(np.int8)
        graph.initializer.extend(
            [numpy_helper.from_array(quantised, f"{p}/weight"), numpy_helper.from_array(column_scale, f"{p}/scale")]
        )
        if producer is not None and producer.op_type in _GELUS:
            # The shift's product with the (quantised) weights, as the int8 product sees them.
            shift = (GELU_FLOOR * (quantised.astype(np.float64) * column_scale).sum(axis=0)).astype(np.float32)
            graph.initializer.append(numpy_helper.from_array(shift, f"{p}/shift"))
            nodes += [
                helper.make_node("Add", [x, c["floor"]], [f"{p}/shifted"]),
                row_max(f"{p}/shifted", f"{p}/max"),
                helper.make_node("Max", [f"{p}/max", c["eps"]], [f"{p}/max_safe"]),
                helper.make_node("Div", [c["full"], f"{p}/max_safe"], [f"{p}/inverse_scale"]),  # 255 / max row
            ]
            x, zero_point = f"{p}/shifted", c["zero"]
            after.insert(0, ("Sub", f"{p}/shift"))
        else:
            nodes += [
                helper.make_node("Abs", [x], [f"{p}/abs"]),
                row_max(f"{p}/abs", f"{p}/max"),
                helper.make_node("Max", [f"{p}/max", c["eps"]], [f"{p}/max_safe"]),
                helper.make_node("Div", [c["limit"], f"{p}/max_safe"], [f"{p}/inverse_scale"]),  # 127 / max |row|
            ]
            zero_point = c["zero_point"]
        nodes += [
            helper.make_node("Mul", [x, f"{p}/inverse_scale"], [f"{p}/scaled"]),
            # scale 1: rounds, saturates and adds the zero point in one kernel
            helper.make_node("QuantizeLinear", [f"{p}/scaled", c["one"], zero_point], [f"{p}/quantised"]),
            helper.make_node(
                "MatMulIntegerToFloat",
                [f"{p}/quantised", f"{p}/weight", c["one"], f"{p}/scale", zero_point],
                [f"{p}/product"],
                domain="com.microsoft",
            ),
        ]
        steps = [("Div", f"{p}/inverse_scale"), *after]
        current = f"{p}/product"
        for n, (op, operand) in enumerate(steps):
            result = node.output[0] if n == len(steps) - 1 else f"{p}/step{n}"
            nodes.append(helper.make_node(op, [current, operand], [result]))
            current = result
    if not count:
        return 0
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array(1.0, np.float32), c["one"]),
            numpy_helper.from_array(np.array(ZERO_POINT, np.uint8), c["zero_point"]),
            numpy_helper.from_array(np.array(0, np.uint8), c["zero"]),
            numpy_helper.from_array(np.array(1e-12, np.float32), c["eps"]),
            numpy_helper.from_array(np.array(127.0, np.float32), c["limit"]),
            numpy_helper.from_array(np.array(255.0, np.float32), c["full"]),
            numpy_helper.from_array(np.array(GELU_FLOOR, np.float32), c["floor"]),
            numpy_helper.from_array(np.array([-1], np.int64), c["axes"]),
        ]
    )
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in graph.node for name in node.input}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return count


def _outlier_columns(producer: Any, weights: dict[str, Any], numpy_helper: Any, width: int) -> np.ndarray | None:
    """The OUTLIERS input columns of largest |gain| + |bias| when `producer` is a LayerNorm whose gain
    and bias are constants of this width (ascending, int64), else None."""
    if producer is None or producer.op_type not in _LAYER_NORMS or width <= OUTLIERS:
        return None
    gain_at, bias_at = _LAYER_NORMS[producer.op_type]
    if len(producer.input) <= gain_at or producer.input[gain_at] not in weights:
        return None
    gain = numpy_helper.to_array(weights[producer.input[gain_at]]).astype(np.float32)
    bias_name = producer.input[bias_at] if len(producer.input) > bias_at else ""
    bias = numpy_helper.to_array(weights[bias_name]).astype(np.float32) if bias_name in weights else np.zeros_like(gain)
    if gain.shape != (width,) or bias.shape != (width,):
        return None
    size = np.abs(gain) + np.abs(bias)
    return np.sort(np.argsort(-size, kind="stable")[:OUTLIERS]).astype(np.int64)
