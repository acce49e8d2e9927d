"""The deterministic wasmtime engine: one configuration, fingerprinted, with a wall-clock backstop.

Replicas must get bit-identical results, so everything that can change a result is fixed here and
named in `ENGINE_FINGERPRINT`: the wasmtime version, every setting below, and the revision of the
sandbox's own side (`SANDBOX_REVISION`: its WASI shims and how a run's end becomes a result). Every
runtime identity includes the fingerprint, so workers that would attest differently do not meet on
one job. Fuel metering is the deterministic budget; epoch interruption only stops runaway jobs by
wall clock, and a job stopped that way has no canonical result (another machine might have finished
it).
"""

from __future__ import annotations

import hashlib
import json
import threading
from importlib.metadata import version

import wasmtime

WASMTIME_VERSION = version("wasmtime")
EPOCH_TICK_S = 0.01  # epoch granularity: timeouts are accurate to about this

# Every setting that can change what a module computes, or whether a precompiled module is valid.
SETTINGS: dict[str, object] = {
    "consume_fuel": True,  # deterministic instruction budget (the job's fuel limit)
    "epoch_interruption": True,  # wall-clock stop, a safety net only
    "cranelift_nan_canonicalization": True,  # NaN bit patterns would otherwise differ by CPU
    "wasm_threads": False,  # no shared-memory concurrency
    "shared_memory": False,
    "wasm_relaxed_simd": False,  # relaxed SIMD results are platform-defined
    "wasm_simd": True,  # plain SIMD is deterministic once NaNs are canonical
    "cranelift_opt_level": "speed",
    "parallel_compilation": False,  # compile on the calling thread (predictable CPU use in workers)
    "max_wasm_stack": 1 << 20,  # the stack-overflow point is part of the result
}

# The sandbox's own behaviour (wasi.py, runner.py): bump it whenever some program's result changes.
#   1: the first release
#   2: a WASI call refused by trapping names its errno and the call (`host_error: EFAULT (fd_write)`,
#      was a bare `host_error`); the shadowed calls check guest pointers (a bad one raised out of the
#      run, or a negative one was read from the end of memory) and bound their work per call
SANDBOX_REVISION = 2

ENGINE_FINGERPRINT = hashlib.sha256(
    json.dumps({"wasmtime": WASMTIME_VERSION, "sandbox": SANDBOX_REVISION, **SETTINGS}, sort_keys=True).encode()
).hexdigest()


def deterministic_config() -> wasmtime.Config:
    config = wasmtime.Config()
    for name, value in SETTINGS.items():
        setattr(config, name, value)  # wasmtime.Config attributes are write-only setters
    return config


class EpochTicker:
    """Advances an engine's epoch every EPOCH_TICK_S from a daemon thread; deadlines are in ticks."""

    def __init__(self, engine: wasmtime.Engine) -> None:
        self._engine = engine
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wasmtime-epoch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(EPOCH_TICK_S):
            self._engine.increment_epoch()

    @staticmethod
    def ticks(seconds: float) -> int:
        return max(1, int(seconds / EPOCH_TICK_S) + 1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
