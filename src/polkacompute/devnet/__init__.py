"""The local devnet: anvil from the npm toolchain, the protocol deployed, state kept across restarts.

State lives in `.polkacompute/devnet/` under the working directory: anvil's state dump (so a restart
keeps jobs and balances), its log and pid, and `deployments/local.json`.
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
from polkacompute.errors import ConfigError, DeploymentError, NetworkError

__all__ = ["Devnet", "devnet", "ensure_deployed", "ensure_deployed_sync", "find_anvil", "start", "stop"]


@dataclass(frozen=True)
class Devnet:
    directory: Path
    port: int

    @property
    def network(self) -> Network:
        url = f"http://127.0.0.1:{self.port}"
        return Network("local", LOCAL_CHAIN_ID, url, url.replace("http", "ws"), local=True, poll_interval=0.005,
                       receipt_timeout=30.0, log_batch=10_000)  # fmt: skip

    @property
    def pid_file(self) -> Path:
        return self.directory / "anvil.pid"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
            os.kill(pid, 0)
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            return None
        return pid


def devnet(port: int = 8545, directory: Path | None = None) -> Devnet:
    return Devnet(directory or Path(os.environ.get("POLKACOMPUTE_DEVNET_DIR", ".polkacompute/devnet")), port)


def start(net: Devnet, *, block_time: int | None = None, timeout: float = 30.0) -> subprocess.Popen[bytes]:
    """Starts anvil (loading the saved state if any) and waits until it answers."""
    if net.pid() is not None:
        raise ConfigError(f"a devnet is already running (pid {net.pid()})", hint="`polkacompute devnet down` first")
    net.directory.mkdir(parents=True, exist_ok=True)
    extra = ["--state", str(net.directory / "anvil-state.json")]
    if block_time:
        extra += ["--block-time", str(block_time)]
    with (net.directory / "anvil.log").open("ab") as log:
        try:
            proc = launch(net.port, extra, log=log, timeout=timeout, new_session=True)
        except NetworkError as exc:
            raise NetworkError(f"{exc}; see {net.directory / 'anvil.log'}") from None
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
