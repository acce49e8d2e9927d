"""Workers talking over libp2p: bids, seals and openings between them travel on Noise-encrypted
streams to the multiaddrs they registered, and a batch still takes one transaction per step."""

import asyncio
import json
import subprocess

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.events import LogReader
from polkacompute.p2p import peer_id_of
from polkacompute.sdk import AsyncClient, JobStatus

from .fleet import CLI, Fleet, registered_peers, run_batch, wordcount_jobs


def test_workers_over_libp2p_run_a_batch(fleet: Fleet, anvil, deployment) -> None:
    packages = wordcount_jobs(fleet.store, [f"p2p input {i}\n".encode() for i in range(4)])
    for index in (2, 3, 4):
        fleet.start_worker(index)  # libp2p is the default

    results, events = run_batch(fleet, anvil, deployment, packages)
    assert all(r.job.status is JobStatus.FINALIZED for r in results), fleet.logs()
    assert all(len(r.paid) == 3 for r in results), fleet.logs()  # every opening reached the leader
    assert len({e.tx_hash for e in events if e.name == "SealsCommitted"}) == 1  # every seal offer arrived
    assert len({e.tx_hash for e in events if e.name == "JobFinalized"}) == 1

    async def registered() -> list[str]:  # what each worker registered as its peer id: a libp2p multiaddr
        async with AsyncClient(anvil, deployment=deployment) as pc:
            found = await LogReader(pc.chain, pc.deployment.addresses).read(
                pc.deployment.block, await pc.chain.block_number(), events=["ProviderRegistered", "ProviderUpdated"]
            )
        return [bytes(e.args["peerId"]).decode() for e in found]

    peer_ids = asyncio.run(registered())
    for i in (2, 3, 4):
        assert any(p.startswith("/ip4/127.0.0.1/tcp/") and p.endswith(f"/p2p/{peer_id_of(dev_account(i))}")
                   for p in peer_ids), peer_ids  # fmt: skip

    # The status protocol, from the CLI: the answer is signed by the provider the multiaddr belongs to.
    addr = next(p for p in peer_ids if p.endswith(peer_id_of(dev_account(3))))
    ping = subprocess.run([*CLI, "--json", "worker", "ping", addr, "--rpc-url", anvil.rpc_url],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert ping.returncode == 0, ping.stderr
    status = json.loads(ping.stdout)
    assert status["address"] == dev_account(3).address
    assert status["peer_id"] == peer_id_of(dev_account(3))
    assert status["chain_id"] == anvil.chain_id
    assert status["chain_time"] > 0
    assert "wasi" in status["runtimes"]
    dead = addr.replace(addr.split("/")[4], "1")  # port 1: nobody listens
    refused = subprocess.run([*CLI, "worker", "ping", dead, "--rpc-url", anvil.rpc_url, "--within", "3"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert refused.returncode != 0
    assert "failed" in refused.stderr or "no answer" in refused.stderr, refused.stderr


def test_workers_over_the_http_channel_run_a_batch(fleet: Fleet, anvil, deployment) -> None:
    """`--http-channel`: the same messages POSTed to each other's gateways, found by registered URL."""
    packages = wordcount_jobs(fleet.store, [f"http input {i}\n".encode() for i in range(3)])
    for index in (2, 3, 4):
        fleet.start_worker(index, "--http-channel")
    results, events = run_batch(fleet, anvil, deployment, packages)
    assert all(r.job.status is JobStatus.FINALIZED for r in results), fleet.logs()
    assert all(len(r.paid) == 3 for r in results), fleet.logs()
    assert len({e.tx_hash for e in events if e.name == "SealsCommitted"}) == 1
    assert len({e.tx_hash for e in events if e.name == "JobFinalized"}) == 1
    peers = registered_peers(anvil, deployment)
    assert all(peers[dev_account(i).address] == fleet.worker_urls[i] for i in (2, 3, 4)), peers
