"""Finalized results for the dashboard's verify button: fetched by CID from the configured gateways,
then from the job's assignees at the addresses they registered (gateway URLs or libp2p multiaddrs).

The server checks the bytes against the CID like any fetch does; the page then hashes them itself and
compares with the on-chain digest, so the check does not rest on trusting this server.

Anyone can ask (no login), and an assignee registers whatever address it likes, so every fetch goes
through the outbound policy (`polkacompute.net`; docs/security.md): addresses refused off a local
devnet, no redirects, `SOURCE_WITHIN` seconds a source and `WITHIN` in all, at most `MAX_RESULT`
bytes; a failure says only that the result is unavailable (the log says why). Results are kept by CID
(content-addressed: they never change), up to `CACHE_BYTES`, and concurrent requests for one CID share
one fetch.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence

from libp2p.crypto.ed25519 import create_new_key_pair

from polkacompute.errors import ContentError, NetworkError
from polkacompute.net.http import OutboundHttp
from polkacompute.net.policy import OutboundPolicy
from polkacompute.p2p.content import fetch_from_peers
from polkacompute.p2p.node import Node
from polkacompute.store.http import fetch

log = logging.getLogger(__name__)

SOURCE_WITHIN = 10.0  # seconds for one source (one request, or one chunk from a peer)
WITHIN = 20.0  # seconds for the whole fetch, every source included
MAX_RESULT = 2 * 1024 * 1024  # bytes: a result document holds at most the runtimes' 1 MiB output
CACHE_BYTES = 64 * 1024 * 1024  # results kept in memory, the least recently asked dropped first


class ResultFetcher:
    """Fetches content by CID under `outbound` (default: a public network's policy; `gateways`, the
    operator's own, are trusted); starts a libp2p host (a throwaway identity) the first time a peer is asked."""

    def __init__(self, gateways: Sequence[str] = (), outbound: OutboundPolicy | None = None) -> None:
        self.gateways = [g.rstrip("/") for g in gateways]
        self.outbound = (outbound or OutboundPolicy()).trusting(self.gateways)
        self._http = OutboundHttp(self.outbound, within=SOURCE_WITHIN, max_bytes=MAX_RESULT)
        self._node: Node | None = None
        self._starting = asyncio.Lock()
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cached = 0  # bytes in the cache
        self._fetching: dict[str, asyncio.Task[bytes]] = {}

    async def fetch(self, cid: str, peers: Sequence[str]) -> bytes:
        """The bytes of `cid` from the cache, the gateways, else `peers` (URLs or multiaddrs); else
        ContentError("... unavailable"), whatever the reason."""
        data = self._cache.get(cid)
        if data is not None:
            self._cache.move_to_end(cid)
            return data
        task = self._fetching.get(cid)
        if task is None:
            task = self._fetching[cid] = asyncio.create_task(self._fetch(cid, list(peers)))
            task.add_done_callback(self._done)
        return await asyncio.shield(task)  # a client that goes away does not cancel the others' fetch

    async def _fetch(self, cid: str, peers: list[str]) -> bytes:
        urls = [*self.gateways, *(p for p in peers if p.startswith(("http://", "https://")))]
        addrs = [p for p in peers if p.startswith("/")]
        try:
            async with asyncio.timeout(WITHIN):
                data = await self._from_sources(cid, urls, addrs)
        except TimeoutError:
            log.warning("result %s: not fetched within %gs", cid, WITHIN)
            data = None
        if data is None:
            raise ContentError(f"result {cid} is unavailable from its sources")
        self._keep(cid, data)
        return data

    async def _from_sources(self, cid: str, urls: list[str], addrs: list[str]) -> bytes | None:
        if urls:
            try:
                return await fetch(cid, urls, session=self._http, max_bytes=MAX_RESULT, request_timeout=SOURCE_WITHIN)
            except ContentError as exc:
                log.warning("result %s: %s", cid, exc)
        if addrs:
            try:
                return await fetch_from_peers(await self._host(), cid, addrs, within=SOURCE_WITHIN,
                                              max_bytes=MAX_RESULT)  # fmt: skip
            except (ContentError, NetworkError) as exc:
                log.warning("result %s: %s", cid, exc)
        if not urls and not addrs:
            log.warning("result %s: no gateway is configured and the assignees registered no address", cid)
        return None

    def _done(self, task: asyncio.Task[bytes]) -> None:
        for cid, running in list(self._fetching.items()):
            if running is task:
                del self._fetching[cid]
        if not task.cancelled():
            task.exception()  # retrieved: every asker may have gone away

    def _keep(self, cid: str, data: bytes) -> None:
        if cid in self._cache:
            return
        self._cache[cid] = data
        self._cached += len(data)
        while self._cached > CACHE_BYTES:
            _, dropped = self._cache.popitem(last=False)
            self._cached -= len(dropped)

    async def close(self) -> None:
        for task in list(self._fetching.values()):
            task.cancel()
        await self._http.close()
        if self._node is not None:
            await self._node.stop()
            self._node = None

    async def _host(self) -> Node:
        async with self._starting:
            if self._node is None:
                node = Node(create_new_key_pair(), outbound=self.outbound)
                await node.start()
                self._node = node
            return self._node
