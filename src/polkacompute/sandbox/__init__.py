"""The deterministic execution layer: wasm32-wasi programs on wasmtime with fuel, memory and output
limits, no host leaks (clock, entropy, filesystem, network), and one canonical result encoding.

    sandbox = Sandbox(cache_dir)
    result = sandbox.run(wasm_bytes, stdin=data, limits=Limits(fuel=10**9), seed=job_seed)
    result.digest   # the resultDigest replicas agree on
"""

from polkacompute.sandbox.engine import ENGINE_FINGERPRINT, WASMTIME_VERSION
from polkacompute.sandbox.pool import SandboxPool
from polkacompute.sandbox.result import NotCanonical, RunResult, Status
from polkacompute.sandbox.runner import Limits, Mount, Sandbox

__all__ = [
    "ENGINE_FINGERPRINT",
    "WASMTIME_VERSION",
    "Limits",
    "Mount",
    "NotCanonical",
    "RunResult",
    "Sandbox",
    "SandboxPool",
    "Status",
]
