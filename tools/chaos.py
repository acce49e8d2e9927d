"""Chaos: jobs submitted while workers are killed with SIGKILL and restarted; then the books must balance.

Usage: python tools/chaos.py [--jobs 300] [--workers 4] [--seed N] [--keep DIR]   (make chaos)

anvil mines a block a second. A requester submits (3,2) jobs, in batches (1-block bid window) and one
by one (instant mode), while a chaos loop kills a random worker with SIGKILL and restarts it a few
seconds later, never more than one at a time (M - N = 1: every job keeps a quorum of live replicas).
Then one worker is killed for good and five more instant-mode jobs are submitted (the devnet demo's
kind, deadlines from `default_deadlines`): each must finalize with the live workers, and nobody but the
dead worker may be slashed for them. Once every job has run its course, time is moved past the reveal
deadlines and a keeper settles what the protocol leaves to keepers. Then, from chain state and events alone:
- every job is terminal (finalized, failed or cancelled);
- escrow conservation: the escrow's balance equals what it still locks plus everyone's credits, each
  job's budget went out exactly (payments + fees + refunds), and deposits equal all that went out;
- stake conservation: the registry's balance equals the providers' stake plus unbonding, equals what
  was staked minus what was slashed, and no collateral stays locked.
Prints one line (JSON with --json) and exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import wasmtime

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.events import LogReader
from polkacompute.chain.networks import Network
from polkacompute.devnet.fleet import FIRST_WORKER_ACCOUNT, Fleet, fleet_on_fresh_anvil
from polkacompute.devnet.worker_demo import UPPERCASE_WAT
from polkacompute.errors import PolkaComputeError
from polkacompute.runtimes import WasiRuntime
from polkacompute.sdk.client import AsyncClient
from polkacompute.sdk.models import JobSpec, JobStatus, default_deadlines
from polkacompute.store.http import publish

ETH = 10**18
PRICE = ETH // 100
COMMIT_S, REVEAL_S = 90, 150  # deadlines after submission: room for kills, restarts and fallbacks


class Chaos(threading.Thread):
    """Kills one random worker at a time with SIGKILL and restarts it after a few seconds."""

    def __init__(self, fleet: Fleet, accounts: list[int], rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.fleet, self.accounts, self.rng = fleet, accounts, rng
        self.stop = threading.Event()
        self.kills = 0

    def run(self) -> None:
        while not self.stop.wait(self.rng.uniform(0.5, 2)):
            victim = self.rng.choice(self.accounts)
            self.fleet.kill_worker(victim)
            self.kills += 1
            self.stop.wait(self.rng.uniform(0.5, 2))
            self.fleet.start_worker(victim, timeout=120)  # restarted even when stopping: all end alive


async def submit_all(pc: AsyncClient, program: bytes, gateway: str, jobs: int, rng: random.Random) -> list[int]:
    """Mixed traffic: batches of 1-30 bid-mode jobs and single instant-mode jobs, one send per block."""
    runtime_id = "0x" + WasiRuntime().identity.hex()
    program_digest = hashlib.sha256(program).digest()
    ids: list[int] = []
    while len(ids) < jobs:
        now = await pc.now()
        instant = rng.random() < 0.3
        count = 1 if instant else min(rng.randint(1, 30), jobs - len(ids))
        inputs = [f"chaos input {len(ids) + i} {rng.random()}\n".encode() for i in range(count)]
        for data in inputs:
            await publish(data, gateway)
        specs = [JobSpec(program_digest, hashlib.sha256(d).digest(), runtime_id, 3, 2, PRICE,
                         now + COMMIT_S, now + REVEAL_S, fuel_limit=10**7, time_limit=30,
                         bid_window=0 if instant else 1) for d in inputs]  # fmt: skip
        first = await pc.jobs.count() + 1
        await pc.chain.send(pc.market.functions.submitJobs([s.to_tuple() for s in specs]),
                            value=sum(s.budget for s in specs))  # fmt: skip
        ids += range(first, first + count)
    return ids


async def dead_worker(pc: AsyncClient, program: bytes, fleet: Fleet, account: int) -> tuple[int, list[int]]:
    """Kills worker `account` for good and submits 5 instant-mode jobs, as the devnet demo does, with
    the deadlines sized to the job and the chain; waits for them all to end."""
    fleet.kill_worker(account)
    runtime_id = "0x" + WasiRuntime().identity.hex()
    ids = []
    for i in range(5):
        data = f"after worker {account} died: {i}\n".encode()
        await publish(data, fleet.gateway_url)
        now = max(await pc.now(), int(time.time()))
        commit, reveal = default_deadlines(now, 0, 30, await pc.market_params(), pc.network.block_time)
        spec = JobSpec(hashlib.sha256(program).digest(), hashlib.sha256(data).digest(), runtime_id, 3, 2, PRICE,
                       commit, reveal, fuel_limit=10**7, time_limit=30)  # fmt: skip
        ids.append((await pc.jobs.submit(spec)).id)
    await until_terminal(pc, ids, 240)
    return account, ids


async def until_terminal(pc: AsyncClient, ids: list[int], seconds: float) -> None:
    """Returns once every job is terminal, or after `seconds`."""

    async def check() -> None:
        pending = list(ids)
        while pending:
            pending = [j for j in pending if not (await pc.jobs.get(j)).status.terminal]
            await asyncio.sleep(2 if pending else 0)

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(check(), seconds)


async def settle_leftovers(pc: AsyncClient, ids: list[int]) -> int:
    """A keeper's round after the deadlines: settles every job with an unsettled assignee or still open."""
    settled = 0
    for job_id in ids:
        job = await pc.jobs.get(job_id)
        unsettled = ((1 << job.assigned) - 1) & ~job.settled_mask
        if job.status in (JobStatus.CANCELLED,) or (job.status.terminal and not unsettled):
            continue
        with contextlib.suppress(PolkaComputeError):  # NothingToSettle: a worker got there first
            await pc.work.settle(job_id)
            settled += 1
    return settled


