"""What the API serves, read from the indexer's tables: network stats, jobs, providers, the escrow."""

from __future__ import annotations

import statistics
from typing import Any

from eth_utils.address import to_checksum_address
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from polkacompute.indexer.runtimes import runtime_identities, runtime_name
from polkacompute.indexer.schema import (
    Assignment,
    Balance,
    Block,
    Escrowed,
    EventJob,
    EventRow,
    JobRow,
    ProviderRow,
    ReputationChange,
)
from polkacompute.store.cid import cid_from_digest

MAX_PAGE = 200
DECIDED = ("FINALIZED", "RESOLVED", "FAILED")  # ran to an outcome (a cancelled job never ran): success rates, gas


def stats(session: Session) -> dict[str, Any]:
    """Totals, rates, latencies and gas over every indexed job."""
    by_status = dict(session.execute(select(JobRow.status, func.count()).group_by(JobRow.status)).all())
    done = session.execute(select(JobRow.submitted_block, JobRow.ended_block, JobRow.submitted_time, JobRow.ended_time)
                           .where(JobRow.status == "FINALIZED")).all()  # fmt: skip
    blocks = [end - start for start, end, _, _ in done if end is not None]
    seconds = [end - start for _, _, start, end in done if end is not None and start is not None]
    ended = sum(by_status.get(status, 0) for status in DECIDED)
    latest = session.execute(select(Block.number, Block.timestamp).order_by(Block.number.desc()).limit(1)).first()
    recent = session.scalar(select(func.count()).select_from(JobRow)
                            .where(JobRow.submitted_time > (latest[1] if latest else 0) - 600)) or 0  # fmt: skip
    gas = session.scalar(select(func.avg(JobRow.gas_used)).where(JobRow.status.in_(DECIDED)))
    return {
        "jobs": sum(by_status.values()),
        "by_status": by_status,
        "success_rate": round((by_status.get("FINALIZED", 0) + by_status.get("RESOLVED", 0)) / ended, 4)
        if ended
        else None,
        "latency_blocks": _percentiles(blocks),
        "latency_s": _percentiles(seconds),
        "jobs_per_minute": round(recent / 10, 2),  # over the last ten minutes of chain time
        "gas_per_job": round(float(gas)) if gas is not None else None,  # ended jobs, their share of each tx
        "active_workers": session.scalar(select(func.count()).select_from(ProviderRow).where(ProviderRow.status == 1)),
        "escrowed": {e.token: e.amount for e in session.scalars(select(Escrowed))},
        "events": session.scalar(select(func.count()).select_from(EventRow)),
        "last_event_id": last_event_id(session),  # where a live stream starts
        "last_block": latest[0] if latest else None,
        "last_time": latest[1] if latest else None,
    }


def jobs(session: Session, *, status: str | None = None, requester: str | None = None, provider: str | None = None,
         runtime: str | None = None, before: int | None = None, limit: int = 50) -> list[dict[str, Any]]:  # fmt: skip
    """Newest first; `before` (a job id) pages back."""
    query: Select[JobRow] = select(JobRow).order_by(JobRow.job_id.desc()).limit(min(max(limit, 1), MAX_PAGE))
    if status:
        query = query.where(JobRow.status == status.upper())
    if requester:  # addresses are stored checksummed (as events decode them): an index serves equality
        query = query.where(JobRow.requester == checksummed(requester))
    if runtime:
        query = query.where(JobRow.runtime.in_(runtime_identities(runtime)))
    if provider:
        query = query.where(
            JobRow.job_id.in_(select(Assignment.job_id).where(Assignment.worker == checksummed(provider)))
        )
    if before is not None:
        query = query.where(JobRow.job_id < before)
    return [_job(row) for row in session.scalars(query)]


def job(session: Session, job_id: int) -> dict[str, Any] | None:
    """A job with its timeline: every event about it, with block times."""
    row = session.get(JobRow, job_id)
    if row is None:
        return None
    events = session.execute(
        select(EventRow, Block.timestamp).join(EventJob, EventJob.event_id == EventRow.id)
        .outerjoin(Block, Block.number == EventRow.block_number)
        .where(EventJob.job_id == job_id).order_by(EventRow.block_number, EventRow.log_index)
    ).all()  # fmt: skip
    prices = {a.worker: a.price for a in session.scalars(select(Assignment).where(Assignment.job_id == job_id))}
    timeline = [{"name": e.name, "block": e.block_number, "time": ts, "tx": e.tx_hash, "args": public(e.args)}
                for e, ts in events]  # fmt: skip
    return {**_job(row), "prices": prices, **_outcomes(row, timeline), "timeline": timeline}


def _outcomes(row: JobRow, timeline: list[dict[str, Any]]) -> dict[str, Any]:
    """Each assignee's outcome (paid, held in a dispute window, released, slashed, pending) and the
    digest it revealed, from the job's events."""
    settled: dict[str, str] = {}
    revealed: dict[str, str] = {}
    for event in timeline:
        if event["name"] == "WorkerSettled":
            settled[event["args"]["worker"]] = _OUTCOMES.get(int(event["args"]["outcome"]), "pending")
        elif event["name"] == "ResultRevealed":
            revealed[event["args"]["worker"]] = event["args"]["resultDigest"]
    outcomes = {}
    for worker in row.assignees:
        outcome = settled.get(worker, "pending")
        outcomes[worker] = "paid" if worker in row.paid and outcome in ("pending", "held") else outcome
        # Paid or held for the result means they opened it; openings sent with the finalizing
        # transaction (aggregated) emit no ResultRevealed of their own.
        if (outcome == "held" or worker in row.paid) and row.result_digest is not None:
            revealed.setdefault(worker, "0x" + row.result_digest.hex())
    return {"outcomes": outcomes, "revealed": revealed}


