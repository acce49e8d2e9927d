"""Five workers over libp2p with no gateway of their own: a requester's gossiped announcement reaches
them all and tells them which peer holds the content (not the requester); a forged one is dropped; a
killed worker stalls nobody; the DHT then knows who offers the runtime and who holds the program."""

import asyncio
import json
import subprocess

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.events import LogReader
from polkacompute.net import LOCAL
from polkacompute.p2p import Node, key_pair_of, peer_id_of
from polkacompute.p2p.announce import TOPIC, Announcement, Announcer
from polkacompute.sdk import AsyncClient, JobSpec, JobStatus
from polkacompute.store import ContentStore

from .fleet import CLI, ETH, WORDCOUNT, Fleet, wait_terminal, wordcount_jobs

WORKERS = (2, 3, 4, 5, 6)


def test_announced_jobs_run_on_workers_that_only_know_what_gossip_told_them(fleet: Fleet, anvil, deployment) -> None:
    packages = wordcount_jobs(fleet.store, [f"announced input {i}\n".encode() for i in range(3)])
    holder = ContentStore(fleet.tmp / "worker2" / "store")  # worker 2 already holds the content
    for package in packages:
        for cid in (package.program, package.input):
            holder.put(fleet.store.get(cid))
    for index in WORKERS:
        fleet.start_worker(index, "--p2p", content=False)
    fleet.kill_worker(6)  # registered, then gone: its peers must not wait on it

    async def go() -> tuple[list, list]:  # type: ignore[type-arg]
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
            registered = await LogReader(pc.chain, pc.deployment.addresses).read(
                pc.deployment.block, await pc.chain.block_number(), events=["ProviderRegistered"]
            )
            addrs = [bytes(e.args["peerId"]).decode() for e in registered]
            market = pc.deployment.address("JobMarket")
            node = Node(key_pair_of(dev_account(1)), outbound=LOCAL, dht=True)
            announcer = Announcer(node, dev_account(1), anvil.chain_id, market)
            forger = Node(key_pair_of(dev_account(9)), outbound=LOCAL)
            forger.subscribe(TOPIC, lambda sender, data: asyncio.sleep(0))
            await node.start()
            await forger.start()
            try:
                assert await node.connect(addrs, within=3) == len(WORKERS) - 1  # the killed one is skipped
                await forger.connect(addrs[:1], within=3)
                await asyncio.sleep(2.0)  # subscriptions exchanged, meshes built
                now = await pc.now()
                specs = [JobSpec(p.program_digest, p.input_digest, p.runtime_id, 3, 2, ETH // 100, now + 600,
                                 now + 1200, fuel_limit=p.fuel, time_limit=p.time_s, bid_window=1)
                         for p in packages]  # fmt: skip
                first = await pc.jobs.count() + 1
                receipt = await pc.chain.send(pc.market.functions.submitJobs([s.to_tuple() for s in specs]),
                                              value=sum(s.budget for s in specs))  # fmt: skip
                ids = list(range(first, first + len(specs)))
                tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
                holder_addr = next(a for a in addrs if a.endswith(peer_id_of(dev_account(2))))
                await announcer.announce(tx_hash, ids, [holder_addr])  # not the requester's gateway: a peer
                forged = Announcement(dev_account(1).address, 1, 1, tx_hash, tuple(ids), ("http://127.0.0.1:9/",),
                                      forger.addrs[0]).signed_by(dev_account(9), anvil.chain_id, market)  # fmt: skip
                await forger.publish(TOPIC, json.dumps(forged.to_json()).encode())
                for job_id in ids:
                    await pc.jobs.wait(job_id, timeout=90)
                reader = LogReader(pc.chain, pc.deployment.addresses)
                finals = await reader.read(
                    receipt["blockNumber"], await pc.chain.block_number(), events=["JobFinalized"]
                )
                assert len({e.tx_hash for e in finals if int(e.args["jobId"]) in ids}) == 1  # openings aggregated
                # The DHT knows who offers the wasi runtime, and who ran (so holds) the program.
                offering = await node.find_providers("polkacompute/runtime/wasi")
                holding = await node.find_providers(packages[0].program)
                live = {a for a in addrs if not a.endswith(peer_id_of(dev_account(6)))}
                assert live <= set(offering) <= set(addrs), offering  # the killed one may have provided first
                assert len(holding) >= 3, holding
                return [await pc.jobs.result(j) for j in ids], ids
            finally:
                await node.stop()
                await forger.stop()

    try:
        results, ids = asyncio.run(go())
    except Exception:
        print(fleet.logs())
        raise
    assert all(r.job.status is JobStatus.FINALIZED for r in results), fleet.logs()
    logs = {i: (fleet.tmp / f"worker{i}.log").read_text() for i in WORKERS[:-1]}
    for text in logs.values():
        assert f"announced by {dev_account(1).address}: 3 jobs from {ids[0]}" in text, fleet.logs()
        assert f"is signed by {dev_account(9).address}, not by its requester" in text, fleet.logs()  # dropped
    assert all(len(r.paid) >= 2 for r in results), fleet.logs()


def test_job_submit_announce_tells_gatewayless_workers_where_the_content_is(fleet: Fleet, anvil, deployment,
                                                                          tmp_path) -> None:  # fmt: skip
    program = WORDCOUNT.read_bytes()
    data = b"submitted from the command line, announced over gossip\n"
    (tmp_path / "program.wasm").write_bytes(program)
    (tmp_path / "input.txt").write_bytes(data)
    fleet.store.put(program)  # published on the requester's gateway, which the workers were not given
    fleet.store.put(data)
    for index in (2, 3, 4):
        fleet.start_worker(index, content=False)
    submitted = subprocess.run([*CLI, "--json", "job", "submit", "--program", str(tmp_path / "program.wasm"),
                                "--input", str(tmp_path / "input.txt"), "--max-price", "0.01", "--dev", "1",
                                "--announce", fleet.gateway_url], env=fleet.env, capture_output=True, text=True,
                               timeout=120)  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    answer = json.loads(submitted.stdout)
    assert answer["announced_to"] == 3
    result = wait_terminal(anvil, deployment, answer["id"])
    assert result.job.status is JobStatus.FINALIZED, fleet.logs()
    for index in (2, 3, 4):
        assert "announced by" in (fleet.tmp / f"worker{index}.log").read_text()
