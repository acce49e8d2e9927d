"""The workers' message channel over libp2p: batched lists per peer, checked message by message, acknowledged,
sent again until they are (a bounded number of times), bounded in what waits, and loud about what it gives up."""

import asyncio
import logging
from typing import Any

import pytest
from aiohttp import web

from polkacompute.chain.accounts import dev_account
from polkacompute.net import LOCAL
from polkacompute.p2p import Node, key_pair_of, peer_id_of
from polkacompute.p2p.channel import P2PChannel
from polkacompute.worker.channel import Channel, HttpChannel
from tests.conftest import free_port


def test_messages_arrive_batched_and_are_checked_one_by_one() -> None:
    async def run() -> None:
        received: list[dict[str, Any]] = []
        arrivals = 0

        async def keep_even(message: dict[str, Any]) -> bool:
            received.append(message)
            return int(message["n"]) % 2 == 0  # the handler decides what it keeps

        a_node, b_node = (Node(key_pair_of(dev_account(i)), outbound=LOCAL) for i in (2, 3))
        a = P2PChannel(a_node, {})
        b = P2PChannel(b_node, {"openings": keep_even})
        original = b._dispatch

        async def counting(topic: str, messages: object) -> tuple[int, str]:
            nonlocal arrivals
            arrivals += 1
            return await original(topic, messages)

        b._dispatch = counting  # type: ignore[method-assign]
        for node in (a_node, b_node):
            await node.start()
        await a.start()
        try:
            for n in range(50):
                a.send("openings", {"n": n}, [b_node.addrs[0]])
            for _ in range(100):
                if len(received) == 50:
                    break
                await asyncio.sleep(0.05)
            assert [m["n"] for m in received] == list(range(50))
            assert arrivals == 1  # fifty messages, one request
            assert await a.exchange(b_node.addrs[0], "openings", [{"n": 2}, {"n": 3}, {"n": 4}]) == (200, "2")
            assert await a.exchange(b_node.addrs[0], "openings", [{"no": "n"}]) == (200, "0")  # malformed: dropped
            assert (await a.exchange(b_node.addrs[0], "openings", {"not": "a list"}))[0] == 400  # type: ignore[arg-type]
            a.send("openings", {"n": 0}, ["/ip4/127.0.0.1/tcp/1/p2p/" + b_node.peer_id])  # nobody there: logged
            await asyncio.sleep(0.3)
        finally:
            await a.stop()
            for node in (a_node, b_node):
                await node.stop()

    asyncio.run(run())


# ---------------------------------------------------------------------- acknowledged, retried, bounded


