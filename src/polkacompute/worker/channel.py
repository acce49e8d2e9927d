"""How workers send each other signed messages (`messages.py`): batched per peer, acknowledged, retried.

`Channel` is the transport-independent part. `send(topic, message, peers)` puts the message in each
peer's outbox for that topic; one delivery task per outbox sends what it holds as one JSON list (fifty
openings to a peer cost one request, not fifty), waits for the answer, which is the acknowledgement,
and only then sends the next list. So each peer and topic has one request in flight, and what is
queued meanwhile goes together in the next one: a slow peer gets fewer, larger requests, and never
holds up the others. A request that fails (unreachable, timed out, reset) is tried again, a bounded
number of times with growing pauses; what is finally given up is logged as a WARNING naming peer,
topic and how many messages, never dropped silently. An outbox holds at most `max_queued` messages:
`send` is called from synchronous code and cannot wait, so past that bound (a peer that stays
unreachable) the oldest are given up, and logged. An arriving list goes message by message to the
topic's handler, which checks and keeps it (malformed ones are dropped and logged); a repeat of a
list whose answer was lost is harmless, as every handler keeps a message once.

Transports:
- `HttpChannel`: a POST to `/p2p/<topic>` on the peer's gateway (`worker run --http-channel`);
- `polkacompute.p2p.channel.P2PChannel`: a libp2p request/response stream per topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from polkacompute.errors import NetworkError, OutboundRefused
from polkacompute.net.http import OutboundHttp
from polkacompute.net.policy import OutboundPolicy

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[bool]]  # checks and keeps one message; False if refused
MAX_MESSAGES = 4096  # per request
MAX_QUEUED = 4 * MAX_MESSAGES  # per peer and topic, waiting behind the request in flight
ATTEMPTS = 8  # per list of messages
BACKOFF = 0.25  # seconds before the first retry, doubled for each next one up to 8 s (with jitter)
MAX_BACKOFF = 8.0


@dataclass
class _Outbox:
    """What waits for one peer on one topic, and the task delivering it."""

    queued: deque[dict[str, Any]] = field(default_factory=deque)
    in_flight: int = 0
    overflowed: int = 0  # given up since last logged, for want of room
    task: asyncio.Task[None] | None = None


class Channel:
    def __init__(self, handlers: dict[str, Handler], *, flush_interval: float = 0.01, request_timeout: float = 5.0,
                 attempts: int = ATTEMPTS, backoff: float = BACKOFF, max_queued: int = MAX_QUEUED) -> None:  # fmt: skip
        self._handlers = handlers
        self._interval = flush_interval
        self._timeout = request_timeout
        self._attempts = max(attempts, 1)
        self._backoff = backoff
        self._max_queued = max(max_queued, 1)
        self._outboxes: dict[tuple[str, str], _Outbox] = {}
        self._started = False

    async def start(self) -> None:
        self._started = True
        for key, box in self._outboxes.items():  # what was sent before the start
            if box.queued:
                self._wake(key, box)

    async def stop(self, *, within: float = 1.0) -> None:
        """Gives what is queued `within` seconds to be delivered, then stops, logging what is left."""
        await self.drain(within=within)
        self._started = False
        for (peer, topic), box in list(self._outboxes.items()):
            if box.task is not None:
                box.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await box.task
            left = len(box.queued) + box.in_flight + box.overflowed
            if left:
                log.warning("gave up %d %s message(s) to peer %s: the channel stopped first", left, topic, peer)
        self._outboxes.clear()

    async def drain(self, *, within: float) -> bool:
        """Waits until every queued message is delivered or given up: False if some still wait after `within`."""
        deadline = asyncio.get_running_loop().time() + within
        while tasks := [box.task for box in self._outboxes.values() if box.task is not None and not box.task.done()]:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            await asyncio.wait(tasks, timeout=left)  # a send meanwhile may start another pump: look again
        return True

    def pending(self) -> int:
        """Messages queued or in flight, to every peer and topic."""
        return sum(len(box.queued) + box.in_flight for box in self._outboxes.values())

    def send(self, topic: str, message: dict[str, Any], peers: Sequence[str]) -> None:
        for peer in peers:
            if not peer:
                continue
            key = (peer, topic)
            box = self._outboxes.setdefault(key, _Outbox())
            box.queued.append(message)
            if len(box.queued) > self._max_queued:  # a peer that takes nothing: the oldest go, logged
                box.queued.popleft()
                box.overflowed += 1
            if self._started:
                self._wake(key, box)

    def _wake(self, key: tuple[str, str], box: _Outbox) -> None:
        if box.task is None or box.task.done():
            box.task = asyncio.create_task(self._pump(*key, box), name=f"channel-{key[1]}")

    async def _pump(self, peer: str, topic: str, box: _Outbox) -> None:
        """Delivers the outbox one list at a time until it is empty (a later `send` starts another pump)."""
        await asyncio.sleep(self._interval)  # let a burst of messages gather
        while box.queued:
            batch = [box.queued.popleft() for _ in range(min(len(box.queued), MAX_MESSAGES))]
            box.in_flight = len(batch)  # if cancelled, `stop` counts them as given up
            try:
                await self._deliver(peer, topic, batch)
            except Exception:  # a bug here must not silence the channel: say what it cost
                log.exception("gave up %d %s message(s) to peer %s", len(batch), topic, peer)
            box.in_flight = 0
            if box.overflowed:
                log.warning("gave up %d %s message(s) to peer %s: over %d were waiting for it", box.overflowed,
                            topic, peer, self._max_queued)  # fmt: skip
                box.overflowed = 0

    async def _deliver(self, peer: str, topic: str, messages: list[dict[str, Any]]) -> bool:
        """Sends one list until the peer acknowledges it, at most `attempts` times; False if given up."""
        why = ""
        for attempt in range(self._attempts):
            if attempt:
                log.info("%s to peer %s failed (%s); attempt %d of %d", topic, peer, why, attempt + 1, self._attempts)
                pause = min(self._backoff * 2 ** (attempt - 1), MAX_BACKOFF)
                await asyncio.sleep(pause * random.uniform(0.5, 1.0))  # noqa: S311
            try:  # a peer that is slow rather than gone gets longer each time, up to 4x
                status, text = await self._post(peer, topic, messages, self._timeout * 2 ** min(attempt, 2))
            except OutboundRefused as exc:  # the same address would be refused again (why is logged)
                why = str(exc)
                break
            except NetworkError as exc:
                why = str(exc) or type(exc).__name__
                continue
            if status == 200:
                return True
            why = f"refused ({status}): {text[:200]}"
            if status < 500:  # the same list would be refused again
                break
        log.warning("gave up %d %s message(s) to peer %s after %d attempt(s): %s", len(messages), topic, peer,
                    attempt + 1, why)  # fmt: skip
        return False

    async def _post(self, peer: str, topic: str, messages: list[dict[str, Any]], within: float) -> tuple[int, str]:
        """Sends one list to one peer: its answer (status, text); NetworkError if there is none."""
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
    """Peers are gateway URLs (what each worker registered as its peer id), reached under `outbound`: a
    peer's URL is reduced to scheme://host:port, its address must be one the policy allows, redirects are
    not followed, and an answer is read within the request's deadline and at most `MAX_ANSWER` bytes."""

    def __init__(self, app: web.Application, handlers: dict[str, Handler], *, outbound: OutboundPolicy,
                 **options: Any) -> None:  # fmt: skip
        super().__init__(handlers, **options)
        self._outbound = outbound
        self._client: OutboundHttp | None = None
        app.router.add_post("/p2p/{topic}", self._handle)

    async def start(self) -> None:
        self._client = OutboundHttp(self._outbound)
        await super().start()

    async def stop(self, *, within: float = 1.0) -> None:
        await super().stop(within=within)
        if self._client is not None:
            await self._client.close()

    async def _post(self, peer: str, topic: str, messages: list[dict[str, Any]], within: float) -> tuple[int, str]:
        assert self._client is not None
        status, body = await self._client.post_json(peer, f"/p2p/{topic}", messages, within=within)
        return status, body.decode(errors="replace")

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            messages = await request.json()
        except ValueError as exc:
            return web.Response(status=400, text=f"not JSON: {exc}")
        status, text = await self._dispatch(request.match_info["topic"], messages)
        return web.Response(status=status, text=text)