async def audit(pc: AsyncClient, ids: list[int]) -> tuple[dict[str, object], list[str]]:
    """Every check from chain state and events; returns the figures and the violations."""
    problems: list[str] = []
    statuses = {j: (await pc.jobs.get(j)).status for j in ids}
    open_jobs = [j for j, s in statuses.items() if not s.terminal]
    if open_jobs:
        problems.append(f"{len(open_jobs)} jobs not terminal (first: {open_jobs[:5]})")
    reader = LogReader(pc.chain, pc.deployment.addresses)
    events = await reader.read(pc.deployment.block, await pc.chain.block_number())  # the whole history
    budget = {j: 0 for j in ids}
    out = {j: 0 for j in ids}
    owners = {await pc.chain.call(pc.escrow_contract.functions.treasury())}
    deposited = slashed = staked = unbonded = 0
    providers: set[str] = set()
    for e in events:
        a = e.args
        if e.name == "Deposited" and a["token"] == "0x" + "00" * 20:
            deposited += a["amount"]
        elif e.name == "JobSubmitted":
            budget[a["jobId"]] = a["spec"]["replicas"] * a["spec"]["maxPricePerReplica"]
        elif e.name == "Paid":
            out[a["jobId"]] += sum(a["amounts"])  # gross: the fee is taken out of each amount
            owners.update(a["payees"])
        elif e.name == "Refunded":
            out[a["jobId"]] += a["amount"]
            owners.add(a["to"])
        elif e.name == "NativeCredited":
            owners.add(a["to"])
        elif e.name == "Slashed":
            slashed += a["amount"]
        elif e.name == "ProviderRegistered":
            providers.add(a["provider"])
            staked += a["stake"]
        elif e.name == "StakeAdded":
            staked += a["amount"]
        elif e.name == "UnbondedWithdrawn":
            unbonded += a["amount"]
    wrong = [j for j in ids if out[j] != budget[j]]
    if wrong:
        problems.append(f"{len(wrong)} jobs paid+refunded != budget (first: {wrong[:5]})")
    escrow = pc.deployment.address("PaymentEscrow")
    locked = await pc.chain.call(pc.escrow_contract.functions.totalLocked("0x" + "00" * 20))
    credits = 0
    for owner in owners:
        credits += await pc.chain.call(pc.escrow_contract.functions.balanceOf("0x" + "00" * 20, owner))
    balance = await pc.chain.balance(escrow)
    if balance != locked + credits:
        problems.append(f"escrow balance {balance} != locked {locked} + credits {credits}")
    if deposited != sum(out.values()) + locked:
        problems.append(f"deposits {deposited} != paid+refunded {sum(out.values())} + locked {locked}")
    infos = [await pc.providers.info(p) for p in providers]
    registry = await pc.chain.balance(pc.deployment.address("ProviderRegistry"))
    stakes = sum(i.stake + i.unbonding for i in infos)
    if registry != stakes:
        problems.append(f"registry balance {registry} != stake+unbonding {stakes}")
    if registry != staked - slashed - unbonded:
        problems.append(f"registry balance {registry} != staked {staked} - slashed {slashed} - withdrawn {unbonded}")
    if any(i.locked for i in infos):
        problems.append(f"collateral still locked: {sum(i.locked for i in infos)} wei")
    counts = {s.name.lower(): sum(1 for v in statuses.values() if v is s) for s in set(statuses.values())}
    return {"jobs": len(ids), **counts, "slashed_wei": slashed, "escrow_locked_wei": locked}, problems


