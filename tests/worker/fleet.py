"""Worker fleets for the end-to-end tests: a requester gateway and worker processes on the test anvil."""

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.deploy import Deployment, save_deployment
from polkacompute.chain.networks import Network
from polkacompute.sdk import AsyncClient, JobSpec
from polkacompute.store import ContentStore

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "polkacompute.cli"]
ETH = 10**18


class Fleet:
    """A requester gateway and worker processes, each with its own directory and log."""

    def __init__(self, tmp: Path, anvil: Network, deployment: Deployment, host: str = "127.0.0.1") -> None:
        self.tmp = tmp
        save_deployment(deployment, tmp / "deployments")
        self.env = {**os.environ, "POLKACOMPUTE_RPC_URL": anvil.rpc_url, "POLKACOMPUTE_HOME": str(tmp / "home"),
                    "POLKACOMPUTE_DEPLOYMENTS": str(tmp / "deployments")}  # fmt: skip
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.store = ContentStore(tmp / "requester-store")
        gateway = self._spawn("gateway", ["gateway", "serve", "--store", str(self.store.directory), "--port", "0",
                                          "--host", host], stdout=subprocess.PIPE)  # fmt: skip
        assert gateway.stdout is not None
        self.gateway_url = json.loads(gateway.stdout.readline())["url"]
        self.worker_urls: dict[int, str] = {}

    def _spawn(
        self, name: str, args: list[str], prefix: tuple[str, ...] = (), **kwargs: object
    ) -> subprocess.Popen[str]:
        log = open(self.tmp / f"{name}.log", "a")  # noqa: SIM115 (closed with the process)
        kwargs.setdefault("stdout", log)
        proc = subprocess.Popen([*prefix, *CLI, *args], env=self.env, stderr=log, text=True, **kwargs)  # type: ignore[call-overload]
        self.procs[name] = proc
        return proc

    def start_worker(self, index: int, *extra: str, content: bool = True, host: str = "127.0.0.1",
                     prefix: tuple[str, ...] = ()) -> str:  # fmt: skip
        """Starts worker `index` (listening on `host`, run under `prefix` such as `ip netns exec NS`);
        `content=False` leaves it no gateway: it has only what it is told."""
        name = f"worker{index}"
        gateway = ["--content", self.gateway_url] if content else []
        self._spawn(name, ["worker", "run", "--dev", str(index), "--stake", "10", "--host", host, *gateway,
                           "--dir", str(self.tmp / name), *extra], prefix=prefix)  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = (self.tmp / f"{name}.log").read_text()
            if found := re.search(r"serving (http://\S+);", text):
                self.worker_urls[index] = found.group(1)
                return found.group(1)
            assert self.procs[name].poll() is None, text
            time.sleep(0.1)
        raise AssertionError(f"{name} did not start: {(self.tmp / f'{name}.log').read_text()}")

    def kill_worker(self, index: int) -> None:
        """SIGKILL, as a crash would."""
        proc = self.procs[f"worker{index}"]
        proc.kill()
        proc.wait(timeout=10)

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


WORDCOUNT = ROOT / "templates" / "c-wordcount" / "build" / "wordcount.wasm"


def wordcount_jobs(store: ContentStore, inputs: list[bytes]) -> list:  # type: ignore[type-arg]
    """The word-count template as wasi job packages, one per input, published to `store`."""
    from polkacompute.runtimes import get_runtime, pack

    program = WORDCOUNT.read_bytes()
    return [pack(store, get_runtime("wasi"), program, data, fuel=10**9, time_s=60) for data in inputs]


def registered_peers(anvil: Network, deployment: Deployment) -> dict[str, str]:
    """Provider address -> the peer id it registered last (a multiaddr, or a gateway URL over HTTP)."""

    async def go() -> dict[str, str]:
        async with AsyncClient(anvil, deployment=deployment) as pc:
            return await pc.providers.peer_ids()

    return asyncio.run(go())


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


def run_batch(fleet: Fleet, anvil: Network, deployment: Deployment, packages: list, bid_window: int = 1,  # type: ignore[type-arg]
              meanwhile: Callable[[list[int]], Awaitable[None]] | None = None) -> tuple[list, list]:  # fmt: skip
    """Submits the packages as (3,2) jobs in one submitJobs with a `bid_window`-second bid window, runs
    `meanwhile(job_ids)` if given, waits for every job to end; returns their results and every event of
    the blocks they took."""
    from polkacompute.chain.events import LogReader

    async def go() -> tuple[list, list]:  # type: ignore[type-arg]
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
            start = await pc.chain.block_number() + 1
            now = await pc.now()
            specs = [JobSpec(p.program_digest, p.input_digest, p.runtime_id, 3, 2, ETH // 100, now + 600, now + 1200,
                             fuel_limit=p.fuel, time_limit=p.time_s, bid_window=bid_window)
                     for p in packages]  # fmt: skip
            first = await pc.jobs.count() + 1
            await pc.chain.send(pc.market.functions.submitJobs([s.to_tuple() for s in specs]),
                                value=sum(s.budget for s in specs))  # fmt: skip
            ids = list(range(first, first + len(specs)))
            if meanwhile is not None:
                await meanwhile(ids)
            for job_id in ids:
                await pc.jobs.wait(job_id, timeout=90)
            results = [await pc.jobs.result(j) for j in ids]
            events = await LogReader(pc.chain, pc.deployment.addresses).read(start, await pc.chain.block_number())
            return results, events

    try:
        return asyncio.run(go())
    except Exception:
        print(fleet.logs())
        raise
