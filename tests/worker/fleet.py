"""Worker fleets for the end-to-end tests: a requester gateway and worker processes on the test anvil."""

import asyncio
import json
import os
import re
import subprocess
import sys
import time
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

    def start_worker(self, index: int, *extra: str) -> str:
        name = f"worker{index}"
        self._spawn(name, ["worker", "run", "--dev", str(index), "--stake", "10", "--content", self.gateway_url,
                           "--dir", str(self.tmp / name), *extra])  # fmt: skip
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