async def scenario(network: Network, deployment, fleet: Fleet, args: argparse.Namespace) -> dict[str, object]:  # type: ignore[no-untyped-def]
    rng = random.Random(args.seed)  # noqa: S311 (a reproducible schedule, not a secret)
    accounts = [FIRST_WORKER_ACCOUNT + i for i in range(args.workers)]
    chaos = Chaos(fleet, accounts, rng)
    program = bytes(wasmtime.wat2wasm(UPPERCASE_WAT))
    async with AsyncClient(network, signer=dev_account(1), deployment=deployment) as pc:
        await publish(program, fleet.gateway_url)
        chaos.start()
        began = time.monotonic()
        ids = await submit_all(pc, program, fleet.gateway_url, args.jobs, rng)
        await until_terminal(pc, ids, 30)  # kills go on while the fleet works through the last submissions
        chaos.stop.set()
        await asyncio.to_thread(chaos.join)
        await until_terminal(pc, ids, REVEAL_S)  # the fleet works through the rest with every worker back
        finalized_live = sum([(await pc.jobs.get(j)).status is JobStatus.FINALIZED for j in ids])
        dead, after_death = await dead_worker(pc, program, fleet, rng.choice(accounts))
        ids += after_death
        # Past every reveal end (the grace after finalization included): workers settle their own
        # unfinished jobs; a keeper settles the rest.
        await pc.chain.w3.provider.make_request("evm_increaseTime", [3600])  # type: ignore[arg-type]
        await pc.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        await asyncio.sleep(10)
        keeper = await settle_leftovers(pc, ids)
        figures, problems = await audit(pc, ids)
        for job_id in after_death:  # the dead worker alone may be slashed, and only it
            result = await pc.jobs.result(job_id)
            if result.job.status is not JobStatus.FINALIZED:
                problems.append(f"job {job_id}, submitted after worker {dead} died, ended {result.job.status.name}")
            if wrong := [w for w in result.slashed if w != dev_account(dead).address]:
                problems.append(f"job {job_id}, submitted after worker {dead} died: live workers slashed: {wrong}")
    return {**figures, "jobs_after_a_death": len(after_death),
            "finalized_before_deadlines": finalized_live, "kills": chaos.kills, "keeper_settlements": keeper,
            "elapsed_s": round(time.monotonic() - began, 1), "violations": problems}  # fmt: skip


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--keep", metavar="DIR", help="keep the fleet's state and logs in DIR")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(args.keep or tmp)
        directory.mkdir(parents=True, exist_ok=True)
        with fleet_on_fresh_anvil(directory, args.workers) as (network, deployment, fleet):
            result = asyncio.run(scenario(network, deployment, fleet, args))
    result["seed"] = args.seed
    ok = not result["violations"]
    if args.json:
        print(json.dumps(result))
    else:
        counts = ", ".join(f"{result.get(k, 0)} {k}" for k in ("finalized", "failed", "cancelled"))
        verdict = "OK" if ok else "VIOLATIONS: " + "; ".join(result["violations"])  # type: ignore[arg-type]
        print(f"chaos: {result['jobs']} jobs ({counts}), {result['kills']} kills, "
              f"{result['keeper_settlements']} keeper settlements, {result['slashed_wei']} wei slashed, "
              f"seed {args.seed}, {result['elapsed_s']} s: {verdict}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
