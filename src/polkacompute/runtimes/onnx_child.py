"""The ONNX inference child: runs isolated (bubblewrap) with only the interpreter, numpy and
onnxruntime. It imports nothing from polkacompute, so it starts fast and trusts nothing.

stdin:  8-byte big-endian model length, the model bytes, then the request JSON:
        {"inputs": {name: {"dtype": "float32", "shape": [..], "data": [..]}},
         "rule": {"kind": "round", "digits": 6} | {"kind": "topk", "output": name, "k": 3}}
stdout: one line of canonical JSON (sorted keys, no spaces); exit 0.
        On bad input: {"error": ExceptionClass, "message": first line}, exit 2 (deterministic too).
"""

import json
import os
import sys
from typing import Any

os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # else the import writes ~/.cache/Microsoft (deviceid, sqlite)

import numpy as np
import onnxruntime as ort

DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "int32": np.int32}


def session(model: bytes) -> ort.InferenceSession:
    """One thread, sequential, no graph rewrites: results then depend only on the model's own nodes
    (and on the CPU's instruction set, which the runtime identity names)."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.use_deterministic_compute = True
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    return ort.InferenceSession(model, sess_options=so, providers=["CPUExecutionProvider"])


def rounded(value: float, digits: int) -> object:
    if value != value or value in (float("inf"), float("-inf")):
        return repr(value)  # JSON has no NaN/Inf
    r = float(f"{value:.{digits}g}")
    return 0.0 if r == 0 else r  # -0.0 and 0.0 agree


def canonical(outputs: dict[str, Any], rule: dict[str, Any]) -> dict[str, Any]:
    kind = rule.get("kind")
    if kind == "round":
        digits = int(rule.get("digits", 6))
        if not 1 <= digits <= 9:
            raise ValueError("round.digits must be 1..9")
        return {name: {"dtype": str(a.dtype), "shape": list(a.shape),
                       "data": [rounded(v, digits) if a.dtype.kind == "f" else v for v in a.ravel().tolist()]}
                for name, a in outputs.items()}  # fmt: skip
    if kind == "topk":
        scores = outputs[rule["output"]]
        k = int(rule.get("k", 1))
        if scores.ndim != 2 or not 1 <= k <= scores.shape[1]:
            raise ValueError("topk needs a [batch, classes] output and 1 <= k <= classes")
        # Stable order: by score descending, ties by class index ascending.
        return {"topk": [_top(row, k) for row in scores.tolist()]}
    raise ValueError("rule.kind must be 'round' or 'topk'")


def _top(row: list[float], k: int) -> list[int]:
    return sorted(range(len(row)), key=lambda i: (-row[i], i))[:k]


def main() -> int:
    raw = sys.stdin.buffer.read()
    try:
        size = int.from_bytes(raw[:8], "big")
        model, request = raw[8 : 8 + size], json.loads(raw[8 + size :])
        sess = session(model)
        feeds = {}
        for item in sess.get_inputs():
            spec = request["inputs"][item.name]
            feeds[item.name] = np.asarray(spec["data"], dtype=DTYPES[spec["dtype"]]).reshape(spec["shape"])
        names = [o.name for o in sess.get_outputs()]
        reply, code = canonical(dict(zip(names, sess.run(names, feeds), strict=True)), request.get("rule", {})), 0
    except Exception as exc:  # every failure is a (deterministic) result, not a crash
        reply, code = {"error": type(exc).__name__, "message": str(exc).strip().splitlines()[0][:300]}, 2
    sys.stdout.write(json.dumps(reply, sort_keys=True, separators=(",", ":"), allow_nan=False))
    return code


if __name__ == "__main__":
    sys.exit(main())
