"""Worker-side primitives: signed bids, assignment, sealed results, aggregated commits and openings.

A worker daemon (and the devnet demo) drives a job with these; each maps to one contract call, and
the off-chain pieces (EIP-712 signatures, seals, salts) are computed here so every worker computes
them the same way.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eth_abi.abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak
from web3.logs import DISCARD

from polkacompute.chain.accounts import Signer
from polkacompute.chain.client import Receipt
from polkacompute.sdk.models import Bid

if TYPE_CHECKING:
    from polkacompute.sdk.client import AsyncClient

_DOMAIN_TYPES = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


@dataclass(frozen=True)
class Assignee:
    worker: str
    price: int


@dataclass(frozen=True)
class Sealed:
    """A worker's sealed result: what it commits (`seal`) and what opens it later (`salt`)."""

    job_id: int
    worker: str
    result_digest: bytes
    salt: bytes
    seal: bytes


def seal_result(job_id: int, worker: str, result_digest: bytes, salt: bytes | None = None) -> Sealed:
    """`keccak256(abi.encode(jobId, worker, resultDigest, salt))` with a fresh random salt by default."""
    salt = salt or secrets.token_bytes(32)
    seal = keccak(encode(["uint256", "address", "bytes32", "bytes32"], [job_id, worker, result_digest, salt]))
    return Sealed(job_id, worker, result_digest, salt, seal)


def proof_tuple(assignees: list[Assignee], seals: list[bytes] | None = None) -> tuple[Any, ...]:
    """The `Proof` the market checks against its record: the list, and the aggregated seals if any."""
    mask = (1 << len(assignees)) - 1 if seals else 0
    return ([(a.worker, a.price) for a in assignees], mask, list(seals or []))


class Work:
    """`client.work`: the worker's side of the protocol."""

    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    def sign_bid(
        self, signer: Signer, job_ids: list[int], price: int, *, sla: int = 600, expiry: int, nonce: int = 0
    ) -> Bid:
        """An EIP-712 bid of `signer` at `price` on every job of `job_ids` (one job or a batch), with the
        signer's current bid nonce (`bid_nonce`; 0 until it revokes its signed bids)."""
        book = self._c.deployment.address("BidBook")
        chain_id = self._c.network.chain_id
        return sign_bid(signer, job_ids, price, sla=sla, expiry=expiry, chain_id=chain_id, book=book, nonce=nonce)

    async def bid_nonce(self, provider: str) -> int:
        """The nonce `provider`'s signed bids must carry."""
        return int(await self._c.chain.call(self._c.registry.functions.bidNonceOf(provider)))

    async def revoke_signed_bids(self) -> Receipt:
        """Revokes every bid the signer signed so far (they carry an older nonce)."""
        return await self._c.chain.send(self._c.registry.functions.revokeSignedBids())

    def sign_seals(self, signer: Signer, seals: list[tuple[int, bytes]]) -> tuple[str, bytes, bytes]:
        """One signature authorizing all of `signer`'s (jobId, seal) pairs in a `commitSeals` call, in order."""
        market = self._c.deployment.address("JobMarket")
        return sign_seals(signer, seals, chain_id=self._c.network.chain_id, market=market)

    async def assign(self, job_id: int, bids: list[Bid]) -> list[Assignee]:
        """Assigns the job from on-chain and signed bids; returns the assignee list, in order."""
        fn = self._c.market.functions.assignWithSignedBids(job_id, [b.to_tuple() for b in bids])
        receipt = await self._c.chain.send(fn)
        return self.assignees_from(receipt)

    def assignees_from(self, receipt: Receipt) -> list[Assignee]:
        events = self._c.market.events.JobAssigned().process_receipt(receipt, errors=DISCARD)
        return [
            Assignee(w, int(p)) for e in events for w, p in zip(e["args"]["workers"], e["args"]["prices"], strict=True)
        ]

    async def commit_seals(
        self, job_id: int, assignees: list[Assignee], seals: list[bytes], signatures: list[tuple[str, bytes, bytes]]
    ) -> Receipt:
        """Puts every assignee's seal on-chain in one call (signatures from every worker but the sender)."""
        item = (job_id, [(a.worker, a.price) for a in assignees], list(enumerate(seals)))
        return await self._c.chain.send(self._c.market.functions.commitSeals([item], signatures))

    async def finalize(
        self, job_id: int, result_digest: bytes, proof: tuple[Any, ...], openings: list[tuple[int, bytes]]
    ) -> Receipt:
        """Opens at least quorum seals of `result_digest`: the job finalizes and the openers are paid."""
        return await self._c.chain.send(self._c.market.functions.finalize(job_id, result_digest, proof, openings))

    async def reveal(self, job_id: int, proof: tuple[Any, ...], index: int, sealed: Sealed) -> Receipt:
        """Opens the sender's own seal on-chain (the path when no aggregated finalize happens in time)."""
        fn = self._c.market.functions.reveal(job_id, proof, index, sealed.result_digest, sealed.salt)
        return await self._c.chain.send(fn)

    async def claim_payout(self, job_id: int, proof: tuple[Any, ...], index: int) -> Receipt:
        """Pays an agreeing assignee who was not among the openers of the finalize call."""
        return await self._c.chain.send(self._c.market.functions.claimPayout(job_id, proof, index))

    async def settle(self, job_id: int, proof: tuple[Any, ...] | None = None) -> Receipt:
        """Keeper action (anyone may call): settles an expired job, slashing no-shows and refunding."""
        proof = proof if proof is not None else await self.proof(job_id)
        return await self._c.chain.send(self._c.market.functions.settle(job_id, proof))

    async def proof(self, job_id: int) -> tuple[Any, ...]:
        """The job's `Proof` rebuilt from its events: assignees in order, and its aggregated seals if any."""
        assignees: list[Assignee] = []
        mask, seals = 0, []
        for event in await self._c.jobs.history(job_id):
            if event.name in ("JobAssigned", "BatchAssigned"):
                prices = event.args["prices"]
                assignees += [Assignee(w, int(p)) for w, p in zip(event.args["workers"], prices, strict=True)]
            elif event.name == "SealsCommitted":
                mask, seals = int(event.args["mask"]), list(event.args["seals"])
        return ([(a.worker, a.price) for a in assignees], mask, seals)


