"""How workers send each other signed messages (`messages.py`): batched per peer, checked on arrival.

`Channel` is the transport-independent part: `send(topic, message, peers)` queues, and a flusher
delivers each peer the messages queued for it as one JSON list every `flush_interval` (fifty openings
to a peer cost one request, not fifty); an arriving list goes message by message to the topic's
handler, which checks and keeps it (malformed ones are dropped and logged). Transports:
- `HttpChannel`: a POST to `/p2p/<topic>` on the peer's gateway (`worker run --http-channel`);
- `polkacompute.p2p.channel.P2PChannel`: a libp2p request/response stream per topic.
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


class Channel:
    def __init__(self, handlers: dict[str, Handler], *, flush_interval: float = 0.01) -> None:
        self._handlers = handlers
        self._interval = flush_interval
        self._queue: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        self._pending = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._flusher = asyncio.create_task(self._flush_forever(), name="channel-flush")

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher

    def send(self, topic: str, message: dict[str, Any], peers: Sequence[str]) -> None:
        for peer in peers:
            if peer:
                self._queue[(peer, topic)].append(message)
        self._pending.set()

    async def _flush_forever(self) -> None:
        while True:
            await self._pending.wait()
            await asyncio.sleep(self._interval)  # let a burst of messages gather
            self._pending.clear()
            queued, self._queue = self._queue, defaultdict(list)
            await asyncio.gather(*(self._deliver(peer, topic, msgs) for (peer, topic), msgs in queued.items()))

    async def _deliver(self, peer: str, topic: str, messages: list[dict[str, Any]]) -> None:
        for i in range(0, len(messages), MAX_MESSAGES):
            await self._post(peer, topic, messages[i : i + MAX_MESSAGES])

    async def _post(self, peer: str, topic: str, messages: list[dict[str, Any]]) -> None:
        """Delivers one list to one peer (logs, never raises: a dead peer must not stop the others)."""
        raise NotImplementedError

    async def _dispatch(self, topic: str, messages: object) -> tuple[int, str]:
        """An arriving list through the topic's handler: (status, how many were kept or why none)."""
        handler = self._handlers.get(topic)
        if handler is None:
            return 404, "unknown topic"
        if not isinstance(messages, list) or len(messages) > MAX_MESSAGES:
            return 400, f"expected a list of at most {MAX_MESSAGES} messages"
        kept = 0
        for message in messages:
            try:
                kept += await handler(message)
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                log.warning("malformed %s message dropped: %s", topic, exc)
        return 200, str(kept)


class HttpChannel(Channel):
    """Peers are gateway URLs (what each worker registered as its peer id)."""

    def __init__(self, app: web.Application, handlers: dict[str, Handler], *, request_timeout: float = 5.0,
                 flush_interval: float = 0.01) -> None:  # fmt: skip
        super().__init__(handlers, flush_interval=flush_interval)
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._session: aiohttp.ClientSession | None = None
        app.router.add_post("/p2p/{topic}", self._handle)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        await super().start()

    async def stop(self) -> None:
        await super().stop()
        if self._session is not None:
            await self._session.close()

    async def _post(self, peer: str, topic: str, messages: list[dict[str, Any]]) -> None:
        assert self._session is not None
        try:
            async with self._session.post(f"{peer.rstrip('/')}/p2p/{topic}", json=messages) as response:
                if response.status != 200:
                    log.warning("peer %s refused %s: %s", peer, topic, (await response.text())[:200])
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("peer %s unreachable for %s: %s", peer, topic, exc or type(exc).__name__)

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            messages = await request.json()
        except ValueError as exc:
            return web.Response(status=400, text=f"not JSON: {exc}")
        status, text = await self._dispatch(request.match_info["topic"], messages)
        return web.Response(status=status, text=text)
