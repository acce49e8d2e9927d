"""The `wasi` runtime: any wasm32-wasi program (C, C++, Zig, Go, Rust, AssemblyScript...).

The input is the program's stdin; its stdout is the output. argv is `["job"]`, the environment is
empty and no directory is mounted.
"""

from __future__ import annotations

from functools import cached_property

from polkacompute.runtimes.base import Profile, identity_of
from polkacompute.sandbox import RunResult, Sandbox


class WasiRuntime:
    name = "wasi"
    profile = Profile(memory_bytes=256 * 1024 * 1024, output_bytes=1024 * 1024)

    @cached_property
    def identity(self) -> bytes:
        return identity_of(self.name, 1, self.profile)

    def run(self, sandbox: Sandbox, program: bytes, input_data: bytes, *, fuel: int, time_s: float,
            seed: bytes) -> RunResult:  # fmt: skip
        return sandbox.run(
            program, stdin=input_data, argv=("job",), limits=self.profile.limits(fuel, time_s), seed=seed
        )
