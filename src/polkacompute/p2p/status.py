"""The status protocol: ask a worker's node who it is and how it is doing; get a signed, fresh answer.

`/polkacompute/status/1`: the request is a 32-byte nonce; the answer is JSON
`{"status": {...}, "signature": "<hex>"}`, the worker's account signature (EIP-191) over the nonce,
the chain id and the status. The asker checks that it recovers to the `address` the status names and
that the status names the peer it asked, so a node cannot speak for a provider whose key it lacks, and
the nonce keeps an old answer from being replayed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from eth_abi.abi import encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.crypto import keccak

from polkacompute import __version__
from polkacompute.chain.accounts import Signer
from polkacompute.errors import NetworkError
from polkacompute.p2p.node import Node

PROTOCOL = "/polkacompute/status/1"
DOMAIN = "polkacompute-status-v1"


@dataclass(frozen=True)
class Status:
    address: str  # the provider account the node speaks for
    peer_id: str
    chain_id: int
    version: str
    chain_time: int  # the latest block timestamp the worker has seen (a stalled follower shows here)
    jobs_in_flight: int
    runtimes: tuple[str, ...]
    uptime_s: float

    def digest(self, nonce: bytes) -> bytes:
        body = json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()
        return keccak(encode(["string", "uint256", "bytes32", "bytes"], [DOMAIN, self.chain_id, nonce, body]))


Snapshot = Callable[[], dict[str, Any]]  # chain_time, jobs_in_flight, runtimes, uptime_s


def serve_status(node: Node, signer: Signer, chain_id: int, snapshot: Snapshot) -> None:
    """Answers status requests with `snapshot()` signed by `signer` (register before the node starts)."""

    async def serve(peer: str, request: bytes) -> bytes:
        if len(request) != 32:
            return json.dumps({"error": "the request is a 32-byte nonce"}).encode()
        fields = snapshot()
        status = Status(signer.address, node.peer_id, chain_id, __version__, int(fields["chain_time"]),
                        int(fields["jobs_in_flight"]), tuple(fields["runtimes"]),
                        round(float(fields["uptime_s"]), 1))  # fmt: skip
        signature = Account.sign_message(encode_defunct(status.digest(request)), signer.account.key).signature
        return json.dumps({"status": asdict(status), "signature": bytes(signature).hex()}).encode()

    node.handle(PROTOCOL, serve)


async def query_status(node: Node, addr: str, chain_id: int, *, within: float = 5.0) -> Status:
    """The status of the node at `addr` (a multiaddr ending in /p2p/<peer id>), checked: NetworkError
    if it does not answer, answers for another chain or peer, or its signature is not its address's."""
    nonce = os.urandom(32)
    answer = await node.request(addr, PROTOCOL, nonce, within=within)
    try:
        data = json.loads(answer)
        if "error" in data:
            raise NetworkError(f"{addr} refused the status request: {data['error']}")
        fields = data["status"]
        status = Status(**{**fields, "runtimes": tuple(fields["runtimes"])})
        signature = bytes.fromhex(data["signature"])
        signer = Account.recover_message(encode_defunct(status.digest(nonce)), signature=signature)
    except (ValueError, KeyError, TypeError) as exc:
        raise NetworkError(f"{addr} sent a malformed status: {exc}") from exc
    if signer != status.address:
        raise NetworkError(f"{addr} claims to be {status.address} but its status is signed by {signer}")
    if not addr.endswith("/p2p/" + status.peer_id):
        raise NetworkError(f"{addr} answered with the status of another peer ({status.peer_id})")
    if status.chain_id != chain_id:
        raise NetworkError(f"{addr} serves chain {status.chain_id}, not {chain_id}")
    return status
