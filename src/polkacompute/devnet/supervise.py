"""Keeping the devnet's processes alive, and reaching them from another process.

`devnet up` is the supervisor: it owns anvil and the fleet (so it reaps them: a crashed worker never
lingers as a zombie), restarts a process that died (at most `MAX_RESTARTS` in `WINDOW` seconds, then it
reports that it gave up) and serves restart requests that `devnet restart-worker` drops in
`requests/`. `devnet up --detach` runs that same supervisor in its own session. Its pid is in
`supervisor.pid`, the fleet's in `fleet.json`, both in the devnet's directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from polkacompute.devnet.fleet import CLI, STOP_GRACE, Fleet, Member
from polkacompute.errors import ConfigError, JobTimeout, NetworkError

MAX_RESTARTS = 5
WINDOW = 300.0  # seconds
Report = Callable[[dict[str, Any], str], None]  # (data for --json, the line for people)


def describe(returncode: int) -> str:
    return f"was killed by {signal.Signals(-returncode).name}" if returncode < 0 else f"exited with code {returncode}"


class Supervisor:
    """One `check()` per pass of the `devnet up` loop."""

    def __init__(self, fleet: Fleet, report: Report, *, max_restarts: int = MAX_RESTARTS, window: float = WINDOW,
                 timeout: float = 60.0) -> None:  # fmt: skip
        self.fleet, self.report = fleet, report
        self.max_restarts, self.window, self.timeout = max_restarts, window, timeout
        self.requests = fleet.directory / "requests"
        for stale in self.requests.glob("*"):  # left by a `restart-worker` that gave up waiting
            stale.unlink()

    def check(self) -> None:
        for member in list(self.fleet.members.values()):
            request = self.requests / member.name
            if request.exists():
                member.restarts.clear()  # a restart asked for by hand also revives one given up on
                self._restart(member, "on request")
                request.unlink(missing_ok=True)
                continue
            if member.state not in ("running", "starting") or member.proc is None:
                continue
            code = member.proc.poll()  # reaps it
            if code is None:
                continue
            pid, member.exit = member.proc.pid, describe(code)
            now = time.monotonic()
            member.restarts[:] = [t for t in member.restarts if now - t < self.window]
            data = {"event": "exited", "process": member.name, "pid": pid, "returncode": code,
                    "log": str(self.fleet.log(member.name))}  # fmt: skip
            if len(member.restarts) >= self.max_restarts:
                member.state = "gave up"
                self.fleet.save()
                line = (
                    f"{member.name} (pid {pid}) {member.exit} after {len(member.restarts)} restarts in "
                    f"{self.window:.0f}s: gave up (`devnet restart-worker` revives it); log {data['log']}"
                )
                self.report({**data, "action": "gave up"}, line)
                continue
            member.restarts.append(now)
            self.report({**data, "action": "restart"},
                        f"{member.name} (pid {pid}) {member.exit}; restarting it ({len(member.restarts)} of "
                        f"{self.max_restarts} in {self.window:.0f}s); log {data['log']}")  # fmt: skip
            self._restart(member, f"after it {member.exit}")

    def _restart(self, member: Member, why: str) -> None:
        old = member.proc
        if old is not None and old.poll() is None:
            old.terminate()
            try:
                old.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                old.kill()
                old.wait(timeout=10)
        self.fleet.launch(member, again=True, why=why)
        try:
            url = self.fleet.wait_ready(member.name, self.timeout)
        except NetworkError as exc:  # still "starting" and exited: the next check counts it
            member.exit = f"failed to restart: {exc}"
            self.fleet.save()
            self.report({"event": "restart failed", "process": member.name, "error": str(exc)},
                        f"{member.name} failed to restart ({exc})")  # fmt: skip
            return
        assert member.proc is not None
        self.report({"event": "restarted", "process": member.name, "pid": member.proc.pid, "url": url},
                    f"{member.name} restarted {why}: pid {member.proc.pid}, serving {url}")  # fmt: skip


def alive(pid: int, word: str | None = None) -> bool:
    """Whether `pid` runs (a zombie does not: it is dead, its parent has not reaped it yet) and, with
    `word`, has it in its command line (a pid file can outlive its process, and pids are reused)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return word is None
    proc = Path(f"/proc/{pid}")
    if not Path("/proc/self").exists():
        return True  # no procfs: trust kill()
    try:
        if proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
        return word is None or word.encode() in proc.joinpath("cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def read_pid(path: Path, word: str) -> int | None:
    """The pid in `path` if that process still runs and is ours (see `alive`)."""
    try:
        pid = int(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if alive(pid, word) else None


def write_pid(path: Path, pid: int) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(str(pid))
    tmp.replace(path)


def terminate(pids: list[int], grace: float = STOP_GRACE) -> None:
    """SIGTERM to all at once, then SIGKILL to what still runs after `grace` s (for processes that are
    not our children: their parent or init reaps them)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while (left := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def read_fleet(directory: Path) -> dict[str, Any]:
    """`fleet.json` with each process's `alive`; empty if no fleet runs."""
    try:
        record: dict[str, Any] = json.loads((directory / "fleet.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {"processes": {}}
    for entry in record["processes"].values():
        entry["alive"] = entry["pid"] is not None and alive(entry["pid"], "polkacompute")
    return record


def stop_fleet_left(directory: Path) -> int:
    """Stops the fleet's processes that outlived their supervisor (killed with SIGKILL, say)."""
    pids = [e["pid"] for e in read_fleet(directory)["processes"].values() if e["alive"]]
    terminate(pids)
    (directory / "fleet.json").unlink(missing_ok=True)
    return len(pids)


def request_restart(directory: Path, name: str, timeout: float = 120.0) -> dict[str, Any]:
    """Asks the running supervisor to restart process `name` and waits until it serves again; returns
    its `fleet.json` entry."""
    supervisor = read_pid(directory / "supervisor.pid", "polkacompute")
    if supervisor is None:
        raise ConfigError("no devnet supervisor is running here", hint="start one with `polkacompute devnet up`")
    processes = read_fleet(directory)["processes"]
    if name not in processes:
        raise ConfigError(f"the devnet has no {name}", hint=f"it has: {', '.join(processes) or 'no processes'}")
    old = processes[name]["pid"]
    request = directory / "requests" / name
    request.parent.mkdir(exist_ok=True)
    request.write_text(str(old))
    deadline = time.monotonic() + timeout
    while request.exists():
        if not alive(supervisor):
            raise NetworkError("the devnet supervisor exited before restarting it", hint="see supervisor.out")
        if time.monotonic() > deadline:
            raise JobTimeout(f"{name} was not restarted within {timeout:.0f}s")
        time.sleep(0.1)
    entry: dict[str, Any] = read_fleet(directory)["processes"][name]
    if entry["state"] != "running" or entry["pid"] == old:
        raise NetworkError(f"{name} did not restart: {entry['exit']}", hint=f"see {entry['log']}")
    return entry


def run_detached(directory: Path, argv: list[str], out: BinaryIO, err: BinaryIO, *,
                 columns: int = 80) -> tuple[int, int | None]:  # fmt: skip
    """Runs `polkacompute <argv>` (a `devnet up`) in its own session, its output relayed to `out` until
    it is up (its pid in `supervisor.pid`); returns (pid, None), or (pid, exit code) if it failed."""
    directory.mkdir(parents=True, exist_ok=True)
    pid_file, log, errors = directory / "supervisor.pid", directory / "supervisor.out", directory / "supervisor.err"
    for path in (log, errors):
        if path.exists():
            path.replace(path.with_suffix(path.suffix + ".prev"))
    with log.open("wb") as stdout, errors.open("wb") as stderr:
        # Its output is a file: COLUMNS lays it out for the terminal it is relayed to.
        child = subprocess.Popen([*CLI, *argv], stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                                 env={**os.environ, "COLUMNS": str(columns)}, start_new_session=True)  # fmt: skip
    relayed = 0
    try:
        while child.poll() is None and read_pid(pid_file, "polkacompute") != child.pid:
            relayed = _relay(log, relayed, out)
            time.sleep(0.1)
    except KeyboardInterrupt:  # Ctrl-C while it starts: it stops too
        child.terminate()
        child.wait(timeout=60)
        raise
    _relay(log, relayed, out)
    if child.poll() is None:
        return child.pid, None
    err.write(errors.read_bytes())
    err.flush()
    return child.pid, child.returncode


def _relay(path: Path, offset: int, out: BinaryIO) -> int:
    with path.open("rb") as f:
        f.seek(offset)
        data = f.read()
    out.write(data)
    out.flush()
    return offset + len(data)
