"""The live event stream (Server-Sent Events) with one database poller for every client.

While anyone listens, one task looks for new events every `stream_poll` seconds and hands each batch,
formatted once, to every client. A client that starts from an older position (`after`, or the
`Last-Event-ID` a reconnecting EventSource sends) first reads what it missed from the database, then
follows the shared batches. Streams are bounded: per client and in total (`StreamSlots`, checked by
the route), in lifetime (the server ends a stream after `stream_lifetime`; EventSource reconnects after
the `retry:` it was sent, from the last id it saw), and in what they queue (a client too slow to take
`stream_backlog` batches is ended and catches up from the database when it reconnects).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncGenerator, Callable
from typing import Any

from polkacompute.indexer import queries
from polkacompute.indexer.limits import ApiLimits, StreamSlots

log = logging.getLogger(__name__)
CATCH_UP = 500  # events per database read while a client catches up

Frames = list[tuple[int, str]]  # (event id, its SSE message)


def frame(event: dict[str, Any]) -> str:
    return f"id: {event['id']}\nevent: chain\ndata: {json.dumps(event)}\n\n"


class _Listener:
    """One client's queue of batches; `ended` once it fell too far behind or the hub stopped."""

    def __init__(self, backlog: int) -> None:
        self.backlog = backlog
        self.pending: list[Frames] = []
        self.wake = asyncio.Event()
        self.ended = False

    def push(self, frames: Frames) -> None:
        if len(self.pending) >= self.backlog:
            self.ended = True  # too slow: it reconnects from its last id and reads the rest from the database
        elif not self.ended:
            self.pending.append(frames)
        self.wake.set()

    def end(self) -> None:
        self.ended = True
        self.wake.set()


class StreamHub:
    """The shared poller and the streams it feeds. `read(fn, *args)` runs a query in a read session."""

    def __init__(self, read: Callable[..., Any], limits: ApiLimits) -> None:
        self._read = read
        self.limits = limits
        self.slots = StreamSlots(limits.streams_total, limits.streams_per_client)
        self.cursor = 0  # the newest event id handed out (the "now" a stream without a start begins at)
        self.polls = 0  # database looks for new events so far (one per poll, whatever the number of clients)
        self.draining = False  # the server is stopping: streams are ended and no new one starts
        self._listeners: set[_Listener] = set()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = asyncio.Event()

    async def events(self, start: int | None) -> AsyncGenerator[str, None]:
        """The SSE messages of one stream: from the event after `start` (else from now) until its lifetime
        ends (the first message tells the client how soon to reconnect)."""
        loop = asyncio.get_running_loop()
        limits = self.limits
        deadline = loop.time() + limits.stream_lifetime * random.uniform(0.9, 1.0)  # noqa: S311 (spreads reconnects)
        listener = await self._join()
        try:
            if listener.ended:  # the poller could not start (the database is unreachable): end at once
                return
            last = self.cursor if start is None else start
            yield f"retry: {limits.stream_retry_ms}\n: stream open\n\n"
            while last < self.cursor and loop.time() < deadline and not listener.ended:  # missed: from the database
                batch = await asyncio.to_thread(self._read, queries.events_after, last, CATCH_UP)
                for event in batch:
                    last = event["id"]
                    yield frame(event)
                if len(batch) < CATCH_UP:
                    break
            while (left := deadline - loop.time()) > 0:
                if not listener.pending:
                    if listener.ended:
                        return
                    listener.wake.clear()
                    try:
                        await asyncio.wait_for(listener.wake.wait(), min(left, limits.stream_keepalive))
                    except TimeoutError:
                        if deadline - loop.time() > 0:
                            yield ": keepalive\n\n"  # a dead connection fails here and frees its slot
                        continue
                batches, listener.pending = listener.pending, []
                for frames in batches:
                    for event_id, text in frames:
                        if event_id > last:  # the catch-up may have read it already
                            last = event_id
                            yield text
        finally:
            self._listeners.discard(listener)

    async def _join(self) -> _Listener:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._loop is not loop:
            self._loop, self._listeners, self._ready = loop, set(), asyncio.Event()
            self._task = loop.create_task(self._poll())
        listener = _Listener(self.limits.stream_backlog)
        self._listeners.add(listener)
        await self._ready.wait()
        return listener

    async def _poll(self) -> None:
        """Runs while anyone listens: one query per poll, its batch fanned out to every listener."""
        try:
            self.cursor = await asyncio.to_thread(self._read, queries.last_event_id)
            self._ready.set()
            while self._listeners:
                await asyncio.sleep(self.limits.stream_poll)
                batch = await asyncio.to_thread(self._read, queries.events_after, self.cursor)
                self.polls += 1
                if batch:
                    self.cursor = batch[-1]["id"]
                    frames = [(event["id"], frame(event)) for event in batch]
                    for listener in list(self._listeners):
                        listener.push(frames)
        except Exception:
            log.exception("the live stream's poller stopped; its clients reconnect")
        finally:
            self._ready.set()
            for listener in self._listeners:
                listener.end()

    def drain(self) -> None:
        """Ends every stream now and refuses new ones (for a server about to stop: open streams would
        otherwise hold its graceful shutdown). Safe from any thread and from a signal handler."""
        self.draining = True
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._end_all)

    def _end_all(self) -> None:
        for listener in list(self._listeners):
            listener.end()

    async def close(self) -> None:
        self._end_all()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
