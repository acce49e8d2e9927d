"""Deterministic replacements for the WASI calls that would leak the host into a job's result.

wasmtime's WASI gives a guest the real clock and real entropy, and writes its output wherever it is
pointed. Here the linker's WASI imports are shadowed so that:
- clocks read a virtual time that starts at a fixed instant and advances 1 µs per read, and sleeping
  (`poll_oneoff` on a clock) advances it instead of waiting;
- `random_get` returns a SHA-256 counter stream of the job's seed (so CPython's hash seed and
  `random` are deterministic too);
- `fd_write` on stdout/stderr is captured in memory with a hard cap: stdout past the cap stops the job
  (`OutputLimitExceeded`, deterministic: the same bytes are kept on every replica), stderr past its
  cap is dropped. Writes to any other descriptor fail with EBADF: jobs have no writable filesystem.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable

import wasmtime

MODULE = "wasi_snapshot_preview1"
ESUCCESS, EBADF, EINVAL = 0, 8, 28
REALTIME_BASE_NS = 1_700_000_000 * 10**9  # the instant every job starts at (2023-11-14T22:13:20Z)
CLOCK_STEP_NS = 1_000  # each clock read advances virtual time by 1 µs (so loops on time terminate)
STDERR_CAP = 64 * 1024
_SUBSCRIPTION, _EVENT = 48, 32  # WASI preview1 struct sizes
_CLOCK_IDS = (0, 1, 2, 3)  # realtime, monotonic, process cputime, thread cputime


class OutputLimitExceeded(Exception):
    """Raised inside the guest's fd_write: the job wrote more stdout than its cap."""


class JobIO:
    """Per-run state behind the shadowed calls: virtual clock, seeded entropy, captured output."""

    def __init__(self, seed: bytes, output_cap: int) -> None:
        self.clock_ns = 0
        self._seed = seed
        self._counter = 0
        self._pool = b""
        self.output_cap = output_cap
        self.stdout = bytearray()
        self.stderr = bytearray()

    def entropy(self, n: int) -> bytes:
        while len(self._pool) < n:
            self._pool += hashlib.sha256(self._seed + self._counter.to_bytes(8, "little")).digest()
            self._counter += 1
        out, self._pool = self._pool[:n], self._pool[n:]
        return out

    def now(self, clock_id: int) -> int:
        self.clock_ns += CLOCK_STEP_NS
        return self.clock_ns + (REALTIME_BASE_NS if clock_id == 0 else 0)


def shadow_wasi(linker: wasmtime.Linker, current: Callable[[], JobIO], *, capture_output: bool = True) -> None:
    """Defines the deterministic calls over `linker`'s WASI (call after `linker.define_wasi()`).

    `current()` returns the JobIO of the run in progress (one run at a time per linker). Without
    `capture_output`, fd_write keeps wasmtime's own (file writes allowed, output not captured): only
    for trusted set-up runs such as compiling a runtime's library, never for jobs.
    """
    linker.allow_shadowing = True
    i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()

    def memory(caller: wasmtime.Caller) -> wasmtime.Memory:
        mem = caller["memory"]
        assert isinstance(mem, wasmtime.Memory)
        return mem

    def clock_time_get(caller: wasmtime.Caller, clock_id: int, _precision: int, out: int) -> int:
        if clock_id not in _CLOCK_IDS:
            return EINVAL
        memory(caller).write(caller, struct.pack("<Q", current().now(clock_id)), out)
        return ESUCCESS

    def clock_res_get(caller: wasmtime.Caller, clock_id: int, out: int) -> int:
        if clock_id not in _CLOCK_IDS:
            return EINVAL
        memory(caller).write(caller, struct.pack("<Q", CLOCK_STEP_NS), out)
        return ESUCCESS

    def random_get(caller: wasmtime.Caller, buf: int, length: int) -> int:
        memory(caller).write(caller, current().entropy(length), buf)
        return ESUCCESS

    def sched_yield() -> int:
        return ESUCCESS

    def poll_oneoff(caller: wasmtime.Caller, subs: int, events: int, count: int, nevents: int) -> int:
        """Every subscription fires at once; a clock subscription advances the virtual clock."""
        if count == 0:
            return EINVAL
        io, mem = current(), memory(caller)
        raw = mem.read(caller, subs, subs + _SUBSCRIPTION * count)
        out = bytearray()
        for i in range(count):
            userdata, tag = struct.unpack_from("<QB", raw, _SUBSCRIPTION * i)
            if tag == 0:  # clock: id u32 @16, timeout u64 @24, precision u64 @32, flags u16 @40
                clock_id, timeout, _, flags = struct.unpack_from("<I4xQQH", raw, _SUBSCRIPTION * i + 16)
                if flags & 1:  # absolute deadline
                    base = REALTIME_BASE_NS if clock_id == 0 else 0
                    io.clock_ns = max(io.clock_ns, timeout - base)
                else:
                    io.clock_ns += timeout
                out += struct.pack("<QHB5x16x", userdata, ESUCCESS, tag)
            else:  # fd readiness: report ready with 0 bytes (stdin is a file, never blocks)
                out += struct.pack("<QHB5xQH6x", userdata, ESUCCESS, tag, 0, 0)
        mem.write(caller, bytes(out), events)
        mem.write(caller, struct.pack("<I", count), nevents)
        return ESUCCESS

    def fd_write(caller: wasmtime.Caller, fd: int, iovs: int, iovs_len: int, nwritten: int) -> int:
        if fd not in (1, 2):
            return EBADF
        io, mem = current(), memory(caller)
        raw = mem.read(caller, iovs, iovs + 8 * iovs_len)
        sink, cap = (io.stdout, io.output_cap) if fd == 1 else (io.stderr, STDERR_CAP)
        written = 0
        for i in range(iovs_len):
            ptr, length = struct.unpack_from("<II", raw, 8 * i)
            room = cap - len(sink)
            if length > room:
                sink += mem.read(caller, ptr, ptr + max(room, 0))
                if fd == 1:
                    raise OutputLimitExceeded(f"the job wrote more than {cap} bytes of output")
                # stderr is diagnostics: drop the excess but report it written, so the guest carries on
            else:
                sink += mem.read(caller, ptr, ptr + length)
            written += length
        mem.write(caller, struct.pack("<I", written), nwritten)
        return ESUCCESS

    func = wasmtime.FuncType
    linker.define_func(MODULE, "clock_time_get", func([i32, i64, i32], [i32]), clock_time_get, access_caller=True)
    linker.define_func(MODULE, "clock_res_get", func([i32, i32], [i32]), clock_res_get, access_caller=True)
    linker.define_func(MODULE, "random_get", func([i32, i32], [i32]), random_get, access_caller=True)
    linker.define_func(MODULE, "sched_yield", func([], [i32]), sched_yield)
    linker.define_func(MODULE, "poll_oneoff", func([i32, i32, i32, i32], [i32]), poll_oneoff, access_caller=True)
    if capture_output:
        linker.define_func(MODULE, "fd_write", func([i32, i32, i32, i32], [i32]), fd_write, access_caller=True)
