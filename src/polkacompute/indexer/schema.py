"""The indexer's tables: blocks (with hashes, for reorgs), every contract event, and per-job rows
rebuilt from those events alone. Schema changes go through Alembic (`migrations/`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Block(Base):
    """An indexed block: the hash tells whether the chain still has it (reorgs)."""

    __tablename__ = "blocks"
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(66))
    timestamp: Mapped[int] = mapped_column(BigInteger)


class EventRow(Base):
    """One contract event, arguments as JSON (`store.to_json`: bytes and big integers kept exact)."""

    __tablename__ = "events"
    __table_args__ = (Index("events_position", "block_number", "log_index", unique=True),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    log_index: Mapped[int] = mapped_column(Integer)
    tx_hash: Mapped[str] = mapped_column(String(66))
    contract: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64), index=True)
    args: Mapped[dict[str, Any]] = mapped_column(JSON)


class EventJob(Base):
    """Which jobs an event is about (a batch event names many)."""

    __tablename__ = "event_jobs"
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    job_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)


class JobRow(Base):
    """A job as its events describe it (`polkacompute.sdk.jobview.JobView`, the worker's own logic)."""

    __tablename__ = "jobs"
    __table_args__ = (Index("jobs_status_id", "status", "job_id"), Index("jobs_requester_id", "requester", "job_id"),
                      Index("jobs_runtime_id", "runtime", "job_id"), Index("jobs_submitted_time", "submitted_time"),
                      Index("jobs_ended_time", "ended_time"))  # fmt: skip
    job_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    requester: Mapped[str] = mapped_column(String(42), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    runtime: Mapped[str] = mapped_column(String(66), index=True)
    replicas: Mapped[int] = mapped_column(Integer)
    quorum: Mapped[int] = mapped_column(Integer)
    assignees: Mapped[list[str]] = mapped_column(JSON)
    submitted_block: Mapped[int] = mapped_column(BigInteger)
    ended_block: Mapped[int | None] = mapped_column(BigInteger)
    submitted_time: Mapped[int | None] = mapped_column(BigInteger)  # block timestamps (the time series)
    ended_time: Mapped[int | None] = mapped_column(BigInteger)
    gas_used: Mapped[int | None] = mapped_column(BigInteger)  # its share of the transactions that carried its events
    result_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    paid: Mapped[dict[str, str]] = mapped_column(JSON)  # assignee -> wei (as a string: beyond JSON's ints)
    slashed: Mapped[dict[str, str]] = mapped_column(JSON)


class ProviderRow(Base):
    """A provider as the registry's events describe it (they carry running totals)."""

    __tablename__ = "providers"
    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    status: Mapped[int] = mapped_column(Integer)  # 1 active, 2 deregistered
    stake: Mapped[str] = mapped_column(String(40))  # wei, as decimal strings (beyond 64-bit integers)
    locked: Mapped[str] = mapped_column(String(40))
    unbonding: Mapped[str] = mapped_column(String(40))
    reputation: Mapped[int] = mapped_column(Integer, index=True)
    capabilities: Mapped[int] = mapped_column(BigInteger)
    region: Mapped[str] = mapped_column(String(8))
    peer_id: Mapped[str] = mapped_column(String(256))
    earned: Mapped[str] = mapped_column(String(40))  # paid for jobs, in the native token
    slashed: Mapped[str] = mapped_column(String(40))


class Balance(Base):
    """What `owner` can withdraw of `token` from the escrow (PaymentEscrow.balanceOf)."""

    __tablename__ = "balances"
    token: Mapped[str] = mapped_column(String(42), primary_key=True)
    owner: Mapped[str] = mapped_column(String(42), primary_key=True)
    amount: Mapped[str] = mapped_column(String(80))


class Escrowed(Base):
    """Job budgets held per token (PaymentEscrow.totalLocked)."""

    __tablename__ = "escrowed"
    token: Mapped[str] = mapped_column(String(42), primary_key=True)
    amount: Mapped[str] = mapped_column(String(80))


class Assignment(Base):
    """A job's assignee at `index` and its price (the filter "jobs of this provider")."""

    __tablename__ = "assignments"
    job_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    worker: Mapped[str] = mapped_column(String(42), index=True)
    price: Mapped[str] = mapped_column(String(40))


class ReputationChange(Base):
    """One step of a provider's reputation history, with the job and the reason."""

    __tablename__ = "reputation_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(42), index=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    job_id: Mapped[int] = mapped_column(BigInteger)
    reputation: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))


class Transaction(Base):
    """A transaction that emitted PolkaCompute events, with the gas its receipt reports."""

    __tablename__ = "transactions"
    tx_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    gas_used: Mapped[int] = mapped_column(BigInteger)
    gas_price: Mapped[str] = mapped_column(String(40))  # effective price, wei


class EscrowSample(Base):
    """Budgets held of `token` after block `block_number` (one row per block that changed them)."""

    __tablename__ = "escrow_history"
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    token: Mapped[str] = mapped_column(String(42), primary_key=True)
    amount: Mapped[str] = mapped_column(String(80))


class Meta(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))
