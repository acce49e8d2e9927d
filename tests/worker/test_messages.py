"""What a worker accepts from other workers: only messages signed by their sender that fit the chain.

A real job runs through three worker processes; then a hostile libp2p peer sends crafted messages to
one of them on the workers' protocols, and its answer says how many it kept.
"""

import asyncio
import json
import time
from typing import Any

from polkacompute.chain.accounts import dev_account
from polkacompute.errors import NetworkError
from polkacompute.net import LOCAL
from polkacompute.p2p import Node, key_pair_of
from polkacompute.p2p.channel import protocol_of
from polkacompute.runtimes import get_runtime, pack
from polkacompute.sdk import AsyncClient, JobStatus
from polkacompute.sdk.work import sign_bid
from polkacompute.worker.messages import BidOffer, Opening, Openings, SealOffer
from polkacompute.worker.state import Phase, WorkerState

from .fleet import ROOT, Fleet, registered_peers, run_batch, submit, wait_terminal


def test_forged_wrong_and_malformed_messages_are_refused(fleet: Fleet, anvil, deployment) -> None:
    runtime = get_runtime("wasi")
    program = (ROOT / "templates" / "c-wordcount" / "build" / "wordcount.wasm").read_bytes()
    package = pack(fleet.store, runtime, program, b"messages between workers\n", fuel=10**9, time_s=60)
    for index in (2, 3, 4):
        fleet.start_worker(index)
    job_id = submit(anvil, deployment, package, 3, 2)
    assert wait_terminal(anvil, deployment, job_id).job.status is JobStatus.FINALIZED, fleet.logs()
    deadline = time.monotonic() + 30
    while (record := WorkerState(fleet.tmp / "worker2" / "state.db").job(job_id)).phase is not Phase.DONE:
        assert time.monotonic() < deadline, fleet.logs()
        time.sleep(0.2)
    assert record.my_index is not None
    assert record.result_digest is not None
    assert record.salt is not None
    worker2, stranger = dev_account(2), dev_account(9)
    chain_id, market = anvil.chain_id, deployment.address("JobMarket")
    honest = Opening(job_id, record.my_index, worker2.address, record.result_digest, record.salt)
    wrong_salt = Opening(job_id, record.my_index, worker2.address, record.result_digest, b"\x01" * 32)
    forged = Openings.signed(stranger, [honest], chain_id, market)  # signed by a stranger...
    forged = Openings(worker2.address, forged.items, forged.signature)  # ...claiming to be worker 2

    def bundle(signer: Any, opening: Opening) -> list[dict[str, Any]]:
        return [Openings.signed(signer, [opening], chain_id, market).to_json()]

    hostile = Node(key_pair_of(stranger), outbound=LOCAL)  # a peer of the network, on its own
    addr = registered_peers(anvil, deployment)[dev_account(3).address]

    async def post(topic: str, body: Any) -> tuple[int, str]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            answer = json.loads(await hostile.request(addr, protocol_of(topic), data))
        except NetworkError:  # the protocol is not served: refused at negotiation
            return 404, "not served"
        return int(answer["status"]), str(answer["text"])

    async def run() -> None:
        await hostile.start()
        try:
            await check()
        finally:
            await hostile.stop()

    async def check() -> None:
        assert await post("openings", bundle(worker2, honest)) == (200, "1")
        assert await post("openings", [forged.to_json()]) == (200, "0")  # a signature is not the sender's
        assert await post("openings", [Openings.signed(worker2, [wrong_salt], chain_id, market).to_json()]) == (
            200,
            "0",
        )
        other_chain = Openings.signed(worker2, [honest], chain_id + 1, market)  # replayed from another chain
        assert await post("openings", [other_chain.to_json()]) == (200, "0")
        not_assigned = Opening(job_id, record.my_index, stranger.address, record.result_digest, record.salt)
        assert await post("openings", [Openings.signed(stranger, [not_assigned], chain_id, market).to_json()]) == (
            200,
            "0",
        )
        seals = SealOffer.signed(stranger, [(job_id, 0, b"\x02" * 32)], chain_id, market)
        claimed = SealOffer(worker2.address, seals.items, seals.r, seals.vs)  # worker 2's name, a stranger's key
        assert await post("seals", [claimed.to_json()]) == (200, "0")
        assert await post("seals", [seals.to_json()]) == (200, "0")  # its own name, but not a registered provider
        async with AsyncClient(anvil, deployment=deployment) as pc:
            book = pc.deployment.address("BidBook")
        bid = sign_bid(stranger, [job_id], 10**15, sla=60, expiry=2**32 - 1, chain_id=chain_id, book=book)
        assert await post("bids", [BidOffer((job_id,), bid).to_json()]) == (200, "0")  # not a round it bid in
        assert (await post("openings", {"not": "a list"}))[0] == 400
        assert (await post("openings", b"{{{"))[0] == 400  # not JSON
        assert await post("openings", [{"worker": "x"}]) == (200, "0")  # malformed: dropped, logged
        assert (await post("nonsense", []))[0] == 404

    asyncio.run(run())


def test_bids_of_unregistered_keys_cannot_delay_an_assignment(fleet: Fleet, anvil, deployment) -> None:
    """Six 1-wei bids signed by throwaway keys reach every worker during a job's bid window: the workers
    refuse them (not registered providers), rank only eligible bids, and the job is assigned to them and
    finalized as usual (before the fix it stayed open, every worker retrying a reverting assignment)."""
    runtime = get_runtime("wasi")
    program = (ROOT / "templates" / "c-wordcount" / "build" / "wordcount.wasm").read_bytes()
    package = pack(fleet.store, runtime, program, b"a job strangers bid on\n", fuel=10**9, time_s=60)
    for index in (2, 3, 4):
        fleet.start_worker(index)
    hostile = Node(key_pair_of(dev_account(9)), outbound=LOCAL)
    peers = registered_peers(anvil, deployment)
    answers: list[tuple[int, str]] = []

    async def flood(ids: list[int]) -> None:
        book = deployment.address("BidBook")
        signed = [sign_bid(dev_account(12 + i), ids, 1, sla=60, expiry=2**32 - 1, chain_id=anvil.chain_id, book=book)
                  for i in range(6)]  # fmt: skip
        bids = [BidOffer(tuple(ids), bid).to_json() for bid in signed]
        await hostile.start()
        try:
            for worker in (2, 3, 4):
                answer = json.loads(await hostile.request(peers[dev_account(worker).address], protocol_of("bids"),
                                                          json.dumps(bids).encode()))  # fmt: skip
                answers.append((int(answer["status"]), str(answer["text"])))
        finally:
            await hostile.stop()

    results, events = run_batch(fleet, anvil, deployment, [package], bid_window=3, meanwhile=flood)
    assert answers == [(200, "0")] * 3  # none kept
    assert results[0].job.status is JobStatus.FINALIZED, fleet.logs()
    assigned = [e for e in events if e.name == "JobAssigned"]
    assert len(assigned) == 1
    assert set(assigned[0].args["workers"]) <= {dev_account(i).address for i in (2, 3, 4)}
