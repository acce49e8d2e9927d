"""Worker processes (and the requesters' content gateway) beside the devnet's anvil.

`devnet up --workers N` starts a gateway that accepts uploads (where requesters publish programs and
inputs) and N `polkacompute worker run` processes with anvil's dev accounts 2..N+1, each staked,
with its own directory and log under `.polkacompute/devnet/`; `devnet up` also starts the indexer
and its API (`polkacompute dashboard`).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
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


@dataclass
class Fleet:
    directory: Path
    rpc_url: str
    gateway_url: str = ""
    dashboard_url: str = ""
    worker_urls: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)  # dev account -> its process
    _env: dict[str, str] = field(default_factory=dict)

    @property
    def pid_file(self) -> Path:
        return self.directory / "fleet.pids"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "POLKACOMPUTE_RPC_URL": self.rpc_url,
                "POLKACOMPUTE_DEPLOYMENTS": str(self.directory / "deployments")}  # fmt: skip

    def start_dashboard(self, port: int, *, timeout: float = 60.0) -> str:
        """Starts the indexer and the dashboard on `port` (index in `index.db` beside the chain's state)."""
        db = f"sqlite:///{self.directory / 'index.db'}"
        # A pass every quarter second: a local chain's events show in the page well within two seconds.
        proc = self._spawn(["dashboard", "--port", str(port), "--confirmations", "0", "--interval", "0.25", "--db", db],
                           self.env, "dashboard")  # fmt: skip
        self.dashboard_url = _wait_for(self.directory / "dashboard.out", r"(http://\S+/) \(API", proc, timeout)
        return self.dashboard_url

    def start(self, workers: int, *, timeout: float = 60.0) -> None:
        """Starts the gateway and `workers` workers; their pids go to `fleet.pids` (for `devnet down`)."""
        env = self.env
        store = self.directory / "store"
        gateway = self._spawn(["gateway", "serve", "--store", str(store), "--port", "0", "--uploads"], env, "gateway")
        self.gateway_url = json.loads(_wait_for(self.directory / "gateway.out", r"(\{.*\})", gateway, timeout))["url"]
        self._env = env
        for i in range(workers):
            self.worker_urls.append(self.start_worker(FIRST_WORKER_ACCOUNT + i, timeout=timeout))

    def start_worker(self, account: int, *, timeout: float = 60.0) -> str:
        """Starts (or restarts) the worker of dev account `account`; returns its gateway URL."""
        name = f"worker{account}"
        proc = self._spawn(["worker", "run", "--dev", str(account), "--stake", "10", "--content", self.gateway_url,
                            "--dir", str(self.directory / "workers" / name)], self._env, name)  # fmt: skip
        self.workers[account] = proc
        return _wait_for(self.directory / f"{name}.out", r"serving (http://\S+);", proc, timeout)

    def kill_worker(self, account: int) -> None:
        """SIGKILL, as a crash or a power cut would: no chance to clean up."""
        proc = self.workers.pop(account)
        proc.kill()
        proc.wait(timeout=10)

    def _spawn(self, args: list[str], env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
        log = self.directory / f"{name}.out"
        if log.exists():  # keep the previous run's log, but never read its (stale) addresses
            log.replace(log.with_suffix(".out.prev"))
        out = open(log, "wb")  # noqa: SIM115 (owned by the child)
        proc = subprocess.Popen([*CLI, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(proc)
        with self.pid_file.open("a") as pids:
            pids.write(f"{proc.pid}\n")
        return proc

    def stop(self, timeout: float = 20.0) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in self.processes:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
        self.processes.clear()
        self.pid_file.unlink(missing_ok=True)


@contextmanager
def fleet_on_fresh_anvil(directory: Path, workers: int, *, block_time: int = 1) -> Iterator[tuple[Any, Any, Fleet]]:
    """A private anvil mining a block every `block_time` seconds, the protocol deployed on it and
    `workers` staked workers with a gateway: yields (network, deployment, fleet), stops them all after
    (benchmarks and the chaos test run on it)."""
    from polkacompute.chain.accounts import dev_account
    from polkacompute.chain.client import ChainClient
    from polkacompute.chain.deploy import deploy, save_deployment
    from polkacompute.chain.networks import LOCAL_CHAIN_ID, Network
    from polkacompute.devnet.anvil import free_port, launch

    port = free_port()
    anvil = launch(port, ["--block-time", str(block_time), "--silent", "--gas-limit", "300000000"], new_session=True)
    network = Network("local", LOCAL_CHAIN_ID, f"http://127.0.0.1:{port}", local=True, poll_interval=0.05)
    fleet = Fleet(directory, network.rpc_url)
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


def stop_fleet(directory: Path, timeout: float = 20.0) -> int:
    """Stops the processes a detached `devnet up --workers` left running; returns how many."""
    path = directory / "fleet.pids"
    if not path.exists():
        return 0
    stopped = 0
    for line in path.read_text().split():
        try:
            os.kill(int(line), signal.SIGTERM)
            stopped += 1
        except (ValueError, ProcessLookupError, PermissionError):
            continue
    deadline = time.monotonic() + timeout
    for line in path.read_text().split():
        while time.monotonic() < deadline and _alive(int(line)):
            time.sleep(0.1)
    path.unlink(missing_ok=True)
    return stopped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _wait_for(log: Path, pattern: str, proc: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if found := re.search(pattern, text):
            return found.group(1)
        if proc.poll() is not None:
            raise NetworkError(f"{log.stem} exited at start: {text[-500:]}")
        time.sleep(0.05)
    raise NetworkError(f"{log.stem} did not start within {timeout:.0f}s; see {log}")