def sign_bid(
    signer: Signer, job_ids: list[int], price: int, *, sla: int, expiry: int, chain_id: int, book: str, nonce: int = 0
) -> Bid:
    """An EIP-712 `Bid(jobs, provider, price, sla, expiry, nonce)` for the BidBook at `book`.

    `jobs` is `keccak256(abi.encodePacked(jobIds))`, so one signature covers a whole batch; `nonce` is the
    signer's current `BidBook.bidNonce` (a bid signed with an older one was revoked).
    """
    r, vs = _sign(signer, _bid_typed(job_ids, signer.address, price, sla, expiry, nonce, chain_id, book))
    return Bid(signer.address, price, sla, expiry, r, vs, nonce)


def bid_signer(bid: Bid, job_ids: list[int], *, chain_id: int, book: str) -> str:
    """Who signed `bid` for `job_ids` (compare with `bid.provider` before sending it to the chain)."""
    typed = _bid_typed(job_ids, bid.provider, bid.price, bid.sla, bid.expiry, bid.nonce, chain_id, book)
    return _recover(typed, bid.r, bid.vs)


def _bid_typed(
    job_ids: list[int], provider: str, price: int, sla: int, expiry: int, nonce: int, chain_id: int, book: str
) -> Any:
    jobs = keccak(b"".join(job_id.to_bytes(32, "big") for job_id in job_ids))
    return {
        "types": {"EIP712Domain": _DOMAIN_TYPES, "Bid": [
            {"name": "jobs", "type": "bytes32"}, {"name": "provider", "type": "address"},
            {"name": "price", "type": "uint80"}, {"name": "sla", "type": "uint32"},
            {"name": "expiry", "type": "uint32"}, {"name": "nonce", "type": "uint64"},
        ]},
        "primaryType": "Bid",
        "domain": _domain("PolkaCompute BidBook", chain_id, book),
        "message": {"jobs": jobs, "provider": provider, "price": price, "sla": sla, "expiry": expiry,
                    "nonce": nonce},
    }  # fmt: skip


def sign_seals(
    signer: Signer, seals: list[tuple[int, bytes]], *, chain_id: int, market: str
) -> tuple[str, bytes, bytes]:
    """The EIP-712 `Seals(seals)` signature over the hash chain of (jobId, seal) pairs, in call order."""
    r, vs = _sign(signer, _seals_typed(seals, chain_id, market))
    return (signer.address, r, vs)


def seals_signer(seals: list[tuple[int, bytes]], r: bytes, vs: bytes, *, chain_id: int, market: str) -> str:
    """Who signed the `Seals` authorization of these (jobId, seal) pairs."""
    return _recover(_seals_typed(seals, chain_id, market), r, vs)


def _seals_typed(seals: list[tuple[int, bytes]], chain_id: int, market: str) -> Any:
    chain = b"\x00" * 32
    for job_id, seal in seals:
        chain = keccak(encode(["bytes32", "uint256", "bytes32"], [chain, job_id, seal]))
    return {
        "types": {"EIP712Domain": _DOMAIN_TYPES, "Seals": [{"name": "seals", "type": "bytes32"}]},
        "primaryType": "Seals",
        "domain": _domain("PolkaCompute JobMarket", chain_id, market),
        "message": {"seals": chain},
    }


def _domain(name: str, chain_id: int, contract: str) -> dict[str, Any]:
    return {"name": name, "version": "1", "chainId": chain_id, "verifyingContract": contract}


def _sign(signer: Signer, typed: dict[str, Any]) -> tuple[bytes, bytes]:
    """(r, vs): an EIP-2098 compact signature, as the contracts take it."""
    signed = Account.sign_message(encode_typed_data(full_message=typed), signer.account.key)
    return _b32(signed.r), _b32(signed.s | ((signed.v - 27) << 255))


def _recover(typed: dict[str, Any], r: bytes, vs: bytes) -> str:
    value = int.from_bytes(vs, "big")
    v, s = 27 + (value >> 255), value & ((1 << 255) - 1)
    signature = r + s.to_bytes(32, "big") + bytes([v])
    return str(Account.recover_message(encode_typed_data(full_message=typed), signature=signature))


def _b32(value: int) -> bytes:
    return value.to_bytes(32, "big")
