"""What bounds the API: integer parameters SQL can hold, concurrent streams per client and in total,
a stream's lifetime, a rate limit per client for costly routes, and the hosts it answers to.

Clients are told apart by IP address (behind a reverse proxy they all share the proxy's).
"""

from __future__ import annotations

import ipaddress
import math
import re
import socket
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Header, Path, Query
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

MAX_ID = 2**63 - 1  # SQL BIGINT (SQLite INTEGER, PostgreSQL bigint): ids and block numbers beyond are no row
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")

# Integer parameters, bounded to what the database can compare with (a larger one is a 422, not a 500).
JobIdPath = Annotated[int, Path(ge=0, le=MAX_ID, description="A job id.")]
BeforeQuery = Annotated[int | None, Query(ge=0, le=MAX_ID, description="Only jobs with a smaller id.")]
AfterQuery = Annotated[int | None, Query(ge=0, le=MAX_ID, description="Only events with a greater id.")]
LastEventIdHeader = Annotated[int | None, Header(ge=0, le=MAX_ID)]


@dataclass(frozen=True)
class ApiLimits:
    """The API's bounds (defaults for an operator's dashboard; a benchmark may raise the stream caps)."""

    streams_total: int = 200  # concurrent /api/stream clients
    streams_per_client: int = 10  # per IP address
    stream_lifetime: float = 600.0  # seconds before the server ends a stream (the client reconnects)
    stream_retry_ms: int = 2000  # the SSE `retry:` sent to clients
    stream_poll: float = 0.2  # seconds between the shared poller's looks for new events (the lag floor)
    stream_keepalive: float = 15.0  # seconds of silence before a comment line (finds dead connections)
    stream_backlog: int = 64  # batches queued for a slow client before its stream is ended
    result_rate: float = 0.5  # /api/jobs/{id}/result requests per second per client, sustained
    result_burst: int = 10  # and at once
    allowed_hosts: tuple[str, ...] = field(default=LOOPBACK_HOSTS)  # Host headers answered (else 400)


def allowed_hosts_for(bind: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The Host names a server bound to `bind` answers to: the loopback names for a loopback or
    wildcard bind, the address itself for a specific one (IPv6 in brackets, as Host carries it), the
    machine's name for a wildcard bind, and `extra` (names the operator reaches it by)."""
    hosts: list[str] = []
    try:
        address = ipaddress.ip_address(bind.strip("[]"))
    except ValueError:  # a name: only itself (and what the operator adds)
        hosts.append(bind.lower())
    else:
        if address.is_loopback or address.is_unspecified:
            hosts += LOOPBACK_HOSTS
        if address.is_unspecified:
            hosts.append(socket.gethostname().lower())
        elif not address.is_loopback:
            hosts.append(f"[{address}]" if address.version == 6 else str(address))
    for name in extra:
        name = name.strip().lower()
        if name and name not in hosts:
            hosts.append(name)
    return tuple(dict.fromkeys(hosts))


class StreamSlots:
    """Counts open streams per client and in total; `take` refuses beyond the caps."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total, self.per_client = total, per_client
        self.open: dict[str, int] = {}

    def take(self, client: str) -> str | None:
        """Takes a slot for `client`; or returns why not (the caller answers 429)."""
        if self.open.get(client, 0) >= self.per_client:
            return f"too many streams from {client}: {self.per_client} open (the limit per client); close one first"
        if sum(self.open.values()) >= self.total:
            return f"too many streams: {self.total} open (the server's limit); retry later"
        self.open[client] = self.open.get(client, 0) + 1
        return None

    def give_back(self, client: str) -> None:
        left = self.open.get(client, 0) - 1
        if left > 0:
            self.open[client] = left
        else:
            self.open.pop(client, None)

    def count(self) -> int:
        return sum(self.open.values())


class TokenBuckets:
    """A token bucket per key (`rate` tokens a second, at most `burst`), for at most `keys` keys at
    once: the least recently seen are forgotten first (a forgotten client starts with a full bucket)."""

    def __init__(self, rate: float, burst: int, *, keys: int = 10_000) -> None:
        self.rate, self.burst, self.keys = rate, burst, keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def take(self, key: str, now: float | None = None) -> float:
        """0 if `key` may go on (a token is spent), else the seconds until it may."""
        now = time.monotonic() if now is None else now
        tokens, at = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate if self.rate > 0 else math.inf
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.keys:
            self._buckets.popitem(last=False)
        return wait


class RateLimit:
    """ASGI middleware: requests whose path matches `path` (a regular expression) spend a token of
    their client's bucket; without one, a 429 with Retry-After. Other paths pass untouched."""

    def __init__(self, app: ASGIApp, *, path: str, rate: float, burst: int) -> None:
        self.app = app
        self.path = re.compile(path)
        self.buckets = TokenBuckets(rate, burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.path.fullmatch(scope["path"]):
            client = client_of(scope)
            wait = self.buckets.take(client)
            if wait > 0:
                seconds = max(1, math.ceil(wait)) if math.isfinite(wait) else 3600
                detail = f"too many requests from {client} to this route; retry in {seconds} s"
                response = JSONResponse({"detail": detail}, status_code=429, headers={"Retry-After": str(seconds)})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def client_of(scope: Scope) -> str:
    """The client's IP address (what the limits count by)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
