"""Listing, watching and settling jobs through the SDK on a real anvil: status streams, typed events,
the reveal fallback, the no-show/refund path and disputes."""

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from web3 import Web3

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.deploy import Deployment
from polkacompute.chain.networks import Network
from polkacompute.contracts import events as models
from polkacompute.errors import ContractError, ValidationError
from polkacompute.sdk import AsyncClient, Client, JobStatus, Sealed, seal_result
from polkacompute.sdk.work import Assignee

from .test_client import ETH, spec_at

PRICE = ETH // 10
FEE = PRICE // 100
WORKERS = (2, 3, 4)
OUTPUT_DIGEST = hashlib.sha256(b"the agreed output").digest()


def warp(anvil: Network, seconds: int) -> None:
    w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
    w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


async def assigned_job(
    pc: AsyncClient,
    deployment: Deployment,
    *,
    commit: bool,
    after_submit: Callable[[], Awaitable[None]] | None = None,
    **spec: Any,
) -> tuple[int, list[Assignee], dict[str, Sealed]]:
    """Registers the workers, submits a (3,2) job as `pc`'s signer (then awaits `after_submit`), assigns
    it and (optionally) commits every worker's seal of OUTPUT_DIGEST in one aggregated call."""
    for i in WORKERS:
        async with AsyncClient(pc.network, signer=dev_account(i), deployment=deployment) as worker:
            await worker.providers.register(stake=10 * ETH)
    now = await pc.now()
    handle = await pc.jobs.submit(spec_at(now, bid_window=0, **spec))
    if after_submit is not None:
        await after_submit()
    signers = {dev_account(i).address: dev_account(i) for i in WORKERS}
    bids = [pc.work.sign_bid(s, [handle.id], PRICE, expiry=now + 3600) for s in signers.values()]
    assignees = await pc.work.assign(handle.id, bids)
    sealed = {a.worker: seal_result(handle.id, a.worker, OUTPUT_DIGEST) for a in assignees}
    if commit:
        seals = [sealed[a.worker].seal for a in assignees]
        signatures = [pc.work.sign_seals(signers[a.worker], [(handle.id, sealed[a.worker].seal)]) for a in assignees]
        await pc.work.commit_seals(handle.id, assignees, seals, signatures)
    return handle.id, assignees, sealed


def test_list_pages_filters_and_orders(anvil: Network, deployment: Deployment) -> None:
    async def run() -> None:
        async with (
            AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as mine,
            AsyncClient(anvil, signer=dev_account(5), deployment=deployment) as other,
        ):
            now = await mine.now()
            ids = [(await mine.jobs.submit(spec_at(now))).id for _ in range(34)]  # more than one page
            theirs = (await other.jobs.submit(spec_at(now))).id
            await mine.jobs.cancel(ids[3])
            assert await mine.jobs.count() == 35
            newest = await mine.jobs.list(limit=5)
            assert [j.id for j in newest] == [35, 34, 33, 32, 31]
            oldest = [j.id async for j in mine.jobs.iter(newest_first=False)]
            assert oldest == list(range(1, 36))
            cancelled = await mine.jobs.list(status=JobStatus.CANCELLED)
            assert [j.id for j in cancelled] == [ids[3]]
            by_other = await mine.jobs.list(requester=dev_account(5).address.lower())
            assert [j.id for j in by_other] == [theirs]
            open_mine = await mine.jobs.list(limit=100, status={JobStatus.OPEN}, requester=dev_account(1).address)
            assert len(open_mine) == 33
            with pytest.raises(ValidationError, match="must be at least 1"):
                await mine.jobs.list(limit=0)

    asyncio.run(run())


