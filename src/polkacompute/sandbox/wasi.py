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

A WASI call whose arguments cannot be honoured (a pointer outside the guest's memory, a flag WASI does
not define) is refused by trapping, as wasmtime's own calls do and as WASI specifies for bad pointers:
the run ends as a `trap` result whose detail names the errno the refusal stands for and the call,
`host_error: EFAULT (fd_write)` (see `refusal_detail`). Pointers are unsigned 32-bit addresses that
must lie wholly inside the memory (the Python binding would read a negative one from the memory's end).
The shadowed calls do their work in Python, where fuel is not counted and the wall-clock backstop
cannot interrupt them, so each call's work is bounded: at most IOV_MAX buffers per write and
MAX_SUBSCRIPTIONS per poll (more is EINVAL, as POSIX's writev and poll say), entropy generated in
linear time.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Callable

import wasmtime

MODULE = "wasi_snapshot_preview1"
# WASI preview1 errno values (the `errno` enum of wasi_snapshot_preview1.witx) this module uses.
ESUCCESS, EBADF, EFAULT, EILSEQ, EINVAL, EOVERFLOW = 0, 8, 21, 25, 28, 61
ERRNO_NAMES = {EBADF: "EBADF", EFAULT: "EFAULT", EILSEQ: "EILSEQ", EINVAL: "EINVAL", EOVERFLOW: "EOVERFLOW"}
IOV_MAX = 1024  # buffers per fd_write (POSIX writev: EINVAL beyond IOV_MAX)
MAX_SUBSCRIPTIONS = 4096  # subscriptions per poll_oneoff (beyond: EINVAL, as poll() past its fd limit)
U32, U64 = (1 << 32) - 1, (1 << 64) - 1
REALTIME_BASE_NS = 1_700_000_000 * 10**9  # the instant every job starts at (2023-11-14T22:13:20Z)
CLOCK_STEP_NS = 1_000  # each clock read advances virtual time by 1 µs (so loops on time terminate)
STDERR_CAP = 64 * 1024
_SUBSCRIPTION, _EVENT = 48, 32  # WASI preview1 struct sizes
_CLOCK_IDS = (0, 1, 2, 3)  # realtime, monotonic, process cputime, thread cputime


class OutputLimitExceeded(Exception):
    """Raised inside the guest's fd_write: the job wrote more stdout than its cap."""


class HostCallRefused(Exception):
    """Raised inside a shadowed WASI call that refuses its arguments: the run ends as a trap."""

    def __init__(self, call: str, errno: int) -> None:
        super().__init__(f"{call}: {ERRNO_NAMES[errno]}")
        self.call, self.errno = call, errno

    @property
    def detail(self) -> str:
        return refusal_detail(ERRNO_NAMES[self.errno], self.call)


def refusal_detail(errno: str, call: str | None) -> str:
    """A refused WASI call's trap detail: `host_error: EFAULT (fd_write)`, or `host_error: EFAULT` when
    the call is not known (a refusal of wasmtime's reached through `call_indirect`)."""
    return f"host_error: {errno} ({call})" if call else f"host_error: {errno}"


# How wasmtime's own WASI calls refuse arguments they cannot convert or dereference: by trapping with
# one of wiggle's guest errors (`GuestError`), innermost cause last. Each stands for the errno wasmtime
# maps that error to where it does not trap (wasi-common's table), with EFAULT for the pointers it
# traps on, and EINVAL for any argument that is not a value of its type (a flag WASI does not define,
# an enum or integer out of range: "In func ...::path_open at convert Oflags: ...").
_GUEST_ERRORS = (
    ("Pointer out of bounds", EFAULT),
    ("Pointer overflow", EFAULT),
    ("Pointer already borrowed", EFAULT),
    ("Slice length mismatch", EFAULT),
    ("Borrow checker out of handles", EFAULT),
    ("missing required memory export", EFAULT),
    ("Pointer not aligned", EINVAL),
    ("Invalid UTF-8", EILSEQ),
    (" at convert ", EINVAL),
    ("Invalid flag value", EINVAL),
    ("Invalid enum value", EINVAL),
    ("Int conversion error", EOVERFLOW),
)
_IN_FUNC = re.compile(r"In func " + MODULE + r"::(\w+)")


def wasmtime_refusal(message: str) -> tuple[str, str | None] | None:
    """(errno name, call or None) if `message` is a wasmtime WASI call refusing its arguments by trapping."""
    cause = message.partition("Caused by:")[2]
    for text, errno in _GUEST_ERRORS:
        if text in cause:
            call = _IN_FUNC.search(cause)
            return ERRNO_NAMES[errno], call.group(1) if call else None
    return None


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
        """The next `n` bytes of the stream SHA-256(seed || counter, 8 bytes little-endian), counter 0, 1...
        (in linear time: a job may ask for hundreds of megabytes in one call)."""
        blocks = -(-(n - len(self._pool)) // 32) if n > len(self._pool) else 0
        first = self._counter
        self._counter += blocks
        stream = self._pool + b"".join(
            hashlib.sha256(self._seed + i.to_bytes(8, "little")).digest() for i in range(first, self._counter)
        )
        out, self._pool = stream[:n], stream[n:]
        return out

    def sleep(self, ns: int) -> None:
        self.clock_ns = min(self.clock_ns + ns, U64)  # a u64 timestamp: long sleeps saturate

    def now(self, clock_id: int) -> int:
        self.sleep(CLOCK_STEP_NS)
        return min(self.clock_ns + (REALTIME_BASE_NS if clock_id == 0 else 0), U64)


class Guest:
    """The guest's memory as a WASI call sees it: a pointer is an unsigned 32-bit address, and a range
    not wholly inside the memory refuses the call with EFAULT (a trap)."""

    def __init__(self, caller: wasmtime.Caller, memory: wasmtime.Memory, call: str) -> None:
        self._caller, self._memory, self._call = caller, memory, call
        self._size = memory.data_len(caller)  # fixed while the call runs (no guest code grows it)

    def check(self, ptr: int, length: int) -> int:
        start = ptr & U32
        if start + length > self._size:
            raise HostCallRefused(self._call, EFAULT)
        return start

    def read(self, ptr: int, length: int) -> bytearray:
        start = self.check(ptr, length)
        return self._memory.read(self._caller, start, start + length) if length else bytearray()

    def write(self, ptr: int, data: bytes) -> None:
        start = self.check(ptr, len(data))
        if data:
            self._memory.write(self._caller, data, start)


def shadow_wasi(linker: wasmtime.Linker, current: Callable[[], JobIO], *, capture_output: bool = True) -> None:
    """Defines the deterministic calls over `linker`'s WASI (call after `linker.define_wasi()`).

    `current()` returns the JobIO of the run in progress (one run at a time per linker). Without
    `capture_output`, fd_write keeps wasmtime's own (file writes allowed, output not captured): only
    for trusted set-up runs such as compiling a runtime's library, never for jobs.
    """
    linker.allow_shadowing = True
    i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()

    def memory(caller: wasmtime.Caller, call: str) -> Guest:
        mem = caller.get("memory")
        if not isinstance(mem, wasmtime.Memory):  # no memory: no address is valid
            raise HostCallRefused(call, EFAULT)
        return Guest(caller, mem, call)

    def clock_time_get(caller: wasmtime.Caller, clock_id: int, _precision: int, out: int) -> int:
        if clock_id not in _CLOCK_IDS:
            return EINVAL
        memory(caller, "clock_time_get").write(out, struct.pack("<Q", current().now(clock_id)))
        return ESUCCESS

    def clock_res_get(caller: wasmtime.Caller, clock_id: int, out: int) -> int:
        if clock_id not in _CLOCK_IDS:
            return EINVAL
        memory(caller, "clock_res_get").write(out, struct.pack("<Q", CLOCK_STEP_NS))
        return ESUCCESS

    def random_get(caller: wasmtime.Caller, buf: int, length: int) -> int:
        mem = memory(caller, "random_get")
        mem.check(buf, length & U32)  # before generating: the length is the guest's to choose
        mem.write(buf, current().entropy(length & U32))
        return ESUCCESS

    def sched_yield() -> int:
        return ESUCCESS

    def poll_oneoff(caller: wasmtime.Caller, subs: int, events: int, count: int, nevents: int) -> int:
        """Every subscription fires at once; a clock subscription advances the virtual clock."""
        count &= U32
        if count == 0 or count > MAX_SUBSCRIPTIONS:
            return EINVAL
        io, mem = current(), memory(caller, "poll_oneoff")
        raw = mem.read(subs, _SUBSCRIPTION * count)
        mem.check(events, _EVENT * count)
        mem.check(nevents, 4)
        out = bytearray()
        for i in range(count):
            userdata, tag = struct.unpack_from("<QB", raw, _SUBSCRIPTION * i)
            if tag == 0:  # clock: id u32 @16, timeout u64 @24, precision u64 @32, flags u16 @40
                clock_id, timeout, _, flags = struct.unpack_from("<I4xQQH", raw, _SUBSCRIPTION * i + 16)
                if flags & 1:  # absolute deadline
                    base = REALTIME_BASE_NS if clock_id == 0 else 0
                    io.clock_ns = max(io.clock_ns, timeout - base)
                else:
                    io.sleep(timeout)
                out += struct.pack("<QHB5x16x", userdata, ESUCCESS, tag)
            else:  # fd readiness: report ready with 0 bytes (stdin is a file, never blocks)
                out += struct.pack("<QHB5xQH6x", userdata, ESUCCESS, tag, 0, 0)
        mem.write(events, bytes(out))
        mem.write(nevents, struct.pack("<I", count))
        return ESUCCESS

    def fd_write(caller: wasmtime.Caller, fd: int, iovs: int, iovs_len: int, nwritten: int) -> int:
        if fd not in (1, 2):
            return EBADF
        iovs_len &= U32
        if iovs_len > IOV_MAX:
            return EINVAL
        io, mem = current(), memory(caller, "fd_write")
        raw = mem.read(iovs, 8 * iovs_len)
        buffers = [struct.unpack_from("<II", raw, 8 * i) for i in range(iovs_len)]
        for ptr, length in buffers:
            mem.check(ptr, length)
        written = sum(length for _, length in buffers)
        if written > U32:  # the count would not fit the result (POSIX writev: EINVAL)
            return EINVAL
        mem.check(nwritten, 4)
        sink, cap = (io.stdout, io.output_cap) if fd == 1 else (io.stderr, STDERR_CAP)
        for ptr, length in buffers:
            room = cap - len(sink)
            if length > room:
                sink += mem.read(ptr, room)
                if fd == 1:
                    raise OutputLimitExceeded(f"the job wrote more than {cap} bytes of output")
                # stderr is diagnostics: drop the excess but report it written, so the guest carries on
            else:
                sink += mem.read(ptr, length)
        mem.write(nwritten, struct.pack("<I", written))
        return ESUCCESS

    func = wasmtime.FuncType
    linker.define_func(MODULE, "clock_time_get", func([i32, i64, i32], [i32]), clock_time_get, access_caller=True)
    linker.define_func(MODULE, "clock_res_get", func([i32, i32], [i32]), clock_res_get, access_caller=True)
    linker.define_func(MODULE, "random_get", func([i32, i32], [i32]), random_get, access_caller=True)
    linker.define_func(MODULE, "sched_yield", func([], [i32]), sched_yield)
    linker.define_func(MODULE, "poll_oneoff", func([i32, i32, i32, i32], [i32]), poll_oneoff, access_caller=True)
    if capture_output:
        linker.define_func(MODULE, "fd_write", func([i32, i32, i32, i32], [i32]), fd_write, access_caller=True)
