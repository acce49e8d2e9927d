"""Per-minute time series for the dashboard's charts, in chain time (block timestamps).

The window ends at the newest indexed block, so a chain that stopped producing blocks still shows
its last hour rather than an empty one. Counts are grouped in SQL; latency percentiles and the
escrow's running totals are read back for the window only.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from polkacompute.indexer.queries import DECIDED
from polkacompute.indexer.schema import Assignment, Block, EscrowSample, JobRow

BUCKET_S = 60
MAX_MINUTES = 24 * 60


def series(session: Session, minutes: int = 60) -> dict[str, Any]:
    """`minutes` one-minute points, oldest first: jobs submitted/finalized/failed, success rate,
    latency p50, gas per ended job, distinct workers assigned, value escrowed per token."""
    if not 1 <= minutes <= MAX_MINUTES:
        raise ValueError(f"minutes must be between 1 and {MAX_MINUTES}, not {minutes}")
    end = session.scalar(select(Block.timestamp).order_by(Block.number.desc()).limit(1))
    if end is None:
        return {"bucket_s": BUCKET_S, "end": None, "points": []}
    start = (end // BUCKET_S - minutes + 1) * BUCKET_S
    points = [_empty(start + i * BUCKET_S) for i in range(minutes)]

    def bucket(column: Any) -> Any:
        return ((column - start) // BUCKET_S).label("bucket")  # floor division in SQL (both dialects)

    submitted = bucket(JobRow.submitted_time)
    for b, count in session.execute(select(submitted, func.count()).where(JobRow.submitted_time >= start)
                                    .group_by(submitted)):  # fmt: skip
        points[int(b)]["submitted"] = count
    ended = bucket(JobRow.ended_time)
    for b, status, count, gas in session.execute(
        select(ended, JobRow.status, func.count(), func.avg(JobRow.gas_used)).where(JobRow.ended_time >= start)
        .where(JobRow.status.in_(DECIDED)).group_by(ended, JobRow.status)
    ):  # fmt: skip
        point = points[int(b)]
        point["finalized" if status != "FAILED" else "failed"] += count
        if gas is not None:
            point["_gas"].append((float(gas), count))
    for b, workers in session.execute(
        select(submitted, func.count(distinct(Assignment.worker))).join(Assignment, Assignment.job_id == JobRow.job_id)
        .where(JobRow.submitted_time >= start).group_by(submitted)
    ):  # fmt: skip
        points[int(b)]["active_workers"] = workers
    latencies: dict[int, list[int]] = defaultdict(list)
    for b, s, e in session.execute(select(ended, JobRow.submitted_time, JobRow.ended_time)
                                   .where(JobRow.ended_time >= start).where(JobRow.status == "FINALIZED")):  # fmt: skip
        latencies[int(b)].append(e - s)
    for b, values in latencies.items():
        points[b]["latency_s_p50"] = statistics.median(values)
    _escrowed(session, points, start)
    for point in points:
        done = point["finalized"] + point["failed"]
        point["success_rate"] = round(point["finalized"] / done, 4) if done else None
        gas = point.pop("_gas")
        weight = sum(count for _, count in gas)
        point["gas_per_job"] = round(sum(g * count for g, count in gas) / weight) if weight else None
    return {"bucket_s": BUCKET_S, "end": end, "points": points}


def _escrowed(session: Session, points: list[dict[str, Any]], start: int) -> None:
    """Each point's budgets held per token: the last sample at or before the end of its minute."""
    held: dict[str, str] = {}
    first = session.scalar(select(func.min(Block.number)).where(Block.timestamp >= start))
    if first is not None:  # the totals as the window opens: each token's last sample before it
        last = (select(EscrowSample.token, func.max(EscrowSample.block_number).label("block"))
                .where(EscrowSample.block_number < first).group_by(EscrowSample.token).subquery())  # fmt: skip
        on = (last.c.token == EscrowSample.token) & (last.c.block == EscrowSample.block_number)
        held.update(session.execute(select(EscrowSample.token, EscrowSample.amount).join(last, on)).all())
    samples = session.execute(select(Block.timestamp, EscrowSample.token, EscrowSample.amount)
                              .join(Block, Block.number == EscrowSample.block_number)
                              .where(Block.timestamp >= start).order_by(EscrowSample.block_number)).all()  # fmt: skip
    i = 0
    for point in points:
        until = point["t"] + BUCKET_S
        while i < len(samples) and samples[i][0] < until:
            held[samples[i][1]] = samples[i][2]
            i += 1
        point["escrowed"] = dict(held)


def _empty(t: int) -> dict[str, Any]:
    return {"t": t, "submitted": 0, "finalized": 0, "failed": 0, "success_rate": None, "latency_s_p50": None,
            "gas_per_job": None, "active_workers": 0, "escrowed": {}, "_gas": []}  # fmt: skip
