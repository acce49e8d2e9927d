"""A dead assignee on a chain that keeps time (1 s blocks, as the devnet's): one of three workers is
killed (SIGKILL) while it runs a job it was assigned, then five more (3,2) jobs are submitted in
instant mode, as the devnet demo does. Every job finalizes with the two live workers, within the
deadlines sized to the job and the chain (`default_deadlines`); the dead worker alone is slashed, for
the job it held, and the two honest workers are paid for all six and never slashed."""

import asyncio
import hashlib
import time
from pathlib import Path

import wasmtime
from web3 import Web3

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.events import LogReader
from polkacompute.devnet.fleet import fleet_on_fresh_anvil
from polkacompute.devnet.worker_demo import UPPERCASE_WAT
from polkacompute.runtimes import WasiRuntime
from polkacompute.sdk import AsyncClient, JobSpec, JobStatus
from polkacompute.sdk.models import default_deadlines
from polkacompute.store.http import publish

ETH = 10**18
# About three seconds of work: long enough that the victim is killed after its assignment and before
# its seal can leave it.
BUSY_WAT = """(module
  (memory (export "memory") 1)
  (func (export "_start") (local $i i64)
    (loop $l
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $l (i64.lt_u (local.get $i) (i64.const 1300000000))))))"""
VICTIM, HONEST = 4, (2, 3)  # dev accounts of the fleet's workers


async def _submit(pc: AsyncClient, gateway: str, wat: str, data: bytes, fuel: int) -> int:
    program = bytes(wasmtime.wat2wasm(wat))
    await publish(program, gateway)
    await publish(data, gateway)
    now = max(await pc.now(), int(time.time()))
    commit, reveal = default_deadlines(now, 0, 30, await pc.market_params(), pc.network.block_time)
    digests = hashlib.sha256(program).digest(), hashlib.sha256(data).digest()
    spec = JobSpec(*digests, "0x" + WasiRuntime().identity.hex(), 3, 2, ETH // 20, commit, reveal,
                   fuel_limit=fuel, time_limit=30)  # fmt: skip
    return (await pc.jobs.submit(spec)).id


def test_a_dead_assignee_delays_jobs_briefly_and_only_it_is_slashed(tmp_path: Path) -> None:
    victim = dev_account(VICTIM).address
    honest = [dev_account(i).address for i in HONEST]
    with fleet_on_fresh_anvil(tmp_path, 3) as (network, deployment, fleet):

        async def scenario() -> tuple[list[int], list[float], dict[int, object]]:
            async with AsyncClient(network, signer=dev_account(1), deployment=deployment) as pc:
                reader = LogReader(pc.chain, pc.deployment.addresses)
                start = await pc.chain.block_number()
                held = await _submit(pc, fleet.gateway_url, BUSY_WAT, b"", 2 * 10**10)
                deadline = time.monotonic() + 60
                assigned = ["JobAssigned"]
                while not any(victim in e.args["workers"] and e.args["jobId"] == held for e in
                              await reader.read(start, await pc.chain.block_number(), events=assigned)):  # fmt: skip
                    assert time.monotonic() < deadline, "the victim was never assigned"
                    await asyncio.sleep(0.05)
                fleet.kill_worker(VICTIM)  # while it runs the job: it will never commit
                submitted = time.monotonic()
                jobs = [held] + [await _submit(pc, fleet.gateway_url, UPPERCASE_WAT, f"after the kill {i}\n".encode(),
                                               10**8) for i in range(5)]  # fmt: skip
                waited = []
                for job_id in jobs:
                    job = await pc.jobs.wait(job_id, timeout=180)
                    assert job.status is JobStatus.FINALIZED, job
                    waited.append(time.monotonic() - submitted)
                # Past every reveal end (the grace after finalization included): keepers settle the rest.
                Web3(Web3.HTTPProvider(network.rpc_url)).provider.make_request("evm_increaseTime", [3600])  # type: ignore[arg-type]
                deadline = time.monotonic() + 60
                while victim not in (await pc.jobs.result(held)).slashed:
                    assert time.monotonic() < deadline, "nobody settled the dead worker's job"
                    await asyncio.sleep(0.5)
                return jobs, waited, {j: await pc.jobs.result(j) for j in jobs}

        jobs, waited, results = asyncio.run(scenario())
    held = jobs[0]
    for job_id, result in results.items():
        for worker in honest:
            assert result.paid.get(worker, 0) > 0, (job_id, result)  # type: ignore[attr-defined]
            assert worker not in result.slashed, (job_id, result)  # type: ignore[attr-defined]
        if job_id != held:
            assert victim not in result.slashed, (job_id, result)  # type: ignore[attr-defined]
    assert results[held].slashed[victim] > 0  # type: ignore[attr-defined]
    # A short, predictable delay: the commit window sized to the job and the chain (30 s time limit,
    # 1 s blocks: openings may start 70 s after submission, the last of six submissions a few seconds
    # after the first), then a block or two to finalize; never the hour of a fixed window.
    assert max(waited) < 110, waited
