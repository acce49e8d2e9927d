"""The interim transport between workers: JSON messages POSTed to each peer's gateway.

`send(topic, message, peers)` queues; a flusher posts each peer the messages queued for it in one
request every `flush_interval`, so fifty openings to a peer cost one request, not fifty. Receivers
get lists and check every message (`messages.py`). The libp2p layer replaces this class behind the
same two methods (`send`, and handlers per topic).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
from aiohttp import web

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[bool]]  # checks and keeps one message; False if refused
MAX_MESSAGES = 4096  # per request


class HttpChannel:
    def __init__(self, app: web.Application, handlers: dict[str, Handler], *, request_timeout: float = 5.0,
                 flush_interval: float = 0.01) -> None:  # fmt: skip
        self._handlers = handlers
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._interval = flush_interval
        self._queue: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        self._pending = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._flusher: asyncio.Task[None] | None = None
        app.router.add_post("/p2p/{topic}", self._handle)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        self._flusher = asyncio.create_task(self._flush_forever(), name="channel-flush")

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        if self._session is not None:
            await self._session.close()

    def send(self, topic: str, message: dict[str, Any], peers: Sequence[str]) -> None:
        for peer in peers:
            if peer:
                self._queue[(peer.rstrip("/"), topic)].append(message)
        self._pending.set()

    async def _flush_forever(self) -> None:
        while True:
            await self._pending.wait()
            await asyncio.sleep(self._interval)  # let a burst of messages gather
            self._pending.clear()
            queued, self._queue = self._queue, defaultdict(list)
            await asyncio.gather(*(self._post(peer, topic, msgs) for (peer, topic), msgs in queued.items()))

    async def _post(self, peer: str, topic: str, messages: list[dict[str, Any]]) -> None:
        assert self._session is not None
        for i in range(0, len(messages), MAX_MESSAGES):
            try:
                async with self._session.post(f"{peer}/p2p/{topic}", json=messages[i : i + MAX_MESSAGES]) as response:
                    if response.status != 200:
                        log.warning("peer %s refused %s: %s", peer, topic, (await response.text())[:200])
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("peer %s unreachable for %s: %s", peer, topic, exc or type(exc).__name__)

    async def _handle(self, request: web.Request) -> web.Response:
        handler = self._handlers.get(request.match_info["topic"])
        if handler is None:
            return web.Response(status=404, text="unknown topic")
        try:
            messages = await request.json()
        except ValueError as exc:
            return web.Response(status=400, text=f"not JSON: {exc}")
        if not isinstance(messages, list) or len(messages) > MAX_MESSAGES:
            return web.Response(status=400, text=f"expected a list of at most {MAX_MESSAGES} messages")
        kept = 0
        for message in messages:
            try:
                kept += await handler(message)
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                log.warning("malformed %s message dropped: %s", request.match_info["topic"], exc)
        return web.Response(status=200, text=str(kept))
