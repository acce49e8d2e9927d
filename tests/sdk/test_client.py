"""The SDK against a real anvil: submit, read, cancel, wait; providers; escrow; the sync facade."""

import asyncio
import hashlib
from dataclasses import replace

import pytest

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.deploy import Deployment
from polkacompute.chain.networks import Network
from polkacompute.errors import JobTimeout, ValidationError
from polkacompute.sdk.client import AsyncClient, Client
from polkacompute.sdk.models import JobSpec, JobStatus

ETH = 10**18


def spec_at(now: int, **overrides: object) -> JobSpec:
    base = JobSpec(
        program_digest=hashlib.sha256(b"program").digest(),
        input_digest=hashlib.sha256(b"input").digest(),
        runtime="wasi",
        replicas=3,
        quorum=2,
        max_price_per_replica=ETH // 10,
        commit_deadline=now + 3600,
        reveal_deadline=now + 7200,
        bid_window=60,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def test_submit_get_cancel_refund(anvil: Network, deployment: Deployment) -> None:
    async def run() -> None:
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
            handle = await pc.jobs.submit(spec_at(await pc.now()))
            assert handle.id == 1
            assert handle.budget == 3 * ETH // 10
            job = await pc.jobs.get(handle.id)
            assert job.status is JobStatus.OPEN
            assert (job.replicas, job.quorum) == (3, 2)
            assert job.result_digest is None
            await pc.jobs.cancel(handle.id)
            assert (await pc.jobs.get(handle.id)).status is JobStatus.CANCELLED
            assert await pc.escrow.balance() == handle.budget
            await pc.escrow.withdraw()
            assert await pc.escrow.balance() == 0

    asyncio.run(run())


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"quorum": 1}, "quorum", "not a majority of 3"),
        ({"replicas": 17, "quorum": 9}, "replicas", "outside 1..16"),
        ({"max_price_per_replica": 0}, "max_price_per_replica", "outside 1..1208925819614629174706175"),
        ({"bid_window": 10**9}, "bid_window", "outside 0..86400"),
        ({"data_ref": 3}, "data_ref", "not supported yet"),
        ({"confidential": True}, "encryption_pub_key", "needs the requester's public key"),
        ({"runtime": ""}, "runtime", "must be 1 to 32 bytes"),
    ],
)
def test_bad_specs_fail_before_sending(anvil: Network, deployment: Deployment, overrides, field, text) -> None:
    async def run() -> None:
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
            nonce = await pc.chain.w3.eth.get_transaction_count(pc.chain.signer.address)
            spec = spec_at(await pc.now(), **overrides)
            with pytest.raises(ValidationError) as err:
                await pc.jobs.submit(spec)
            assert err.value.field == field
            assert text in str(err.value)
            assert await pc.chain.w3.eth.get_transaction_count(pc.chain.signer.address) == nonce

    asyncio.run(run())


def test_deadlines_checked_against_chain_time(anvil: Network, deployment: Deployment) -> None:
    async def run() -> None:
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
            now = await pc.now()
            params = await pc.market_params()
            with pytest.raises(ValidationError, match="leaves no time to run the job") as err:
                await pc.jobs.submit(spec_at(now, commit_deadline=now + 30))
            spec = spec_at(now)
            earliest = now + spec.bid_window + spec.time_limit + params.min_commit_window
            assert f"use at least {earliest}" in str(err.value)
            with pytest.raises(ValidationError, match="after the commit deadline"):
                await pc.jobs.submit(spec_at(now, reveal_deadline=now + 3600))

    asyncio.run(run())


def test_wait_times_out_with_the_current_status(anvil: Network, deployment: Deployment) -> None:
    async def run() -> None:
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
            handle = await pc.jobs.submit(spec_at(await pc.now()))
            with pytest.raises(JobTimeout, match=f"job {handle.id} is still OPEN"):
                await pc.jobs.wait(handle.id, timeout=0.3)
            await pc.jobs.cancel(handle.id)
            job = await pc.jobs.wait(handle.id, timeout=5)
            assert job.status is JobStatus.CANCELLED

    asyncio.run(run())


def test_unknown_job_is_a_clear_error(anvil: Network, deployment: Deployment) -> None:
    async def run() -> None:
        async with AsyncClient(anvil, deployment=deployment) as pc:
            with pytest.raises(ValidationError, match="no job 99 on local"):
                await pc.jobs.get(99)

    asyncio.run(run())


def test_provider_lifecycle_through_the_sync_client(anvil: Network, deployment: Deployment) -> None:
    with Client(anvil, signer=dev_account(3), deployment=deployment) as pc:
        pc.providers.register(stake=20 * ETH, capabilities=3, region="eu-west", peer_id=b"peer")
        info = pc.providers.info()
        assert info.status == 1
        assert info.stake == 20 * ETH
        assert info.reputation == 2_500
        assert info.region == "eu-west"
        pc.providers.add_stake(ETH)
        pc.providers.unbond(2 * ETH)
        info = pc.providers.info()
        assert info.stake == 19 * ETH
        assert info.unbonding == 2 * ETH
        with pytest.raises(ValidationError, match="longer than 8 bytes"):
            pc.providers.register(stake=ETH, region="antarctica-south")
