"""Defaults that follow the devnet: after `make devnet` (or `devnet up`), the README's commands work in any
shell of the checkout with no variables exported.

The devnet's state directory is `$POLKACOMPUTE_DEVNET_DIR`, else the nearest `.polkacompute/devnet` from
the working directory upwards. When it exists:

- the content store (`job pack`, `job run`) is its `store/`, which its gateway serves to its workers;
- `worker status/logs --dev N` read its `workers/workerN/` (before `~/.polkacompute/workers/<address>`);
- while it runs, the `local` network is at its RPC URL (`devnet up --port`), `job submit` publishes
  the job's program and input to its gateway, and `worker run` fetches content from it.

Reads only files (`fleet.json`, `anvil.pid`): no chain library is imported here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from polkacompute.paths import PROJECT_DIR, find_upward, home

if TYPE_CHECKING:
    from polkacompute.chain.networks import Network


@dataclass(frozen=True)
class DevnetState:
    directory: Path
    running: bool  # its anvil runs and its fleet is recorded
    rpc_url: str | None  # as the running devnet recorded it
    gateway_url: str | None  # its content gateway (accepting uploads), when started with workers

    @property
    def store(self) -> Path:
        return self.directory / "store"

    def worker(self, account: int) -> Path:
        return self.directory / "workers" / f"worker{account}"


def devnet_directory() -> Path | None:
    env = os.environ.get("POLKACOMPUTE_DEVNET_DIR")
    if env:
        return Path(env) if Path(env).is_dir() else None
    return find_upward(Path(PROJECT_DIR) / "devnet")


def devnet() -> DevnetState | None:
    """The devnet found from here (None if there is no state directory), and whether it runs."""
    directory = devnet_directory()
    if directory is None:
        return None
    try:
        fleet = json.loads((directory / "fleet.json").read_text())  # written while it runs, removed at stop
    except (OSError, ValueError):
        fleet = None
    running = isinstance(fleet, dict) and _alive(directory / "anvil.pid")
    if not running or not isinstance(fleet, dict):
        return DevnetState(directory, False, None, None)
    return DevnetState(directory, True, str(fleet.get("rpc_url") or "") or None,
                       str(fleet.get("gateway_url") or "") or None)  # fmt: skip


def _alive(pid_file: Path) -> bool:
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False
    return b"anvil" in cmdline


def devnet_deployment(net: Network) -> Path | None:
    """The devnet's deployment file for the `local` network, when the devnet found from here has one and
    POLKACOMPUTE_DEPLOYMENTS does not name another place (None: the SDK's usual lookup)."""
    if net.name != "local" or os.environ.get("POLKACOMPUTE_DEPLOYMENTS"):
        return None
    directory = devnet_directory()
    path = directory / "deployments" / "local.json" if directory else None
    return path if path is not None and path.exists() else None


def devnet_gateway(net: Network) -> str | None:
    """The running devnet's gateway, when `net` is that devnet's chain (where its workers fetch content)."""
    found = devnet()
    if found is None or not found.running or not found.gateway_url or net.name != "local":
        return None
    return found.gateway_url if found.rpc_url in (None, net.rpc_url) else None


def content_sources(given: list[str] | None, net: Network) -> tuple[str, ...]:
    """Where `worker run` fetches programs and inputs: --content, else the running devnet's gateway when `net`
    is that devnet's chain (where `job submit` publishes them), else nowhere but its peers."""
    if given:
        return tuple(given)
    gateway = devnet_gateway(net)
    return (gateway,) if gateway else ()


def store_directory(given: Path | None) -> Path:
    """The content store: --store, else POLKACOMPUTE_STORE, else the devnet's (served by its gateway to its
    workers), else `store` in the PolkaCompute home."""
    if given is not None:
        return given
    if env := os.environ.get("POLKACOMPUTE_STORE"):
        return Path(env)
    found = devnet_directory()
    return found / "store" if found is not None else home() / "store"


def worker_directories(dev: int | None, address: str) -> list[Path]:
    """Where a worker's directory is looked for, in order: the devnet's `workers/worker<dev>` (for a dev
    account), then `workers/<address>` in the PolkaCompute home (`worker run`'s default)."""
    found = devnet_directory()
    devnet_dir = [found / "workers" / f"worker{dev}"] if found is not None and dev is not None else []
    return [*devnet_dir, home() / "workers" / address]
