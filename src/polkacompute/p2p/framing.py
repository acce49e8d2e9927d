"""Messages on a libp2p stream: a 4-byte big-endian length, then the bytes; one stream per peer and protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import trio
from libp2p.network.stream.exceptions import StreamEOF

from polkacompute.errors import NetworkError

MAX_MESSAGE = 16 * 1024 * 1024  # bytes in one request or response


@dataclass
class Line:
    """A stream kept open to one peer for one protocol; `lock` keeps its requests one at a time."""

    stream: Any
    lock: trio.Lock
    reused: bool = False


async def write_message(stream: Any, data: bytes) -> None:
    await stream.write(len(data).to_bytes(4, "big") + data)


async def read_message(stream: Any, *, idle_ok: bool = False) -> bytes | None:
    """The next length-prefixed message; with `idle_ok`, None if the stream ends between messages."""
    head = await read_exactly(stream, 4, empty_ok=idle_ok)
    if head is None:
        return None
    size = int.from_bytes(head, "big")
    if size > MAX_MESSAGE:
        raise NetworkError(f"a message of {size} bytes is over the {MAX_MESSAGE}-byte limit")
    return await read_exactly(stream, size)


async def read_exactly(stream: Any, n: int, *, empty_ok: bool = False) -> bytes | None:
    data = b""
    while len(data) < n:
        try:
            chunk = await stream.read(n - len(data))
        except StreamEOF:
            chunk = b""
        if not chunk:
            if empty_ok and not data:
                return None
            raise NetworkError(f"the stream ended after {len(data)} of {n} bytes")
        data += chunk
    return data
