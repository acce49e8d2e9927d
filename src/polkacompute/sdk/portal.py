"""Runs coroutines on one private event loop in a daemon thread, for the blocking `Client`.

Network sessions (aiohttp) belong to the loop that created them, so the sync facade keeps a single
loop for its whole life instead of calling `asyncio.run` per call.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


class Portal:
    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="polkacompute-portal", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Runs `coro` on the portal's loop and returns its result (its exception is re-raised here)."""
        if self._loop.is_closed():
            coro.close()
            raise RuntimeError("the client is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def iterate(self, agen: AsyncGenerator[T, None]) -> Iterator[T]:
        """A blocking iterator over an async generator that runs on the portal's loop.

        Leaving the loop early (break, exception) closes the generator on that loop too.
        """
        try:
            while True:
                try:
                    yield self.run(agen.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            if not self._loop.is_closed():
                self.run(agen.aclose())

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
