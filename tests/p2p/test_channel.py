"""The workers' message channel over libp2p: batched lists per peer, checked message by message."""

import asyncio
from typing import Any

from polkacompute.chain.accounts import dev_account
from polkacompute.p2p import Node, key_pair_of
from polkacompute.p2p.channel import P2PChannel


def test_messages_arrive_batched_and_are_checked_one_by_one() -> None:
    async def run() -> None:
        received: list[dict[str, Any]] = []
        arrivals = 0

        async def keep_even(message: dict[str, Any]) -> bool:
            received.append(message)
            return int(message["n"]) % 2 == 0  # the handler decides what it keeps

        a_node, b_node = Node(key_pair_of(dev_account(2))), Node(key_pair_of(dev_account(3)))
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
