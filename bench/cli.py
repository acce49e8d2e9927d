"""CLI start-up and a simple call, as a user's shell runs them: `polkacompute --help`, `job list` against a
running anvil devnet, `runtime list`.

Usage: python bench/cli.py [--runs 7] [--out bench/results/cli.json]   (make bench-cli)

Each command is a fresh process of the installed console script (`.venv/bin/polkacompute`), timed wall
clock from start to exit; one warm-up run, then `--runs` timed runs: the median is the figure, min and
max beside it. `job list` runs against a private anvil mining a block a second (the devnet's chain) with
the protocol deployed and 10 jobs submitted, found through POLKACOMPUTE_RPC_URL and
POLKACOMPUTE_DEPLOYMENTS. The load average is reported before and after: other work on the machine
slows every figure. Targets (issue 16): `--help` <= 1.5 s, `job list` <= 2 s, on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.client import ChainClient
from polkacompute.chain.deploy import deploy, save_deployment
from polkacompute.chain.networks import LOCAL_CHAIN_ID, Network
from polkacompute.devnet.anvil import free_port, launch
from polkacompute.sdk.client import AsyncClient
from polkacompute.sdk.models import JobSpec
from report import publish  # bench/report.py (scripts run from bench/)

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).parent / "polkacompute"
TARGETS = {"help_s": 1.5, "job_list_s": 2.0}
JOBS = 10


def timed(args: list[str], env: dict[str, str], cwd: Path, runs: int) -> dict[str, float]:
    """Median, min and max wall seconds of `runs` fresh processes (after one warm-up)."""
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        done = subprocess.run([str(SCRIPT), *args], env=env, cwd=cwd, capture_output=True, timeout=120, check=False)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"polkacompute {' '.join(args)} failed: {done.stderr.decode()[-500:]}")
        if i:
            times.append(elapsed)
    return {"median": round(statistics.median(times), 3), "min": round(min(times), 3), "max": round(max(times), 3)}


async def chain_with_jobs(network: Network, directory: Path) -> None:
    async with ChainClient(network, dev_account(0)) as client:
        deployment = await deploy(client)
    save_deployment(deployment, directory)
    async with AsyncClient(network, signer=dev_account(1), deployment=deployment) as pc:
        now = await pc.now()
        for i in range(JOBS):
            digest = bytes([i + 1]) * 32
            await pc.jobs.submit(JobSpec(digest, digest, "wasi", 3, 2, 10**16, now + 3600, now + 7200))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "cli.json"))
    args = parser.parse_args()
    port = free_port()
    anvil = launch(port, ["--block-time", "1", "--silent"])
    try:
        with tempfile.TemporaryDirectory(prefix="pc-bench-cli-") as tmp:
            network = Network("local", LOCAL_CHAIN_ID, f"http://127.0.0.1:{port}", local=True, poll_interval=0.005)
            asyncio.run(chain_with_jobs(network, Path(tmp) / "deployments"))
            env = {**os.environ, "POLKACOMPUTE_RPC_URL": network.rpc_url,
                   "POLKACOMPUTE_DEPLOYMENTS": str(Path(tmp) / "deployments"), "POLKACOMPUTE_HOME": tmp}  # fmt: skip
            load_before = os.getloadavg()[0]
            figures = {
                "help_s": timed(["--help"], env, Path(tmp), args.runs),
                "job_list_s": timed(["job", "list"], env, Path(tmp), args.runs),
                "runtime_list_s": timed(["runtime", "list"], env, ROOT, args.runs),  # the checkout's runtimes
            }
            load_after = os.getloadavg()[0]
    finally:
        anvil.terminate()
        anvil.wait(timeout=20)
    result = {
        "benchmark": "cli",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1min": [round(load_before, 2), round(load_after, 2)],
        },
        "runs": args.runs,
        **figures,
        "targets": TARGETS,
        "targets_met": all(figures[k]["median"] <= v for k, v in TARGETS.items()),
    }
    return publish(result, args.out)


if __name__ == "__main__":
    sys.exit(main())
