"""A (3,2) job from submission to payout through SDK calls only, and the failure/refund path."""

import asyncio
import hashlib

import pytest

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.deploy import Deployment
from polkacompute.chain.networks import Network
from polkacompute.errors import ContractError
from polkacompute.sdk.client import AsyncClient
from polkacompute.sdk.models import JobStatus
from polkacompute.sdk.work import proof_tuple, seal_result

from .test_client import ETH, spec_at

PRICE = ETH // 10


async def _register(anvil: Network, deployment: Deployment, indices: list[int]) -> None:
    for i in indices:
        async with AsyncClient(anvil, signer=dev_account(i), deployment=deployment) as worker:
            await worker.providers.register(stake=10 * ETH, region="eu-west")


def test_job_lifecycle_signed_bids_aggregated_seals_finalize(anvil: Network, deployment: Deployment) -> None:
    workers = [dev_account(i) for i in (2, 3, 4)]
    output = b"hello from the workers"
    digest = hashlib.sha256(output).digest()

    async def run() -> None:
        await _register(anvil, deployment, [2, 3, 4])
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as requester:
            now = await requester.now()
            handle = await requester.jobs.submit(spec_at(now, bid_window=0))
            bids = [requester.work.sign_bid(w, [handle.id], PRICE, expiry=now + 3600) for w in workers]
            assignees = await requester.work.assign(handle.id, bids)
            assert sorted(a.worker for a in assignees) == sorted(w.address for w in workers)
            assert (await requester.jobs.get(handle.id)).status is JobStatus.ASSIGNED

        sealed = {a.worker: seal_result(handle.id, a.worker, digest) for a in assignees}
        leader = next(w for w in workers if w.address == assignees[0].worker)
        async with AsyncClient(anvil, signer=leader, deployment=deployment) as pc:
            signatures = [
                pc.work.sign_seals(w, [(handle.id, sealed[w.address].seal)]) for w in workers if w is not leader
            ]
            seals = [sealed[a.worker].seal for a in assignees]
            await pc.work.commit_seals(handle.id, assignees, seals, signatures)
            assert (await pc.jobs.get(handle.id)).status is JobStatus.IN_PROGRESS
            openings = [(i, sealed[a.worker].salt) for i, a in enumerate(assignees)]
            await pc.work.finalize(handle.id, digest, proof_tuple(assignees, seals), openings)
            job = await pc.jobs.get(handle.id)
            assert job.status is JobStatus.FINALIZED
            assert job.result_digest == digest
            fee = PRICE // 100
            for w in workers:
                assert await pc.escrow.balance(w.address) == PRICE - fee
                assert (await pc.providers.info(w.address)).reputation == 2_510  # INITIAL_REPUTATION + the reward

    asyncio.run(run())


def test_forged_opening_is_rejected_with_a_typed_error(anvil: Network, deployment: Deployment) -> None:
    workers = [dev_account(i) for i in (2, 3, 4)]
    digest = hashlib.sha256(b"right").digest()

    async def run() -> None:
        await _register(anvil, deployment, [2, 3, 4])
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
            now = await pc.now()
            handle = await pc.jobs.submit(spec_at(now, bid_window=0))
            assignees = await pc.work.assign(
                handle.id, [pc.work.sign_bid(w, [handle.id], PRICE, expiry=now + 3600) for w in workers]
            )
            sealed = [seal_result(handle.id, a.worker, digest) for a in assignees]
            by_addr = {w.address: w for w in workers}
            signatures = [
                pc.work.sign_seals(by_addr[a.worker], [(handle.id, s.seal)])
                for a, s in zip(assignees, sealed, strict=True)
            ]
            await pc.work.commit_seals(handle.id, assignees, [s.seal for s in sealed], signatures)
            wrong = hashlib.sha256(b"wrong").digest()
            proof = proof_tuple(assignees, [s.seal for s in sealed])
            with pytest.raises(ContractError) as err:
                await pc.work.finalize(handle.id, wrong, proof, [(0, sealed[0].salt), (1, sealed[1].salt)])
            assert err.value.name == "InvalidOpening"
            assert err.value.args_by_name == {"jobId": handle.id, "index": 0}
            assert (await pc.jobs.get(handle.id)).status is JobStatus.IN_PROGRESS

    asyncio.run(run())
