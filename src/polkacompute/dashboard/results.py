"""Finalized results for the dashboard's verify button: fetched by CID from the configured gateways,
then from the job's assignees at the addresses they registered (gateway URLs or libp2p multiaddrs).

The server checks the bytes against the CID like any fetch does; the page then hashes them itself and
compares with the on-chain digest, so the check does not rest on trusting this server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from libp2p.crypto.ed25519 import create_new_key_pair

from polkacompute.errors import ContentError, NetworkError
from polkacompute.p2p.content import fetch_from_peers
from polkacompute.p2p.node import Node
from polkacompute.store.http import fetch

FETCH_WITHIN = 10.0  # seconds per source


class ResultFetcher:
    """Fetches content by CID; starts a libp2p host (a throwaway identity) the first time a peer is asked."""

    def __init__(self, gateways: Sequence[str] = ()) -> None:
        self.gateways = [g.rstrip("/") for g in gateways]
        self._node: Node | None = None
        self._starting = asyncio.Lock()

    async def fetch(self, cid: str, peers: Sequence[str]) -> bytes:
        """The bytes of `cid` from the gateways, else from `peers` (URLs or multiaddrs); else ContentError."""
        urls = [*self.gateways, *(p for p in peers if p.startswith(("http://", "https://")))]
        addrs = [p for p in peers if p.startswith("/")]
        problems = []
        if urls:
            try:
                return await fetch(cid, urls, request_timeout=FETCH_WITHIN)
            except ContentError as exc:
                problems.append(str(exc))
        if addrs:
            try:
                return await fetch_from_peers(await self._host(), cid, addrs, within=FETCH_WITHIN)
            except (ContentError, NetworkError) as exc:
                problems.append(str(exc))
        if not urls and not addrs:
            problems.append("no gateway is configured and the assignees registered no address")
        raise ContentError(f"{cid} could not be fetched: {'; '.join(problems)}")

    async def close(self) -> None:
        if self._node is not None:
            await self._node.stop()
            self._node = None

    async def _host(self) -> Node:
        async with self._starting:
            if self._node is None:
                node = Node(create_new_key_pair())
                await node.start()
                self._node = node
            return self._node
