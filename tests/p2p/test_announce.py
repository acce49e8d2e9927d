"""Job announcements over gossip: checked, delivered once and in order, gaps re-fetched, forgeries dropped."""

import asyncio
import json

from polkacompute.chain.accounts import dev_account
from polkacompute.net import LOCAL
from polkacompute.p2p import Node, key_pair_of
from polkacompute.p2p.announce import TOPIC, Announcement, Announcements, Announcer

CHAIN, MARKET = 31337, "0x" + "22" * 20
TX = "0x" + "ab" * 32


def test_announcements_reach_every_worker_in_order_and_forgeries_are_dropped() -> None:
    async def run() -> None:
        requester = dev_account(1)
        announcer_node = Node(key_pair_of(requester), outbound=LOCAL)
        announcer = Announcer(announcer_node, requester, CHAIN, MARKET)
        workers = [Node(key_pair_of(dev_account(i)), outbound=LOCAL) for i in (2, 3, 4)]
        heard: list[list[tuple[int, tuple[int, ...]]]] = [[] for _ in workers]
        receivers = []
        for node, log in zip(workers, heard, strict=True):

            async def deliver(a: Announcement, log=log) -> None:  # type: ignore[no-untyped-def]
                log.append((a.seq, a.job_ids))

            receivers.append(Announcements(node, CHAIN, MARKET, deliver))
        forger_node = Node(key_pair_of(dev_account(5)), outbound=LOCAL)
        forger_node.subscribe(TOPIC, lambda sender, data: asyncio.sleep(0))
        everyone = [announcer_node, *workers, forger_node]
        for node in everyone:
            await node.start()
        try:
            for node in everyone[1:]:
                await node.connect([announcer_node.addrs[0]])
            await asyncio.sleep(1.5)
            await announcer.announce(TX, [1, 2], ["http://127.0.0.1:1/"])
            # Gossip loses #2 (kept for re-fetching, never published); #3 reveals the gap.
            lost = Announcement(requester.address, announcer.epoch, 2, TX, (3,), (), announcer_node.addrs[0])
            announcer._sent.append(lost.signed_by(requester, CHAIN, MARKET))
            await announcer.announce(TX, [4], [])
            # Forgeries: the forger's own key claiming the requester, and a valid signature for another market.
            forged = Announcement(requester.address, 7, 1, TX, (99,), (), forger_node.addrs[0])
            await forger_node.publish(
                TOPIC, json.dumps(forged.signed_by(dev_account(5), CHAIN, MARKET).to_json()).encode()
            )
            other = Announcement(dev_account(5).address, 7, 2, TX, (98,), (), forger_node.addrs[0])
            elsewhere = other.signed_by(dev_account(5), CHAIN, "0x" + "33" * 20)
            await forger_node.publish(TOPIC, json.dumps(elsewhere.to_json()).encode())
            for _ in range(100):
                if all(len(h) == 3 for h in heard) and all(r.dropped == 2 for r in receivers):
                    break
                await asyncio.sleep(0.05)
            for h in heard:
                assert h == [(1, (1, 2)), (2, (3,)), (3, (4,))]
            assert [r.dropped for r in receivers] == [2, 2, 2]
        finally:
            for node in everyone:
                await node.stop()

    asyncio.run(run())
