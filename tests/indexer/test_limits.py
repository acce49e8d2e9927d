"""The API's bounds, served by uvicorn on loopback (clients at other 127.0.0.x addresses count as other
clients): streams capped per client and in total (429), ended after their lifetime and resumed, one
database poller for every stream, integer parameters bounded (422, never 500), foreign Host headers
refused (400), and the result route rate-limited per client (429)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from polkacompute.chain.networks import LOCAL_CHAIN_ID, Network
from polkacompute.dashboard import create_dashboard
from polkacompute.indexer import open_store
from polkacompute.indexer.api import create_app
from polkacompute.indexer.limits import MAX_ID, ApiLimits, TokenBuckets, allowed_hosts_for
from polkacompute.indexer.schema import EventJob, EventRow
from tests.conftest import free_port

NETWORK = Network("local", LOCAL_CHAIN_ID, "http://127.0.0.1:9", local=True)  # never dialled by these tests


@contextlib.contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """`app` served by uvicorn on 127.0.0.1 at a free port, in a thread; yields its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=1))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def client(url: str, source: str = "127.0.0.1") -> httpx.Client:
    """An HTTP client connecting from `source` (any 127.0.0.0/8 address is this machine)."""
    return httpx.Client(base_url=url, timeout=httpx.Timeout(5, read=10),
                        transport=httpx.HTTPTransport(local_address=source))  # fmt: skip


def add_events(engine: Engine, count: int, job: int = 1) -> list[int]:
    """Stores `count` events about `job` (as the indexer would) and returns their ids."""
    with Session(engine) as session:
        last = session.query(EventRow).count()
        rows = [EventRow(block_number=1 + last + i, log_index=0, tx_hash="0x" + "ab" * 32, contract="JobMarket",
                         name="JobSubmitted", args={"jobId": job}) for i in range(count)]  # fmt: skip
        session.add_all(rows)
        session.flush()
        session.add_all([EventJob(event_id=row.id, job_id=job) for row in rows])
        session.add_all([EventJob(event_id=row.id, job_id=job + 1) for row in rows[::2]])  # some name two jobs
        session.commit()
        return [row.id for row in rows]


def messages(response: httpx.Response) -> Iterator[dict[str, str]]:
    """SSE messages (field -> value; comments as "comment") until the server ends the stream."""
    message: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if message:
                yield message
            message = {}
            continue
        field, _, value = line.partition(":")
        message["comment" if field == "" else field] = value.strip()
    if message:
        yield message


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return open_store(f"sqlite:///{tmp_path / 'index.db'}")


def test_streams_are_capped_per_client_and_in_total(engine: Engine) -> None:
    app = create_app(engine, limits=ApiLimits(streams_per_client=2, streams_total=3))
    with serving(app) as url, contextlib.ExitStack() as open_streams:
        first = open_streams.enter_context(client(url))
        for _ in range(2):
            assert open_streams.enter_context(first.stream("GET", "/api/stream")).status_code == 200
        refused = first.get("/api/stream")
        assert refused.status_code == 429
        assert refused.json()["detail"].startswith("too many streams from 127.0.0.1: 2 open (the limit per client)")
        assert int(refused.headers["Retry-After"]) >= 1

        other = open_streams.enter_context(client(url, "127.0.0.2"))
        assert open_streams.enter_context(other.stream("GET", "/api/stream")).status_code == 200
        with client(url, "127.0.0.3") as third:
            full = third.get("/api/stream")
            assert full.status_code == 429
            assert full.json()["detail"] == "too many streams: 3 open (the server's limit); retry later"
            assert third.get("/api/stats").status_code == 200  # only streams are capped

            other.close()  # a client that goes away gives its slot back
            deadline = time.monotonic() + 5
            while True:
                with third.stream("GET", "/api/stream") as response:
                    if response.status_code == 200:
                        break
                assert response.status_code == 429
                assert time.monotonic() < deadline, "the closed stream's slot was not given back"
                time.sleep(0.05)


