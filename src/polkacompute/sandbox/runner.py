"""`Sandbox.run`: one wasm32-wasi program, deterministic, with no filesystem, network, clock or
entropy it was not given, and every way it can end mapped onto a `RunResult`."""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import wasmtime

from polkacompute.sandbox.cache import ModuleCache
from polkacompute.sandbox.engine import EpochTicker, deterministic_config
from polkacompute.sandbox.result import RunResult, Status
from polkacompute.sandbox.wasi import MODULE as WASI_MODULE
from polkacompute.sandbox.wasi import (
    HostCallRefused,
    JobIO,
    OutputLimitExceeded,
    refusal_detail,
    shadow_wasi,
    wasmtime_refusal,
)

MAX_PROGRAM_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Limits:
    fuel: int = 10**9  # the job's fuelLimit
    time_s: float = 60.0  # the job's timeLimit: a wall-clock backstop, not part of the result
    memory_bytes: int = 256 * 1024 * 1024  # linear memory; growth beyond fails (malloc returns NULL)
    output_bytes: int = 1024 * 1024  # stdout cap


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Mount:
    """A host directory visible at `guest` inside the sandbox, read-only. Jobs never get a writable
    mount; `writable` exists for runtime installation (CPython compiling its own stdlib)."""

    host: Path
    guest: str
    writable: bool = False


