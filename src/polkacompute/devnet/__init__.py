"""The local devnet: anvil from the npm toolchain, the protocol deployed, state kept across restarts.

State lives in `.polkacompute/devnet/` under the working directory: anvil's state dump (so a restart
keeps jobs and balances), its log and pid, `deployments/local.json`, and the supervisor's and the
fleet's records (`supervisor.pid`, `fleet.json`, see `supervise`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.client import ChainClient
from polkacompute.chain.deploy import Deployment, deploy, save_deployment, verify_deployment
from polkacompute.chain.networks import LOCAL_CHAIN_ID, Network
from polkacompute.devnet.anvil import find_anvil, launch
from polkacompute.devnet.supervise import alive, read_pid, stop_fleet_left
from polkacompute.errors import ConfigError, DeploymentError, NetworkError

BLOCK_TIME = 1  # seconds between blocks when no transaction comes

__all__ = [
    "BLOCK_TIME",
    "Devnet",
    "devnet",
    "down",
    "ensure_deployed",
    "ensure_deployed_sync",
    "find_anvil",
    "start",
    "stop",
]


@dataclass(frozen=True)
class Devnet:
    directory: Path
    port: int

    @property
    def network(self) -> Network:
        url = f"http://127.0.0.1:{self.port}"
        return Network("local", LOCAL_CHAIN_ID, url, url.replace("http", "ws"), local=True, poll_interval=0.005,
                       receipt_timeout=30.0, log_batch=10_000, block_time=1.0)  # fmt: skip

    @property
    def pid_file(self) -> Path:
        return self.directory / "anvil.pid"

    @property
    def supervisor_pid_file(self) -> Path:
        return self.directory / "supervisor.pid"

    def pid(self) -> int | None:
        """anvil's pid, if it runs (its command line names our port: pid files outlive processes)."""
        return read_pid(self.pid_file, f"--port\0{self.port}\0")

    def supervisor_pid(self) -> int | None:
        """The pid of the `devnet up` that supervises this devnet, if it runs."""
        return read_pid(self.supervisor_pid_file, "polkacompute")


def devnet(port: int = 8545, directory: Path | None = None) -> Devnet:
    return Devnet(directory or Path(os.environ.get("POLKACOMPUTE_DEVNET_DIR", ".polkacompute/devnet")), port)


def start(net: Devnet, *, block_time: int = BLOCK_TIME, timeout: float = 30.0) -> subprocess.Popen[bytes]:
    """Starts anvil (loading the saved state if any) and waits until it answers.

    With `block_time` > 0 anvil mines a block every `block_time` seconds and each transaction at once
    (mixed mining): chain time moves like a real chain's, so deadlines pass with no one sending
    anything. 0: automine only (a block per transaction; chain time stands still in between)."""
    if net.pid() is not None:
        raise ConfigError(f"a devnet is already running (pid {net.pid()})", hint="`polkacompute devnet down` first")
    net.directory.mkdir(parents=True, exist_ok=True)
    extra = ["--state", str(net.directory / "anvil-state.json")]
    if block_time > 0:
        extra += ["--block-time", str(block_time), "--mixed-mining"]
    path = net.directory / "anvil.log"
    if path.exists():  # it logs every block: one run's log at a time, and the one before
        path.replace(path.with_suffix(".log.prev"))
    with path.open("wb") as log:
        try:
            proc = launch(net.port, extra, log=log, timeout=timeout, new_session=True)
        except NetworkError as exc:
            raise NetworkError(f"{exc}; see {path}") from None
    net.pid_file.write_text(str(proc.pid))
    return proc


def stop(net: Devnet, timeout: float = 20.0) -> bool:
    """Stops a running devnet (anvil saves its state on the way out). False if none was running."""
    pid = net.pid()
    if pid is None:
        net.pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while net.pid() is not None and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):  # anvil is our child when `devnet up` stops it:
            os.waitpid(pid, os.WNOHANG)  # reap it, or it lingers as a zombie that `pid()` still sees
        time.sleep(0.05)
    net.pid_file.unlink(missing_ok=True)
    return True


def down(net: Devnet, timeout: float = 40.0) -> bool:
    """Stops the devnet: its supervisor (which stops the fleet and anvil), then whatever outlived it.
    False if nothing was running."""
    supervisor = net.supervisor_pid()
    if supervisor is not None:
        os.kill(supervisor, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(supervisor) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(supervisor):
            os.kill(supervisor, signal.SIGKILL)
        net.supervisor_pid_file.unlink(missing_ok=True)
    stopped_fleet = stop_fleet_left(net.directory)
    return stop(net) or supervisor is not None or stopped_fleet > 0


async def ensure_deployed(net: Devnet) -> Deployment:
    """The recorded deployment if the chain still holds it, else a fresh one (saved)."""
    directory = net.directory / "deployments"
    path = directory / "local.json"
    async with ChainClient(net.network, dev_account(0)) as client:
        if path.exists():
            recorded = Deployment.from_json(path.read_text())
            try:
                await verify_deployment(client, recorded)
                return recorded
            except DeploymentError:
                pass  # the chain was reset: deploy again
        deployment = await deploy(client)
    save_deployment(deployment, directory)
    return deployment


def ensure_deployed_sync(net: Devnet) -> Deployment:
    return asyncio.run(ensure_deployed(net))
