"""Workers as separate hosts: each in its own network namespace, on a veth link to a bridge that also
carries the chain and the requester's gateway. Bids, seals, openings and content cross real links
between network stacks, not one loopback. Skipped where network namespaces are not allowed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.client import ChainClient
from polkacompute.chain.deploy import deploy
from polkacompute.chain.networks import LOCAL_CHAIN_ID, Network
from polkacompute.p2p import peer_id_of
from polkacompute.sdk import JobStatus
from tests.conftest import ANVIL

from .fleet import Fleet, registered_peers, run_batch, wordcount_jobs

SUBNET = f"10.77.{os.getpid() % 250}"  # private, on links that exist only inside this machine (one per run)
HOSTS = 3


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=10)


@pytest.fixture
def namespaces() -> Iterator[list[str]]:
    """A bridge at SUBNET.1 and HOSTS namespaces at SUBNET.11, .12, ... linked to it by veth pairs.
    Root can do this on a normal Linux machine; a container without CAP_NET_ADMIN cannot (skip)."""
    tag = f"{os.getpid() % 10000}"
    bridge, names = f"pcbr{tag}", [f"pcns{tag}-{i}" for i in range(HOSTS)]
    made: list[list[str]] = []  # how to undo each step, newest last
    try:
        sh("ip", "link", "add", bridge, "type", "bridge")
        made.append(["ip", "link", "del", bridge])
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"network namespaces are not allowed here: {exc}")
    try:
        sh("ip", "addr", "add", f"{SUBNET}.1/24", "dev", bridge)
        sh("ip", "link", "set", bridge, "up")
        for i, ns in enumerate(names):
            outside, inside = f"pcv{tag}a{i}", f"pcv{tag}b{i}"
            sh("ip", "netns", "add", ns)
            made.append(["ip", "netns", "del", ns])  # takes its end of the veth pair with it
            sh("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
            sh("ip", "link", "set", inside, "netns", ns)
            sh("ip", "link", "set", outside, "master", bridge)
            sh("ip", "link", "set", outside, "up")
            sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{SUBNET}.{11 + i}/24", "dev", inside)
            sh("ip", "netns", "exec", ns, "ip", "link", "set", inside, "up")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        yield names
    finally:
        for undo in reversed(made):
            subprocess.run(undo, capture_output=True, timeout=10)


def test_workers_on_separate_network_stacks_run_a_batch(namespaces: list[str], tmp_path: Path) -> None:
    port = 18545
    anvil = subprocess.Popen([ANVIL, "--host", f"{SUBNET}.1", "--port", str(port), "--chain-id", str(LOCAL_CHAIN_ID),
                              "--hardfork", "cancun", "--silent"])  # fmt: skip
    fleet = None
    try:
        network = Network("local", LOCAL_CHAIN_ID, f"http://{SUBNET}.1:{port}", local=True, poll_interval=0.005,
                          receipt_timeout=20)  # fmt: skip
        w3 = Web3(Web3.HTTPProvider(network.rpc_url))
        deadline = time.monotonic() + 30
        while not w3.is_connected():
            assert anvil.poll() is None, "anvil exited"
            assert time.monotonic() < deadline, "anvil did not answer on the bridge"
            time.sleep(0.05)

        async def deployed():  # type: ignore[no-untyped-def]
            async with ChainClient(network, dev_account(0)) as client:
                return await deploy(client)

        deployment = asyncio.run(deployed())
        fleet = Fleet(tmp_path, network, deployment, host=f"{SUBNET}.1")
        packages = wordcount_jobs(fleet.store, [f"host input {i}\n".encode() for i in range(3)])
        for i, ns in enumerate(namespaces):
            fleet.start_worker(2 + i, host=f"{SUBNET}.{11 + i}", prefix=("ip", "netns", "exec", ns))
        results, events = run_batch(fleet, network, deployment, packages)
        assert all(r.job.status is JobStatus.FINALIZED for r in results), fleet.logs()
        assert all(len(r.paid) == 3 for r in results), fleet.logs()  # every opening crossed the links
        assert len({e.tx_hash for e in events if e.name == "SealsCommitted"}) == 1
        assert len({e.tx_hash for e in events if e.name == "JobFinalized"}) == 1
        peers = registered_peers(network, deployment)
        for i in range(HOSTS):  # each registered the multiaddr of its own stack
            addr = peers[dev_account(2 + i).address]
            assert addr == f"/ip4/{SUBNET}.{11 + i}/tcp/{addr.split('/')[4]}/p2p/{peer_id_of(dev_account(2 + i))}"
    finally:
        if fleet is not None:
            fleet.stop()
        anvil.terminate()
        anvil.wait(timeout=10)
