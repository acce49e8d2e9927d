"""The indexer: backfill speed, API latency with many jobs indexed, live-stream lag.

Usage: python bench/indexer.py [--jobs 100000] [--streams 300] [--out FILE]   (make bench-indexer)

- events_per_s: a fresh anvil gets `--jobs` jobs (submitJobs, 200 a transaction); a new SQLite index
  is built from the deployment block (confirmations 0): events indexed / seconds.
- api_p99_ms: the API served by uvicorn on loopback, asked over HTTP with that index: the jobs list
  (first pages, filtered by status and requester, and deep pages) and job details at random ids.
  `api.overview` times /api/stats and /api/series (the dashboard overview's polls; not in the target).
- api_p99_ms_with_streams: the same requests, on the same server in the same run, while `--streams`
  (300) clients hold /api/stream open (the stream caps raised for them through `ApiLimits`, not
  removed); `streams_p99_ratio` is the second over the first (target: at most 3).
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
from polkacompute.indexer.limits import ApiLimits
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


class HeldStreams:
    """`count` clients holding /api/stream open, from a thread (and event loop) of their own."""

    def __init__(self, port: int, count: int) -> None:
        self.port, self.count = port, count
        self.opened = self.refused = self.ended = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._hold(),), daemon=True)

    def __enter__(self) -> HeldStreams:
        self._thread.start()
        deadline = time.monotonic() + 60
        while self.opened + self.refused < self.count:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {self.opened} of {self.count} streams opened")
            time.sleep(0.05)
        if self.refused:
            raise SystemExit(f"{self.refused} of {self.count} streams were refused")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    async def _hold(self) -> None:
        limits = httpx.Limits(max_connections=self.count, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", limits=limits,
                                     timeout=httpx.Timeout(30, read=None)) as client:  # fmt: skip

            async def one() -> None:
                async with client.stream("GET", "/api/stream") as response:
                    if response.status_code != 200:
                        self.refused += 1
                        return
                    async for line in response.aiter_lines():
                        if line == ": stream open":
                            self.opened += 1
                    self.ended += 1  # the server ended it (it should not, during the measurement)

            tasks = [asyncio.create_task(one()) for _ in range(self.count)]
            while not self._stop.is_set():  # noqa: ASYNC110 (set by the measuring thread)
                await asyncio.sleep(0.05)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


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
    parser.add_argument("--streams", type=int, default=300, help="stream clients connected in the second pass")
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
            caps = ApiLimits(streams_total=args.streams + 10, streams_per_client=args.streams + 10)  # all from here
            server = serve(create_app(engine, limits=caps), api_port)
            latency = api_latency(api_port, args.jobs, dev_account(1).address, args.samples)
            with HeldStreams(api_port, args.streams) as held:
                latency_streams = api_latency(api_port, args.jobs, dev_account(1).address, args.samples)
                held_throughout = held.opened - held.ended
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
    api_p99_streams = max(latency_streams["list"]["p99_ms"], latency_streams["detail"]["p99_ms"])  # type: ignore[index]
    ratio = round(api_p99_streams / api_p99, 2)
    met = api_p99 <= 100 and statistics.median(lags) <= 500 and ratio <= 3 and held_throughout == args.streams
    result: dict[str, object] = {
        "events_per_s": round(events / seconds, 1),
        "api_p99_ms": api_p99,
        "api_p99_ms_with_streams": api_p99_streams,
        "streams_p99_ratio": ratio,
        "stream_lag_ms_p50": round(statistics.median(lags), 1),
        "backfill": {
            "events": events,
            "seconds": round(seconds, 1),
            "jobs": args.jobs,
            "submitting_s": round(submitting, 1),
        },
        "api": latency,
        "api_with_streams": {**latency_streams, "streams": args.streams, "held_throughout": held_throughout},
        "stream": {
            "submissions": len(lags),
            "p50_ms": round(statistics.median(lags), 1),
            "max_ms": round(max(lags), 1),
            "indexer_poll_s": 0.1,
            "stream_poll_s": ApiLimits().stream_poll,
        },
        "targets": {"api_p99_ms": 100, "stream_lag_ms_p50": 500, "streams_p99_ratio": 3},
        "targets_met": met,
        "setup": "anvil (automine), SQLite (WAL) index, uvicorn on loopback, one client at a time (and "
        f"{args.streams} idle stream clients in the second pass)",
    }
    return publish(result, args.out)


if __name__ == "__main__":
    sys.exit(main())
