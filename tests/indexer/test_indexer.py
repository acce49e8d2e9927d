"""The indexer on a real anvil, on SQLite and on PostgreSQL: jobs, providers and the escrow's ledger
rebuilt from events alone match the contracts' views after a random workload; a reorg is rewound; a
restarted indexer resumes from its cursor."""

import asyncio
import json
import logging
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from web3 import Web3

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.deploy import Deployment, save_deployment
from polkacompute.chain.events import LogReader
from polkacompute.chain.networks import Network
from polkacompute.indexer import Indexer, open_store
from polkacompute.indexer.schema import Balance, Escrowed, EventRow, JobRow, ProviderRow
from polkacompute.sdk import AsyncClient, JobStatus, seal_result
from tests.sdk.test_client import ETH, spec_at
from tests.sdk.test_jobs import OUTPUT_DIGEST, PRICE, WORKERS, warp


def rpc(anvil: Network, method: str, *params: object) -> object:
    return Web3(Web3.HTTPProvider(anvil.rpc_url)).provider.make_request(method, list(params))["result"]  # type: ignore[arg-type]


async def workload(pc: AsyncClient, anvil: Network, deployment: Deployment, seed: int, jobs: int) -> None:
    """Jobs that stay open, are cancelled, finalize with every seal and opening, or fail unattended."""
    rng = random.Random(seed)
    signers = [dev_account(i) for i in WORKERS]
    for s in signers:
        async with AsyncClient(anvil, signer=s, deployment=deployment) as worker:
            if (await worker.providers.info()).status != 1:
                await worker.providers.register(stake=10 * ETH)
    no_shows = []
    for _ in range(jobs):
        now = await pc.now()
        fate = rng.choice(["open", "cancel", "finalize", "finalize", "no-show"])
        handle = await pc.jobs.submit(spec_at(now, bid_window=0, max_price_per_replica=rng.choice([PRICE, 2 * PRICE])))
        if fate == "cancel":
            await pc.jobs.cancel(handle.id)
        elif fate in ("finalize", "no-show"):
            bids = [pc.work.sign_bid(s, [handle.id], PRICE, expiry=now + 3600) for s in signers]
            assignees = await pc.work.assign(handle.id, bids)
            if fate == "no-show":
                no_shows.append(handle.id)
                continue
            by = {s.address: s for s in signers}
            sealed = {a.worker: seal_result(handle.id, a.worker, OUTPUT_DIGEST) for a in assignees}
            seals = [sealed[a.worker].seal for a in assignees]
            sigs = [pc.work.sign_seals(by[a.worker], [(handle.id, sealed[a.worker].seal)]) for a in assignees]
            await pc.work.commit_seals(handle.id, assignees, seals, sigs)
            openings = [(i, sealed[a.worker].salt) for i, a in enumerate(assignees)]
            await pc.work.finalize(handle.id, OUTPUT_DIGEST, await pc.work.proof(handle.id), openings)
    if no_shows:
        warp(anvil, 8000)  # past the deadlines: a keeper settles them (and slashes the no-shows)
        for job_id in no_shows:
            await pc.work.settle(job_id)
    # Providers move too: more stake, an unbonding, a provider that comes and goes.
    async with AsyncClient(anvil, signer=dev_account(WORKERS[0]), deployment=deployment) as worker:
        await worker.providers.add_stake(rng.randint(1, 5) * ETH)
        if await worker.escrow.balance():
            await worker.escrow.withdraw()  # pulls its earnings: its ledger balance drops to zero
    async with AsyncClient(anvil, signer=dev_account(WORKERS[1]), deployment=deployment) as worker:
        await worker.providers.unbond(ETH // rng.randint(2, 9))
    async with AsyncClient(anvil, signer=dev_account(5), deployment=deployment) as passing:
        if (await passing.providers.info()).status != 1:
            await passing.providers.register(stake=3 * ETH, region="eu")
            await passing.chain.send(passing.registry.functions.deregister())


async def matches_the_chain(pc: AsyncClient, indexer: Indexer) -> int:
    """Asserts every job's indexed row agrees with the contract; returns how many there are."""
    count = await pc.jobs.count()
    with Session(indexer.engine) as session:
        rows = {r.job_id: r for r in session.scalars(select(JobRow))}
    assert sorted(rows) == list(range(1, count + 1))
    earned: dict[str, int] = {}
    for job_id, row in rows.items():
        job, result = await pc.jobs.get(job_id), await pc.jobs.result(job_id)
        assert row.status == job.status.name, job_id
        assert row.requester == job.requester
        assert {k: int(v) for k, v in row.paid.items()} == result.paid, job_id
        assert {k: int(v) for k, v in row.slashed.items()} == result.slashed, job_id
        assert (row.result_digest is not None) == (job.status is JobStatus.FINALIZED)
        for worker, amount in result.paid.items():
            earned[worker] = earned.get(worker, 0) + amount
    with Session(indexer.engine) as session:
        providers = {p.address: p for p in session.scalars(select(ProviderRow))}
    assert set(providers) >= {dev_account(i).address for i in WORKERS}
    for address, p in providers.items():
        info = await pc.providers.info(address)
        indexed = (p.status, int(p.stake), int(p.locked), int(p.unbonding), p.reputation, p.capabilities, p.region)
        assert indexed == (info.status, info.stake, info.locked, info.unbonding, info.reputation, info.capabilities,
                           info.region), address  # fmt: skip
        assert int(p.earned) == earned.get(address, 0), address
    with Session(indexer.engine) as session:
        balances = list(session.scalars(select(Balance)))
        escrowed = list(session.scalars(select(Escrowed)))
    owners = {b.owner for b in balances}
    assert {dev_account(1).address, *(dev_account(i).address for i in WORKERS)} <= owners  # refunds, pay
    for b in balances:
        assert int(b.amount) == await pc.escrow.balance(b.owner, b.token), (b.owner, b.token)
    for e in escrowed:
        assert int(e.amount) == await pc.chain.call(pc.escrow_contract.functions.totalLocked(e.token)), e.token
    return count


def test_jobs_rebuilt_from_events_match_the_contract_after_a_random_workload(anvil: Network, deployment: Deployment,
                                                                              db_url: str) -> None:  # fmt: skip
    async def run() -> None:
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
            await workload(pc, anvil, deployment, seed=7, jobs=14)
            engine = open_store(db_url)
            indexer = Indexer(pc, engine, confirmations=0, batch=7)  # small batches: many passes of the loop
            added = await indexer.sync()
            everything = await LogReader(pc.chain, pc.deployment.addresses).read(
                pc.deployment.block, await pc.chain.block_number()
            )
            assert added == len(everything)
            assert await matches_the_chain(pc, indexer) == 14
            statuses = {r for r in Session(engine).scalars(select(JobRow.status))}
            assert {"OPEN", "CANCELLED", "FINALIZED", "FAILED"} <= statuses  # the seed covers every fate

            again = Indexer(pc, open_store(db_url), confirmations=0)  # a restart
            assert await again.sync() == 0
            await workload(pc, anvil, deployment, seed=8, jobs=3)
            assert await again.sync() > 0
            assert await matches_the_chain(pc, again) == 17

    asyncio.run(run())


def test_a_reorg_is_rewound_and_the_new_branch_indexed(anvil: Network, deployment: Deployment, db_url: str,
                                                       caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    async def run() -> None:
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
            await workload(pc, anvil, deployment, seed=1, jobs=2)
            indexer = Indexer(pc, open_store(db_url), confirmations=0)
            await indexer.sync()
            fork = rpc(anvil, "evm_snapshot")
            await workload(pc, anvil, deployment, seed=2, jobs=4)  # a branch the chain will drop
            await indexer.sync()
            assert indexer.job_count() == 6
            rpc(anvil, "evm_revert", fork)
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:  # nonces re-read
            await workload(pc, anvil, deployment, seed=3, jobs=2)  # the new branch, other blocks
            for _ in range(6):
                rpc(anvil, "evm_mine")  # and longer than the dropped one
            indexer = Indexer(pc, indexer.engine, confirmations=0)
            with caplog.at_level(logging.WARNING, "polkacompute.indexer"):
                await indexer.sync()
            assert "reorg: the chain no longer has blocks" in caplog.text
            assert await matches_the_chain(pc, indexer) == 4
            everything = await LogReader(pc.chain, pc.deployment.addresses).read(
                pc.deployment.block, await pc.chain.block_number()
            )
            with Session(indexer.engine) as session:
                assert session.scalar(select(func.count()).select_from(EventRow)) == len(everything)
                stored = [
                    (e.block_number, e.log_index, e.tx_hash)
                    for e in session.scalars(select(EventRow).order_by(EventRow.block_number, EventRow.log_index))
                ]
            assert stored == [(e.block_number, e.log_index, e.tx_hash) for e in everything]

    asyncio.run(run())


def test_the_index_command_indexes_once_and_refuses_a_bad_database_url(anvil: Network, deployment: Deployment,
                                                                        tmp_path: Path) -> None:  # fmt: skip
    async def jobs() -> None:
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
            await workload(pc, anvil, deployment, seed=5, jobs=3)

    asyncio.run(jobs())
    save_deployment(deployment, tmp_path / "deployments")
    env = {**os.environ, "POLKACOMPUTE_DEPLOYMENTS": str(tmp_path / "deployments"), "POLKACOMPUTE_HOME": str(tmp_path)}
    cli = [sys.executable, "-m", "polkacompute.cli"]
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    done = subprocess.run([*cli, "--json", "index", "--once", "--db", db, "--confirmations", "0", "--rpc-url",
                           anvil.rpc_url], env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["jobs"] == 3
    assert summary["providers"] >= len(WORKERS)
    assert summary["events"] == summary["added"] > 0
    again = json.loads(subprocess.run([*cli, "--json", "index", "--once", "--db", db, "--confirmations", "0",
                                       "--rpc-url", anvil.rpc_url], env=env, capture_output=True, text=True,
                                      timeout=120).stdout)  # fmt: skip
    assert again["added"] == 0  # resumed from its cursor
    bad = subprocess.run([*cli, "index", "--once", "--db", "nonsense://x", "--rpc-url", anvil.rpc_url], env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert bad.returncode == 2
    assert "not a database URL the indexer can use" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
