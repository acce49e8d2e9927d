"""Content by CID between peers: any worker serves its store, a fetcher checks every byte.

`/polkacompute/content/1`: a request names a CID and a byte range; the answer is a status byte, the
object's total size (8 bytes) and the range's bytes. A fetcher reads an object in chunks of at most
`CHUNK` bytes from one peer, checks the whole against its CID, and moves on to the next peer if that
peer lacks it, fails, or served other bytes, so a lying or dead peer costs time, never a wrong result.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence

from polkacompute.errors import ContentError, NetworkError
from polkacompute.p2p.framing import MAX_MESSAGE
from polkacompute.p2p.node import Node
from polkacompute.store import ContentStore, digest_of
from polkacompute.store.sources import first_verified

log = logging.getLogger(__name__)

PROTOCOL = "/polkacompute/content/1"
CHUNK = 4 * 1024 * 1024  # bytes per request (well under the node's message limit)
FOUND, MISSING = b"\x00", b"\x01"
MAX_OBJECT = 1 << 30  # bytes: larger objects are refused rather than buffered


def serve_content(node: Node, store: ContentStore) -> None:
    """Answers content requests from `store` (register before the node starts)."""

    async def serve(peer: str, request: bytes) -> bytes:
        try:
            ask = json.loads(request)
            cid, offset, length = str(ask["cid"]), int(ask["offset"]), min(int(ask["length"]), CHUNK)
            digest_of(cid)  # a malformed CID is refused like a missing one
            data = await asyncio.to_thread(store.get, cid)
        except (ValueError, KeyError, TypeError, ContentError) as exc:
            return MISSING + str(exc)[:200].encode()
        return FOUND + len(data).to_bytes(8, "big") + data[max(offset, 0) : max(offset, 0) + max(length, 0)]

    node.handle(PROTOCOL, serve)


async def fetch_from_peers(node: Node, cid: str, peers: Sequence[str], *, store: ContentStore | None = None,
                           within: float = 30.0, max_bytes: int = MAX_OBJECT) -> bytes:  # fmt: skip
    """The bytes of `cid` from the first peer (a multiaddr) that serves the right ones (and into `store`):
    `within` seconds for each request of a chunk, at most `max_bytes` bytes from a peer. The peers are
    dialed under the node's outbound policy; why one failed is logged, not said."""

    def read(peer: str) -> Callable[[], Awaitable[bytes]]:
        return lambda: _read_object(node, peer, cid, within, max_bytes)

    return await first_verified(cid, [(peer, read(peer)) for peer in peers], store=store, errors=(NetworkError,))


async def _read_object(node: Node, peer: str, cid: str, within: float, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    offset, total = 0, None
    while total is None or offset < total:
        ask = json.dumps({"cid": cid, "offset": offset, "length": CHUNK}).encode()
        answer = await node.request(peer, PROTOCOL, ask, within=within)
        if answer[:1] != FOUND:
            log.info("%s from %s: not served: %s", cid, peer, answer[1:201].decode(errors="replace"))
            raise ContentError("not served")
        size = int.from_bytes(answer[1:9], "big")
        if total is None:
            if size > max_bytes:
                raise ContentError(f"{size} bytes is over the {max_bytes}-byte limit for one object")
            total = size
        chunk = answer[9:]
        if size != total or (not chunk and offset < total) or len(chunk) > min(CHUNK, MAX_MESSAGE):
            raise ContentError("the peer's answers do not add up")
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)
