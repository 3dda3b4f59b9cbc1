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
"""

from __future__ import annotations

from typing import Any

import numpy as np

ZERO_POINT = 128  # activations: int8 values -127..127 stored as uint8 1..255
_CONSTANTS = "rowint8"


def quantize_rows(model: Any) -> int:
    """Rewrite `model` (an onnx.ModelProto) in place; returns how many MatMuls were quantised."""
    from onnx import helper, numpy_helper

    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    one, zero_point, eps, limit, axes = (f"{_CONSTANTS}/{n}" for n in ("one", "zero_point", "eps", "limit", "axes"))
    nodes: list[Any] = []
    count = 0
    for node in graph.node:
        weight = weights.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if weight is None or len(weight.dims) != 2:
            nodes.append(node)
            continue
        count += 1
        matrix = numpy_helper.to_array(weight).astype(np.float32)
        column_scale = (np.maximum(np.abs(matrix).max(axis=0), 1e-12) / 127.0).astype(np.float32)
        quantised = np.clip(np.rint(matrix / column_scale), -127, 127).astype(np.int8)
        p = f"{_CONSTANTS}/{count}"
        graph.initializer.extend(
            [numpy_helper.from_array(quantised, f"{p}/weight"), numpy_helper.from_array(column_scale, f"{p}/scale")]
        )
        x = node.input[0]
        row_max = (
            helper.make_node("ReduceMax", [f"{p}/abs"], [f"{p}/max"], axes=[-1], keepdims=1)
            if opset < 18
            else helper.make_node("ReduceMax", [f"{p}/abs", axes], [f"{p}/max"], keepdims=1)
        )
        nodes += [
            helper.make_node("Abs", [x], [f"{p}/abs"]),
            row_max,
            helper.make_node("Max", [f"{p}/max", eps], [f"{p}/max_safe"]),
            helper.make_node("Div", [limit, f"{p}/max_safe"], [f"{p}/inverse_scale"]),  # 127 / max |row|
            helper.make_node("Mul", [x, f"{p}/inverse_scale"], [f"{p}/scaled"]),
            # scale 1: rounds, saturates and adds the zero point in one kernel
            helper.make_node("QuantizeLinear", [f"{p}/scaled", one, zero_point], [f"{p}/quantised"]),
            helper.make_node(
                "MatMulIntegerToFloat",
                [f"{p}/quantised", f"{p}/weight", one, f"{p}/scale", zero_point],
                [f"{p}/product"],
                domain="com.microsoft",
            ),
            helper.make_node("Div", [f"{p}/product", f"{p}/inverse_scale"], [node.output[0]]),
        ]
    if not count:
        return 0
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array(1.0, np.float32), one),
            numpy_helper.from_array(np.array(ZERO_POINT, np.uint8), zero_point),
            numpy_helper.from_array(np.array(1e-12, np.float32), eps),
            numpy_helper.from_array(np.array(127.0, np.float32), limit),
            numpy_helper.from_array(np.array([-1], np.int64), axes),
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
