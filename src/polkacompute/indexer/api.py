"""The indexer's HTTP API (FastAPI, OpenAPI docs at /docs) and its live event stream (Server-Sent Events).

Reads only: the indexer (`Indexer.follow`, run beside it by `create_app(..., indexer=...)` or in another
process on the same database) writes. Amounts are decimal strings (wei exceed JSON's exact integers).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from polkacompute import __version__
from polkacompute.indexer import queries, series
from polkacompute.indexer.indexer import Indexer

STREAM_POLL = 0.2  # seconds between looks for new events (the stream's lag floor)


def create_app(engine: Engine, *, indexer: Indexer | None = None, follow_every: float = 1.0,
               info: dict[str, Any] | None = None,
               closing: Sequence[Callable[[], Awaitable[None]]] = ()) -> FastAPI:  # fmt: skip
    """The API over `engine`; with `indexer`, it also runs the indexer's follow loop while it serves.

    `info` is what /api/info reports (network name, chain id, currency); `closing` run at shutdown.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(indexer.follow(stop, follow_every)) if indexer is not None else None
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)
            for close in closing:
                await close()

    app = FastAPI(title="PolkaCompute indexer", version=__version__, lifespan=lifespan)

    def read(fn: Any, *args: Any, **kwargs: Any) -> Any:
        return read_with(engine, fn, *args, **kwargs)

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
             runtime: str | None = None, before: int | None = None,
             limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 50) -> list[dict[str, Any]]:  # fmt: skip
        return read(queries.jobs, status=status, requester=requester, provider=provider, runtime=runtime,  # type: ignore[no-any-return]
                    before=before, limit=limit)  # fmt: skip

    @app.get("/api/jobs/{job_id}", summary="A job with its timeline of events")
    def job(job_id: int) -> dict[str, Any]:
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

    @app.get("/api/stream", summary="New events as they are indexed (Server-Sent Events)")
    async def stream(request: Request, after: int | None = None,
                     last_event_id: Annotated[int | None, Header()] = None) -> StreamingResponse:  # fmt: skip
        """From the event after `after` (or the `Last-Event-ID` a reconnecting EventSource sends), else
        from now on."""
        start = after if after is not None else last_event_id

        async def events() -> AsyncIterator[str]:
            last = start if start is not None else await asyncio.to_thread(read, queries.last_event_id)
            yield ": stream open\n\n"
            while not await request.is_disconnected():
                batch = await asyncio.to_thread(read, queries.events_after, last)
                for event in batch:
                    last = event["id"]
                    yield f"id: {event['id']}\nevent: chain\ndata: {json.dumps(event)}\n\n"
                await asyncio.sleep(STREAM_POLL)

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    return app


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
