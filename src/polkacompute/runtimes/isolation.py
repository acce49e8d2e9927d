"""Running a native child process isolated with bubblewrap: no network, a read-only filesystem
holding only the Python install, no capabilities, no new privileges, memory and time limits.

Used by runtimes that cannot run inside wasm (onnxruntime). Without bubblewrap the runtime refuses
to run unless the operator opts in (`POLKACOMPUTE_ALLOW_UNISOLATED=1`), because the job then runs
with the worker's own rights.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from polkacompute.errors import ConfigError

TMPFS_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class ChildResult:
    returncode: int  # -9: killed at the time limit
    stdout: bytes
    stderr: bytes
    timed_out: bool


@cache
def bwrap_available() -> tuple[bool, str]:
    """Whether bubblewrap can create its namespaces here (the binary alone is not proof)."""
    if not shutil.which("bwrap"):
        return False, "bubblewrap is not installed (apt-get install bubblewrap)"
    try:
        done = subprocess.run(["bwrap", "--unshare-all", "--die-with-parent", "--cap-drop", "ALL", "--ro-bind", "/",
                               "/", "--", "/bin/true"], capture_output=True, timeout=10, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bubblewrap failed to start: {exc}"
    if done.returncode != 0:
        return False, f"bubblewrap cannot create namespaces here: {done.stderr.decode(errors='replace').strip()}"
    return True, ""


def unisolated_allowed() -> bool:
    return os.environ.get("POLKACOMPUTE_ALLOW_UNISOLATED") == "1"


def run_isolated(script: Path, stdin: bytes, *, memory_bytes: int, time_s: float) -> ChildResult:
    """Runs `python -I script` with `stdin`; isolated by bubblewrap, or refused without it."""
    python = Path(sys.executable)
    available, reason = bwrap_available()
    if available:
        inner = _bwrap_argv(script, python)
    elif unisolated_allowed():
        inner = [str(python), "-I", str(script)]
    else:
        raise ConfigError(
            f"refusing to run a native job without isolation: {reason}",
            hint="install bubblewrap, or set POLKACOMPUTE_ALLOW_UNISOLATED=1 to accept the risk",
        )
    # prlimit caps the address space (a memory bomb gets MemoryError); the timeout kills the process tree.
    command = ["prlimit", f"--as={memory_bytes}", "--core=0", "--", *inner]
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, env=_child_env(), timeout=time_s, check=False)
    except subprocess.TimeoutExpired as exc:
        return ChildResult(-9, exc.stdout or b"", exc.stderr or b"", True)
    return ChildResult(done.returncode, done.stdout, done.stderr, False)


def _bwrap_argv(script: Path, python: Path) -> list[str]:
    """The bubblewrap command line. Paths after --tmpfs are inside the sandbox's own namespaces."""
    inside_tmp = "/tmp"  # noqa: S108 (a private tmpfs in the sandbox, capped at TMPFS_BYTES)
    argv = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]
    argv += ["--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64"]
    argv += ["--symlink", "usr/bin", "/bin", "--proc", "/proc", "--dev", "/dev"]
    argv += ["--size", str(TMPFS_BYTES), "--tmpfs", inside_tmp]  # before any bind that could live under /tmp
    for path in sorted({os.path.realpath(sys.base_prefix), sys.prefix}):  # stdlib + libpython, and the venv
        argv += ["--ro-bind", path, path]
    argv += ["--ro-bind", str(script.resolve()), "/job/main.py", "--remount-ro", "/"]
    for name, value in _child_env().items():
        argv += ["--setenv", name, value]
    return [*argv, "--chdir", inside_tmp, "--", str(python), "-I", "/job/main.py"]


def _child_env() -> dict[str, str]:
    """The child's whole environment: no telemetry (onnxruntime writes ~/.cache otherwise), one thread."""
    return {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "ORT_DISABLE_TELEMETRY": "1", "OMP_NUM_THREADS": "1"}  # noqa: S108
