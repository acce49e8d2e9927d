"""The `onnx` runtime: AI inference with onnxruntime on an ONNX model and an input tensor.

Program: the model bytes. Input: JSON `{"inputs": {name: {"dtype", "shape", "data"}}, "rule": ...}`,
where the rule says how the output becomes canonical (it is part of the input, so of the job):
- `{"kind": "round", "digits": k}`: every float rounded to k significant digits (-0.0 -> 0.0);
- `{"kind": "topk", "output": name, "k": k}`: only the indices of the k best classes per row.

Trust model, honestly: onnxruntime is native code, so the job runs in a separate process isolated by
bubblewrap (no network, read-only filesystem, no capabilities; memory and time limits), not in wasm;
there is no fuel metering (fuel_used is 0 and the time limit is the only budget). onnxruntime is
pinned, runs on one thread with graph optimizations off, and gives bit-identical outputs run to run
on one machine. Across machines its kernels are chosen by CPU instruction set (MLAS: AVX2, AVX-512,
FMA...), so raw floats may differ in the last bits; the runtime identity names the CPU class, so
replicas are matched within a class, and the rounding rule absorbs most last-bit differences. What
can still disagree: a value sitting exactly at a rounding boundary, and top-k ties broken by
different low bits. Use "topk" for the most robust agreement.
"""

from __future__ import annotations

import json
import platform
from functools import cached_property
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from polkacompute.errors import ConfigError
from polkacompute.runtimes.base import Profile, identity_of
from polkacompute.runtimes.isolation import run_isolated
from polkacompute.sandbox import RunResult, Sandbox, Status

CHILD = Path(__file__).with_name("onnx_child.py")
# Instruction-set extensions that change which onnxruntime (MLAS) kernels run.
_ISA_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vnni", "avx_vnni", "amx_tile", "neon", "asimd")


def cpu_class() -> str:
    """The machine and the kernel-relevant ISA flags, e.g. `x86_64:avx,avx2,fma`."""
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return f"{platform.machine()}:{','.join(f for f in _ISA_FLAGS if f in flags)}"


class OnnxRuntime:
    name = "onnx"
    profile = Profile(memory_bytes=1024 * 1024 * 1024, output_bytes=1024 * 1024)

    @cached_property
    def identity(self) -> bytes:
        try:
            ort, numpy = version("onnxruntime"), version("numpy")
        except PackageNotFoundError:
            raise ConfigError("the onnx runtime needs onnxruntime", hint="pip install 'polkacompute[onnx]'") from None
        import hashlib

        child = hashlib.sha256(CHILD.read_bytes()).hexdigest()
        return identity_of(self.name, 1, self.profile, onnxruntime=ort, numpy=numpy, child=child, cpu=cpu_class())

    def run(self, sandbox: Sandbox, program: bytes, input_data: bytes, *, fuel: int, time_s: float,
            seed: bytes) -> RunResult:  # fmt: skip
        """`sandbox`, `fuel` and `seed` are unused: inference is native and has no entropy."""
        del sandbox, fuel, seed
        self.identity  # noqa: B018 (a clear error when onnxruntime is missing)
        stdin = len(program).to_bytes(8, "big") + program + input_data
        child = run_isolated(CHILD, stdin, memory_bytes=self.profile.memory_bytes, time_s=time_s)
        if child.timed_out:
            return RunResult(Status.TIMEOUT, detail=f"inference took more than {time_s:g}s", stderr=child.stderr)
        if child.returncode in (0, 2) and _is_json(child.stdout):
            if len(child.stdout) > self.profile.output_bytes:
                return RunResult(Status.OUTPUT_LIMIT, child.stdout[: self.profile.output_bytes])
            return RunResult(Status.EXITED, child.stdout, child.returncode, 0, "", child.stderr)
        # Killed by a limit or crashed: the process's own exit status is the (best-effort) result.
        return RunResult(Status.TRAP, b"", 0, 0, f"child_failed: exit {child.returncode}", child.stderr)


def _is_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True
