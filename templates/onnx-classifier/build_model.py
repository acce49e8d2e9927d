"""Builds model.onnx from synthetic data, locally (nothing is downloaded).

Data: three Gaussian clusters in 4 dimensions (numpy, fixed seed). Model: a linear classifier fitted
by least squares onto one-hot targets, then softmax, written with the onnx helper API as
Gemm -> Softmax. Weights are rounded to 4 decimals so the bytes do not depend on the BLAS used.

Usage: python build_model.py [OUT]   (default: build/model.onnx)
"""

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def train() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0, 0, 0], [3, 3, 0, 1], [0, 3, 3, -1]], dtype=np.float64)
    x = np.concatenate([c + rng.normal(0, 0.8, size=(200, 4)) for c in centers])
    y = np.repeat(np.arange(3), 200)
    design = np.hstack([x, np.ones((len(x), 1))])
    coef, *_ = np.linalg.lstsq(design, np.eye(3)[y], rcond=None)
    weights = np.round(coef[:4], 4).astype(np.float32)  # [4, 3]
    bias = np.round(coef[4], 4).astype(np.float32)  # [3]
    return weights, bias


def build(out: Path) -> bytes:
    weights, bias = train()
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["x", "W", "b"], ["scores"]),
            helper.make_node("Softmax", ["scores"], ["probs"], axis=-1),
        ],
        "polkacompute-classifier",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 3])],
        initializer=[numpy_helper.from_array(weights, "W"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, producer_name="polkacompute-template", producer_version="1",
                              opset_imports=[helper.make_opsetid("", 17)])  # fmt: skip
    model.ir_version = 8
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return data


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "build" / "model.onnx")
