"""Write recommender/index/data/int8_products.onnx: the integer product the index scores with.

One ONNX Runtime MatMulInteger node: unsigned 8-bit rows (the index's int8 codes + 128, so its
zero point is 128) times signed 8-bit columns, summed in int32. Committed (a few hundred bytes) so
that a server without the `onnx` package can load it; rerun this script to regenerate it (the test
suite checks the committed file is what this script writes).

    .venv/bin/python scripts/make_products_graph.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

GRAPH = Path(__file__).resolve().parents[1] / "recommender" / "index" / "data" / "int8_products.onnx"


def graph_bytes() -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    node = helper.make_node("MatMulInteger", ["rows", "columns", "zero"], ["products"])
    graph = helper.make_graph(
        [node],
        "int8_products",
        [
            helper.make_tensor_value_info("rows", TensorProto.UINT8, ["n", "dim"]),
            helper.make_tensor_value_info("columns", TensorProto.INT8, ["dim", "k"]),
        ],
        [helper.make_tensor_value_info("products", TensorProto.INT32, ["n", "k"])],
        initializer=[numpy_helper.from_array(np.array(128, np.uint8), "zero")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="dive-deeper")
    model.ir_version = 8
    return model.SerializeToString()


if __name__ == "__main__":
    GRAPH.write_bytes(graph_bytes())
    print(f"{GRAPH}: {GRAPH.stat().st_size} bytes")
