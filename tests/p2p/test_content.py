"""Content by CID between peers: a 10 MB object in chunks, a lying peer skipped, a missing one reported."""

import asyncio
import os
from pathlib import Path

import pytest

from polkacompute.chain.accounts import dev_account
from polkacompute.errors import ContentError
from polkacompute.net import LOCAL
from polkacompute.p2p import Node, key_pair_of
from polkacompute.p2p.content import CHUNK, FOUND, PROTOCOL, fetch_from_peers, serve_content
from polkacompute.store import ContentStore, cid_of


def test_content_is_fetched_in_chunks_checked_and_stored(tmp_path: Path) -> None:
    big = os.urandom(10 * 1024 * 1024)  # three chunks
    assert len(big) > 2 * CHUNK

    async def run() -> None:
        holder_store, fetcher_store = ContentStore(tmp_path / "holder"), ContentStore(tmp_path / "fetcher")
        cid, small = holder_store.put(big), holder_store.put(b"")
        holder, liar, fetcher = (Node(key_pair_of(dev_account(i)), outbound=LOCAL) for i in (2, 3, 4))
        serve_content(holder, holder_store)

        async def lie(peer: str, request: bytes) -> bytes:  # the right size, the wrong bytes
            return FOUND + len(big).to_bytes(8, "big") + b"\x00" * min(len(big), CHUNK)

        liar.handle(PROTOCOL, lie)
        for node in (holder, liar, fetcher):
            await node.start()
        try:
            data = await fetch_from_peers(fetcher, cid, [liar.addrs[0], holder.addrs[0]], store=fetcher_store)
            assert data == big  # the liar's bytes failed the CID check; the holder's passed
            assert fetcher_store.get(cid) == big  # and are kept
            assert await fetch_from_peers(fetcher, small, [holder.addrs[0]]) == b""
            missing = cid_of(b"nobody has this")
            with pytest.raises(ContentError, match="no source served") as err:
                await fetch_from_peers(fetcher, missing, [holder.addrs[0], liar.addrs[0]])
            assert "not served" in str(err.value)  # the holder said so; the liar's bytes did not match
            with pytest.raises(ContentError, match="not a CID"):
                await fetch_from_peers(fetcher, "not-a-cid", [holder.addrs[0]])
        finally:
            for node in (holder, liar, fetcher):
                await node.stop()

    asyncio.run(run())
