"""Job announcements: a requester's signed word, gossiped, that it submitted jobs and where their content is.

The chain stays the source of truth: a worker that hears an announcement reads the transaction's
receipt and takes only the `JobSubmitted` events of the requester that signed it. What gossip adds is
speed (no waiting for the next log poll) and the content sources (gateways, peers) a worker would not
know otherwise. Each announcer numbers its announcements (`epoch`, a random number per run, and `seq`
from 1); a receiver that sees a gap asks the announcer for the missing ones over
`/polkacompute/announcements/1`, so a message gossip dropped is still delivered, in order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from eth_abi.abi import encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.crypto import keccak

from polkacompute.chain.accounts import Signer
from polkacompute.errors import NetworkError, ValidationError
from polkacompute.net.policy import OutboundPolicy
from polkacompute.p2p.identity import key_pair_of
from polkacompute.p2p.node import Node

if TYPE_CHECKING:
    from polkacompute.sdk.client import AsyncClient

log = logging.getLogger(__name__)

TOPIC = "polkacompute/jobs/1"
HISTORY = "/polkacompute/announcements/1"
KEEP = 256  # announcements an announcer keeps for receivers that missed some
DOMAIN = "polkacompute-announcement-v1"
MAX_SOURCES = 8  # content sources one announcement may name (each is tried by every worker that runs the job)


@dataclass(frozen=True)
class Announcement:
    requester: str
    epoch: int
    seq: int
    tx_hash: str  # the submitting transaction: its receipt holds the jobs' JobSubmitted events
    job_ids: tuple[int, ...]
    sources: tuple[str, ...]  # where the programs and inputs can be fetched (gateway URLs, multiaddrs)
    peer: str  # the announcer's multiaddr (for missed announcements)
    signature: bytes = b""

    def digest(self, chain_id: int, market: str) -> bytes:
        body = encode(["address", "uint64", "uint64", "bytes32", "uint256[]", "string[]", "string"],
                      [self.requester, self.epoch, self.seq, bytes.fromhex(self.tx_hash.removeprefix("0x")),
                       list(self.job_ids), list(self.sources), self.peer])  # fmt: skip
        return keccak(encode(["string", "uint256", "address", "bytes32"], [DOMAIN, chain_id, market, keccak(body)]))

    def signed_by(self, signer: Signer, chain_id: int, market: str) -> Announcement:
        message = encode_defunct(self.digest(chain_id, market))
        return replace(self, signature=bytes(Account.sign_message(message, signer.account.key).signature))

    def signer(self, chain_id: int, market: str) -> str:
        return str(Account.recover_message(encode_defunct(self.digest(chain_id, market)), signature=self.signature))

    def to_json(self) -> dict[str, Any]:
        return {"requester": self.requester, "epoch": self.epoch, "seq": self.seq, "tx_hash": self.tx_hash,
                "job_ids": list(self.job_ids), "sources": list(self.sources), "peer": self.peer,
                "signature": self.signature.hex()}  # fmt: skip

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Announcement:
        return cls(str(d["requester"]), int(d["epoch"]), int(d["seq"]), str(d["tx_hash"]),
                   tuple(int(j) for j in d["job_ids"]), tuple(str(s) for s in d["sources"]), str(d["peer"]),
                   bytes.fromhex(d["signature"]))  # fmt: skip


class Announcer:
    """A requester's side: announces its submissions and serves its recent announcements."""

    def __init__(self, node: Node, signer: Signer, chain_id: int, market: str) -> None:
        self._node, self._signer, self._chain, self._market = node, signer, chain_id, market
        self.epoch = secrets.randbits(63)
        self._sent: deque[Announcement] = deque(maxlen=KEEP)
        node.handle(HISTORY, self._serve)
        node.subscribe(TOPIC, _ignore)  # a node gossips on the topics it is subscribed to

    async def announce(self, tx_hash: str, job_ids: list[int], sources: list[str]) -> Announcement:
        if len(sources) > MAX_SOURCES:
            raise ValidationError("sources", f"at most {MAX_SOURCES} content sources (workers drop the rest)")
        seq = self._sent[-1].seq + 1 if self._sent else 1
        unsigned = Announcement(self._signer.address, self.epoch, seq, tx_hash, tuple(job_ids), tuple(sources),
                                self._node.addrs[0])  # fmt: skip
        announcement = unsigned.signed_by(self._signer, self._chain, self._market)
        self._sent.append(announcement)  # before it leaves: a receiver may ask for it at once
        await self._node.publish(TOPIC, json.dumps(announcement.to_json()).encode())
        return announcement

    async def _serve(self, peer: str, request: bytes) -> bytes:
        try:
            ask = json.loads(request)
            epoch, after = int(ask["epoch"]), int(ask["after"])
        except (ValueError, KeyError, TypeError) as exc:
            return json.dumps({"error": f"malformed request: {exc}"}).encode()
        found = [a.to_json() for a in self._sent if a.epoch == epoch and a.seq > after]
        return json.dumps({"announcements": found}).encode()


