"""The workers' message channel over libp2p: one request/response protocol per topic.

A list of messages goes to a peer as one request on `/polkacompute/<topic>/1`; the answer, which
acknowledges the list, says how many it kept (or why none). Peers are multiaddrs ending in
`/p2p/<peer id>`. The connection is Noise-encrypted and authenticates the peer id; the messages are
signed by the sender's account key and checked by their handlers, which is what ties them to an
on-chain identity.
"""

from __future__ import annotations

import json
from typing import Any

from polkacompute.errors import NetworkError
from polkacompute.p2p.node import Handler as StreamHandler
from polkacompute.p2p.node import Node
from polkacompute.worker.channel import Channel, Handler


def protocol_of(topic: str) -> str:
    return f"/polkacompute/{topic}/1"


class P2PChannel(Channel):
    """Acknowledgement, retries and backpressure are the `Channel` base's, shared with `HttpChannel`."""

    def __init__(self, node: Node, handlers: dict[str, Handler], **options: Any) -> None:
        super().__init__(handlers, **options)
        self._node = node
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

    async def _post(self, peer: str, topic: str, messages: list[dict[str, Any]], within: float) -> tuple[int, str]:
        answer = await self._node.request(peer, protocol_of(topic), json.dumps(messages).encode(), within=within)
        try:
            reply = json.loads(answer)
            return int(reply["status"]), str(reply["text"])
        except (ValueError, KeyError, TypeError) as exc:
            raise NetworkError(f"{peer} answered {topic} with no status: {answer[:100]!r}") from exc

    async def exchange(self, peer: str, topic: str, messages: list[dict[str, Any]]) -> tuple[int, str]:
        """Sends one list now, once, and returns the peer's answer (status, text): for tests and probes."""
        return await self._post(peer, topic, messages, self._timeout)
