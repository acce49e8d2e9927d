"""Kademlia provider records: a node finds who holds content or offers a capability, several hops away."""

import asyncio
import os
from pathlib import Path

import pytest

from polkacompute.chain.accounts import dev_account
from polkacompute.errors import NetworkError
from polkacompute.net import LOCAL
from polkacompute.p2p import Node, key_pair_of
from polkacompute.p2p.content import fetch_from_peers, serve_content
from polkacompute.store import ContentStore


def test_providers_are_found_through_a_chain_of_peers_and_content_fetched_from_them(tmp_path: Path) -> None:
    async def run() -> None:
        holder_store = ContentStore(tmp_path / "holder")
        data = os.urandom(100_000)
        cid = holder_store.put(data)
        nodes = [Node(key_pair_of(dev_account(i)), outbound=LOCAL, dht=True) for i in range(2, 6)]
        serve_content(nodes[0], holder_store)
        for node in nodes:
            await node.start()
        try:
            for i in range(1, len(nodes)):  # a line: 3 knows 2, 2 knows 1, 1 knows 0
                assert await nodes[i].connect([nodes[i - 1].addrs[0]]) == 1
            await nodes[0].provide(cid)
            await nodes[1].provide("polkacompute/runtime/wasi")
            assert await nodes[3].find_providers(cid) == [nodes[0].addrs[0]]
            assert await nodes[3].find_providers("polkacompute/runtime/wasi") == [nodes[1].addrs[0]]
            assert await nodes[3].find_providers("polkacompute/runtime/nothing") == []
            fetched = await fetch_from_peers(nodes[3], cid, await nodes[3].find_providers(cid),
                                             store=ContentStore(tmp_path / "fetcher"))  # fmt: skip
            assert fetched == data
        finally:
            for node in nodes:
                await node.stop()

    asyncio.run(run())


def test_a_node_without_a_dht_says_so() -> None:
    async def run() -> None:
        node = Node(key_pair_of(dev_account(2)), outbound=LOCAL)
        await node.start()
        try:
            with pytest.raises(NetworkError, match="runs no DHT"):
                await node.find_providers("polkacompute/runtime/wasi")
        finally:
            await node.stop()

    asyncio.run(run())
