"""The devnet demo: providers register, a (3,2) job goes through its whole life by SDK calls.

Until the sandbox and the worker daemon exist (next issues), the demo plays the three workers itself:
each computes the job's output (the SHA-256 of the input, the job's declared program), seals it,
and the leader commits all seals and opens them in one `finalize`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.deploy import Deployment
from polkacompute.chain.networks import Network
from polkacompute.sdk.client import AsyncClient
from polkacompute.sdk.models import JobSpec, JobStatus
from polkacompute.sdk.work import proof_tuple, seal_result

ETH = 10**18
PROGRAM = b"polkacompute demo: output = sha256(input)"


@dataclass(frozen=True)
class DemoResult:
    job_id: int
    status: JobStatus
    result_digest: bytes
    output: bytes
    payouts: dict[str, int]
    refund: int


async def run_demo(network: Network, deployment: Deployment, say: Callable[[str], None] = print) -> DemoResult:
    requester, workers = dev_account(1), [dev_account(i) for i in (2, 3, 4)]
    for w in workers:
        async with AsyncClient(network, signer=w, deployment=deployment) as pc:
            if (await pc.providers.info()).status != 1:
                await pc.providers.register(stake=10 * ETH, region="eu-west", peer_id=w.address.encode())
                say(f"provider {w.address} registered with 10 ETH stake")
    payload = b"hello, Polkadot"
    async with AsyncClient(network, signer=requester, deployment=deployment) as pc:
        now = await pc.now()
        price = ETH // 10
        spec = JobSpec(
            program_digest=hashlib.sha256(PROGRAM).digest(),
            input_digest=hashlib.sha256(payload).digest(),
            runtime="wasi",
            replicas=3,
            quorum=2,
            max_price_per_replica=price,
            commit_deadline=now + 600,
            reveal_deadline=now + 1200,
        )
        handle = await pc.jobs.submit(spec)
        say(f"job {handle.id} submitted by {requester.address}: 3 replicas, quorum 2, budget {handle.budget / ETH} ETH")
        bids = [pc.work.sign_bid(w, [handle.id], price * 9 // 10, expiry=now + 600) for w in workers]
        assignees = await pc.work.assign(handle.id, bids)
        say(f"job {handle.id} assigned to {len(assignees)} providers from signed bids at 0.09 ETH")
        refund_before = await pc.escrow.balance(requester.address)

    output = hashlib.sha256(payload).digest()  # each worker runs the declared program on the input
    digest = hashlib.sha256(output).digest()
    sealed = {a.worker: seal_result(handle.id, a.worker, digest) for a in assignees}
    leader = next(w for w in workers if w.address == assignees[0].worker)
    async with AsyncClient(network, signer=leader, deployment=deployment) as pc:
        seals = [sealed[a.worker].seal for a in assignees]
        signatures = [pc.work.sign_seals(w, [(handle.id, sealed[w.address].seal)]) for w in workers if w is not leader]
        await pc.work.commit_seals(handle.id, assignees, seals, signatures)
        say(f"job {handle.id}: 3 sealed results committed in one transaction by {leader.address}")
        openings = [(i, sealed[a.worker].salt) for i, a in enumerate(assignees)]
        await pc.work.finalize(handle.id, digest, proof_tuple(assignees, seals), openings)
        job = await pc.jobs.get(handle.id)
        payouts = {w.address: await pc.escrow.balance(w.address) for w in workers}
        refund = await pc.escrow.balance(requester.address) - refund_before
    say(f"job {handle.id} {job.status.name}: result digest 0x{digest.hex()}")
    return DemoResult(handle.id, job.status, digest, output, payouts, refund)
