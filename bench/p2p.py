"""libp2p between worker processes: openings fan-out latency (against HTTP), content throughput, gas saved.

Usage: python bench/p2p.py [--peers 20 --rounds 15 --interval 2] [--out FILE]   (make bench-p2p)

- openings_p99_ms: `--peers` processes (one libp2p host each: TCP, Noise, yamux) on loopback, each an
  assignee of `--assigned` + 1 jobs at a time: every round, every peer signs an `Openings` bundle with
  its account key and sends it through the workers' `P2PChannel` to its job's other assignees (the next
  `--assigned` peers; 4 is a (5,3) job), which is where the protocol sends openings; each receiver
  checks the signature against the sender's address. Latency: from the round's start (a shared
  wall-clock instant) to the verified arrival, so signing, batching, the stream, the acknowledgement
  of what came before and the check count. Before any measured round, every peer sends one message to
  every other on both transports and waits until all are acknowledged (a worker keeps its peers'
  connections open). `openings_p99_ms_all_to_all`: as many rounds to all the others (a 20-replica job,
  a stress case: 380 deliveries at the same instant).
- every_message_delivered: each (sender, receiver, round) arrived at least once (a retry whose first
  attempt did arrive is counted in `duplicates`); the peers also count what their channel logged as
  given up (`given_up`).
- openings_p99_ratio_p2p_over_http[_all_to_all]: the same rounds through the `HttpChannel` (the same
  base class: batching, acknowledgement, retries; aiohttp on loopback, no encryption), alternating
  with the libp2p rounds in the same run, so the ratio does not depend on how fast the machine is.
- content_mb_per_s: one peer serves a 10 MB object from its store; this process fetches it over
  `/polkacompute/content/1` (4 MiB ranges) and verifies it against its CID (median of 3).
- gas_saved_ratio: a (3,2) and a (5,3) job's gas with the openings aggregated into one `finalize`,
  divided by the same job with every worker revealing on-chain (`bench/gas.py`'s lifecycles, anvil).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from libp2p.crypto.ed25519 import create_new_key_pair

from polkacompute.chain.accounts import dev_account
from polkacompute.net import LOCAL
from polkacompute.p2p import Node, key_pair_of
from polkacompute.p2p.channel import P2PChannel
from polkacompute.p2p.content import fetch_from_peers, serve_content
from polkacompute.store import ContentStore
from polkacompute.worker.channel import Channel, HttpChannel
from polkacompute.worker.messages import Opening, Openings
from report import publish

ROOT = Path(__file__).resolve().parent.parent
CHAIN_ID, MARKET = 31337, "0x" + "11" * 20  # what the signatures are bound to (no chain needed)
TRANSPORTS = ("p2p", "http")
SETTLE_WITHIN = 120.0  # seconds for every peer's channels to have everything acknowledged


def schedule(rounds: int) -> list[tuple[str, str]]:
    """(fan-out, transport) of each measured round (round k starts k intervals after the start),
    the transports alternating so that both see the machine in the same state."""
    return [(fanout, t) for fanout in ("all", "assigned") for _ in range(rounds) for t in TRANSPORTS]


class _GivenUp(logging.Handler):
    """Counts the messages the channels logged as given up."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith("gave up") and record.args:
            self.count += int(record.args[0])  # type: ignore[index,call-overload]


# ---------------------------------------------------------------------- one peer (a child process)


