"""Typed models of the protocol's data, and the job-spec rules the contracts enforce.

`JobSpec.validate` mirrors `JobMarket._validate` field by field, so a bad spec fails before anything is
sent, with a message that says what to change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from polkacompute.errors import ValidationError

ZERO_ADDRESS = "0x" + "00" * 20
MAX_REPLICAS = 16
UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
UINT80_MAX = 2**80 - 1


class JobStatus(IntEnum):
    NONE = 0
    OPEN = 1
    ASSIGNED = 2
    IN_PROGRESS = 3
    FINALIZED = 4
    FAILED = 5
    CANCELLED = 6
    DISPUTED = 7
    RESOLVED = 8

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.FINALIZED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.RESOLVED)


@dataclass(frozen=True)
class MarketParams:
    collateral_bps: int
    mismatch_slash_bps: int
    no_show_slash_bps: int
    reputation_reward: int
    mismatch_penalty: int
    no_show_penalty: int
    fee_bps: int  # protocol fee on each worker payment, fixed per job at submission
    min_commit_window: int  # an assignee has at least time_limit + this from its assignment to commit
    min_rewarded_price: int  # a job earns its workers reputation only if native and at least this per replica
    min_reveal_window: int  # reveal_deadline is at least this after commit_deadline
    reveal_grace: int  # after finalization, time for left-out assignees to reveal before settlement
    ruling_period: int  # the arbiter's time to rule on a dispute before the default ruling applies
    max_bid_window: int
    max_job_duration: int
    max_dispute_window: int
    dispute_bond: int

    @classmethod
    def from_tuple(cls, values: tuple[Any, ...] | list[Any]) -> MarketParams:
        return cls(*(int(v) for v in values))


def default_deadlines(
    now: int, bid_window: int, time_limit: int, params: MarketParams, block_time: float
) -> tuple[int, int]:
    """Commit and reveal deadlines sized to the job and the chain, not a fixed hour: the bid window, 10
    blocks to get assigned (an assignment must still leave the time limit plus the minimum commit window),
    the time limit, then room for the commit transaction (the governed minimum or 5 blocks, whichever is
    longer); openings get the governed minimum or 10 blocks. A dead assignee then delays a job by about
    these margins and its time limit (openings wait for the commit deadline when a seal is missing)."""
    blocks = math.ceil(block_time)
    commit = now + bid_window + 10 * blocks + time_limit + max(params.min_commit_window, 5 * blocks)
    return commit, commit + max(params.min_reveal_window, 10 * blocks)


def runtime_id(name: str) -> bytes:
    """The contract's bytes32 runtime: a runtime identity as 0x + 64 hex digits (see
    `polkacompute.runtimes`), or a short name padded with zeros ("wasi" -> b"wasi\\0...")."""
    if name.startswith("0x") and len(name) == 66:
        try:
            return bytes.fromhex(name[2:])
        except ValueError:
            raise ValidationError("runtime", f"{name!r} is not hex") from None
    raw = name.encode()
    if not raw or len(raw) > 32:
        raise ValidationError("runtime", f"{name!r} must be 1 to 32 bytes", hint='e.g. "wasi", "python", "onnx"')
    return raw.ljust(32, b"\x00")


def as_bytes32(field_name: str, value: bytes | str) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)
    if len(raw) != 32:
        raise ValidationError(field_name, f"must be 32 bytes, got {len(raw)}", hint="give a sha2-256 digest")
    return raw


@dataclass(frozen=True)
class JobSpec:
    """What a requester asks for (field for field the contract's JobSpec). Deadlines are unix seconds."""

    program_digest: bytes
    input_digest: bytes
    runtime: str
    replicas: int
    quorum: int
    max_price_per_replica: int
    commit_deadline: int
    reveal_deadline: int
    fuel_limit: int = 10**9
    time_limit: int = 60
    required_capabilities: int = 1
    payment_token: str | None = None
    bid_window: int = 0
    dispute_window: int = 0
    confidential: bool = False
    encryption_pub_key: bytes = field(default=b"\x00" * 32)
    data_ref: int = 0

    @property
    def budget(self) -> int:
        return self.replicas * self.max_price_per_replica

    def validate(self, params: MarketParams, now: int) -> None:
        """The contract's rules, checked locally against the chain time `now`."""
        as_bytes32("program_digest", self.program_digest)
        as_bytes32("input_digest", self.input_digest)
        if self.program_digest == b"\x00" * 32:
            raise ValidationError("program_digest", "must not be zero", hint="use the program's sha2-256 digest")
        if self.input_digest == b"\x00" * 32:
            raise ValidationError("input_digest", "must not be zero", hint="hash the input, even an empty one")
        runtime_id(self.runtime)
        _range("replicas", self.replicas, 1, MAX_REPLICAS)
        if not (1 <= self.quorum <= self.replicas and 2 * self.quorum > self.replicas):
            lowest = self.replicas // 2 + 1
            raise ValidationError(
                "quorum",
                f"{self.quorum} is not a majority of {self.replicas} replicas",
                hint=f"use {lowest}..{self.replicas}",
            )
        _range("fuel_limit", self.fuel_limit, 1, UINT64_MAX)
        _range("time_limit", self.time_limit, 1, UINT32_MAX)
        _range("max_price_per_replica", self.max_price_per_replica, 1, UINT80_MAX)
        _range("bid_window", self.bid_window, 0, params.max_bid_window)
        earliest = now + self.bid_window + self.time_limit + params.min_commit_window
        if self.commit_deadline < earliest:
            raise ValidationError(
                "commit_deadline",
                f"{self.commit_deadline} leaves no time to run the job after the bid window",
                hint=f"use at least {earliest} (bid window + time limit + {params.min_commit_window}s)",
            )
        earliest_reveal = self.commit_deadline + params.min_reveal_window
        if self.reveal_deadline < earliest_reveal:
            raise ValidationError(
                "reveal_deadline",
                f"must be at least {params.min_reveal_window}s after the commit deadline",
                hint=f"use at least {earliest_reveal}",
            )
        latest = now + params.max_job_duration
        if self.reveal_deadline > latest:
            raise ValidationError(
                "reveal_deadline", f"is more than {params.max_job_duration}s ahead", hint=f"use at most {latest}"
            )
        _range("dispute_window", self.dispute_window, 0, params.max_dispute_window)
        key_set = as_bytes32("encryption_pub_key", self.encryption_pub_key) != b"\x00" * 32
        if self.confidential and not key_set:
            raise ValidationError("encryption_pub_key", "a confidential job needs the requester's public key")
        if not self.confidential and key_set:
            raise ValidationError("encryption_pub_key", "only confidential jobs carry an encryption key")
        if self.data_ref != 0:
            raise ValidationError("data_ref", "data NFTs are not supported yet", hint="use 0")

    def to_tuple(self) -> tuple[Any, ...]:
        """The ABI tuple of `IJobMarketTypes.JobSpec`."""
        return (
            as_bytes32("program_digest", self.program_digest),
            as_bytes32("input_digest", self.input_digest),
            runtime_id(self.runtime),
            self.required_capabilities,
            self.replicas,
            self.quorum,
            self.fuel_limit,
            self.time_limit,
            self.max_price_per_replica,
            self.payment_token or ZERO_ADDRESS,
            self.bid_window,
            self.commit_deadline,
            self.reveal_deadline,
            self.dispute_window,
            self.confidential,
            as_bytes32("encryption_pub_key", self.encryption_pub_key),
            self.data_ref,
        )


@dataclass(frozen=True)
class Job:
    """A job as stored on-chain (its full spec is in the JobSubmitted event)."""

    id: int
    requester: str
    status: JobStatus
    replicas: int
    quorum: int
    assigned: int
    committed: int
    settled_mask: int
    flags: int
    finalized_at: int
    max_price: int
    capabilities: int
    bid_deadline: int
    commit_deadline: int
    reveal_deadline: int
    dispute_window: int
    collateral_bps: int
    record: bytes
    result_digest: bytes | None
    time_limit: int = 0
    params_version: int = 0
    revealed_mask: int = 0

    @classmethod
    def from_tuple(cls, job_id: int, t: tuple[Any, ...] | list[Any]) -> Job:
        """From `getJob`'s tuple (the view already moves a digest kept in `record` to `resultDigest`)."""
        n = [int(v) for v in t[2:16]]
        digest = bytes(t[17])
        return cls(
            id=job_id, requester=str(t[0]), status=JobStatus(t[1]), replicas=n[0], quorum=n[1], assigned=n[2],
            committed=n[3], settled_mask=n[4], flags=n[5], finalized_at=n[6], max_price=n[7], capabilities=n[8],
            bid_deadline=n[9], commit_deadline=n[10], reveal_deadline=n[11], dispute_window=n[12],
            collateral_bps=n[13], record=bytes(t[16]), result_digest=None if digest == b"\x00" * 32 else digest,
            time_limit=int(t[18]), params_version=int(t[19]), revealed_mask=int(t[20]),
        )  # fmt: skip


@dataclass(frozen=True)
class Bid:
    """A provider's EIP-712 signed offer to run a job (or every job of a batch) at `price` per replica."""

    provider: str
    price: int
    sla: int  # seconds the provider promises to deliver within
    expiry: int  # unix seconds after which the signature is void
    r: bytes
    vs: bytes  # EIP-2098 compact signature: s with v's parity in the top bit
    nonce: int = 0  # the provider's bid nonce when it signed (`BidBook.revokeSignedBids` moves it on)

    def to_tuple(self) -> tuple[Any, ...]:
        """The ABI tuple of `IJobMarketTypes.SignedBid`."""
        return (self.provider, self.price, self.sla, self.expiry, self.nonce, self.r, self.vs)


@dataclass(frozen=True)
class Provider:
    address: str
    status: int  # 0 none, 1 active, 2 deregistered
    stake: int
    locked: int
    reputation: int
    capabilities: int
    unbonding: int
    unbonding_release_at: int
    region: str
    metadata_digest: bytes

    @classmethod
    def from_tuple(cls, address: str, t: tuple[Any, ...] | list[Any]) -> Provider:
        region = bytes(t[7]).rstrip(b"\x00").decode(errors="replace")
        stake, locked, reputation, capabilities, unbonding, release_at = (int(v) for v in t[1:7])
        return cls(
            address, int(t[0]), stake, locked, reputation, capabilities, unbonding, release_at, region, bytes(t[8])
        )


def _range(name: str, value: int, low: int, high: int) -> None:
    if not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(name, f"{value!r} is outside {low}..{high}")
