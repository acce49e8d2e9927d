"""Gossip between libp2p nodes: every subscriber gets every message, none is dropped by rate limits."""

import asyncio
import threading

import pytest

from polkacompute.chain.accounts import dev_account
from polkacompute.errors import NetworkError
from polkacompute.net import LOCAL
from polkacompute.p2p import Node, key_pair_of


def test_gossip_reaches_every_subscriber_through_one_bootstrap_peer() -> None:
    async def run() -> None:
        nodes = [Node(key_pair_of(dev_account(i)), outbound=LOCAL) for i in range(2, 7)]
        got: dict[str, list[tuple[str, bytes]]] = {n.peer_id: [] for n in nodes}

        def keep(node: Node):  # type: ignore[no-untyped-def]
            async def on(sender: str, data: bytes) -> None:
                got[node.peer_id].append((sender, data))

            return on

        for node in nodes:
            node.subscribe("jobs", keep(node))
        for node in nodes:
            await node.start()
        try:
            for node in nodes[1:]:  # a star through the first: the others find each other by gossip
                assert await node.connect([nodes[0].addrs[0]]) == 1
            await asyncio.sleep(1.5)  # subscriptions exchanged, a heartbeat built the mesh
            for i in range(60):  # 60 in well under a second: over py-libp2p's default 10/s spam limit
                await nodes[i % 5].publish("jobs", f"message {i}".encode())
            for _ in range(100):
                if all(len(g) == 48 for g in got.values()):
                    break
                await asyncio.sleep(0.05)
            for node in nodes:
                mine = {f"message {i}".encode() for i in range(60) if nodes[i % 5] is node}
                theirs = {d for _, d in got[node.peer_id]}
                assert len(got[node.peer_id]) == 48, (node.peer_id, len(got[node.peer_id]))  # no loss, no echo
                assert theirs == {f"message {i}".encode() for i in range(60)} - mine
                assert all(s != node.peer_id for s, _ in got[node.peer_id])
        finally:
            for node in nodes:
                await node.stop()
        assert not [t for t in threading.enumerate() if t.name.startswith("libp2p-")]

    asyncio.run(run())


def test_a_dead_bootstrap_peer_is_skipped_and_a_node_without_topics_cannot_publish() -> None:
    async def run() -> None:
        node = Node(key_pair_of(dev_account(2)), outbound=LOCAL)
        await node.start()
        try:
            dead = f"/ip4/127.0.0.1/tcp/1/p2p/{Node(key_pair_of(dev_account(3)), outbound=LOCAL).peer_id}"
            assert await node.connect([dead], within=2) == 0
            with pytest.raises(NetworkError, match="subscribe before starting"):
                await node.publish("jobs", b"x")
        finally:
            await node.stop()

    asyncio.run(run())
