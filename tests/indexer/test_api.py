"""The indexer's API over an index of a real anvil workload: stats, filters, pages, details, errors,
and the live stream delivering an event indexed while a client listens."""

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from web3 import Web3

from polkacompute import __version__
from polkacompute.chain.accounts import dev_account
from polkacompute.chain.deploy import Deployment, save_deployment
from polkacompute.chain.networks import Network
from polkacompute.dashboard import create_dashboard
from polkacompute.indexer import Indexer, open_store
from polkacompute.indexer.api import create_app
from polkacompute.indexer.schema import EventJob
from polkacompute.sdk import AsyncClient, JobStatus
from polkacompute.store.cid import cid_from_digest
from tests.conftest import free_port
from tests.sdk.test_client import spec_at
from tests.sdk.test_jobs import OUTPUT_DIGEST, WORKERS

from .test_indexer import workload


def test_the_api_answers_from_the_index(anvil: Network, deployment: Deployment, db_url: str) -> None:
    engine = open_store(db_url)

    async def prepare() -> dict[int, JobStatus]:
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
            await workload(pc, anvil, deployment, seed=7, jobs=14)
            await Indexer(pc, engine, confirmations=0).sync()
            return {j: (await pc.jobs.get(j)).status for j in range(1, await pc.jobs.count() + 1)}

    chain = asyncio.run(prepare())
    client = TestClient(create_dashboard(engine, anvil), base_url="http://127.0.0.1")  # a Host it answers

    stats = client.get("/api/stats").json()
    assert stats["jobs"] == len(chain)
    assert stats["by_status"] == {s.name: sum(1 for v in chain.values() if v is s) for s in set(chain.values())}
    finalized, failed = stats["by_status"].get("FINALIZED", 0), stats["by_status"].get("FAILED", 0)
    assert stats["success_rate"] == round(finalized / (finalized + failed), 4)
    assert stats["latency_blocks"]["p50"] is not None
    assert stats["active_workers"] == len(WORKERS)  # the passing provider deregistered

    done = client.get("/api/jobs", params={"status": "finalized"}).json()
    assert sorted(j["id"] for j in done) == sorted(j for j, s in chain.items() if s is JobStatus.FINALIZED)
    assert all(j["result_digest"] for j in done)
    worker = dev_account(WORKERS[0]).address
    theirs = client.get("/api/jobs", params={"provider": worker.lower()}).json()
    assert theirs
    assert all(worker in j["assignees"] for j in theirs)
    first = client.get("/api/jobs", params={"limit": 5}).json()
    rest = client.get("/api/jobs", params={"limit": 50, "before": first[-1]["id"]}).json()
    assert [j["id"] for j in first + rest] == sorted(chain, reverse=True)  # newest first, pages join up

    detail = client.get(f"/api/jobs/{done[0]['id']}").json()
    names = [e["name"] for e in detail["timeline"]]
    assert names[:2] == ["JobSubmitted", "Deposited"]
    assert "JobFinalized" in names
    assert all(e["time"] for e in detail["timeline"])
    assert detail["prices"]
    assert detail["runtime_name"] == "wasi"
    assert {j["runtime_name"] for j in done} == {"wasi"}  # the list names it too (the dashboard shows it)
    assert [j["id"] for j in client.get("/api/jobs", params={"runtime": "wasi", "limit": 200}).json()] == sorted(
        chain, reverse=True)  # every job of the workload runs wasi  # fmt: skip
    assert detail["outcomes"] == dict.fromkeys(detail["assignees"], "paid")
    assert set(detail["revealed"].values()) == {detail["result_digest"]}
    assert detail["result_cid"] == cid_from_digest(OUTPUT_DIGEST, "dag-cbor")
    w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
    for job in done:  # every transaction of this workload is about one job: its gas is the job's
        txs = {e["tx"] for e in client.get(f"/api/jobs/{job['id']}").json()["timeline"]}
        assert job["gas_used"] == sum(w3.eth.get_transaction_receipt(tx)["gasUsed"] for tx in txs)
        assert job["ended_time"] >= job["submitted_time"] > 0
    ended = [j for j in client.get("/api/jobs", params={"limit": 200}).json() if j["ended_time"] is not None]
    assert stats["gas_per_job"] == round(sum(j["gas_used"] for j in ended if j["status"] != "CANCELLED")
                                         / sum(1 for j in ended if j["status"] != "CANCELLED"))  # fmt: skip
    assert client.get("/api/info").json() == {"version": __version__, "network": anvil.name,
                                              "chain_id": anvil.chain_id, "symbol": "ETH"}  # fmt: skip

    ranked = client.get("/api/providers", params={"sort": "earned"}).json()
    assert [int(p["earned"]) for p in ranked] == sorted((int(p["earned"]) for p in ranked), reverse=True)
    profile = client.get(f"/api/providers/{worker}").json()
    assert profile["reputation_history"][0]["reason"] == "REGISTERED"
    assert profile["recent_jobs"]
    registered = next(h for h in profile["reputation_history"] if h["reason"] == "REGISTERED")
    with Session(engine) as session:  # "job 0" (no job) is not a job the registration event is about
        assert session.scalar(select(func.count()).select_from(EventJob).where(EventJob.job_id == 0)) == 0
    assert registered["job_id"] == 0
    assert client.get("/api/escrow").json()["balances"]

    # The per-minute series: every job counted in the minute of its block, the escrow's last total.
    series = client.get("/api/series", params={"minutes": 24 * 60}).json()
    start, points = series["points"][0]["t"], series["points"]
    listed = client.get("/api/jobs", params={"limit": 200}).json()
    for key, time_key, statuses in (("submitted", "submitted_time", None), ("finalized", "ended_time", {"FINALIZED"}),
                                    ("failed", "ended_time", {"FAILED"})):  # fmt: skip
        expected = [0] * len(points)
        for j in listed:
            if j[time_key] is not None and j[time_key] >= start and (statuses is None or j["status"] in statuses):
                expected[(j[time_key] - start) // 60] += 1
        assert [p[key] for p in points] == expected, key
    assert {t: a for t, a in points[-1]["escrowed"].items()} == stats["escrowed"]
    assert all(p["success_rate"] == round(p["finalized"] / (p["finalized"] + p["failed"]), 4)
               for p in points if p["finalized"] + p["failed"])  # fmt: skip
    assert max(p["active_workers"] for p in points) == len(WORKERS)

    # A reconnecting EventSource resumes from the Last-Event-ID header it sends.
    with client.stream("GET", "/api/stream", headers={"Last-Event-ID": "3"}) as response:
        first = next(json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: "))
    assert first["id"] == 4
    assert stats["last_event_id"] >= stats["events"]

    # Bad input: a clear error, nothing else.
    assert client.get("/api/series", params={"minutes": 0}).status_code == 422
    assert client.get("/api/jobs", params={"runtime": "cobol"}).json() == []
    assert "at most 32 bytes" in client.get("/api/jobs", params={"runtime": "x" * 33}).json()["detail"]
    assert client.get("/api/jobs/999999").status_code == 404
    assert "not indexed" in client.get("/api/jobs/999999").json()["detail"]
    assert client.get("/api/providers/0x0000000000000000000000000000000000000001").status_code == 404
    assert client.get("/api/jobs", params={"limit": 0}).status_code == 422
    assert client.get("/api/providers", params={"sort": "mood"}).status_code == 422
    assert client.get("/api/jobs", params={"requester": "nobody"}).json()["detail"] == "'nobody' is not an address"
    assert client.get("/api/providers/0x12").status_code == 422
    assert client.get("/openapi.json").json()["info"]["title"] == "PolkaCompute indexer"


def test_the_stream_pushes_an_event_indexed_while_a_client_listens(anvil: Network, deployment: Deployment,
                                                                   tmp_path: Path) -> None:  # fmt: skip
    engine = open_store(f"sqlite:///{tmp_path / 'index.db'}")
    client = TestClient(create_app(engine), base_url="http://localhost")
    seen: list[dict] = []  # type: ignore[type-arg]
    opened = threading.Event()

    def listen() -> None:
        with client.stream("GET", "/api/stream") as response:
            for line in response.iter_lines():
                opened.set()
                if line.startswith("data: "):
                    seen.append(json.loads(line[6:]))
                    if seen[-1]["name"] == "JobSubmitted":
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert opened.wait(10)

    async def submit_and_index() -> int:
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
            handle = await pc.jobs.submit(spec_at(await pc.now()))
            await Indexer(pc, engine, confirmations=0).sync()
            return handle.id

    job_id = asyncio.run(submit_and_index())
    indexed = time.monotonic()
    listener.join(10)
    assert not listener.is_alive(), "the stream did not deliver the submission"
    assert time.monotonic() - indexed < 2  # pushed within the 2 s the dashboard promises
    submitted = seen[-1]
    assert submitted["jobs"] == [job_id]
    assert submitted["args"]["requester"] == dev_account(1).address


def test_the_dashboard_command_indexes_and_serves(anvil: Network, deployment: Deployment, tmp_path: Path) -> None:
    async def jobs() -> None:
        async with AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
            await pc.jobs.submit(spec_at(await pc.now()))

    asyncio.run(jobs())
    save_deployment(deployment, tmp_path / "deployments")
    env = {**os.environ, "POLKACOMPUTE_DEPLOYMENTS": str(tmp_path / "deployments"), "POLKACOMPUTE_HOME": str(tmp_path)}
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "polkacompute.cli", "dashboard", "--port", str(port),
                             "--confirmations", "0", "--rpc-url", anvil.rpc_url, "--allowed-host", "dash.example"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        stats = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/stats", timeout=2) as response:
                    stats = json.loads(response.read())
                if stats["jobs"] >= 1:
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.2)
        assert stats is not None
        assert stats["jobs"] == 1
        assert stats["by_status"] == {"OPEN": 1}
        # The names it answers to: its bind address's and those given with --allowed-host; no other.
        assert httpx.get(f"http://127.0.0.1:{port}/api/info", headers={"Host": "dash.example"}).status_code == 200
        refused = httpx.get(f"http://127.0.0.1:{port}/api/info", headers={"Host": "rebound.example"})
        assert (refused.status_code, refused.text) == (400, "Invalid host header")

        # Clients are told apart by the address that connected: a forged X-Forwarded-For does not give a
        # local client a fresh rate-limit bucket on the result route (10 at once, then one per 2 s). Sent
        # together: one at a time, a loaded machine answered slowly enough for the bucket to refill.
        async def burst() -> list[int]:
            async with httpx.AsyncClient(timeout=60) as client:
                answers = await asyncio.gather(*(client.get(f"http://127.0.0.1:{port}/api/jobs/1/result",
                                                            headers={"X-Forwarded-For": f"198.51.100.{i}"})
                                                 for i in range(30)))  # fmt: skip
            return [a.status_code for a in answers]

        codes = asyncio.run(burst())
        assert 429 in codes, codes

        # An open live stream does not hold the shutdown: the server ends it and stops within seconds.
        with httpx.Client(timeout=httpx.Timeout(5, read=30)) as client, \
                client.stream("GET", f"http://127.0.0.1:{port}/api/stream") as stream:  # fmt: skip
            lines = stream.iter_lines()
            assert next(lines) == "retry: 2000"
            proc.terminate()
            stopping = time.monotonic()
            for _ in lines:  # until the server ends the stream (an httpx error if it were reset)
                pass
        proc.wait(timeout=10)
        assert time.monotonic() - stopping < 5
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert (tmp_path / "index-local.db").exists()  # the default index, in the PolkaCompute home
