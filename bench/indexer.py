"""The indexer: backfill speed, API latency with many jobs indexed, live-stream lag.

Usage: python bench/indexer.py [--jobs 100000] [--out FILE]   (make bench-indexer)

- events_per_s: a fresh anvil gets `--jobs` jobs (submitJobs, 200 a transaction); a new SQLite index
  is built from the deployment block (confirmations 0): events indexed / seconds.
- api_p99_ms: the API served by uvicorn on loopback, asked over HTTP with that index: the jobs list
  (first pages, filtered by status and requester, and deep pages) and job details at random ids.
  `api.overview` times /api/stats and /api/series (the dashboard overview's polls; not in the target).
- stream_lag_ms_p50: with the dashboard's follow loop running (every 0.1 s), jobs are submitted one at
  a time; lag is from the submission's receipt to the event's arrival on the Server-Sent Events stream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.client import ChainClient
from polkacompute.chain.deploy import deploy
from polkacompute.chain.networks import LOCAL_CHAIN_ID, Network
from polkacompute.devnet.anvil import free_port, launch
from polkacompute.indexer import Indexer, open_store
from polkacompute.indexer.api import create_app
from polkacompute.sdk.client import AsyncClient
from polkacompute.sdk.models import JobSpec
from report import publish

ROOT = Path(__file__).resolve().parent.parent
PER_TX = 200
ETH = 10**18


def spec(now: int, i: int) -> JobSpec:
    return JobSpec((i + 1).to_bytes(32, "big"), (i + 2).to_bytes(32, "big"), "wasi", 3, 2, ETH // 1000, now + 36_000,
                   now + 72_000, bid_window=60)  # fmt: skip


async def submit_many(pc: AsyncClient, jobs: int) -> None:
    now = await pc.now()
    first = [spec(now, i).to_tuple() for i in range(PER_TX)]
    call = {"value": PER_TX * ETH // 1000 * 3, "from": dev_account(1).address}
    gas = int(await pc.market.functions.submitJobs(first).estimate_gas(call) * 1.2)  # type: ignore[arg-type]
    for start in range(0, jobs, PER_TX):
        batch = [spec(now, start + i).to_tuple() for i in range(min(PER_TX, jobs - start))]
        await pc.chain.send(pc.market.functions.submitJobs(batch), value=len(batch) * ETH // 1000 * 3, gas=gas)


def serve(app: object, port: int) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("the API did not start")
        time.sleep(0.05)
    return server


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[max(int(len(ordered) * 0.99) - 1, 0)], 2)


def api_latency(port: int, jobs: int, requester: str, samples: int) -> dict[str, object]:
    rng = random.Random(1)  # noqa: S311 (which jobs to ask for, not a secret)
    base = f"http://127.0.0.1:{port}"
    lists = [("/api/jobs", {}), ("/api/jobs", {"status": "open"}), ("/api/jobs", {"requester": requester}),
             ("/api/jobs", {"limit": 200}), ("/api/jobs", {"before": jobs // 2}),
             ("/api/jobs", {"before": 50})]  # fmt: skip
    timings: dict[str, list[float]] = {"list": [], "detail": [], "overview": []}
    with httpx.Client(base_url=base, timeout=10) as client:
        client.get("/api/jobs")  # connection and caches warm
        for i in range(samples):
            path, params = lists[i % len(lists)]
            start = time.perf_counter()
            assert client.get(path, params=params).status_code == 200
            timings["list"].append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            assert client.get(f"/api/jobs/{rng.randint(1, jobs)}").status_code == 200
            timings["detail"].append((time.perf_counter() - start) * 1000)
            if i % 10 == 0:  # what the dashboard's overview polls (every 5 s per open page)
                start = time.perf_counter()
                assert client.get(("/api/stats", "/api/series")[i // 10 % 2]).status_code == 200
                timings["overview"].append((time.perf_counter() - start) * 1000)
    return {k: {"p50_ms": round(statistics.median(v), 2), "p99_ms": p99(v), "samples": len(v)}
            for k, v in timings.items()}  # fmt: skip


async def stream_lag(network: Network, deployment: object, port: int, count: int) -> list[float]:
    """Submits `count` jobs one at a time and times each until its JobSubmitted arrives on the stream."""
    arrived: dict[int, float] = {}
    ready = threading.Event()

    def listen() -> None:
        url = f"http://127.0.0.1:{port}/api/stream"
        with httpx.Client(timeout=httpx.Timeout(10, read=60)) as client, client.stream("GET", url) as r:
            for line in r.iter_lines():
                ready.set()
                if line.startswith("data: "):
                    event = json.loads(line[6:])
                    if event["name"] == "JobSubmitted":
                        arrived[event["jobs"][0]] = time.monotonic()
                        if len(arrived) >= count:
                            return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    ready.wait(10)
    lags = []
    async with AsyncClient(network, signer=dev_account(2), deployment=deployment) as pc:  # type: ignore[arg-type]
        for _ in range(count):
            handle = await pc.jobs.submit(spec(await pc.now(), random.getrandbits(64)))
            sent = time.monotonic()
            while handle.id not in arrived:  # noqa: ASYNC110 (filled by the listener thread)
                await asyncio.sleep(0.005)
            lags.append((arrived[handle.id] - sent) * 1000)
            await asyncio.sleep(random.uniform(0.05, 0.3))  # noqa: S311 (at random moments of the poll cycle)
    return lags


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=600, help="API requests of each kind")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "indexer.json"))
    args = parser.parse_args()
    port = free_port()
    anvil = launch(port, ["--gas-limit", "100000000", "--silent"])
    try:
        network = Network("local", LOCAL_CHAIN_ID, f"http://127.0.0.1:{port}", local=True, poll_interval=0.002)

        async def prepare():  # type: ignore[no-untyped-def]
            async with ChainClient(network, dev_account(0)) as client:
                deployment = await deploy(client)
            async with AsyncClient(network, signer=dev_account(1), deployment=deployment) as pc:
                start = time.perf_counter()
                await submit_many(pc, args.jobs)
                return deployment, time.perf_counter() - start

        deployment, submitting = asyncio.run(prepare())
        with tempfile.TemporaryDirectory() as tmp:
            engine = open_store(f"sqlite:///{Path(tmp) / 'index.db'}")

            async def backfill() -> tuple[int, float]:
                async with AsyncClient(network, deployment=deployment) as pc:
                    start = time.perf_counter()
                    added = await Indexer(pc, engine, confirmations=0).sync()
                    return added, time.perf_counter() - start

            events, seconds = asyncio.run(backfill())
            api_port = free_port()
            server = serve(create_app(engine), api_port)
            latency = api_latency(api_port, args.jobs, dev_account(1).address, args.samples)
            server.should_exit = True

            async def live() -> list[float]:
                async with AsyncClient(network, deployment=deployment) as pc:
                    app = create_app(engine, indexer=Indexer(pc, engine, confirmations=0), follow_every=0.1)
                    stream_port = free_port()
                    running = serve(app, stream_port)
                    try:
                        return await stream_lag(network, deployment, stream_port, 30)
                    finally:
                        running.should_exit = True

            lags = asyncio.run(live())
    finally:
        anvil.terminate()
        anvil.wait(timeout=10)
    api_p99 = max(latency["list"]["p99_ms"], latency["detail"]["p99_ms"])  # type: ignore[index]
    result: dict[str, object] = {
        "events_per_s": round(events / seconds, 1),
        "api_p99_ms": api_p99,
        "stream_lag_ms_p50": round(statistics.median(lags), 1),
        "backfill": {
            "events": events,
            "seconds": round(seconds, 1),
            "jobs": args.jobs,
            "submitting_s": round(submitting, 1),
        },
        "api": latency,
        "stream": {
            "submissions": len(lags),
            "p50_ms": round(statistics.median(lags), 1),
            "max_ms": round(max(lags), 1),
            "indexer_poll_s": 0.1,
            "stream_poll_s": 0.2,
        },
        "targets": {"api_p99_ms": 100, "stream_lag_ms_p50": 500},
        "targets_met": api_p99 <= 100 and statistics.median(lags) <= 500,
        "setup": "anvil (automine), SQLite (WAL) index, uvicorn on loopback, one client at a time",
    }
    return publish(result, args.out)


if __name__ == "__main__":
    sys.exit(main())