async def _ignore(sender: str, data: bytes) -> None:
    return None


Deliver = Callable[[Announcement], Awaitable[None]]


class Announcements:
    """A worker's side: checks every announcement, fetches missed ones, delivers each once and in order."""

    def __init__(self, node: Node, chain_id: int, market: str, deliver: Deliver) -> None:
        self._node, self._chain, self._market, self._deliver = node, chain_id, market, deliver
        self._last: dict[tuple[str, int], int] = {}  # (requester, epoch) -> last seq delivered
        self.dropped = 0
        node.subscribe(TOPIC, self._on_gossip)

    async def _on_gossip(self, sender: str, data: bytes) -> None:
        try:
            announcement = Announcement.from_json(json.loads(data))
        except (ValueError, KeyError, TypeError) as exc:
            self._drop(f"malformed announcement from {sender}: {exc}")
            return
        if not self._valid(announcement, sender):
            return
        key = (announcement.requester, announcement.epoch)
        last = self._last.get(key)
        if last is not None and announcement.seq <= last:
            return  # seen
        if last is not None and announcement.seq > last + 1:
            await self._fill(announcement, last)
        await self._accept(announcement)

    def _valid(self, a: Announcement, sender: str) -> bool:
        if len(a.sources) > MAX_SOURCES:
            self._drop(f"announcement {a.requester}#{a.seq} names {len(a.sources)} sources (at most {MAX_SOURCES})")
            return False
        if not a.peer.endswith("/p2p/" + sender):
            self._drop(f"announcement {a.requester}#{a.seq} names peer {a.peer}, but {sender} published it")
            return False
        try:
            signer = a.signer(self._chain, self._market)
        except (ValueError, TypeError) as exc:
            self._drop(f"announcement {a.requester}#{a.seq}: bad signature: {exc}")
            return False
        if signer != a.requester:  # forged, or for another chain or market (the digest binds both)
            self._drop(f"announcement {a.requester}#{a.seq} is signed by {signer}, not by its requester")
            return False
        return True

    async def _fill(self, a: Announcement, last: int) -> None:
        """Asks the announcer for what came between `last` and `a` (gossip lost it)."""
        ask = json.dumps({"epoch": a.epoch, "after": last}).encode()
        try:
            answer = json.loads(await self._node.request(a.peer, HISTORY, ask))
            missed = [Announcement.from_json(d) for d in answer["announcements"]]
        except (NetworkError, ValueError, KeyError, TypeError) as exc:
            log.warning("announcements %d..%d of %s lost: %s", last + 1, a.seq - 1, a.requester, exc)
            return
        sender = a.peer.rsplit("/", 1)[-1]
        for m in sorted(missed, key=lambda m: m.seq):
            if m.requester == a.requester and m.epoch == a.epoch and last < m.seq < a.seq and self._valid(m, sender):
                await self._accept(m)

    async def _accept(self, a: Announcement) -> None:
        key = (a.requester, a.epoch)
        self._last[key] = max(self._last.get(key, 0), a.seq)
        await self._deliver(a)

    def _drop(self, why: str) -> None:
        self.dropped += 1
        log.warning("dropped: %s", why)


async def announce_submission(pc: AsyncClient, signer: Signer, tx_hash: str, job_ids: list[int], sources: list[str],
                              *, settle: float = 1.0, outbound: OutboundPolicy | None = None) -> int:  # fmt: skip
    """Announces a submission to the workers registered on-chain, from a node run for the purpose (the
    requester's own identity); returns how many workers it reached. `settle` seconds let the peers learn
    its subscription before the message goes, and the message leave before the node stops. The workers'
    registered addresses are dialed under `outbound` (default: the network's policy)."""
    workers = [p for p in (await pc.providers.peer_ids()).values() if p.startswith("/")]
    outbound = outbound or OutboundPolicy.for_network(pc.network)
    node = Node(key_pair_of(signer), dht=True, outbound=outbound)  # workers' DHTs query every peer they reach
    announcer = Announcer(node, signer, pc.network.chain_id, pc.deployment.address("JobMarket"))
    await node.start()
    try:
        reached = await node.connect(workers, within=3)
        await asyncio.sleep(settle)
        await announcer.announce(tx_hash, job_ids, sources)
        await asyncio.sleep(settle / 2)
        return reached
    finally:
        await node.stop()
