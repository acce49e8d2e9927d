"""Parallel runs: one sandbox per worker process, processes started with `spawn`.

`spawn`, not `fork`: a process forked after wasmtime has run can hang (wasmtime's runtime threads
do not survive a fork). Each process is pinned to its own core: wasmtime hands WASI calls to helper
threads, and two unpinned processes on two cores were measured at ~0.56 CPU each (half the
throughput of pinned ones).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from polkacompute.sandbox.result import RunResult
from polkacompute.sandbox.runner import DEFAULT_LIMITS, Limits, Sandbox

_sandbox: Sandbox | None = None  # the worker process's own sandbox


def _start(cache_dir: Path | None, counter: Any, pin: bool, owner: int) -> None:
    global _sandbox
    _exit_with_parent(owner)
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    if pin and hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[index % len(cores)]})
    _sandbox = Sandbox(cache_dir)


def _exit_with_parent(parent: int) -> None:
    """A pool process outlives a parent killed with -9 (its sandbox's epoch thread keeps it busy):
    a watchdog ends it as soon as the parent is gone. The parent's pid comes from the parent itself:
    one killed while spawning us is already gone when we start (we would see init as our parent)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _run(program: bytes, stdin: bytes, argv: Sequence[str], limits: Limits, seed: bytes) -> RunResult:
    assert _sandbox is not None, "the pool initializer did not run"
    return _sandbox.run(program, stdin=stdin, argv=argv, limits=limits, seed=seed)


def _run_package(runtime: str, manifest: str, store_dir: Path, job_id: int) -> RunResult:
    from polkacompute.runtimes import JobPackage, get_runtime, run_package
    from polkacompute.store import ContentStore

    assert _sandbox is not None, "the pool initializer did not run"
    package = JobPackage.from_json(manifest)
    return run_package(package, get_runtime(runtime), ContentStore(store_dir), _sandbox, job_id=job_id)


class SandboxPool:
    """`processes` sandboxes in spawned, core-pinned processes (default: one per usable core)."""

    def __init__(self, processes: int | None = None, *, cache_dir: Path | None = None, pin: bool = True) -> None:
        context = multiprocessing.get_context("spawn")
        usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        self.processes = processes or usable
        counter = context.Value("i", 0)
        self._executor = ProcessPoolExecutor(self.processes, mp_context=context, initializer=_start,
                                             initargs=(cache_dir, counter, pin, os.getpid()))  # fmt: skip

    def submit(
        self,
        program: bytes,
        *,
        stdin: bytes = b"",
        argv: Sequence[str] = ("job",),
        limits: Limits = DEFAULT_LIMITS,
        seed: bytes = b"",
    ) -> Future[RunResult]:
        return self._executor.submit(_run, program, stdin, tuple(argv), limits, seed)

    def submit_package(self, runtime: str, manifest: str, store_dir: Path, job_id: int = 0) -> Future[RunResult]:
        """Runs a job package (its manifest JSON) whose content is in the store at `store_dir`."""
        return self._executor.submit(_run_package, runtime, manifest, store_dir, job_id)

    def map(self, programs: Iterable[bytes], **kwargs: Any) -> list[RunResult]:
        return [f.result() for f in [self.submit(p, **kwargs) for p in programs]]

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
