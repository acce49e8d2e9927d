"""Worker processes on a real anvil: a (3,2) job from submission to a verified output."""

import asyncio
import json
import subprocess
import time

import pytest

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.deploy import Deployment
from polkacompute.chain.networks import Network
from polkacompute.errors import PolkaComputeError
from polkacompute.net import LOCAL
from polkacompute.runtimes import get_runtime, pack, run_package
from polkacompute.sandbox import RunResult, Sandbox
from polkacompute.sdk import AsyncClient, JobStatus
from polkacompute.store.http import fetch
from polkacompute.worker.daemon import result_cid_for
from tests.sdk.test_jobs import warp

from .fleet import CLI, ETH, ROOT, Fleet, run_batch, submit, wait_terminal


def test_three_workers_finalize_a_3_2_job_and_the_requester_verifies_it(fleet: Fleet, anvil, deployment) -> None:
    template = ROOT / "templates" / "c-wordcount"
    runtime = get_runtime("wasi")
    package = pack(fleet.store, runtime, (template / "build" / "wordcount.wasm").read_bytes(),
                   (template / "input.txt").read_bytes(), fuel=10**9, time_s=60)  # fmt: skip
    for index in (2, 3, 4):
        fleet.start_worker(index)
    job_id = submit(anvil, deployment, package, 3, 2)
    try:
        result = wait_terminal(anvil, deployment, job_id)
    except Exception:
        print(fleet.logs())
        raise
    assert result.job.status is JobStatus.FINALIZED, fleet.logs()
    with Sandbox() as sandbox:
        local = run_package(package, runtime, fleet.store, sandbox, job_id=job_id)
    assert result.result_digest == local.digest  # what the requester would compute itself
    assert len(result.paid) >= 2  # the openers of the finalize call
    assert result.slashed == {}
    deadline = time.monotonic() + 30
    while len(result.paid) < 3:  # a straggler is paid by its own reveal
        assert time.monotonic() < deadline, fleet.logs()
        time.sleep(0.5)
        result = wait_terminal(anvil, deployment, job_id)

    async def fetch_result() -> RunResult:
        data = await fetch(result_cid_for(result.result_digest), list(fleet.worker_urls.values()), outbound=LOCAL)
        return RunResult.decode(data)

    fetched = asyncio.run(fetch_result())
    assert fetched.output == local.output
    assert fetched.output.startswith(b"lines=4 words=53")

    # What an operator sees: metrics, status and logs.
    async def metrics() -> str:
        import aiohttp

        async with aiohttp.ClientSession() as client, client.get(f"{fleet.worker_urls[2]}/metrics") as response:
            return await response.text()

    def status() -> dict:  # type: ignore[type-arg]
        done = subprocess.run([*CLI, "--json", "worker", "status", "--dir", str(fleet.tmp / "worker2"), "--dev", "2"],
                              env=fleet.env, capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)  # type: ignore[no-any-return]

    deadline = time.monotonic() + 30
    while (data := status())["phases"] != {"done": 1}:  # it concludes on its next look at the chain
        assert time.monotonic() < deadline, data
        time.sleep(0.3)
    assert data["reputation"] > 2_500  # rewarded for an agreeing result
    text = asyncio.run(metrics())
    assert 'polkacompute_worker_jobs_total{stage="executed"} 1.0' in text
    assert 'polkacompute_worker_jobs_total{stage="finalized"} 1.0' in text
    logs = subprocess.run([*CLI, "worker", "logs", "--dir", str(fleet.tmp / "worker2"), "-n", "3"], env=fleet.env,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert "finalized" in logs.stdout


def test_a_worker_killed_mid_job_resumes_cleanly(fleet: Fleet, anvil, deployment) -> None:
    import signal

    from polkacompute.worker.state import Phase, WorkerState

    template = ROOT / "templates" / "c-batch-primes"
    runtime = get_runtime("wasi")
    package = pack(fleet.store, runtime, (template / "build" / "primes.wasm").read_bytes(),
                   (template / "input.txt").read_bytes(), fuel=10**11, time_s=120)  # fmt: skip
    for index in (2, 3, 4):
        fleet.start_worker(index)
    job_id = submit(anvil, deployment, package, 3, 2, price=ETH // 5)  # the workers quote 0.1 per 10^11 fuel
    victim = fleet.procs["worker4"]
    state_path = fleet.tmp / "worker4" / "state.db"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill it once its seal is on-chain, before it could open it
        if state_path.exists():
            try:
                if WorkerState(state_path).job(job_id).phase is Phase.COMMITTED:
                    break
            except KeyError:
                pass
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    killed_at = WorkerState(state_path).job(job_id).phase
    result = wait_terminal(anvil, deployment, job_id)
    assert result.job.status is JobStatus.FINALIZED, fleet.logs()  # the other two were enough
    fleet.start_worker(4)  # restarted: resumes from its state, never commits twice
    deadline = time.monotonic() + 60
    while WorkerState(state_path).job(job_id).phase is not Phase.DONE:
        assert time.monotonic() < deadline, f"killed at {killed_at}; " + fleet.logs()
        time.sleep(0.2)
    state = WorkerState(state_path)
    # Its seal went on-chain before the kill (alone, or in an assignee's commitSeals): never sent again.
    assert len([t for t in state.txs(job_id, "commit") if t.tx_hash]) <= 1
    # Nothing it sent reverted (a step refused at estimation, say on a stale assignee list, is never sent).
    assert all(t.state.value == "mined" for t in state.txs(job_id) if t.tx_hash)
    assert wait_terminal(anvil, deployment, job_id).paid[dev_account(4).address] > 0, fleet.logs()  # paid by its reveal


def _byzantine_claims(anvil: Network, deployment: Deployment, job_id: int) -> int:
    """Dev account 5 claims a replica through the SDK (as any client could); returns its index."""

    async def go() -> int:
        async with AsyncClient(anvil, signer=dev_account(5), deployment=deployment) as pc:
            for _ in range(10):
                current = (await pc.work.proof(job_id))[0]
                try:
                    await pc.chain.send(pc.market.functions.claimJob(job_id, current))
                    break
                except PolkaComputeError as exc:
                    if "RecordMismatch" not in str(exc):
                        raise
            workers = [w for w, _ in (await pc.work.proof(job_id))[0]]
            return workers.index(dev_account(5).address)

    return asyncio.run(go())


async def _first_seal_of(pc: AsyncClient, job_id: int, worker: str) -> bytes:
    """Follows the job's events until `worker` commits (alone or aggregated); returns its seal."""
    async for event in pc.jobs.events(job_id):
        if event.name == "SealCommitted" and event.args["worker"] == worker:
            return bytes(event.args["seal"])
        if event.name == "SealsCommitted":
            index = [w for w, _ in (await pc.work.proof(job_id))[0]].index(worker)
            mask = int(event.args["mask"])
            if mask >> index & 1:
                return bytes(event.args["seals"][bin(mask & ((1 << index) - 1)).count("1")])
    raise AssertionError(f"{worker} never committed on job {job_id}")


def test_byzantine_and_copying_workers_are_slashed_and_jobs_still_finalize(fleet: Fleet, anvil, deployment) -> None:
    from polkacompute.errors import ContractError
    from polkacompute.sdk.work import seal_result
    from polkacompute.worker.state import WorkerState

    async def register() -> None:
        async with AsyncClient(anvil, signer=dev_account(5), deployment=deployment) as pc:
            await pc.providers.register(stake=10 * ETH)

    asyncio.run(register())
    template = ROOT / "templates" / "c-wordcount"
    runtime = get_runtime("wasi")
    program = (template / "build" / "wordcount.wasm").read_bytes()
    for index in (2, 3):
        fleet.start_worker(index)
    byzantine = dev_account(5)

    async def act(job_id: int, index: int, copy_from: str | None) -> None:
        async with AsyncClient(anvil, signer=byzantine, deployment=deployment) as pc:
            wrong = seal_result(job_id, byzantine.address, b"\x13" * 32)
            if copy_from is None:  # commits a seal of a wrong result
                seal = wrong.seal
            else:  # waits for an honest seal and commits a copy of it
                seal = await _first_seal_of(pc, job_id, copy_from)
            for _ in range(10):  # another claim may land between reading the proof and committing
                try:
                    await pc.chain.send(pc.market.functions.commit(job_id, await pc.work.proof(job_id), index, seal))
                    break
                except ContractError as exc:
                    if exc.name != "RecordMismatch":
                        raise
            await pc.jobs.wait(job_id, timeout=60)
            proof = await pc.work.proof(job_id)
            job = await pc.jobs.get(job_id)
            assert job.status is JobStatus.FINALIZED
            if copy_from is None:
                # Reveals what it committed: a digest other than the finalized one is slashed on the spot.
                await pc.work.reveal(job_id, proof, index, wrong)
            else:
                honest = WorkerState(fleet.tmp / "worker2" / "state.db").job(job_id)  # even knowing the salt...
                copied = seal_result(job_id, byzantine.address, job.result_digest, honest.salt)
                with pytest.raises(ContractError) as err:
                    await pc.work.reveal(job_id, proof, index, copied)
                assert err.value.name == "InvalidOpening"  # ...the copy does not open: the seal binds its author

    for copy_from in (None, dev_account(2).address):
        package = pack(fleet.store, runtime, program, f"input for {copy_from}".encode(), fuel=10**9, time_s=60)
        job_id = submit(anvil, deployment, package, 3, 2)
        index = _byzantine_claims(anvil, deployment, job_id)
        asyncio.run(act(job_id, index, copy_from))
        result = wait_terminal(anvil, deployment, job_id)
        assert result.job.status is JobStatus.FINALIZED
        assert byzantine.address not in result.paid
        if copy_from is None:
            assert byzantine.address in result.slashed, fleet.logs()
    warp(anvil, 1300)  # past the copier's reveal deadline: a worker, as keeper, settles what nobody settled

    async def settled() -> None:
        async with AsyncClient(anvil, deployment=deployment) as pc:
            deadline = time.monotonic() + 30
            while byzantine.address not in (await pc.jobs.result(job_id)).slashed:  # slashed as withholding
                assert time.monotonic() < deadline, fleet.logs()
                await asyncio.sleep(0.5)

    asyncio.run(settled())
    assert f"job {job_id}: settled as keeper" in fleet.logs()


def test_a_batch_of_bid_window_jobs_takes_one_transaction_per_step(fleet: Fleet, anvil, deployment) -> None:
    """Six jobs submitted together with a 1-second bid window: one signed bid per worker, then one
    assignBatch, one commitSeals and one finalizeMany for all six; every assignee is paid for each."""

    runtime = get_runtime("wasi")
    program = (ROOT / "templates" / "c-wordcount" / "build" / "wordcount.wasm").read_bytes()
    packages = [pack(fleet.store, runtime, program, f"batch input {i}\n".encode(), fuel=10**9, time_s=60)
                for i in range(6)]  # fmt: skip
    for index in (2, 3, 4):
        fleet.start_worker(index)

    results, events = run_batch(fleet, anvil, deployment, packages)
    assert all(r.job.status is JobStatus.FINALIZED for r in results), fleet.logs()
    txs = {name: {e.tx_hash for e in events if e.name == name}
           for name in ("BatchAssigned", "JobAssigned", "SealsCommitted", "SealCommitted", "JobFinalized")}  # fmt: skip
    assert len(txs["BatchAssigned"]) == 1, fleet.logs()  # one assignment for all six
    assert not txs["JobAssigned"]
    assert len(txs["SealsCommitted"]) == 1, fleet.logs()  # every assignee's seal in one call
    assert not txs["SealCommitted"]
    assert len(txs["JobFinalized"]) == 1, fleet.logs()  # one finalizeMany
    assert all(len(r.paid) == 3 for r in results), fleet.logs()  # everyone's opening was in it


def test_a_batch_with_an_on_chain_bid_is_still_assigned(fleet: Fleet, anvil, deployment) -> None:
    """A stranger bids on-chain on one job of a batch during its window: `assignBatch` can no longer take
    the batch (the on-chain bid must take part), so the workers bid again on that job alone and on the
    rest together. Every job is assigned and finalized; the stranger, outbid, gets its collateral back."""
    stranger = dev_account(6)

    async def register() -> None:
        async with AsyncClient(anvil, signer=stranger, deployment=deployment) as pc:
            await pc.providers.register(stake=10 * ETH)

    asyncio.run(register())
    runtime = get_runtime("wasi")
    program = (ROOT / "templates" / "c-wordcount" / "build" / "wordcount.wasm").read_bytes()
    packages = [pack(fleet.store, runtime, program, f"booked batch input {i}\n".encode(), fuel=10**9, time_s=60)
                for i in range(3)]  # fmt: skip
    for index in (2, 3, 4):
        fleet.start_worker(index)

    async def bid_on_the_second(ids: list[int]) -> None:  # at the max price: ranked behind the workers
        async with AsyncClient(anvil, signer=stranger, deployment=deployment) as pc:
            book = pc.chain.contract("BidBook", pc.deployment.address("BidBook"))
            await pc.chain.send(book.functions.bid(ids[1], ETH // 100, 600))

    results, events = run_batch(fleet, anvil, deployment, packages, bid_window=4, meanwhile=bid_on_the_second)
    assert all(r.job.status is JobStatus.FINALIZED for r in results), fleet.logs()
    assert all(len(r.paid) >= 2 and stranger.address not in r.paid for r in results), fleet.logs()
    booked = {int(e.args["jobId"]) for e in events if e.name == "BidPlaced"}
    alone = {int(e.args["jobId"]) for e in events if e.name == "JobAssigned"}
    assert booked <= alone, fleet.logs()  # the booked job was assigned alone, its on-chain bid ranked
    released = [e for e in events if e.name == "CollateralReleased" and stranger.address in e.args["providers"]]
    assert [e.args["jobId"] for e in released] == sorted(booked), "the outbid stranger's collateral stays locked"