class Sandbox:
    """Runs jobs one at a time on a deterministic engine (one per process; see `pool` for parallelism)."""

    def __init__(self, cache_dir: Path | None = None, *, setup_mode: bool = False) -> None:
        """`setup_mode` lets programs write files in writable mounts and leaves output uncaptured:
        for trusted set-up runs (a runtime compiling its library), never for jobs."""
        self.engine = wasmtime.Engine(deterministic_config())
        self.cache = ModuleCache(self.engine, cache_dir)
        self._ticker = EpochTicker(self.engine)
        self._linker = wasmtime.Linker(self.engine)
        self._linker.define_wasi()
        self._io: JobIO | None = None
        self._imports_ok: set[bytes] = set()  # digests of modules whose imports were checked
        shadow_wasi(self._linker, self._current_io, capture_output=not setup_mode)
        # One job at a time per sandbox, so one scratch file holds stdin (WASI reads stdin from a file).
        self._scratch = Path(tempfile.mkdtemp(prefix="pc-sandbox-"))
        self._stdin = self._scratch / "stdin"
        self._stdin.write_bytes(b"")
        self._last_stdin = b""

    def _current_io(self) -> JobIO:
        assert self._io is not None, "a WASI call outside a run"
        return self._io

    def close(self) -> None:
        self._ticker.stop()
        shutil.rmtree(self._scratch, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(
        self,
        program: bytes,
        *,
        stdin: bytes = b"",
        argv: Sequence[str] = ("job",),
        env: Sequence[tuple[str, str]] = (),
        mounts: Sequence[Mount] = (),
        limits: Limits = DEFAULT_LIMITS,
        seed: bytes = b"",
        program_digest: bytes | None = None,
    ) -> RunResult:
        """Runs `program` (wasm bytes) with `stdin`; `seed` drives its entropy (normally the job id)."""
        started = time.perf_counter()
        if len(program) > MAX_PROGRAM_BYTES:
            return RunResult(Status.REJECTED, detail=f"program_too_large: {len(program)} bytes")
        key = program_digest or hashlib.sha256(program).digest()
        try:
            module = self.cache.module(program, key)
        except wasmtime.WasmtimeError:
            return RunResult(Status.REJECTED, detail="invalid_module")
        if key not in self._imports_ok:
            if rejected := _check_imports(module):
                return rejected
            self._imports_ok.add(key)
        if stdin != self._last_stdin:  # the same input again (replicas, benchmarks): the file is already right
            self._stdin.write_bytes(stdin)
            self._last_stdin = stdin
        result = self._execute(module, program, str(self._stdin), argv, env, mounts, limits, seed)
        return RunResult(result.status, result.output, result.exit_code, result.fuel_used, result.detail,
                         result.stderr, (time.perf_counter() - started) * 1000)  # fmt: skip

    def _execute(
        self,
        module: wasmtime.Module,
        program: bytes,
        stdin_path: str,
        argv: Sequence[str],
        env: Sequence[tuple[str, str]],
        mounts: Sequence[Mount],
        limits: Limits,
        seed: bytes,
    ) -> RunResult:
        store = wasmtime.Store(self.engine)
        store.set_fuel(limits.fuel)
        store.set_epoch_deadline(EpochTicker.ticks(limits.time_s))
        store.set_limits(memory_size=limits.memory_bytes, instances=1, tables=4, memories=1, table_elements=1_000_000)
        wasi = wasmtime.WasiConfig()
        wasi.argv = list(argv)
        wasi.env = [list(pair) for pair in env]
        wasi.stdin_file = stdin_path
        for mount in mounts:
            wasi.preopen_dir(str(mount.host), mount.guest, fs_mutable=mount.writable)
        store.set_wasi(wasi)
        self._io = io = JobIO(hashlib.sha256(b"polkacompute/entropy/v1" + seed).digest(), limits.output_bytes)
        status, exit_code, detail = Status.EXITED, 0, ""
        try:
            instance = self._linker.instantiate(store, module)
            start = instance.exports(store).get("_start")
            if not isinstance(start, wasmtime.Func):
                return RunResult(Status.REJECTED, detail="no_entrypoint: the module exports no _start function")
            start(store)
        except OutputLimitExceeded:
            status, detail = Status.OUTPUT_LIMIT, f"more than {limits.output_bytes} bytes"
        except HostCallRefused as refused:  # one of the shadowed calls (wasi.py) refused its arguments
            status, detail = Status.TRAP, refused.detail
        except wasmtime.ExitTrap as exit_:  # a WasmtimeError subclass: before the generic case
            exit_code = exit_.code
        except wasmtime.Trap as trap:
            code = trap.trap_code
            if code is wasmtime.TrapCode.OUT_OF_FUEL:
                status = Status.OUT_OF_FUEL
            elif code is wasmtime.TrapCode.INTERRUPT:
                status, detail = Status.TIMEOUT, f"stopped after {limits.time_s:g}s of wall-clock time"
            else:
                status, detail = Status.TRAP, code.name.lower() if code is not None else "unknown"
        except wasmtime.WasmtimeError as exc:
            status, detail = _classify(str(exc), module, program)
        finally:
            self._io = None
        fuel = limits.fuel if status is Status.OUT_OF_FUEL else limits.fuel - store.get_fuel()
        if status is Status.REJECTED:
            fuel = 0
        return RunResult(status, bytes(io.stdout), exit_code, fuel, detail, bytes(io.stderr))


def _check_imports(module: wasmtime.Module) -> RunResult | None:
    """Only WASI preview1 functions may be imported: anything else is refused before running."""
    for item in module.imports:
        if item.module != WASI_MODULE or not isinstance(item.type, wasmtime.FuncType):
            return RunResult(Status.REJECTED, detail=f"unknown_import: {item.module}.{item.name}")
    return None


def _classify(message: str, module: wasmtime.Module, program: bytes) -> tuple[Status, str]:
    """Errors wasmtime reports as messages: deterministic ones become results."""
    if "invalid exit status" in message:
        return Status.TRAP, "invalid_exit"
    if "exceeds memory limits" in message or "memory minimum size" in message:
        return Status.REJECTED, "memory_limit: the module's initial memory is over the limit"
    if "unknown import" in message or "incompatible import type" in message:
        return Status.REJECTED, "unknown_import"
    if refusal := wasmtime_refusal(message):  # a WASI call of wasmtime's refused its arguments by trapping
        errno, call = refusal
        return Status.TRAP, refusal_detail(errno, call or _called_import(message, module, program))
    return Status.TRAP, "host_error"


_INNERMOST_FRAME = re.compile(r"^\s*0:\s+0x([0-9a-f]+) - ", re.MULTILINE)


def _called_import(message: str, module: wasmtime.Module, program: bytes) -> str | None:
    """The function a trap's innermost wasm frame was calling, if that is a direct call of an import.

    wasmtime names the refused call only when it refuses an argument's value; for a pointer it gives
    just the backtrace, whose innermost frame is at the guest's call instruction (an offset in the
    module's bytes): opcode 0x10, then the callee's index (unsigned LEB128), and the index space
    starts with the imports (all functions here: `_check_imports`). Through `call_indirect`: None."""
    frame = _INNERMOST_FRAME.search(message)
    offset = int(frame.group(1), 16) if frame else len(program)
    if offset >= len(program) or program[offset] != 0x10:
        return None
    index = 0
    for shift, byte in enumerate(program[offset + 1 : offset + 6]):
        index |= (byte & 0x7F) << (7 * shift)
        if not byte & 0x80:
            break
    imports = module.imports
    return imports[index].name if index < len(imports) else None
