"""Every job template: 20 runs here and one in each of two other processes give one digest, the
pinned one; and the built program is the pinned bytes (reproducible builds)."""

import hashlib
import importlib.util
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from polkacompute.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted(p.parent.name for p in (ROOT / "templates").glob("*/template.json"))


def _builder():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("template_build", ROOT / "templates" / "build.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def digest_in_this_process(name: str) -> str:
    """Runs template `name` once in a fresh sandbox (called in spawned processes too)."""
    with Sandbox() as sandbox:
        result = _builder().run(ROOT / "templates" / name, sandbox)
    return "0x" + result.digest.hex()


def test_there_are_at_least_five_templates() -> None:
    assert len(TEMPLATES) >= 5
    runtimes = {json.loads((ROOT / "templates" / t / "template.json").read_text())["runtime"] for t in TEMPLATES}
    assert runtimes == {"wasi", "python", "onnx"}


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_is_deterministic_and_pinned(name: str, python_runtime) -> None:
    directory = ROOT / "templates" / name
    spec = json.loads((directory / "template.json").read_text())
    program = directory / spec["program"]
    assert program.exists(), f"{program} is missing: run `make templates`"
    assert hashlib.sha256(program.read_bytes()).hexdigest() == spec["program_sha256"]
    builder = _builder()
    with Sandbox() as sandbox:
        results = [builder.run(directory, sandbox) for _ in range(20)]
    assert results[0].ok, results[0].stderr[-500:]
    assert {"0x" + r.digest.hex() for r in results} == {spec["expected_result_digest"]}
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        elsewhere = list(pool.map(digest_in_this_process, [name, name]))
    assert elsewhere == [spec["expected_result_digest"]] * 2