def test_watch_reports_every_status_and_events_are_typed(anvil: Network, deployment: Deployment) -> None:
    async def run() -> None:
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
            await pc.jobs.submit(spec_at(await pc.now()))  # job 1 stays open: not in job 2's stream
            watched: list[JobStatus] = []
            submitted, seen = asyncio.Event(), asyncio.Event()

            async def watch() -> None:
                await submitted.wait()
                async for job in pc.jobs.watch(2, poll_interval=0.01):
                    watched.append(job.status)
                    seen.set()

            async def after_submit() -> None:  # the job moves on only once the watcher has seen it OPEN
                submitted.set()
                await seen.wait()

            watcher = asyncio.create_task(watch())
            job_id, assignees, sealed = await assigned_job(pc, deployment, commit=True, after_submit=after_submit)
            assert job_id == 2
            seals = [sealed[a.worker].seal for a in assignees]
            openings = [(i, sealed[a.worker].salt) for i, a in enumerate(assignees)]
            await pc.work.finalize(job_id, OUTPUT_DIGEST, await pc.work.proof(job_id), openings)
            await asyncio.wait_for(watcher, 10)
            assert watched == [JobStatus.OPEN, JobStatus.ASSIGNED, JobStatus.IN_PROGRESS, JobStatus.FINALIZED]

            history = await pc.jobs.history(job_id)
            names = [e.name for e in history]
            assert names[:2] == ["JobSubmitted", "Deposited"]
            assert {"JobAssigned", "SealsCommitted", "JobFinalized", "Paid"} <= set(names)
            finalized = next(e for e in history if e.name == "JobFinalized").model()
            assert isinstance(finalized, models.JobFinalized)
            assert (finalized.job_id, finalized.result_digest) == (job_id, OUTPUT_DIGEST)
            committed = next(e for e in history if e.name == "SealsCommitted").model()
            assert committed.seals == seals
            streamed = [e.name async for e in pc.jobs.events(job_id)]  # terminal: history only, then stops
            assert streamed == names

            result = await pc.jobs.result(job_id)
            assert result.result_digest == OUTPUT_DIGEST
            assert result.paid == {a.worker: PRICE for a in assignees}
            assert result.fees == 3 * FEE
            assert result.received == {a.worker: PRICE - FEE for a in assignees}  # what the escrow credited
            assert (result.slashed, result.refunded) == ({}, 0)

    asyncio.run(run())


def test_reveal_fallback_then_claim(anvil: Network, deployment: Deployment) -> None:
    """No aggregated finalize: each worker opens its own seal; the quorum-th reveal finalizes."""

    async def run() -> None:
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
            job_id, assignees, sealed = await assigned_job(pc, deployment, commit=True)
        proof = None
        for index, a in enumerate(assignees):
            worker = next(dev_account(i) for i in WORKERS if dev_account(i).address == a.worker)
            async with AsyncClient(anvil, signer=worker, deployment=deployment) as w:
                proof = proof or await w.work.proof(job_id)
                await w.work.reveal(job_id, proof, index, sealed[a.worker])
                status = (await w.jobs.get(job_id)).status
                assert status is (JobStatus.IN_PROGRESS if index == 0 else JobStatus.FINALIZED)
                if index == 0:
                    with pytest.raises(ContractError) as err:  # opening twice is refused, nothing changes
                        await w.work.reveal(job_id, proof, index, sealed[a.worker])
                    assert err.value.name == "AlreadyRevealed"
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
            assert proof is not None
            assert await pc.escrow.balance(assignees[0].worker) == 0  # revealed before the quorum: claims
            await pc.work.claim_payout(job_id, proof, 0)
            for a in assignees:
                assert await pc.escrow.balance(a.worker) == PRICE - FEE

    asyncio.run(run())