def test_a_stream_ends_after_its_lifetime_and_resumes_where_it_left_off(engine: Engine) -> None:
    before = add_events(engine, 3)
    app = create_app(engine, limits=ApiLimits(stream_lifetime=1.0, stream_retry_ms=500, stream_poll=0.05))
    with serving(app) as url, client(url) as http:
        started = time.monotonic()
        with http.stream("GET", "/api/stream", params={"after": before[0]}) as response:
            received = list(messages(response))  # until the server ends it
        lasted = time.monotonic() - started
        assert 0.85 <= lasted < 3, f"the stream lasted {lasted:.2f} s, its lifetime is 1 s"
        assert received[0]["retry"] == "500"  # EventSource reconnects after half a second
        assert [int(m["id"]) for m in received if "id" in m] == before[1:]
        later = add_events(engine, 2)
        with http.stream("GET", "/api/stream", headers={"Last-Event-ID": str(before[-1])}) as response:
            resumed = [json.loads(m["data"]) for m in messages(response) if "data" in m]
        assert [e["id"] for e in resumed] == later
        assert resumed[0]["jobs"] == [1, 2]


def test_a_stopping_server_ends_its_streams_and_refuses_new_ones(engine: Engine) -> None:
    app = create_app(engine)
    with serving(app) as url, client(url) as http, http.stream("GET", "/api/stream") as stream:
        lines = stream.iter_lines()
        assert next(lines) == "retry: 2000"
        started = time.monotonic()
        app.state.streams.drain()  # what `polkacompute dashboard` does on SIGINT and SIGTERM
        assert [line for line in lines if line] == [": stream open"]  # ended cleanly, at once
        assert time.monotonic() - started < 2
        refused = http.get("/api/stream")
        assert (refused.status_code, refused.json()["detail"]) == (503, "the server is stopping")


def test_every_stream_is_fed_by_one_poller(engine: Engine) -> None:
    """Twenty clients, one query per poll: the old stream queried once per client per poll, and once
    more per event for its jobs."""
    queries: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM events LEFT OUTER JOIN blocks" in statement or "FROM event_jobs" in statement:  # events_after
            queries.append(statement)

    clients, poll = 20, 0.1
    app = create_app(engine, limits=ApiLimits(streams_per_client=clients, stream_poll=poll))
    received: list[list[int]] = [[] for _ in range(clients)]
    ids: list[int] = []
    with serving(app) as url, contextlib.ExitStack() as stack:
        http = stack.enter_context(client(url))
        streams = [stack.enter_context(http.stream("GET", "/api/stream")) for _ in range(clients)]
        for stream in streams:
            assert stream.status_code == 200
        event.listen(engine, "before_cursor_execute", count)
        try:
            started = time.monotonic()
            ids = add_events(engine, 40)

            def read(i: int) -> None:
                for message in messages(streams[i]):
                    if "data" in message:
                        received[i].append(json.loads(message["data"])["id"])
                        if len(received[i]) == len(ids):
                            return

            readers = [threading.Thread(target=read, args=(i,), daemon=True) for i in range(clients)]
            for reader in readers:
                reader.start()
            for reader in readers:
                reader.join(10)
            time.sleep(max(0.0, started + 1 - time.monotonic()))  # a second of polls at least
            elapsed = time.monotonic() - started
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert received == [ids] * clients
    polls = elapsed / poll
    # One events query per poll and one event_jobs query per batch: about one per poll in all, where a
    # poller per client would make `clients` times as many (and the old one an event_jobs query per event).
    assert len(queries) <= polls + 5, f"{len(queries)} event queries in {polls:.0f} polls for {clients} streams"