async def peer(index: int, store_dir: str | None) -> None:
    """Prints its addresses, reads the others', warms up, reads a start time, runs the rounds, prints
    what arrived (transport, round, latency, sender)."""
    signer = dev_account(index)
    given_up = _GivenUp()
    logging.getLogger("polkacompute.worker.channel").addHandler(given_up)
    node = Node(key_pair_of(signer), outbound=LOCAL)  # every peer is on loopback
    received: list[tuple[str, int, float, str]] = []
    start_at = interval = 0.0

    def on_openings(transport: str) -> Any:
        async def check(message: dict[str, Any]) -> bool:
            bundle = Openings.from_json(message)
            if bundle.signer(CHAIN_ID, MARKET) != bundle.worker:
                return False
            (job_id, *_), *_ = bundle.items
            if job_id > 0:  # round 0 is the warm-up
                received.append((transport, job_id, time.time() - (start_at + job_id * interval), bundle.worker))
            return True

        return check

    app = web.Application()
    channels: dict[str, Channel] = {
        "p2p": P2PChannel(node, {"openings": on_openings("p2p")}),
        "http": HttpChannel(app, {"openings": on_openings("http")}, outbound=LOCAL),
    }
    if store_dir:
        serve_content(node, ContentStore(Path(store_dir)))
    await node.start()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    for channel in channels.values():
        await channel.start()
    print(json.dumps({"p2p": node.addrs[0], "http": f"http://127.0.0.1:{port}"}), flush=True)
    loop = asyncio.get_running_loop()
    setup = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    ring: list[dict[str, str]] = setup["peers"]
    me = [p["p2p"] for p in ring].index(node.addrs[0])

    def send(job_id: int, transport: str, fanout: int) -> None:
        others = [ring[(me + k) % len(ring)][transport] for k in range(1, fanout + 1)]
        digest, salt = os.urandom(32), os.urandom(32)
        bundle = Openings.signed(signer, [Opening(job_id, index, signer.address, digest, salt)], CHAIN_ID, MARKET)
        channels[transport].send("openings", bundle.to_json(), others)

    for transport in TRANSPORTS:  # the warm-up: connections opened, everything acknowledged
        send(0, transport, len(ring) - 1)
    settled = [await c.drain(within=SETTLE_WITHIN) for c in channels.values()]
    print(json.dumps({"settled": all(settled)}), flush=True)
    start_at, interval = json.loads(await loop.run_in_executor(None, sys.stdin.readline))["start"], setup["interval"]
    for job_id, (fanout, transport) in enumerate(schedule(setup["rounds"]), start=1):
        await asyncio.sleep(max(start_at + job_id * interval - time.time(), 0))
        send(job_id, transport, len(ring) - 1 if fanout == "all" else min(setup["assigned"], len(ring) - 1))
    settled = [await c.drain(within=SETTLE_WITHIN) for c in channels.values()]
    await asyncio.sleep(setup["linger"])  # what the others still send us
    print(json.dumps({"received": received, "settled": all(settled), "given_up": given_up.count}), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # stay up until told (content is served)
    for channel in channels.values():
        await channel.stop()
    await runner.cleanup()
    await node.stop()


# ---------------------------------------------------------------------- the coordinator


def spawn(index: int, store_dir: str | None = None) -> subprocess.Popen[str]:
    args = [sys.executable, __file__, "--peer", str(index)] + (["--store", store_dir] if store_dir else [])
    return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)


def tell(procs: list[subprocess.Popen[str]], line: object) -> None:
    for p in procs:
        p.stdin.write(json.dumps(line) + "\n")  # type: ignore[union-attr]
        p.stdin.flush()  # type: ignore[union-attr]


def hear(procs: list[subprocess.Popen[str]]) -> list[Any]:
    lines = [p.stdout.readline() for p in procs]  # type: ignore[union-attr]
    if not all(line.startswith("{") for line in lines):
        raise SystemExit(f"a peer failed: {lines}")
    return [json.loads(line) for line in lines]


def openings(peers: int, rounds: int, interval: float, assigned: int, store_dir: str) -> tuple[dict[str, Any], str]:
    procs = [spawn(i, store_dir if i == 0 else None) for i in range(peers)]
    try:
        addrs = hear(procs)
        tell(procs, {"peers": addrs, "interval": interval, "rounds": rounds, "assigned": assigned, "linger": 2.0})
        began = time.time()
        warm = hear(procs)
        warm_up_s = time.time() - began
        tell(procs, {"start": time.time() + 1.0})
        reports = hear(procs)
        content = asyncio.run(fetch_rate(addrs[0]["p2p"], store_dir))
    finally:
        for p in procs:
            if p.poll() is None:
                p.stdin.write("stop\n")  # type: ignore[union-attr]
                p.stdin.flush()  # type: ignore[union-attr]
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()

    slots = schedule(rounds)
    arrivals: dict[tuple[str, str], dict[tuple[int, int, str], float]] = {}
    duplicates: dict[tuple[str, str], int] = {}
    for receiver, report in enumerate(reports):
        for transport, job_id, latency, sender in report["received"]:
            key = (slots[job_id - 1][0], transport)
            seen = arrivals.setdefault(key, {})
            if (receiver, job_id, sender) in seen:
                duplicates[key] = duplicates.get(key, 0) + 1
            else:
                seen[(receiver, job_id, sender)] = latency * 1000

    def summary(fanout: str, transport: str) -> dict[str, object]:
        ms = sorted(arrivals.get((fanout, transport), {}).values())
        width = peers - 1 if fanout == "all" else min(assigned, peers - 1)
        return {
            "fanout": width,
            "delivered": len(ms),
            "expected": peers * width * rounds,
            "duplicates": duplicates.get((fanout, transport), 0),
            "p50_ms": round(statistics.median(ms), 1) if ms else None,
            "p99_ms": round(ms[int(len(ms) * 0.99) - 1], 1) if ms else None,
            "max_ms": round(ms[-1], 1) if ms else None,
        }

    return {
        "peers": peers,
        "rounds": rounds,
        "round_interval_s": interval,
        "to_all_peers": summary("all", "p2p"),
        "to_an_assigned_set": summary("assigned", "p2p"),
        "http": {"to_all_peers": summary("all", "http"), "to_an_assigned_set": summary("assigned", "http")},
        "warm_up_s": round(warm_up_s, 1),
        "settled": all(r["settled"] for r in [*warm, *reports]),
        "given_up": sum(r["given_up"] for r in reports),
    }, content


