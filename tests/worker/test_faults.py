"""Workers facing trouble: no stake, a dead RPC, missing content, a program that is not wasm; and a
(5,3) job. Each ends with a clear log line and no stuck job."""

import asyncio
import subprocess
import time

from polkacompute.chain.accounts import dev_account
from polkacompute.net import LOCAL
from polkacompute.runtimes import get_runtime, pack
from polkacompute.sandbox import RunResult, Status
from polkacompute.sdk import AsyncClient, JobStatus
from polkacompute.store import ContentStore, cid_from_digest
from polkacompute.store.http import fetch
from tests.conftest import free_port
from tests.sdk.test_jobs import warp

from .fleet import CLI, ROOT, Fleet, submit, wait_terminal


def wait_log(fleet: Fleet, name: str, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in (fleet.tmp / f"{name}.log").read_text():
        assert time.monotonic() < deadline, fleet.logs()
        time.sleep(0.1)


def test_a_5_3_job_finalizes(fleet: Fleet, anvil, deployment) -> None:
    package = pack(fleet.store, get_runtime("wasi"), (ROOT / "templates/c-wordcount/build/wordcount.wasm").read_bytes(),
                   b"five workers, quorum three", fuel=10**9, time_s=60)  # fmt: skip
    for index in (2, 3, 4, 5, 6):
        fleet.start_worker(index)
    job_id = submit(anvil, deployment, package, 5, 3)
    result = wait_terminal(anvil, deployment, job_id)
    assert result.job.status is JobStatus.FINALIZED, fleet.logs()
    assert len(result.paid) >= 3


def test_unregistered_worker_without_stake_declines_clearly(fleet: Fleet, anvil, deployment) -> None:
    fleet._spawn("worker7", ["worker", "run", "--dev", "7", "--content", fleet.gateway_url, "--dir",
                             str(fleet.tmp / "worker7")])  # fmt: skip
    wait_log(fleet, "worker7", "is not a registered provider and no stake was given")
    package = pack(fleet.store, get_runtime("wasi"), (ROOT / "templates/c-wordcount/build/wordcount.wasm").read_bytes(),
                   b"nobody can take me", fuel=10**9, time_s=60)  # fmt: skip
    job_id = submit(anvil, deployment, package, 1, 1)
    wait_log(fleet, "worker7", f"job {job_id}: could not bid")

    async def cancel() -> JobStatus:  # not stuck: the requester takes the budget back
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
            await pc.jobs.cancel(job_id)
            return (await pc.jobs.get(job_id)).status

    assert asyncio.run(cancel()) is JobStatus.CANCELLED


def test_unreachable_rpc_is_one_clear_line(fleet: Fleet) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run([*CLI, "worker", "run", "--dev", "2", "--rpc-url", dead, "--dir", str(fleet.tmp / "w")],
                          env=fleet.env, capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 3
    assert "cannot reach the RPC endpoint" in done.stderr.strip().splitlines()[-1]


def test_missing_content_is_abandoned_and_the_job_refunded(fleet: Fleet, anvil, deployment, tmp_path) -> None:
    elsewhere = ContentStore(tmp_path / "not-published")  # the requester forgot to publish
    package = pack(elsewhere, get_runtime("wasi"), (ROOT / "templates/c-wordcount/build/wordcount.wasm").read_bytes(),
                   b"unpublished input", fuel=10**9, time_s=60)  # fmt: skip
    fleet.start_worker(2)
    job_id = submit(anvil, deployment, package, 1, 1)
    wait_log(fleet, "worker2", f"job {job_id}: content unavailable, not committing")
    warp(anvil, 1300)

    async def settle() -> object:
        async with AsyncClient(anvil, signer=dev_account(6), deployment=deployment) as keeper:
            await keeper.work.settle(job_id)
            return await keeper.jobs.result(job_id)

    result = asyncio.run(settle())
    assert result.job.status is JobStatus.FAILED  # type: ignore[attr-defined]
    assert result.refunded == 10**16  # the whole budget: one replica at 0.01  # type: ignore[attr-defined]


def test_a_program_that_is_not_wasm_is_a_canonical_rejection(fleet: Fleet, anvil, deployment) -> None:
    package = pack(fleet.store, get_runtime("wasi"), b"#!/bin/sh\nrm -rf /\n", b"", fuel=10**9, time_s=60)
    for index in (2, 3, 4):
        fleet.start_worker(index)
    job_id = submit(anvil, deployment, package, 3, 2)
    result = wait_terminal(anvil, deployment, job_id)
    assert result.job.status is JobStatus.FINALIZED, fleet.logs()  # replicas agree on the failure
    wait_log(fleet, "worker2", f"job {job_id}: executed: rejected")

    async def outcome() -> RunResult:
        urls = list(fleet.worker_urls.values())
        data = await fetch(cid_from_digest(result.result_digest, "dag-cbor"), urls, outbound=LOCAL)
        return RunResult.decode(data)

    decoded = asyncio.run(outcome())
    assert (decoded.status, decoded.detail) == (Status.REJECTED, "invalid_module")
