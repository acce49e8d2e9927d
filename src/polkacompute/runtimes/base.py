"""What a runtime is: a named way to run a program on an input, with an identity that pins it.

The identity (32 bytes, the JobSpec's `runtime` field on-chain) is the SHA-256 of everything that
can change a result besides the program and input: the runtime's name and version, the sandbox
engine (wasmtime version and settings), the memory and output limits, and for interpreted runtimes
the interpreter and library bytes. Two workers compute the same result only if they run the same
identity, so a worker bids only on runtime identities it has.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Protocol

from polkacompute.sandbox import ENGINE_FINGERPRINT, Limits, RunResult, Sandbox


@dataclass(frozen=True)
class Profile:
    """The limits a runtime fixes for every job (fuel and time come from the job itself)."""

    memory_bytes: int
    output_bytes: int

    def limits(self, fuel: int, time_s: float) -> Limits:
        return Limits(fuel=fuel, time_s=time_s, memory_bytes=self.memory_bytes, output_bytes=self.output_bytes)


class Runtime(Protocol):
    name: str
    profile: Profile

    @property
    def identity(self) -> bytes: ...

    def run(self, sandbox: Sandbox, program: bytes, input_data: bytes, *, fuel: int, time_s: float,
            seed: bytes) -> RunResult: ...  # fmt: skip


def identity_of(name: str, version: int, profile: Profile, **pins: Any) -> bytes:
    description = {"runtime": name, "version": version, "engine": ENGINE_FINGERPRINT,
                   "memory_bytes": profile.memory_bytes, "output_bytes": profile.output_bytes, **pins}  # fmt: skip
    return hashlib.sha256(json.dumps(description, sort_keys=True, separators=(",", ":")).encode()).digest()


def job_seed(job_id: int) -> bytes:
    """The seed of a job's entropy: every replica of job `job_id` sees the same random bytes."""
    return hashlib.sha256(b"polkacompute/job-seed/v1" + job_id.to_bytes(32, "big")).digest()
