"""Worker processes (and the requesters' content gateway) beside the devnet's anvil.

`devnet up --workers N` starts a gateway that accepts uploads (where requesters publish programs and
inputs) and N `polkacompute worker run` processes with anvil's dev accounts 2..N+1, each staked,
with its own directory and log under `.polkacompute/devnet/`; `devnet up` also starts the indexer
and its API (`polkacompute dashboard`). The fleet records its processes in `fleet.json` there, so
`devnet status`, `devnet restart-worker` and `devnet down` find them from another process.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polkacompute.errors import NetworkError

CLI = [sys.executable, "-m", "polkacompute.cli"]
FIRST_WORKER_ACCOUNT = 2  # 0 deploys, 1 is the demo requester
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL (the processes exit in ~2 s)


@dataclass
class Member:
    """One process of the fleet: how to (re)start it and what became of it."""

    name: str
    args: list[str]
    ready: str  # a pattern in its log whose group 1 is the URL it serves
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""
    state: str = "starting"  # running, restarting, gave up, killed, stopped
    exit: str = ""  # how it last ended, e.g. "killed by SIGKILL"
    restarts: list[float] = field(default_factory=list)  # monotonic times of its restarts
    ready_from: int = 0  # where its latest start begins in its log


@dataclass
class Fleet:
    directory: Path
    rpc_url: str
    gateway_url: str = ""
    dashboard_url: str = ""
    worker_urls: list[str] = field(default_factory=list)
    members: dict[str, Member] = field(default_factory=dict)
    stake: int = 10  # native units each worker stakes at registration (its collateral for jobs in flight)

    @property
    def record_file(self) -> Path:
        return self.directory / "fleet.json"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "POLKACOMPUTE_RPC_URL": self.rpc_url,
                "POLKACOMPUTE_DEPLOYMENTS": str(self.directory / "deployments")}  # fmt: skip

    def log(self, name: str) -> Path:
        return self.directory / f"{name}.out"

    def start_dashboard(self, port: int, *, timeout: float = 60.0, wait: bool = True) -> str:
        """Starts the indexer and the dashboard on `port` (index in `index.db` beside the chain's state);
        with `wait=False` returns at once (then `wait_ready("dashboard")`)."""
        db = f"sqlite:///{self.directory / 'index.db'}"
        # A pass every quarter second: a local chain's events show in the page well within two seconds.
        args = ["dashboard", "--port", str(port), "--confirmations", "0", "--interval", "0.25", "--db", db]
        self.launch(Member("dashboard", args, r"(http://\S+/) \(API"))
        if wait:
            self.dashboard_url = self.wait_ready("dashboard", timeout)
        return self.dashboard_url

    def start(self, workers: int, *, timeout: float = 60.0) -> None:
        """Starts the gateway, then `workers` workers side by side, and waits until all serve."""
        store = str(self.directory / "store")
        args = ["gateway", "serve", "--store", store, "--port", "0", "--uploads"]
        self.launch(Member("gateway", args, r'"url": "(http://[^"]+)"'))
        self.gateway_url = self.wait_ready("gateway", timeout)
        accounts = [FIRST_WORKER_ACCOUNT + i for i in range(workers)]
        for account in accounts:
            self.launch(self._worker(account))
        self.worker_urls += [self.wait_ready(f"worker{account}", timeout) for account in accounts]

    def start_worker(self, account: int, *, timeout: float = 60.0) -> str:
        """Starts (or restarts) the worker of dev account `account`; returns its gateway URL."""
        name = f"worker{account}"
        member = self.members.get(name) or self._worker(account)
        self.launch(member, again=name in self.members)
        return self.wait_ready(name, timeout)

    def kill_worker(self, account: int) -> None:
        """SIGKILL, as a crash or a power cut would: no chance to clean up."""
        member = self.members[f"worker{account}"]
        assert member.proc is not None
        member.proc.kill()
        member.proc.wait(timeout=10)
        member.state, member.exit = "killed", "killed by SIGKILL"
        self.save()

    def _worker(self, account: int) -> Member:
        name = f"worker{account}"
        args = ["worker", "run", "--dev", str(account), "--stake", str(self.stake), "--content", self.gateway_url,
                "--dir", str(self.directory / "workers" / name)]  # fmt: skip
        return Member(name, args, r"serving (http://\S+);")

    def launch(self, member: Member, *, again: bool = False, why: str = "") -> None:
        """Spawns `member`'s process. A first start sets the previous run's log aside (its addresses are
        stale); a restart appends to the log, after a line saying why."""
        log = self.log(member.name)
        if not again and log.exists():
            log.replace(log.with_suffix(".out.prev"))
        with log.open("ab") as out:
            if again:
                out.write(f"\n--- restarted by the devnet{': ' + why if why else ''} ---\n".encode())
                out.flush()
            member.ready_from = out.tell()
            member.proc = subprocess.Popen([*CLI, *member.args], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        member.state = "starting"
        self.members[member.name] = member
        self.save()

    def wait_ready(self, name: str, timeout: float = 60.0) -> str:
        """Waits until `name` logs its URL (after its latest start); NetworkError if it exits first."""
        member = self.members[name]
        assert member.proc is not None
        log, start = self.log(name), member.ready_from
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with log.open("rb") as f:
                f.seek(start)
                text = f.read().decode(errors="replace")
            if found := re.search(member.ready, text):
                member.url, member.state = found.group(1), "running"
                _pin_port(member)
                self.save()
                return found.group(1)
            if member.proc.poll() is not None:
                raise NetworkError(f"{name} exited at start: {text[-500:]}")
            time.sleep(0.05)
        raise NetworkError(f"{name} did not start within {timeout:.0f}s; see {log}")

    def save(self) -> None:
        """Writes `fleet.json` (atomically: other processes read it at any time)."""
        procs = {m.name: {"pid": m.proc.pid if m.proc else None, "url": m.url, "state": m.state, "exit": m.exit,
                          "restarts": len(m.restarts), "log": str(self.log(m.name))}
                 for m in self.members.values()}  # fmt: skip
        record = {"rpc_url": self.rpc_url, "gateway_url": self.gateway_url, "processes": procs}
        tmp = self.record_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1))
        tmp.replace(self.record_file)

    def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM to all at once, SIGKILL to those still running after `grace` s; all reaped."""
        procs = [m.proc for m in self.members.values() if m.proc is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + grace
        while any(proc.poll() is None for proc in procs) and time.monotonic() < deadline:
            time.sleep(0.05)
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        for member in self.members.values():
            member.state = "stopped"
        self.record_file.unlink(missing_ok=True)


def _pin_port(member: Member) -> None:
    """A restart serves at the address the first start got (others were told it)."""
    port = member.url.rstrip("/").rsplit(":", 1)[1]
    if "--port" in member.args:
        member.args[member.args.index("--port") + 1] = port
    else:
        member.args += ["--port", port]


@contextmanager
def fleet_on_fresh_anvil(directory: Path, workers: int, *, block_time: int = 1,
                         stake: int = 10) -> Iterator[tuple[Any, Any, Fleet]]:  # fmt: skip
    """A private anvil mining a block every `block_time` seconds, the protocol deployed on it and
    `workers` workers with a gateway, each staking `stake` native units: yields (network, deployment,
    fleet), stops them all after (benchmarks and the chaos test run on it)."""
    from polkacompute.chain.accounts import dev_account
    from polkacompute.chain.client import ChainClient
    from polkacompute.chain.deploy import deploy, save_deployment
    from polkacompute.chain.networks import LOCAL_CHAIN_ID, Network
    from polkacompute.devnet.anvil import free_port, launch

    port = free_port()
    anvil = launch(port, ["--block-time", str(block_time), "--silent", "--gas-limit", "300000000"], new_session=True)
    network = Network("local", LOCAL_CHAIN_ID, f"http://127.0.0.1:{port}", local=True, poll_interval=0.05,
                      block_time=float(block_time))  # fmt: skip
    fleet = Fleet(directory, network.rpc_url, stake=stake)
    try:

        async def deploy_it() -> Any:
            async with ChainClient(network, dev_account(0)) as client:
                return await deploy(client)

        deployment = asyncio.run(deploy_it())
        save_deployment(deployment, directory / "deployments")
        fleet.start(workers, timeout=120)
        yield network, deployment, fleet
    finally:
        fleet.stop()
        anvil.terminate()
        anvil.wait(timeout=20)
