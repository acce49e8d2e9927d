"""Worker processes on a real anvil: a (3,2) job from submission to a verified output."""

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.deploy import Deployment, save_deployment
from polkacompute.chain.networks import Network
from polkacompute.runtimes import get_runtime, pack, run_package
from polkacompute.sandbox import RunResult, Sandbox
from polkacompute.sdk import AsyncClient, JobSpec, JobStatus
from polkacompute.store import ContentStore
from polkacompute.store.http import fetch
from polkacompute.worker.daemon import result_cid_for

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "polkacompute.cli"]
ETH = 10**18


class Fleet:
    """A requester gateway and worker processes, each with its own directory and log."""

    def __init__(self, tmp: Path, anvil: Network, deployment: Deployment) -> None:
        self.tmp = tmp
        save_deployment(deployment, tmp / "deployments")
        self.env = {**os.environ, "POLKACOMPUTE_RPC_URL": anvil.rpc_url, "POLKACOMPUTE_HOME": str(tmp / "home"),
                    "POLKACOMPUTE_DEPLOYMENTS": str(tmp / "deployments")}  # fmt: skip
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.store = ContentStore(tmp / "requester-store")
        gateway = self._spawn("gateway", ["gateway", "serve", "--store", str(self.store.directory), "--port", "0"],
                              stdout=subprocess.PIPE)  # fmt: skip
        assert gateway.stdout is not None
        self.gateway_url = json.loads(gateway.stdout.readline())["url"]
        self.worker_urls: dict[int, str] = {}

    def _spawn(self, name: str, args: list[str], **kwargs: object) -> subprocess.Popen[str]:
        log = open(self.tmp / f"{name}.log", "a")  # noqa: SIM115 (closed with the process)
        kwargs.setdefault("stdout", log)
        proc = subprocess.Popen([*CLI, *args], env=self.env, stderr=log, text=True, **kwargs)  # type: ignore[call-overload]
        self.procs[name] = proc
        return proc

    def start_worker(self, index: int) -> str:
        name = f"worker{index}"
        self._spawn(name, ["worker", "run", "--dev", str(index), "--stake", "10", "--content", self.gateway_url,
                           "--dir", str(self.tmp / name)])  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = (self.tmp / f"{name}.log").read_text()
            if found := re.search(r"serving (http://\S+);", text):
                self.worker_urls[index] = found.group(1)
                return found.group(1)
            assert self.procs[name].poll() is None, text
            time.sleep(0.1)
        raise AssertionError(f"{name} did not start: {(self.tmp / f'{name}.log').read_text()}")

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.tmp.glob("*.log")))


@pytest.fixture
def fleet(tmp_path: Path, anvil: Network, deployment: Deployment) -> Iterator[Fleet]:
    fleet = Fleet(tmp_path, anvil, deployment)
    try:
        yield fleet
    finally:
        fleet.stop()


def submit(anvil: Network, deployment: Deployment, package, replicas: int, quorum: int, price: int = ETH // 100) -> int:  # type: ignore[no-untyped-def]
    async def go() -> int:
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
            now = await pc.now()
            digests = (package.program_digest, package.input_digest)
            spec = JobSpec(*digests, package.runtime_id, replicas, quorum, price, now + 600, now + 1200,
                           fuel_limit=package.fuel, time_limit=package.time_s)  # fmt: skip
            return (await pc.jobs.submit(spec)).id

    return asyncio.run(go())


def wait_terminal(anvil: Network, deployment: Deployment, job_id: int, timeout: float = 90):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        async with AsyncClient(anvil, deployment=deployment) as pc:
            await pc.jobs.wait(job_id, timeout=timeout)
            return await pc.jobs.result(job_id)

    return asyncio.run(go())


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
        data = await fetch(result_cid_for(result.result_digest), list(fleet.worker_urls.values()))
        return RunResult.decode(data)

    fetched = asyncio.run(fetch_result())
    assert fetched.output == local.output
    assert fetched.output.startswith(b"lines=4 words=53")


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
    assert len([t for t in state.txs(job_id, "commit") if t.tx_hash]) == 1  # committed once, not again
    assert wait_terminal(anvil, deployment, job_id).paid[dev_account(4).address] > 0, fleet.logs()  # paid by its reveal
