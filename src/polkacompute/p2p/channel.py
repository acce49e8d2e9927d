"""The workers' message channel over libp2p: one request/response protocol per topic.

A list of messages goes to a peer as one request on `/polkacompute/<topic>/1`; the answer says how
many it kept (or why none). Peers are multiaddrs ending in `/p2p/<peer id>`. The connection is
Noise-encrypted and authenticates the peer id; the messages are signed by the sender's account key
and checked by their handlers, which is what ties them to an on-chain identity.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from polkacompute.errors import NetworkError
from polkacompute.p2p.node import Handler as StreamHandler
from polkacompute.p2p.node import Node
from polkacompute.worker.channel import Channel, Handler

log = logging.getLogger(__name__)


def protocol_of(topic: str) -> str:
    return f"/polkacompute/{topic}/1"


class P2PChannel(Channel):
    def __init__(self, node: Node, handlers: dict[str, Handler], *, request_timeout: float = 5.0,
                 flush_interval: float = 0.01) -> None:  # fmt: skip
        super().__init__(handlers, flush_interval=flush_interval)
        self._node = node
        self._timeout = request_timeout
        for topic in handlers:
            node.handle(protocol_of(topic), self._serve(topic))

    def _serve(self, topic: str) -> StreamHandler:
        async def serve(peer: str, request: bytes) -> bytes:
            try:
                messages = json.loads(request)
            except ValueError as exc:
                return json.dumps({"status": 400, "text": f"not JSON: {exc}"}).encode()
            status, text = await self._dispatch(topic, messages)
            return json.dumps({"status": status, "text": text}).encode()

        return serve

    async def _post(self, peer: str, topic: str, messages: list[dict[str, Any]]) -> None:
        try:
            answer = json.loads(await self._node.request(peer, protocol_of(topic), json.dumps(messages).encode(),
                                                         within=self._timeout))  # fmt: skip
        except (NetworkError, ValueError) as exc:
            log.warning("peer %s unreachable for %s: %s", peer, topic, exc)
            return
        if answer.get("status") != 200:
            log.warning("peer %s refused %s: %s", peer, topic, str(answer.get("text"))[:200])

    async def exchange(self, peer: str, topic: str, messages: list[dict[str, Any]]) -> tuple[int, str]:
        """Sends one list now and returns the peer's answer (status, text): for tests and probes."""
        answer = json.loads(await self._node.request(peer, protocol_of(topic), json.dumps(messages).encode(),
                                                     within=self._timeout))  # fmt: skip
        return int(answer["status"]), str(answer["text"])