def _records(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


def test_a_receiver_that_comes_up_late_still_gets_every_message(caplog: pytest.LogCaptureFixture) -> None:
    """Nobody listens at the peer's address when the messages are sent: they wait and are sent again."""
    caplog.set_level(logging.INFO, logger="polkacompute.worker.channel")

    async def run() -> None:
        received: list[int] = []

        async def keep(message: dict[str, Any]) -> bool:
            received.append(int(message["n"]))
            return True

        port = free_port()
        b_node = Node(key_pair_of(dev_account(3)), outbound=LOCAL, port=port)
        P2PChannel(b_node, {"openings": keep})  # serves the topic on b_node
        b_addr = f"/ip4/127.0.0.1/tcp/{port}/p2p/{b_node.peer_id}"
        a_node = Node(key_pair_of(dev_account(2)), outbound=LOCAL)
        a = P2PChannel(a_node, {}, attempts=30, backoff=0.05)
        await a_node.start()
        await a.start()
        try:
            for n in range(30):
                a.send("openings", {"n": n}, [b_addr])
            async with asyncio.timeout(20):
                while not _records(caplog, "attempt 2 of 30"):  # noqa: ASYNC110 (the first attempt found nobody)
                    await asyncio.sleep(0.02)
            assert received == []
            await b_node.start()
            assert await a.drain(within=60)
            assert received == list(range(30))  # all of them, once, in order
            assert a.pending() == 0
            assert not _records(caplog, "gave up")
        finally:
            await a.stop()
            for node in (a_node, b_node):
                await node.stop()

    asyncio.run(run())


def test_a_list_not_acknowledged_in_time_is_sent_again() -> None:
    """The answer is the acknowledgement: a receiver that does not answer within the request timeout
    gets the list again on a new stream (and keeps each message once, as the workers' handlers do)."""

    async def run() -> None:
        lists: list[list[int]] = []
        received: set[int] = set()
        retried = asyncio.Event()

        async def dispatch(topic: str, messages: Any) -> tuple[int, str]:
            lists.append([m["n"] for m in messages])
            if len(lists) == 1:
                await retried.wait()  # no answer until the sender has given up on this attempt
            else:
                retried.set()
            received.update(m["n"] for m in messages)
            return 200, str(len(messages))

        a_node, b_node = (Node(key_pair_of(dev_account(i)), outbound=LOCAL) for i in (2, 3))
        a = P2PChannel(a_node, {}, request_timeout=0.5, backoff=0.05)
        b = P2PChannel(b_node, {"openings": _keep_all})
        b._dispatch = dispatch  # type: ignore[method-assign]
        for node in (a_node, b_node):
            await node.start()
        await a.start()
        try:
            for n in range(20):
                a.send("openings", {"n": n}, [b_node.addrs[0]])
            assert await a.drain(within=60)
            assert lists[0] == lists[1] == list(range(20))  # the same list, a second time
            assert received == set(range(20))
        finally:
            await a.stop()
            for node in (a_node, b_node):
                await node.stop()

    asyncio.run(run())


async def _keep_all(message: dict[str, Any]) -> bool:
    return True


@pytest.mark.parametrize("transport", ["libp2p", "http"])
def test_what_is_given_up_is_logged_with_peer_topic_and_count(transport: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="polkacompute.worker.channel")

    async def run() -> None:
        node = Node(key_pair_of(dev_account(2)), outbound=LOCAL)
        channel: Channel
        if transport == "libp2p":
            channel = P2PChannel(node, {}, attempts=3, backoff=0.01)
            dead = f"/ip4/127.0.0.1/tcp/{free_port()}/p2p/{peer_id_of(dev_account(3))}"
            await node.start()
        else:
            channel = HttpChannel(web.Application(), {}, attempts=3, backoff=0.01, outbound=LOCAL)
            dead = f"http://127.0.0.1:{free_port()}"
        await channel.start()
        try:
            for n in range(5):
                channel.send("openings", {"n": n}, [dead])
            assert await channel.drain(within=60)
            assert channel.pending() == 0
        finally:
            await channel.stop()
            await node.stop()
        assert _records(caplog, f"gave up 5 openings message(s) to peer {dead} after 3 attempt(s)")

    asyncio.run(run())


def test_one_list_in_flight_per_peer_and_a_bounded_outbox(caplog: pytest.LogCaptureFixture) -> None:
    """Backpressure: while a peer has not acknowledged a list, nothing more is sent to it; what is sent
    meanwhile waits, at most `max_queued` messages (the oldest beyond that are given up, and logged)."""
    caplog.set_level(logging.WARNING, logger="polkacompute.worker.channel")

    async def run() -> None:
        lists: list[list[int]] = []
        busy = 0
        most_busy = 0
        entered, release = asyncio.Event(), asyncio.Event()

        async def dispatch(topic: str, messages: Any) -> tuple[int, str]:
            nonlocal busy, most_busy
            busy += 1
            most_busy = max(most_busy, busy)
            lists.append([m["n"] for m in messages])
            entered.set()
            await release.wait()
            busy -= 1
            return 200, str(len(messages))

        a_node, b_node = (Node(key_pair_of(dev_account(i)), outbound=LOCAL) for i in (2, 3))
        a = P2PChannel(a_node, {}, request_timeout=30, max_queued=10)
        b = P2PChannel(b_node, {"openings": _keep_all})
        b._dispatch = dispatch  # type: ignore[method-assign]
        for node in (a_node, b_node):
            await node.start()
        await a.start()
        try:
            a.send("openings", {"n": 0}, [b_node.addrs[0]])
            async with asyncio.timeout(20):
                await entered.wait()
            for n in range(1, 101):  # the receiver holds the first list: these wait
                a.send("openings", {"n": n}, [b_node.addrs[0]])
                await asyncio.sleep(0)
            assert a.pending() == 1 + 10  # one in flight, ten queued: not 101
            release.set()
            assert await a.drain(within=60)
            assert lists == [[0], list(range(91, 101))]
            assert most_busy == 1
        finally:
            await a.stop()
            for node in (a_node, b_node):
                await node.stop()
        assert _records(caplog, f"gave up 90 openings message(s) to peer {b_node.addrs[0]}: over 10 were waiting")

    asyncio.run(run())
