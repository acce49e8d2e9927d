"""The devnet's supervisor on a real process (a content gateway: it needs no chain): a crash is reaped,
reported and restarted at the same address, the restart budget runs out, and a request revives it."""

from __future__ import annotations

import os
import time
import urllib.request
from pathlib import Path
from typing import Any

from polkacompute.devnet.fleet import Fleet, Member
from polkacompute.devnet.supervise import Supervisor, alive, read_fleet
from polkacompute.store import ContentStore


def kill_and_wait(fleet: Fleet, name: str) -> int:
    proc = fleet.members[name].proc
    assert proc is not None
    proc.kill()
    deadline = time.monotonic() + 10
    # Until it can be reaped (all its threads gone), without reaping it: the supervisor's check must.
    while os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert not alive(proc.pid)  # a zombie is not alive
    assert Path(f"/proc/{proc.pid}").exists()
    return proc.pid


def test_restarts_a_crashed_process_then_gives_up_until_asked(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, "http://127.0.0.1:1")
    cid = ContentStore(tmp_path / "store").put(b"served by whichever process runs")
    gateway = Member("gateway", ["gateway", "serve", "--store", str(tmp_path / "store"), "--port", "0"],
                     r'"url": "(http://[^"]+)"')  # fmt: skip
    reports: list[dict[str, Any]] = []
    try:
        fleet.launch(gateway)
        url = fleet.wait_ready("gateway")
        supervisor = Supervisor(fleet, lambda data, _line: reports.append(data), max_restarts=1)
        supervisor.check()
        assert reports == []  # nothing died

        first = kill_and_wait(fleet, "gateway")
        supervisor.check()
        assert not Path(f"/proc/{first}").exists()  # reaped: no zombie
        assert [(r["event"], r.get("returncode"), r.get("action")) for r in reports] == [
            ("exited", -9, "restart"), ("restarted", None, None)]  # fmt: skip
        assert reports[0]["log"] == str(tmp_path / "gateway.out")
        assert reports[1]["url"] == url  # the same address
        with urllib.request.urlopen(f"{url}/ipfs/{cid}", timeout=5) as response:  # noqa: S310 (loopback)
            assert response.read() == b"served by whichever process runs"  # the new process answers

        reports.clear()
        kill_and_wait(fleet, "gateway")
        supervisor.check()  # the budget (1 restart in the window) is spent
        assert [(r["event"], r["action"]) for r in reports] == [("exited", "gave up")]
        assert read_fleet(tmp_path)["processes"]["gateway"]["state"] == "gave up"
        assert "--- restarted by the devnet: after it was killed by SIGKILL ---" in fleet.log("gateway").read_text()

        reports.clear()
        (tmp_path / "requests").mkdir(exist_ok=True)
        (tmp_path / "requests" / "gateway").write_text("")  # what `devnet restart-worker gateway` does
        supervisor.check()
        assert [r["event"] for r in reports] == ["restarted"]
        entry = read_fleet(tmp_path)["processes"]["gateway"]
        assert (entry["state"], entry["alive"], entry["url"]) == ("running", True, url)
        assert not (tmp_path / "requests" / "gateway").exists()
    finally:
        fleet.stop()
    assert gateway.proc is not None
    assert gateway.proc.returncode is not None  # stopped and reaped
    assert not (tmp_path / "fleet.json").exists()