async def fetch_rate(server: str, store_dir: str) -> str:
    """MB/s of a 10 MB object fetched from `server` (median of 3), as a JSON string."""
    cid = (Path(store_dir) / "cid").read_text()
    node = Node(create_new_key_pair(), outbound=LOCAL)  # a fresh identity: not one of the peers
    await node.start()
    rates = []
    try:
        for _ in range(3):
            start = time.perf_counter()
            data = await fetch_from_peers(node, cid, [server])
            rates.append(len(data) / (time.perf_counter() - start) / 1e6)
    finally:
        await node.stop()
    return json.dumps({"bytes": len(data), "mb_per_s": round(statistics.median(rates), 1), "runs": len(rates)})


def gas_saved() -> dict[str, float]:
    from gas import Chain, Protocol, lifecycle  # bench/gas.py: the same lifecycles as bench-gas

    chain = Chain(accounts=10)
    try:
        p = Protocol(chain)
        lifecycle(p, 3, 2)  # warm-up (credit balances exist from here on)
        ratio = {}
        for m, n in ((3, 2), (5, 3)):
            aggregated, reveals = lifecycle(p, m, n), lifecycle(p, m, n, reveals=True)
            ratio[f"{m}-{n}"] = round(aggregated["total_gas"] / reveals["total_gas"], 3)
        return ratio
    finally:
        chain.close()


def ratio(p2p: dict[str, Any], http: dict[str, Any], key: str = "p99_ms") -> float | None:
    return round(p2p[key] / http[key], 2) if p2p[key] and http[key] else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between rounds")
    parser.add_argument("--assigned", type=int, default=4, help="others in an assigned set (a (5,3) job: 4)")
    parser.add_argument("--no-gas", action="store_true", help="skip the gas part (it needs anvil and the contracts)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "p2p.json"))
    parser.add_argument("--peer", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer is not None:
        asyncio.run(peer(args.peer, args.store))
        return 0
    if not 2 <= args.peers <= 20:
        parser.error("--peers is 2..20 (one dev account each)")
    with tempfile.TemporaryDirectory() as store_dir:
        blob = os.urandom(10 * 1000 * 1000)
        (Path(store_dir) / "cid").write_text(ContentStore(Path(store_dir)).put(blob))
        fanout, content = openings(args.peers, args.rounds, args.interval, args.assigned, store_dir)
    gas: dict[str, float | None] = {"3-2": None, "5-3": None} if args.no_gas else {**gas_saved()}
    fetched = json.loads(content)
    everyone, assigned, http = fanout["to_all_peers"], fanout["to_an_assigned_set"], fanout["http"]
    summaries = [everyone, assigned, *http.values()]
    all_delivered = all(f["delivered"] == f["expected"] for f in summaries) and fanout["given_up"] == 0
    fanout["p2p_over_http"] = {  # the medians too: a p99 moves more with what else the machine runs
        name: {q: ratio(fanout[name], http[name], f"{q}_ms") for q in ("p50", "p99")}
        for name in ("to_all_peers", "to_an_assigned_set")
    }
    # Openings go to a job's assignees, never to the whole network: that is the headline.
    result: dict[str, object] = {
        "openings_p99_ms": assigned["p99_ms"],
        "openings_p99_ms_all_to_all": everyone["p99_ms"],
        "openings_p99_ratio_p2p_over_http": ratio(assigned, http["to_an_assigned_set"]),
        "openings_p99_ratio_p2p_over_http_all_to_all": ratio(everyone, http["to_all_peers"]),
        "content_mb_per_s": fetched["mb_per_s"],
        "gas_saved_ratio": gas["3-2"],
        "openings": fanout,
        "content": fetched,
        "gas_saved_ratio_by_job": gas,
        "targets": {"openings_p99_ms": 200, "gas_saved_ratio": 0.8},
        "targets_met_by": {
            "openings_to_all_peers": everyone["p99_ms"] is not None and float(everyone["p99_ms"]) <= 200,
            "openings_to_an_assigned_set": assigned["p99_ms"] is not None and float(assigned["p99_ms"]) <= 200,
            "gas_saved_ratio": gas["3-2"] is not None and gas["3-2"] <= 0.8,
            "every_message_delivered": all_delivered,
        },
        "setup": f"{args.peers} processes on loopback, TCP + Noise + yamux, one request stream per batch of "
        f"messages (py-libp2p), against aiohttp POSTs, {os.cpu_count()} CPUs",
    }
    met = result["targets_met_by"]
    assert isinstance(met, dict)
    result["targets_met"] = met["openings_to_an_assigned_set"] and met["gas_saved_ratio"] and all_delivered
    return publish(result, args.out)


if __name__ == "__main__":
    sys.exit(main())
