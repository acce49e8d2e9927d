"""Starting anvil: the one launcher behind the devnet, the test suite and the benchmarks."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from web3 import Web3

from polkacompute.chain.networks import LOCAL_CHAIN_ID
from polkacompute.errors import ConfigError, NetworkError

NPM_ANVIL = Path("contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")


def find_anvil() -> str:
    """anvil from $POLKACOMPUTE_ANVIL, PATH, or the repository's npm install (contracts/node_modules)."""
    if env := os.environ.get("POLKACOMPUTE_ANVIL"):
        return env
    if found := shutil.which("anvil"):
        return found
    here = Path(__file__).resolve()
    for base in (Path.cwd(), *Path.cwd().parents, *here.parents):
        if (base / NPM_ANVIL).exists():
            return str(base / NPM_ANVIL)
    raise ConfigError(
        "anvil not found",
        hint="run `make setup` in the repository, or `npm install @foundry-rs/anvil` and put its bin on PATH",
    )


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(
    port: int,
    extra: Sequence[str] = (),
    *,
    log: IO[bytes] | None = None,
    timeout: float = 30.0,
    new_session: bool = False,
) -> subprocess.Popen[bytes]:
    """Starts anvil on 127.0.0.1:`port` (chain id 31337, cancun) and returns once it answers RPC.

    `extra` adds anvil flags (state file, block time, accounts...). Output goes to `log`, or nowhere.
    """
    args = [find_anvil(), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(LOCAL_CHAIN_ID),
            "--hardfork", "cancun", *extra]  # fmt: skip
    out = log if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=new_session)
    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 5}))
    deadline = time.monotonic() + timeout
    while not w3.is_connected():
        if proc.poll() is not None:
            raise NetworkError(f"anvil exited at start with code {proc.returncode}", hint="see its log")
        if time.monotonic() > deadline:
            proc.terminate()
            raise NetworkError(f"anvil did not answer on port {port} within {timeout:.0f}s")
        time.sleep(0.02)
    return proc
