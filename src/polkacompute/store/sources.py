"""Trying sources of a CID in turn until one serves the right bytes: one policy for every transport.

A source is a label (for messages) and a coroutine factory that reads the bytes; what it returns is
checked against the CID, a failure or a mismatch moves on to the next source, and the first right
answer is kept in the local store. The HTTP gateways (`store.http.fetch`) and libp2p peers
(`p2p.content.fetch_from_peers`) are two kinds of source.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from polkacompute.errors import ContentError
from polkacompute.store.cid import digest_of, verify
from polkacompute.store.local import ContentStore

log = logging.getLogger(__name__)

Source = tuple[str, Callable[[], Awaitable[bytes]]]  # (label, read)


async def first_verified(cid: str, sources: Sequence[Source], *, store: ContentStore | None = None,
                         errors: tuple[type[BaseException], ...] = ()) -> bytes:  # fmt: skip
    """The bytes of `cid` from the local store or the first source serving the right ones.

    `errors` are the transport's failures that mean "try the next source" (ContentError always does).
    """
    digest_of(cid)  # a clear error for a malformed CID before any request
    if store is not None and store.has(cid):
        return store.get(cid)
    problems: list[str] = []
    retry: tuple[type[BaseException], ...] = (ContentError, *errors)
    for label, read in sources:
        try:
            data = verify(cid, await read())
        except retry as exc:
            problems.append(f"{label}: {exc or type(exc).__name__}")
            log.warning("content %s from %s refused: %s", cid, label, exc or type(exc).__name__)
            continue
        if store is not None:  # a file written off the event loop (creating files is slow)
            await asyncio.to_thread(store.put, data, "dag-cbor" if cid.startswith("bafyrei") else "raw")
        return data
    raise ContentError(f"no source served {cid}: " + ("; ".join(problems) or "no sources given"))
