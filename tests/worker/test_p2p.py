"""Workers talking over libp2p: bids, seals and openings between them travel on Noise-encrypted
streams to the multiaddrs they registered, and a batch still takes one transaction per step."""

import asyncio
from typing import Any

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.events import LogReader
from polkacompute.p2p import peer_id_of
from polkacompute.runtimes import get_runtime, pack
from polkacompute.sdk import AsyncClient, JobSpec, JobStatus

from .fleet import ETH, ROOT, Fleet


def test_workers_over_libp2p_run_a_batch(fleet: Fleet, anvil, deployment) -> None:
    runtime = get_runtime("wasi")
    program = (ROOT / "templates" / "c-wordcount" / "build" / "wordcount.wasm").read_bytes()
    packages = [pack(fleet.store, runtime, program, f"p2p input {i}\n".encode(), fuel=10**9, time_s=60)
                for i in range(4)]  # fmt: skip
    for index in (2, 3, 4):
        fleet.start_worker(index, "--p2p")

    async def run() -> tuple[list[Any], list[Any]]:
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
            start = await pc.chain.block_number() + 1
            now = await pc.now()
            specs = [JobSpec(p.program_digest, p.input_digest, p.runtime_id, 3, 2, ETH // 100, now + 600, now + 1200,
                             fuel_limit=p.fuel, time_limit=p.time_s, bid_window=1) for p in packages]  # fmt: skip
            first = await pc.jobs.count() + 1
            await pc.chain.send(pc.market.functions.submitJobs([s.to_tuple() for s in specs]),
                                value=sum(s.budget for s in specs))  # fmt: skip
            ids = list(range(first, first + len(specs)))
            for job_id in ids:
                await pc.jobs.wait(job_id, timeout=90)
            results = [await pc.jobs.result(j) for j in ids]
            events = await LogReader(pc.chain, pc.deployment.addresses).read(start, await pc.chain.block_number())
            return results, events

    try:
        results, events = asyncio.run(run())
    except Exception:
        print(fleet.logs())
        raise
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