def test_no_show_job_fails_refunds_requester_and_slashes(anvil: Network, deployment: Deployment) -> None:
    async def run() -> None:
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
            job_id, assignees, _ = await assigned_job(pc, deployment, commit=False)
            with pytest.raises(ContractError) as err:
                await pc.work.settle(job_id)
            assert err.value.name == "SettlementTooEarly"
            stakes = {a.worker: (await pc.providers.info(a.worker)).stake for a in assignees}
            warp(anvil, 7201)
        async with AsyncClient(anvil, signer=dev_account(6), deployment=deployment) as keeper:
            await keeper.work.settle(job_id)  # anyone may settle
            result = await keeper.jobs.result(job_id)
            assert result.job.status is JobStatus.FAILED
            assert result.result_digest is None
            assert set(result.slashed) == {a.worker for a in assignees}
            assert result.slash_reasons == {a.worker: "NO_SHOW" for a in assignees}
            for a in assignees:
                info = await keeper.providers.info(a.worker)
                assert info.stake == stakes[a.worker] - result.slashed[a.worker]
                assert info.locked == 0
            assert result.refunded == 3 * PRICE
            assert await keeper.escrow.balance(dev_account(1).address) >= 3 * PRICE  # plus slashed shares

    asyncio.run(run())


def test_dispute_overturned_refunds_requester(anvil: Network, deployment: Deployment) -> None:
    async def run() -> None:
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
            job_id, assignees, sealed = await assigned_job(pc, deployment, commit=True, dispute_window=600)
            openings = [(i, sealed[a.worker].salt) for i, a in enumerate(assignees)]
            await pc.work.finalize(job_id, OUTPUT_DIGEST, await pc.work.proof(job_id), openings)
            for a in assignees:
                assert await pc.escrow.balance(a.worker) == 0  # held during the dispute window
            bond = (await pc.market_params()).dispute_bond
            await pc.jobs.dispute(job_id)
            assert (await pc.jobs.get(job_id)).status is JobStatus.DISPUTED
            with pytest.raises(ContractError) as err:
                await pc.jobs.dispute(job_id)
            assert err.value.name == "WrongStatus"
        async with AsyncClient(anvil, signer=dev_account(0), deployment=deployment) as arbiter:
            await arbiter.chain.send(arbiter.market.functions.resolveDispute(job_id, False))
            assert (await arbiter.jobs.get(job_id)).status is JobStatus.FAILED
            assert await arbiter.escrow.balance(dev_account(1).address) >= 3 * PRICE + bond

    asyncio.run(run())


def test_sync_client_iterates_async_generators(anvil: Network, deployment: Deployment) -> None:
    with Client(anvil, signer=dev_account(1), deployment=deployment) as pc:
        handle = pc.jobs.submit(spec_at(pc.now()))
        pc.jobs.cancel(handle.id)
        assert [job.status for job in pc.jobs.watch(handle.id)] == [JobStatus.CANCELLED]
        assert [e.name for e in pc.jobs.events(handle.id)] == ["JobSubmitted", "Deposited", "JobCancelled", "Refunded"]
        assert [j.id for j in pc.jobs.iter()] == [handle.id]


def test_revoked_signed_bid_does_not_assign(anvil: Network, deployment: Deployment) -> None:
    """A provider that revokes its signed bids (a leaked or regretted signature) cannot be assigned by them,
    even at the best price; the SDK signs with the current nonce afterwards."""

    async def run() -> None:
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
            for i in (*WORKERS, 6):
                async with AsyncClient(anvil, signer=dev_account(i), deployment=deployment) as worker:
                    await worker.providers.register(stake=10 * ETH)
            now = await pc.now()
            handle = await pc.jobs.submit(spec_at(now, bid_window=0))
            cheap = pc.work.sign_bid(dev_account(6), [handle.id], PRICE // 2, expiry=now + 3600)
            async with AsyncClient(anvil, signer=dev_account(6), deployment=deployment) as revoker:
                await revoker.work.revoke_signed_bids()
                assert await revoker.work.bid_nonce(dev_account(6).address) == 1
            others = [pc.work.sign_bid(dev_account(i), [handle.id], PRICE, expiry=now + 3600) for i in WORKERS]
            assignees = await pc.work.assign(handle.id, [cheap, *others])
            assert dev_account(6).address not in {a.worker for a in assignees}
            assert len(assignees) == 3

    asyncio.run(run())
