"""libp2p dials under the outbound policy (issue 15, finding 2: workers dialed any multiaddr a provider
registered, 12 TCP connections to a raw loopback port): a node set as on a public network opens no
connection to an internal service's port, whether asked to connect, to send a request, or to fetch
content, by /ip4, /ip6 (IPv4-mapped) or /dns4 name; the transport itself refuses too (py-libp2p's own
dials, the DHT's, go through it). On a devnet the same dial does reach the port."""

from __future__ import annotations

import asyncio

import multiaddr  # type: ignore[import-untyped]
import pytest
import trio
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.transport.exceptions import OpenConnectionError

from polkacompute.chain.accounts import dev_account
from polkacompute.errors import ContentError, OutboundRefused
from polkacompute.net import LOCAL, OutboundPolicy
from polkacompute.net.dial import PolicedTCP
from polkacompute.p2p import Node, peer_id_of
from polkacompute.p2p.content import fetch_from_peers
from polkacompute.store import cid_of
from tests.net.internal import Internal

PEER = peer_id_of(dev_account(3))


def addrs_of(internal: Internal) -> list[str]:
    port = internal.raw_port
    return [f"/ip4/127.0.0.1/tcp/{port}/p2p/{PEER}", f"/ip6/::ffff:127.0.0.1/tcp/{port}/p2p/{PEER}",
            f"/dns4/localhost/tcp/{port}/p2p/{PEER}", f"/dns/localhost/tcp/{port}/p2p/{PEER}",
            # a public first part carrying the internal one (py-libp2p dials the last IP part)
            f"/ip4/8.8.8.8/ip4/127.0.0.1/tcp/{port}/p2p/{PEER}",
            f"/ip4/8.8.8.8/tcp/{port}/ip4/127.0.0.1/tcp/{port}/p2p/{PEER}"]  # fmt: skip


def test_a_node_off_a_devnet_never_dials_an_internal_port() -> None:
    async def run() -> None:
        async with Internal() as internal:
            node = Node(create_new_key_pair(), outbound=OutboundPolicy())
            await node.start()
            try:
                assert await node.connect(addrs_of(internal), within=3) == 0
                for addr in addrs_of(internal):
                    with pytest.raises(OutboundRefused):
                        await node.request(addr, "/polkacompute/status/1", b"{}", within=3)
                with pytest.raises(ContentError):
                    await fetch_from_peers(node, cid_of(b"x"), addrs_of(internal), within=3)
            finally:
                await node.stop()
            assert internal.connections == 0

    asyncio.run(run())


def test_the_transport_itself_refuses_what_the_policy_refuses() -> None:
    """What py-libp2p dials on its own (DHT lookups, addresses peers gossip) passes the same check."""

    async def run() -> None:
        async with Internal() as internal:

            async def dial(policy: OutboundPolicy, addr: str) -> None:
                connection = await PolicedTCP(policy).dial(multiaddr.Multiaddr(addr.rsplit("/p2p/", 1)[0]))
                await connection.close()

            for addr in addrs_of(internal):
                with pytest.raises(OpenConnectionError, match="refused by the outbound policy"):
                    await asyncio.to_thread(trio.run, dial, OutboundPolicy(), addr)
            assert internal.connections == 0
            await asyncio.to_thread(trio.run, dial, LOCAL, addrs_of(internal)[2])  # /dns4/localhost: pinned
            await asyncio.sleep(0.1)
            assert internal.connections == 1

    asyncio.run(run())


def test_on_a_devnet_the_same_dial_reaches_the_port() -> None:
    async def run() -> None:
        async with Internal() as internal:
            node = Node(create_new_key_pair(), outbound=LOCAL)
            await node.start()
            try:
                await node.connect(addrs_of(internal)[:1], within=3)  # not a libp2p peer: it fails after connecting
            finally:
                await node.stop()
            assert internal.connections >= 1

    asyncio.run(run())
