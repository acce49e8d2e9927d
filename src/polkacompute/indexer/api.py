"""The indexer's HTTP API (FastAPI, OpenAPI docs at /docs) and its live event stream (Server-Sent Events).

Reads only: the indexer (`Indexer.follow`, run beside it by `create_app(..., indexer=...)` or in another
process on the same database) writes. Amounts are decimal strings (wei exceed JSON's exact integers).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import Receive, Scope, Send

from polkacompute import __version__
from polkacompute.indexer import queries, series
from polkacompute.indexer.indexer import Indexer
from polkacompute.indexer.limits import AfterQuery, ApiLimits, BeforeQuery, JobIdPath, LastEventIdHeader, client_of
from polkacompute.indexer.stream import StreamHub


def create_app(engine: Engine, *, indexer: Indexer | None = None, follow_every: float = 1.0,
               info: dict[str, Any] | None = None, limits: ApiLimits | None = None,
               closing: Sequence[Callable[[], Awaitable[None]]] = ()) -> FastAPI:  # fmt: skip
    """The API over `engine`; with `indexer`, it also runs the indexer's follow loop while it serves.

    `info` is what /api/info reports (network name, chain id, currency); `limits` bound streams and
    name the Host headers answered (`ApiLimits()`: loopback names only); `closing` run at shutdown.
    """
    limits = limits or ApiLimits()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(indexer.follow(stop, follow_every)) if indexer is not None else None
        try:
            yield
        finally:
            stop.set()
            await hub.close()
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)
            for close in closing:
                await close()

    app = FastAPI(title="PolkaCompute indexer", version=__version__, lifespan=lifespan)
    # DNS rebinding: a page on another site whose name resolves here would otherwise be answered.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(limits.allowed_hosts), www_redirect=False)

    def read(fn: Any, *args: Any, **kwargs: Any) -> Any:
        return read_with(engine, fn, *args, **kwargs)

    hub = StreamHub(read, limits)
    app.state.streams = hub

    @app.get("/api/info", summary="The network indexed and this server's version")
    def about() -> dict[str, Any]:
        return {"version": __version__, **(info or {})}

    @app.get("/api/stats", summary="Network totals, success rate, latency, gas, active workers, value escrowed")
    def stats() -> dict[str, Any]:
        return read(queries.stats)  # type: ignore[no-any-return]

    @app.get("/api/series", summary="Per-minute series in chain time: jobs, success rate, latency, gas, escrow")
    def series_(minutes: Annotated[int, Query(ge=1, le=series.MAX_MINUTES)] = 60) -> dict[str, Any]:
        return read(series.series, minutes)  # type: ignore[no-any-return]

    @app.get("/api/jobs", summary="Jobs, newest first, filtered; page back with `before`")
    def jobs(status: str | None = None, requester: str | None = None, provider: str | None = None,
             runtime: str | None = None, before: BeforeQuery = None,
             limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 50) -> list[dict[str, Any]]:  # fmt: skip
        return read(queries.jobs, status=status, requester=requester, provider=provider, runtime=runtime,  # type: ignore[no-any-return]
                    before=before, limit=limit)  # fmt: skip

    @app.get("/api/jobs/{job_id}", summary="A job with its timeline of events")
    def job(job_id: JobIdPath) -> dict[str, Any]:
        return _found(read(queries.job, job_id), f"job {job_id} is not indexed")

    @app.get("/api/providers", summary="Providers, sorted by reputation, earnings or stake")
    def providers(sort: Annotated[str, Query(pattern="^(reputation|earned|stake)$")] = "reputation",
                  limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 100) -> list[dict[str, Any]]:  # fmt: skip
        return read(queries.providers, sort=sort, limit=limit)  # type: ignore[no-any-return]

    @app.get("/api/providers/{address}", summary="A provider: stake, reputation history, slashes, recent jobs")
    def provider(address: str) -> dict[str, Any]:
        return _found(read(queries.provider, address), f"provider {address} is not indexed")

    @app.get("/api/escrow", summary="Budgets held per token and withdrawable balances")
    def escrow() -> dict[str, Any]:
        return read(queries.escrow)  # type: ignore[no-any-return]

    @app.get("/api/stream", summary="New events as they are indexed (Server-Sent Events)",
             responses={429: {"description": "Too many streams from this client or in total"}})  # fmt: skip
    async def stream(request: Request, after: AfterQuery = None,
                     last_event_id: LastEventIdHeader = None) -> StreamingResponse:  # fmt: skip
        """From the event after `after` (or the `Last-Event-ID` a reconnecting EventSource sends), else
        from now on. The server ends a stream after a while (`retry:` says when to reconnect)."""
        if hub.draining:
            raise HTTPException(503, "the server is stopping", headers={"Retry-After": "5"})
        client = client_of(request.scope)
        refused = hub.slots.take(client)
        if refused is not None:
            raise HTTPException(429, refused, headers={"Retry-After": str(max(1, limits.stream_retry_ms // 1000))})
        return _Stream(hub.events(after if after is not None else last_event_id),
                       release=lambda: hub.slots.give_back(client))  # fmt: skip

    return app


class _Stream(StreamingResponse):
    """An SSE response that gives its stream slot back however it ends (finished, disconnected, failed)."""

    def __init__(self, events: AsyncGenerator[str, None], *, release: Callable[[], None]) -> None:
        super().__init__(events, media_type="text/event-stream",
                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip
        self._events, self._release = events, release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()
            await self._events.aclose()  # leaves the hub now, not when the generator is collected


def read_with(engine: Engine, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """`fn(session, ...)` in a read session; a ValueError (a malformed request value) is a 422."""
    with Session(engine) as session:
        try:
            return fn(session, *args, **kwargs)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None


def _found(value: dict[str, Any] | None, missing: str) -> dict[str, Any]:
    if value is None:
        raise HTTPException(404, missing)
    return value
