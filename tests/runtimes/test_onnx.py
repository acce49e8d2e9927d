"""The onnx runtime: real onnxruntime in a bubblewrap-isolated child, canonical outputs, bad models."""

import json
import socket
from pathlib import Path

import pytest

from polkacompute.errors import ConfigError
from polkacompute.runtimes import get_runtime, isolation
from polkacompute.sandbox import Status

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "templates" / "onnx-classifier" / "build" / "model.onnx"


def request(rule: dict, data: list[float] | None = None, shape: list[int] | None = None) -> bytes:
    data = data or [0.0, 0.0, 0.0, 0.0, 3.0, 3.0, 0.0, 1.0]
    return json.dumps({"inputs": {"x": {"dtype": "float32", "shape": shape or [2, 4], "data": data}},
                       "rule": rule}).encode()  # fmt: skip


@pytest.fixture(scope="module")
def onnx():  # type: ignore[no-untyped-def]
    assert MODEL.exists(), "run `make templates` (builds the model)"
    assert isolation.bwrap_available()[0], "bubblewrap is needed (make setup installs it)"
    return get_runtime("onnx")


def run(onnx, program: bytes, data: bytes):  # type: ignore[no-untyped-def]
    return onnx.run(None, program, data, fuel=0, time_s=30, seed=b"")


def test_round_and_topk_rules(onnx) -> None:
    rounded = run(onnx, MODEL.read_bytes(), request({"kind": "round", "digits": 4}))
    assert rounded.ok
    probs = json.loads(rounded.output)["probs"]
    assert probs["shape"] == [2, 3]
    assert all(len(repr(v).replace("0.", "").lstrip("0")) <= 4 for v in probs["data"])
    top = run(onnx, MODEL.read_bytes(), request({"kind": "topk", "output": "probs", "k": 1}))
    assert json.loads(top.output) == {"topk": [[0], [1]]}  # the clusters the model was trained on
    digests = {run(onnx, MODEL.read_bytes(), request({"kind": "round", "digits": 6})).digest for _ in range(3)}
    assert len(digests) == 1


@pytest.mark.parametrize(
    ("program", "data", "error"),
    [(b"this is not an onnx model", request({"kind": "round"}), "InvalidProtobuf"),
     (None, request({"kind": "round"}, [1.0] * 10, [2, 5]), "InvalidArgument"),
     (None, request({"kind": "median"}), "ValueError"),
     (None, b"not json", "JSONDecodeError")],
)  # fmt: skip
def test_bad_models_and_inputs_are_deterministic_errors(onnx, program, data, error) -> None:
    result = run(onnx, program or MODEL.read_bytes(), data)
    assert (result.status, result.exit_code) == (Status.EXITED, 2)
    assert json.loads(result.output)["error"] == error
    assert result.digest == run(onnx, program or MODEL.read_bytes(), data).digest


ATTACKS = """
import os, socket, sys
port = int(sys.stdin.read())
out = []
try:
    socket.create_connection(("127.0.0.1", port), timeout=2); out.append("network: reached")
except OSError as e:
    out.append("network: refused")
for path in ("/usr/evil", sys.prefix + "/evil", "/job/evil", "/evil"):
    try:
        open(path, "w"); out.append("write: " + path)
    except OSError:
        pass
out.append("uid-caps: " + open("/proc/self/status").read().split("CapEff:")[1].split()[0])
print(" | ".join(out))
"""


def test_isolated_child_has_no_network_no_writes_no_capabilities(tmp_path: Path) -> None:
    script = tmp_path / "attack.py"
    script.write_text(ATTACKS)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        child = isolation.run_isolated(script, str(port).encode(), memory_bytes=512 << 20, time_s=20)
    assert child.returncode == 0, child.stderr
    assert child.stdout.decode().strip() == "network: refused | uid-caps: 0000000000000000"


def test_limits_stop_memory_bombs_and_endless_jobs(tmp_path: Path) -> None:
    bomb, loop = tmp_path / "bomb.py", tmp_path / "loop.py"
    bomb.write_text("x = []\nwhile True: x.append(bytearray(50 * 2**20))\n")
    loop.write_text("while True: pass\n")
    memory = isolation.run_isolated(bomb, b"", memory_bytes=256 << 20, time_s=20)
    assert memory.returncode == 1
    assert b"MemoryError" in memory.stderr
    endless = isolation.run_isolated(loop, b"", memory_bytes=256 << 20, time_s=1)
    assert endless.timed_out


def test_refuses_to_run_unisolated_unless_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "hello.py"
    script.write_text("print('ran')")
    monkeypatch.setattr(isolation, "bwrap_available", lambda: (False, "bubblewrap is not installed"))
    monkeypatch.delenv("POLKACOMPUTE_ALLOW_UNISOLATED", raising=False)
    with pytest.raises(ConfigError, match="refusing to run a native job without isolation") as err:
        isolation.run_isolated(script, b"", memory_bytes=256 << 20, time_s=10)
    assert "POLKACOMPUTE_ALLOW_UNISOLATED=1" in str(err.value)
    monkeypatch.setenv("POLKACOMPUTE_ALLOW_UNISOLATED", "1")
    assert isolation.run_isolated(script, b"", memory_bytes=256 << 20, time_s=10).stdout == b"ran\n"
