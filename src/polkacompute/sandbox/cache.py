"""Precompiled modules, keyed by (program digest, wasmtime version, engine settings).

Compiling a module costs milliseconds to seconds (CPython for WASI: ~7 s); loading a serialized one
costs ~0.1 ms. The key includes ENGINE_FINGERPRINT because wasmtime does not reject every mismatch
on load (NaN canonicalization and the optimization level are not checked), and a module compiled
under other settings could compute differently. Loading runs native code, so only this process's
own cache directory is ever read.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import OrderedDict
from pathlib import Path

import wasmtime

from polkacompute.sandbox.engine import ENGINE_FINGERPRINT

MEMORY_ENTRIES = 64  # compiled modules kept in memory per process (LRU)


class ModuleCache:
    def __init__(self, engine: wasmtime.Engine, directory: Path | None) -> None:
        self._engine = engine
        self.directory = directory / ENGINE_FINGERPRINT[:16] if directory else None
        self._memory: OrderedDict[bytes, wasmtime.Module] = OrderedDict()

    def module(self, program: bytes, digest: bytes | None = None) -> wasmtime.Module:
        """The compiled module of `program` (raises wasmtime.WasmtimeError if it is not valid wasm)."""
        key = digest or hashlib.sha256(program).digest()
        if (cached := self._memory.get(key)) is not None:
            self._memory.move_to_end(key)
            return cached
        module = self._load(key)
        if module is None:
            module = wasmtime.Module(self._engine, program)
            self._store(key, module)
        self._memory[key] = module
        if len(self._memory) > MEMORY_ENTRIES:
            self._memory.popitem(last=False)
        return module

    def _path(self, key: bytes) -> Path | None:
        return self.directory / f"{key.hex()}.cwasm" if self.directory else None

    def _load(self, key: bytes) -> wasmtime.Module | None:
        path = self._path(key)
        if path is None or not path.exists():
            return None
        try:
            # Read into memory rather than `deserialize_file`: that maps the file, and a file truncated
            # while mapped kills the process with SIGBUS (seen when a test corrupted the cache).
            return wasmtime.Module.deserialize(self._engine, path.read_bytes())
        except wasmtime.WasmtimeError:
            path.unlink(missing_ok=True)  # truncated or from another engine: recompile
            return None

    def _store(self, key: bytes, module: wasmtime.Module) -> None:
        path = self._path(key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(module.serialize())
            os.replace(tmp, path)  # readers see the old file or the whole new one
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
