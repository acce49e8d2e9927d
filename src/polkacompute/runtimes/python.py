"""The `python` runtime: a Python script run by CPython 3.11 inside the same wasm sandbox.

A job's program is the script's source; its input is stdin. Two styles:
- a plain script reads `sys.stdin` and prints its output;
- a function decorated with `@polkacompute.job` receives the input parsed as JSON (None if empty)
  and returns a JSON-serializable value, printed as canonical JSON (sorted keys, no spaces).
The same file runs on the host (the decorator is then a no-op marker) for local testing.

Inside the sandbox only the standard library exists (mounted read-only); there is no network,
filesystem, real clock or entropy (see `polkacompute.sandbox`).
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path

from polkacompute.decorators import job
from polkacompute.runtimes.base import Profile, identity_of
from polkacompute.runtimes.python_bundle import GUEST_PREFIX, GUEST_STDLIB, PythonBundle
from polkacompute.sandbox import Mount, RunResult, Sandbox, Status

# Runs first in the guest: provides `polkacompute.job`, runs the script (passed as argv[1]) as
# __main__, then calls the decorated function, if any, on the JSON input. `json` is imported only
# then: it pulls in `re` and friends, which would double the start-up cost of every plain script.
BOOTSTRAP = """\
import sys
def job(fn):
    job.fn = fn
    return fn
job.fn = None
_pc = type(sys)("polkacompute")
_pc.job = job
sys.modules["polkacompute"] = _pc
_source = sys.argv[1]
sys.argv = ["job.py"]
exec(compile(_source, "job.py", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
if job.fn is not None:
    import json
    _raw = sys.stdin.buffer.read()
    _value = job.fn(json.loads(_raw) if _raw.strip() else None)
    sys.stdout.write(json.dumps(_value, sort_keys=True, separators=(",", ":"), allow_nan=False))
"""


__all__ = ["BOOTSTRAP", "PythonRuntime", "job"]


class PythonRuntime:
    name = "python"
    profile = Profile(memory_bytes=512 * 1024 * 1024, output_bytes=1024 * 1024)

    def __init__(self, bundle: PythonBundle | None = None) -> None:
        self.bundle = bundle or PythonBundle()
        self._interpreter: bytes | None = None
        self._interpreter_digest = b""

    @cached_property
    def identity(self) -> bytes:
        manifest = self.bundle.manifest()
        return identity_of(self.name, 1, self.profile, interpreter=manifest["interpreter_sha256"],
                           stdlib=manifest["stdlib_tree_sha256"],
                           bootstrap=hashlib.sha256(BOOTSTRAP.encode()).hexdigest())  # fmt: skip

    def run(self, sandbox: Sandbox, program: bytes, input_data: bytes, *, fuel: int, time_s: float,
            seed: bytes) -> RunResult:  # fmt: skip
        try:
            source = program.decode()
        except UnicodeDecodeError:
            return RunResult(Status.REJECTED, detail="invalid_program: a Python job must be UTF-8 source")
        if self._interpreter is None:
            manifest = self.bundle.manifest()  # a clear error if not installed
            self._interpreter = Path(self.bundle.interpreter).read_bytes()
            self._interpreter_digest = bytes.fromhex(manifest["interpreter_sha256"])
        # -S: no site (no site-packages exist); -s: no user site; -B: never write bytecode.
        argv = ("python", "-S", "-s", "-B", "-c", BOOTSTRAP, source)
        return sandbox.run(self._interpreter, stdin=input_data, argv=argv, env=[("PYTHONHOME", GUEST_PREFIX)],
                           mounts=[Mount(self.bundle.stdlib, GUEST_STDLIB)], limits=self.profile.limits(fuel, time_s),
                           seed=seed, program_digest=self._interpreter_digest)  # fmt: skip
