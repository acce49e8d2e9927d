"""The libp2p host on loopback: identity from the account key, requests both ways, Noise only."""

import asyncio
import threading

import multiaddr
import pytest
import trio
from libp2p import new_host
from libp2p.custom_types import TProtocol
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.security.insecure.transport import PLAINTEXT_PROTOCOL_ID, InsecureTransport

from polkacompute.chain.accounts import dev_account
from polkacompute.errors import NetworkError
from polkacompute.net import LOCAL
from polkacompute.p2p import Node, key_pair_of, peer_id_of

ECHO = "/polkacompute/test-echo/1"


def test_identity_is_derived_from_the_account_key() -> None:
    assert peer_id_of(dev_account(2)) == peer_id_of(dev_account(2))  # the same on every start
    assert peer_id_of(dev_account(2)) != peer_id_of(dev_account(3))
    assert peer_id_of(dev_account(2)).startswith("12D3KooW")  # ed25519
    assert Node(key_pair_of(dev_account(2)), outbound=LOCAL).peer_id == peer_id_of(dev_account(2))


def test_requests_go_both_ways_and_handlers_see_who_asks() -> None:
    async def run() -> None:
        a, b = Node(key_pair_of(dev_account(2)), outbound=LOCAL), Node(key_pair_of(dev_account(3)), outbound=LOCAL)
        seen: list[str] = []

        async def echo(peer: str, data: bytes) -> bytes:
            seen.append(peer)
            return data.upper()

        a.handle(ECHO, echo)
        b.handle(ECHO, echo)
        await a.start()
        await b.start()
        try:
            assert a.addrs[0].startswith("/ip4/127.0.0.1/tcp/")
            assert a.addrs[0].endswith(f"/p2p/{a.peer_id}")
            assert await b.request(a.addrs[0], ECHO, b"hello") == b"HELLO"
            assert await a.request(b.addrs[0], ECHO, b"x" * 100_000) == b"X" * 100_000  # several frames
            assert seen == [b.peer_id, a.peer_id]
            replies = await asyncio.gather(*(b.request(a.addrs[0], ECHO, f"{i}".encode()) for i in range(20)))
            assert replies == [f"{i}".encode() for i in range(20)]
            with pytest.raises(NetworkError, match="failed"):  # a protocol the peer does not serve
                await b.request(a.addrs[0], "/polkacompute/nothing/1", b"?")
        finally:
            await a.stop()
            await b.stop()
        assert not [t for t in threading.enumerate() if t.name.startswith("libp2p-")]  # stopped cleanly

    asyncio.run(run())


def test_an_unreachable_peer_is_a_network_error_in_bounded_time() -> None:
    async def run() -> None:
        a, b = Node(key_pair_of(dev_account(2)), outbound=LOCAL), Node(key_pair_of(dev_account(3)), outbound=LOCAL)
        a.handle(ECHO, lambda peer, data: asyncio.sleep(0, data))
        await a.start()
        await b.start()
        gone = a.addrs[0]
        await a.stop()
        try:
            with pytest.raises(NetworkError):
                await b.request(gone, ECHO, b"hello", within=3)
        finally:
            await b.stop()

    asyncio.run(run())


def test_a_plaintext_peer_is_refused() -> None:
    """A default py-libp2p host also speaks plaintext; ours offers Noise alone, so this peer gets nowhere."""

    async def run() -> None:
        node = Node(key_pair_of(dev_account(2)), outbound=LOCAL)
        node.handle(ECHO, lambda peer, data: asyncio.sleep(0, data))
        await node.start()
        try:
            outcome = await asyncio.to_thread(trio.run, _plaintext_dial, node.addrs[0])
        finally:
            await node.stop()
        assert outcome.startswith("refused"), outcome

    asyncio.run(run())


async def _plaintext_dial(addr: str) -> str:
    key = key_pair_of(dev_account(9))
    host = new_host(key_pair=key, sec_opt={TProtocol(PLAINTEXT_PROTOCOL_ID): InsecureTransport(key)})
    async with host.run(listen_addrs=[multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
        try:
            with trio.fail_after(5):
                await host.connect(info_from_p2p_addr(multiaddr.Multiaddr(addr)))
                await host.new_stream(info_from_p2p_addr(multiaddr.Multiaddr(addr)).peer_id, [TProtocol(ECHO)])
            return "connected over plaintext"
        except Exception as exc:
            return f"refused: {type(exc).__name__}"
        finally:
            await host.close()