_OUTCOMES = {0: "held", 1: "slashed_mismatch", 2: "slashed_no_show", 3: "released"}  # IJobMarket.WorkerOutcome


def providers(session: Session, *, sort: str = "reputation", limit: int = 100) -> list[dict[str, Any]]:
    rows = list(session.scalars(select(ProviderRow)))
    key = {"reputation": lambda p: p.reputation, "earned": lambda p: int(p.earned),
           "stake": lambda p: int(p.stake)}.get(sort, lambda p: p.reputation)  # fmt: skip
    rows.sort(key=key, reverse=True)
    return [_provider(p) for p in rows[: min(max(limit, 1), MAX_PAGE)]]


def provider(session: Session, address: str) -> dict[str, Any] | None:
    row = session.get(ProviderRow, checksummed(address))
    if row is None:
        return None
    history = session.execute(select(ReputationChange, Block.timestamp)
                              .outerjoin(Block, Block.number == ReputationChange.block_number)
                              .where(ReputationChange.provider == row.address)
                              .order_by(ReputationChange.id)).all()  # fmt: skip
    slashes = session.execute(select(EventRow, Block.timestamp).outerjoin(Block, Block.number == EventRow.block_number)
                              .where(EventRow.name == "Slashed")
                              .where(EventRow.args["provider"].as_string() == row.address)).all()  # fmt: skip
    return {
        **_provider(row),
        "reputation_history": [
            {"block": h.block_number, "time": ts, "job_id": h.job_id, "reputation": h.reputation, "reason": h.reason}
            for h, ts in history
        ],
        "slashes": [
            {
                "block": e.block_number,
                "time": ts,
                "job_id": public(e.args["jobId"]),
                "amount": str(public(e.args["amount"])),
            }
            for e, ts in slashes
        ],
        "recent_jobs": jobs(session, provider=row.address, limit=20),
    }


def escrow(session: Session) -> dict[str, Any]:
    balances = sorted(session.scalars(select(Balance)), key=lambda b: int(b.amount), reverse=True)
    return {
        "escrowed": {e.token: e.amount for e in session.scalars(select(Escrowed))},
        "balances": [{"token": b.token, "owner": b.owner, "amount": b.amount} for b in balances[:MAX_PAGE]],
    }


def events_after(session: Session, after: int, limit: int = 500) -> list[dict[str, Any]]:
    """Events indexed after the event id `after`, oldest first (what the live stream pushes)."""
    rows = session.execute(
        select(EventRow, Block.timestamp).outerjoin(Block, Block.number == EventRow.block_number)
        .where(EventRow.id > after).order_by(EventRow.id).limit(limit)
    ).all()  # fmt: skip
    named: dict[int, list[int]] = {e.id: [] for e, _ in rows}
    if named:  # the jobs of the whole batch in one query (not one per event)
        for event_id, job_id in session.execute(select(EventJob.event_id, EventJob.job_id)
                                                .where(EventJob.event_id.in_(list(named)))
                                                .order_by(EventJob.event_id, EventJob.job_id)):  # fmt: skip
            named[event_id].append(job_id)
    return [{"id": e.id, "name": e.name, "contract": e.contract, "block": e.block_number, "time": ts,
             "tx": e.tx_hash, "jobs": named[e.id], "args": public(e.args)} for e, ts in rows]  # fmt: skip


def last_event_id(session: Session) -> int:
    """The id of the newest indexed event (ids are not counts: a reorg's rewind leaves gaps)."""
    return int(session.scalar(select(func.max(EventRow.id))) or 0)


def checksummed(value: str) -> str:
    """An address as stored (checksummed, as events decode them); ValueError if it is not one."""
    try:
        return str(to_checksum_address(value))
    except (ValueError, TypeError):
        raise ValueError(f"{value!r} is not an address") from None


def _job(row: JobRow) -> dict[str, Any]:
    return {
        "id": row.job_id, "status": row.status, "requester": row.requester, "runtime": row.runtime,
        "runtime_name": runtime_name(row.runtime),
        "replicas": row.replicas, "quorum": row.quorum, "assignees": row.assignees,
        "submitted_block": row.submitted_block, "ended_block": row.ended_block,
        "submitted_time": row.submitted_time, "ended_time": row.ended_time, "gas_used": row.gas_used,
        "result_digest": "0x" + row.result_digest.hex() if row.result_digest else None,
        "result_cid": cid_from_digest(row.result_digest, "dag-cbor") if row.result_digest else None,
        "paid": row.paid, "slashed": row.slashed,
    }  # fmt: skip


def _provider(p: ProviderRow) -> dict[str, Any]:
    return {"address": p.address, "status": {1: "active", 2: "deregistered"}.get(p.status, "none"),
            "stake": p.stake, "locked": p.locked, "unbonding": p.unbonding, "reputation": p.reputation,
            "capabilities": p.capabilities, "region": p.region, "peer_id": p.peer_id, "earned": p.earned,
            "slashed": p.slashed}  # fmt: skip


def _percentiles(values: list[int]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None}
    ordered = sorted(values)
    return {"p50": statistics.median(ordered), "p90": ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]}


def public(value: Any) -> Any:
    """Stored event arguments as API JSON: bytes as 0x-hex, integers beyond 2^53 as decimal strings."""
    if isinstance(value, dict):
        if value.keys() == {"hex"}:
            return "0x" + value["hex"]
        if value.keys() == {"int"}:
            return value["int"]
        return {k: public(v) for k, v in value.items()}
    if isinstance(value, list):
        return [public(v) for v in value]
    return value
