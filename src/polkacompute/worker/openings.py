"""Openings between the assignees of a job, off-chain, so one transaction can finalize it.

An opening (index, digest, salt) lets anyone check an assignee's committed seal. It is published
only once every assignee has committed (or the commit deadline passed), so nobody can copy a digest
into a seal of its own. Each opening is signed by the worker's Ethereum key and accepted only if the
signer is the assignee at that index and the opening matches the seal on-chain.

`HttpOpenings` is the interim transport (HTTP POST to each assignee's gateway, found through the peer
address it registered); the libp2p layer replaces it behind the same two methods.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from eth_abi.abi import encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.crypto import keccak

from polkacompute.chain.accounts import Signer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Opening:
    job_id: int
    index: int
    worker: str
    digest: bytes
    salt: bytes
    signature: bytes = b""

    def message(self, chain_id: int, market: str) -> bytes:
        """What the worker signs: the opening, bound to one chain and one market."""
        return keccak(encode(["string", "uint256", "address", "uint256", "uint8", "address", "bytes32", "bytes32"],
                             ["polkacompute-opening-v1", chain_id, market, self.job_id, self.index, self.worker,
                              self.digest, self.salt]))  # fmt: skip

    def signed(self, signer: Signer, chain_id: int, market: str) -> Opening:
        sig = Account.sign_message(encode_defunct(self.message(chain_id, market)), signer.account.key)
        return Opening(self.job_id, self.index, self.worker, self.digest, self.salt, bytes(sig.signature))

    def signer(self, chain_id: int, market: str) -> str:
        return str(Account.recover_message(encode_defunct(self.message(chain_id, market)), signature=self.signature))

    def to_json(self) -> dict[str, object]:
        return {"job_id": self.job_id, "index": self.index, "worker": self.worker, "digest": self.digest.hex(),
                "salt": self.salt.hex(), "signature": self.signature.hex()}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Opening:
        return cls(int(str(data["job_id"])), int(str(data["index"])), str(data["worker"]),
                   bytes.fromhex(str(data["digest"])), bytes.fromhex(str(data["salt"])),
                   bytes.fromhex(str(data["signature"])))  # fmt: skip


Receive = Callable[[Opening], Awaitable[bool]]  # checks and keeps an opening; False if refused


class HttpOpenings:
    """POST /openings on each peer's gateway; incoming ones go to `receive` (which checks them)."""

    def __init__(self, app: web.Application, receive: Receive, *, request_timeout: float = 5.0) -> None:
        self._receive = receive
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        app.router.add_post("/openings", self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            opening = Opening.from_json(await request.json())
        except (ValueError, KeyError, TypeError) as exc:
            return web.Response(status=400, text=f"not an opening: {exc}")
        accepted = await self._receive(opening)
        return web.Response(status=200 if accepted else 403, text="ok" if accepted else "refused")

    async def publish(self, opening: Opening, peers: Sequence[str]) -> int:
        """Sends the opening to every peer URL; returns how many accepted it (unreachable peers are logged)."""
        accepted = 0
        async with aiohttp.ClientSession(timeout=self._timeout) as client:
            for peer in peers:
                try:
                    async with client.post(f"{peer.rstrip('/')}/openings", json=opening.to_json()) as response:
                        accepted += response.status == 200
                except (aiohttp.ClientError, TimeoutError) as exc:
                    log.warning("job %d: peer %s unreachable for openings: %s", opening.job_id, peer, exc)
        return accepted