def test_integer_parameters_are_bounded_everywhere(db_url: str) -> None:
    """Every integer in a path, query or header of the API, too large or negative: 422, never 500;
    the largest that SQL can hold is answered (404: nothing has that id) on SQLite and PostgreSQL."""
    app = create_dashboard(open_store(db_url), NETWORK, limits=ApiLimits(result_burst=100))
    found = []
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as http:
        for path, operations in app.openapi()["paths"].items():
            for parameter in operations["get"].get("parameters", []):
                if parameter["schema"].get("anyOf", [parameter["schema"]])[0].get("type") != "integer":
                    continue
                found.append((path, parameter["name"]))
                for value in (2**63, 2**64, 10**30, -1, -(2**63) - 1, "9" * 5000):
                    response = send(http, path, parameter["in"], parameter["name"], value)
                    assert response.status_code == 422, (path, parameter["name"], value, response.text)
                    assert response.json()["detail"][0]["loc"][-1] == parameter["name"]
        assert send(http, "/api/jobs/{job_id}", "path", "job_id", MAX_ID).status_code == 404
        assert send(http, "/api/jobs/{job_id}/result", "path", "job_id", MAX_ID).status_code == 404
        assert send(http, "/api/jobs", "query", "before", MAX_ID).json() == []
        with http.stream("GET", "/api/stream", params={"after": MAX_ID}) as stream:
            assert stream.status_code == 200
    assert {("/api/jobs/{job_id}", "job_id"), ("/api/jobs/{job_id}/result", "job_id"), ("/api/jobs", "before"),
            ("/api/jobs", "limit"), ("/api/series", "minutes"), ("/api/stream", "after"),
            ("/api/stream", "last-event-id"), ("/api/providers", "limit")} <= set(found)  # fmt: skip


def send(http: TestClient, path: str, where: str, name: str, value: object) -> httpx.Response:
    if where == "path":
        return http.get(path.replace("{" + name + "}", str(value)))
    if where == "header":
        return http.get(path, headers={name: str(value)})
    return http.get(path, params={name: str(value)})


def test_a_foreign_host_header_is_refused(engine: Engine) -> None:
    app = create_dashboard(engine, NETWORK)
    with serving(app) as url, client(url) as http:
        port = url.rsplit(":", 1)[1]
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "LOCALHOST"):
            assert http.get("/api/stats", headers={"Host": host}).status_code == 200, host
        for host in ("attacker.example", f"attacker.example:{port}", "127.0.0.1.attacker.example", "[::2]"):
            for path in ("/api/stats", "/api/stream", "/api/jobs/1/result", "/"):
                response = http.get(path, headers={"Host": host})
                assert response.status_code == 400, (host, path)
                assert response.text == "Invalid host header"

    assert allowed_hosts_for("127.0.0.1") == ("127.0.0.1", "localhost", "[::1]")
    assert allowed_hosts_for("::1", ["Dash.Example"]) == ("127.0.0.1", "localhost", "[::1]", "dash.example")
    assert allowed_hosts_for("192.0.2.7") == ("192.0.2.7",)
    assert allowed_hosts_for("2001:db8::7") == ("[2001:db8::7]",)
    wildcard = allowed_hosts_for("0.0.0.0", ["dash.example"])  # noqa: S104 (names only)
    assert wildcard[:3] == ("127.0.0.1", "localhost", "[::1]")
    assert wildcard[-1] == "dash.example"


def test_the_result_route_is_rate_limited_per_client(engine: Engine) -> None:
    app = create_dashboard(engine, NETWORK, limits=ApiLimits(result_rate=0.2, result_burst=3))
    with serving(app) as url, client(url) as first, client(url, "127.0.0.2") as second:
        assert [first.get("/api/jobs/7/result").status_code for _ in range(3)] == [404] * 3  # nothing indexed
        limited = first.get("/api/jobs/7/result")
        assert limited.status_code == 429
        assert limited.json()["detail"] == "too many requests from 127.0.0.1 to this route; retry in 5 s"
        assert limited.headers["Retry-After"] == "5"
        assert first.get("/api/jobs/7").status_code == 404  # other routes are not limited
        assert second.get("/api/jobs/7/result").status_code == 404  # nor other clients

    buckets = TokenBuckets(rate=2, burst=2, keys=2)
    assert [buckets.take("a", now=0) for _ in range(3)] == [0, 0, 0.5]
    assert buckets.take("a", now=0.5) == 0  # one token back after half a second
    buckets.take("b", now=1)
    buckets.take("c", now=1)  # "a" is forgotten: at most two clients are remembered
    assert buckets.take("a", now=1) == 0
