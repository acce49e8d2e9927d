"""Shared fixtures: one real anvil per test session, the protocol deployed once, a snapshot per test."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.client import ChainClient
from polkacompute.chain.deploy import Deployment, deploy
from polkacompute.chain.networks import LOCAL_CHAIN_ID, Network

ROOT = Path(__file__).resolve().parent.parent
ANVIL = ROOT / "contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def anvil() -> Iterator[Network]:
    binary = shutil.which("anvil") or str(ANVIL)
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--chain-id",
            str(LOCAL_CHAIN_ID),
            "--silent",
            "--hardfork",
            "cancun",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    w3 = Web3(Web3.HTTPProvider(url))
    deadline = time.monotonic() + 30
    while not w3.is_connected():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("anvil did not start")
        time.sleep(0.02)
    try:
        yield Network("local", LOCAL_CHAIN_ID, url, local=True, poll_interval=0.005, receipt_timeout=20)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def deployment(anvil: Network) -> Deployment:
    async def run() -> Deployment:
        async with ChainClient(anvil, dev_account(0)) as client:
            return await deploy(client)

    return asyncio.run(run())


@pytest.fixture(autouse=True)
def chain_snapshot(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests that use the chain start from the same state: evm_snapshot before, evm_revert after."""
    if "anvil" not in request.fixturenames:
        yield
        return
    network: Network = request.getfixturevalue("anvil")
    w3 = Web3(Web3.HTTPProvider(network.rpc_url))
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    try:
        yield
    finally:
        w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated POLKACOMPUTE_HOME (keystores, deployments)."""
    monkeypatch.setenv("POLKACOMPUTE_HOME", str(tmp_path))
    monkeypatch.delenv("POLKACOMPUTE_RPC_URL", raising=False)
    return tmp_path


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("POLKACOMPUTE_HOME", str(ROOT / ".polkacompute" / "test-home"))
    os.environ.setdefault("POLKACOMPUTE_RUNTIMES", str(ROOT / ".polkacompute" / "runtimes"))  # make setup installs


@pytest.fixture(scope="session")
def python_runtime():  # type: ignore[no-untyped-def]
    """The installed python runtime (`make setup` installs it under .polkacompute/runtimes)."""
    from polkacompute.runtimes import PythonRuntime

    runtime = PythonRuntime()
    runtime.bundle.manifest()  # fails with the install hint if missing
    return runtime
