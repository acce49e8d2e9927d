"""The signed messages workers exchange off-chain, so that one transaction serves many of them.

- `BidOffer`: a provider's EIP-712 bid on a set of jobs; whoever assigns includes it (`assignBatch`).
- `SealOffer`: an assignee's seals with its EIP-712 authorization for one `commitSeals` call.
- `Openings`: (index, digest, salt) of committed seals, so one `finalize` pays every opener. They are
  sent only once every assignee has committed (or the commit deadline passed), so nobody can copy a
  digest into a seal of its own, and each is accepted only from the assignee at its index and only
  if it opens that assignee's seal on-chain.

Every message is checked by its receiver against the signer's address (and the chain) before use: a
peer cannot speak for an address it does not control. The transport is `channel.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.crypto import keccak

from polkacompute.chain.accounts import Signer
from polkacompute.sdk.models import Bid
from polkacompute.sdk.work import bid_signer, seals_signer, sign_seals


@dataclass(frozen=True)
class Opening:
    """What opens one committed seal: `keccak256(abi.encode(jobId, worker, digest, salt))`."""

    job_id: int
    index: int
    worker: str
    digest: bytes
    salt: bytes


@dataclass(frozen=True)
class Openings:
    """A worker's openings of any number of jobs, signed once (a batch of jobs costs one signature)."""

    worker: str
    items: tuple[tuple[int, int, bytes, bytes], ...]  # (jobId, index, digest, salt)
    signature: bytes = b""

    def message(self, chain_id: int, market: str) -> bytes:
        """What the worker signs: its openings, bound to one chain and one market."""
        body = keccak(encode(["(uint256,uint8,bytes32,bytes32)[]"], [list(self.items)]))
        return keccak(encode(["string", "uint256", "address", "address", "bytes32"],
                             ["polkacompute-openings-v1", chain_id, market, self.worker, body]))  # fmt: skip

    @classmethod
    def signed(cls, signer: Signer, items: list[Opening], chain_id: int, market: str) -> Openings:
        unsigned = cls(signer.address, tuple((o.job_id, o.index, o.digest, o.salt) for o in items))
        sig = Account.sign_message(encode_defunct(unsigned.message(chain_id, market)), signer.account.key)
        return cls(unsigned.worker, unsigned.items, bytes(sig.signature))

    def signer(self, chain_id: int, market: str) -> str:
        return str(Account.recover_message(encode_defunct(self.message(chain_id, market)), signature=self.signature))

    def openings(self) -> list[Opening]:
        return [Opening(j, i, self.worker, d, s) for j, i, d, s in self.items]

    def to_json(self) -> dict[str, Any]:
        return {"worker": self.worker, "items": [[j, i, d.hex(), s.hex()] for j, i, d, s in self.items],
                "signature": self.signature.hex()}  # fmt: skip

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Openings:
        items = tuple((int(j), int(i), bytes.fromhex(dg), bytes.fromhex(s)) for j, i, dg, s in d["items"])
        return cls(str(d["worker"]), items, bytes.fromhex(d["signature"]))


@dataclass(frozen=True)
class BidOffer:
    job_ids: tuple[int, ...]
    bid: Bid

    def valid(self, chain_id: int, book: str) -> bool:
        return bid_signer(self.bid, list(self.job_ids), chain_id=chain_id, book=book) == self.bid.provider

    def to_json(self) -> dict[str, Any]:
        b = self.bid
        return {"jobs": list(self.job_ids), "provider": b.provider, "price": b.price, "sla": b.sla,
                "expiry": b.expiry, "nonce": b.nonce, "r": b.r.hex(), "vs": b.vs.hex()}  # fmt: skip

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BidOffer:
        bid = Bid(str(d["provider"]), int(d["price"]), int(d["sla"]), int(d["expiry"]),
                  bytes.fromhex(d["r"]), bytes.fromhex(d["vs"]), int(d["nonce"]))  # fmt: skip
        return cls(tuple(int(j) for j in d["jobs"]), bid)


@dataclass(frozen=True)
class SealOffer:
    """`worker`'s seals, (jobId, index, seal) in ascending job order, authorized for one `commitSeals`."""

    worker: str
    items: tuple[tuple[int, int, bytes], ...]
    r: bytes = b""
    vs: bytes = b""

    @classmethod
    def signed(cls, signer: Signer, items: list[tuple[int, int, bytes]], chain_id: int, market: str) -> SealOffer:
        _, r, vs = sign_seals(signer, [(j, s) for j, _, s in items], chain_id=chain_id, market=market)
        return cls(signer.address, tuple(items), r, vs)

    def valid(self, chain_id: int, market: str) -> bool:
        pairs = [(j, s) for j, _, s in self.items]
        ascending = all(a[0] < b[0] for a, b in zip(self.items, self.items[1:], strict=False))
        return ascending and seals_signer(pairs, self.r, self.vs, chain_id=chain_id, market=market) == self.worker

    def signature(self) -> tuple[str, bytes, bytes]:
        return (self.worker, self.r, self.vs)

    def to_json(self) -> dict[str, Any]:
        return {"worker": self.worker, "items": [[j, i, s.hex()] for j, i, s in self.items],
                "r": self.r.hex(), "vs": self.vs.hex()}  # fmt: skip

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SealOffer:
        items = tuple((int(j), int(i), bytes.fromhex(s)) for j, i, s in d["items"])
        return cls(str(d["worker"]), items, bytes.fromhex(d["r"]), bytes.fromhex(d["vs"]))
