"""Follows every PolkaCompute event into SQL: confirmed blocks only, reorgs rewound, resumable.

Each pass reads from the saved cursor to `confirmations` blocks below the head, in batches of
`batch` blocks (one getLogs per batch), and commits a batch's blocks, events and rebuilt jobs with
the cursor in one transaction: a crash repeats at most the batch in hand. Before reading, the hash of
the last indexed block is compared with the chain's; if the chain no longer has it, the indexer walks
back to the last block both agree on and deletes what came after (events, blocks, and the jobs they
touched, rebuilt from the events that remain). Jobs are rebuilt from their events alone, with the
worker's own `JobView`; providers from the registry's running totals (`providers.py`); the escrow's
ledger as the escrow keeps it (`escrow.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session
from web3.types import RPCEndpoint

from polkacompute.chain.events import LogReader
from polkacompute.errors import NetworkError
from polkacompute.indexer import escrow, providers
from polkacompute.indexer.schema import Assignment, Block, EventJob, EventRow, JobRow, Meta, Transaction
from polkacompute.indexer.store import event_of, from_json, to_json
from polkacompute.sdk.client import AsyncClient
from polkacompute.sdk.jobview import JobView, jobs_named

log = logging.getLogger(__name__)
ENDED = {"FINALIZED", "FAILED", "CANCELLED", "RESOLVED"}
REBUILD_CHUNK = 500  # jobs rebuilt per query
REORG_PAGE = 64  # stored blocks compared with the chain per query when looking for a fork
RECEIPTS_AT_ONCE = 32  # receipt requests in flight (gas per transaction)


class Indexer:
    def __init__(self, client: AsyncClient, engine: Engine, *, confirmations: int = 2, batch: int = 500) -> None:
        self._c = client
        self.engine = engine
        self.confirmations = confirmations
        self.batch = batch
        self._reader = LogReader(client.chain, client.deployment.addresses)

    # ------------------------------------------------------------------ passes

    async def follow(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Indexes until `stop` is set, a pass every `interval` seconds."""
        while not stop.is_set():
            await self.sync()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def sync(self) -> int:
        """One pass up to the confirmed head; returns how many events it added."""
        with Session(self.engine) as session, session.begin():
            if session.get(Meta, "ledgers_built") is None:  # a database indexed before they were kept
                providers.rebuild(session)
                escrow.rebuild(session)
                self._rebuild(session, set(session.scalars(select(EventJob.job_id).distinct())))
                _set(session, "ledgers_built", 1)
        await self._rewind_if_reorged()
        head = await self._c.chain.block_number() - self.confirmations
        start = self.next_block()
        added = 0
        while start <= head:
            end = min(head, start + self.batch - 1)
            events = await self._reader.read(start, end)
            numbers = sorted({e.block_number for e in events} | {end})  # `end` anchors reorg detection
            blocks = await asyncio.gather(*(self._c.chain.w3.eth.get_block(n) for n in numbers))
            receipts = await self._receipts({e.tx_hash for e in events})
            with Session(self.engine) as session, session.begin():
                for block in blocks:
                    session.merge(Block(number=int(block["number"]), hash=_hex(block["hash"]),
                                        timestamp=int(block["timestamp"])))  # fmt: skip
                rows = [EventRow(block_number=e.block_number, log_index=e.log_index, tx_hash=e.tx_hash,
                                 contract=e.contract, name=e.name, args=to_json(e.args)) for e in events]  # fmt: skip
                session.add_all(rows)
                session.add_all(_transaction(r) for r in receipts)  # new: a reorg deletes a block's rows first
                session.flush()  # one multi-row insert; the ids are known from here
                touched: set[int] = set()
                for e, row in zip(events, rows, strict=True):
                    for job_id in jobs_named(e):
                        session.add(EventJob(event_id=row.id, job_id=job_id))
                        touched.add(job_id)
                    for ledger in (providers, escrow):  # running state, event by event, in chain order
                        if e.name in ledger.EVENTS:
                            ledger.apply(session, e)
                            session.flush()
                session.flush()
                self._rebuild(session, touched)
                _set(session, "next_block", end + 1)
            added += len(events)
            start = end + 1
        return added

    def next_block(self) -> int:
        with Session(self.engine) as session:
            value = session.get(Meta, "next_block")
            return int(value.value) if value else self._c.deployment.block

    async def _receipts(self, tx_hashes: set[str]) -> list[Any]:
        """The receipts of `tx_hashes` (their gas), RECEIPTS_AT_ONCE requests in flight at a time."""
        limit = asyncio.Semaphore(RECEIPTS_AT_ONCE)

        async def one(tx_hash: str) -> Any:
            async with limit:  # the raw JSON: web3's receipt formatters cost more than the request
                response = await self._c.chain.w3.provider.make_request(RPCEndpoint("eth_getTransactionReceipt"),
                                                                        [tx_hash])  # fmt: skip
            if not response.get("result"):
                raise NetworkError(f"the node has no receipt for {tx_hash}, whose events it returned")
            return response["result"]

        return list(await asyncio.gather(*(one(h) for h in sorted(tx_hashes))))

    async def _rewind_if_reorged(self) -> None:
        newest, fork = None, None
        below: int | None = None
        while fork is None:  # newest first, a page at a time: usually the very first block matches
            with Session(self.engine) as session:
                query = select(Block).order_by(Block.number.desc()).limit(REORG_PAGE)
                page = session.scalars(query if below is None else query.where(Block.number < below)).all()
            if not page:
                break
            newest = newest if newest is not None else page[0].number
            for block in page:
                if _hex((await self._c.chain.w3.eth.get_block(block.number))["hash"]) == block.hash:
                    fork = block.number
                    break
            below = page[-1].number
        if newest is None or fork == newest:
            return
        keep = fork if fork is not None else self._c.deployment.block - 1
        log.warning("reorg: the chain no longer has blocks %d..%d as indexed; rewinding to %d",
                    keep + 1, newest, keep)  # fmt: skip
        with Session(self.engine) as session, session.begin():
            gone = select(EventRow.id).where(EventRow.block_number > keep)
            touched = set(session.scalars(select(EventJob.job_id).where(EventJob.event_id.in_(gone))))
            session.execute(delete(EventJob).where(EventJob.event_id.in_(gone)))
            session.execute(delete(EventRow).where(EventRow.block_number > keep))
            session.execute(delete(Block).where(Block.number > keep))
            session.execute(delete(Transaction).where(Transaction.block_number > keep))
            self._rebuild(session, touched)
            providers.rebuild(session)
            escrow.rebuild(session)
            _set(session, "next_block", keep + 1)

    # ------------------------------------------------------------------ jobs

    def _rebuild(self, session: Session, job_ids: Iterable[int]) -> None:
        """Each job's row from its events (none left: the row goes), a chunk of jobs per query."""
        ids = sorted(set(job_ids))
        for i in range(0, len(ids), REBUILD_CHUNK):
            chunk = ids[i : i + REBUILD_CHUNK]
            found: dict[int, list[EventRow]] = {j: [] for j in chunk}
            for job_id, row in session.execute(
                select(EventJob.job_id, EventRow).join(EventRow, EventJob.event_id == EventRow.id)
                .where(EventJob.job_id.in_(chunk)).order_by(EventRow.block_number, EventRow.log_index)
            ):  # fmt: skip
                found[job_id].append(row)
            existing = {r.job_id: r for r in session.scalars(select(JobRow).where(JobRow.job_id.in_(chunk)))}
            session.execute(delete(Assignment).where(Assignment.job_id.in_(chunk)))
            events = [r for rows in found.values() for r in rows]
            times = dict(session.execute(select(Block.number, Block.timestamp)
                                         .where(Block.number.in_({r.block_number for r in events}))).all())  # fmt: skip
            shares = _gas_shares(session, {r.tx_hash for r in events})
            for job_id, rows in found.items():
                job = self._rebuild_one(session, job_id, rows, existing.get(job_id))
                if job is not None:
                    job.submitted_time = times.get(job.submitted_block)
                    job.ended_time = times.get(job.ended_block) if job.ended_block is not None else None
                    job.gas_used = round(sum(shares.get(h, 0) for h in {r.tx_hash for r in rows})) or None

    def _rebuild_one(self, session: Session, job_id: int, rows: list[EventRow], row: JobRow | None) -> JobRow | None:
        submitted = next((r for r in rows if r.name == "JobSubmitted"), None)
        if submitted is None:
            if row is not None:
                session.delete(row)
            return None
        view = JobView(job_id)
        for event in rows:
            view.apply(event_of(event))
        spec = from_json(submitted.args["spec"])
        ended = next((r.block_number for r in reversed(rows) if r.name in _ENDING), None)
        if row is None:
            row = JobRow(job_id=job_id)
            session.add(row)
        row.requester, row.status = str(submitted.args["requester"]), view.status.name
        row.runtime, row.replicas, row.quorum = "0x" + bytes(spec["runtimeId"]).hex(), view.replicas, view.quorum
        row.assignees, row.submitted_block = [w for w, _ in view.assignees], submitted.block_number
        row.ended_block = ended if view.status.name in ENDED else None
        row.result_digest = view.result_digest
        row.paid = {k: str(v) for k, v in view.paid.items()}
        row.slashed = {k: str(v) for k, v in view.slashed.items()}
        for index, (worker, price) in enumerate(view.assignees):
            session.add(Assignment(job_id=job_id, index=index, worker=worker, price=str(price)))
        return row

    def job_count(self) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(JobRow)) or 0)


_ENDING = {"JobFinalized", "JobFailed", "JobCancelled", "DisputeResolved"}


def _gas_shares(session: Session, tx_hashes: set[str]) -> dict[str, float]:
    """Each transaction's gas divided among the jobs its events name (a batch shares its cost)."""
    if not tx_hashes:
        return {}
    gas = dict(session.execute(select(Transaction.tx_hash, Transaction.gas_used)
                               .where(Transaction.tx_hash.in_(tx_hashes))).all())  # fmt: skip
    jobs = dict(session.execute(
        select(EventRow.tx_hash, func.count(func.distinct(EventJob.job_id)))
        .join(EventJob, EventJob.event_id == EventRow.id).where(EventRow.tx_hash.in_(tx_hashes))
        .group_by(EventRow.tx_hash)
    ).all())  # fmt: skip
    return {h: gas[h] / jobs[h] for h in gas if jobs.get(h)}


def _transaction(receipt: dict[str, Any]) -> Transaction:
    return Transaction(tx_hash=receipt["transactionHash"], block_number=int(receipt["blockNumber"], 16),
                       gas_used=int(receipt["gasUsed"], 16),
                       gas_price=str(int(receipt.get("effectiveGasPrice") or "0x0", 16)))  # fmt: skip


def _set(session: Session, key: str, value: int) -> None:
    session.merge(Meta(key=key, value=str(value)))


def _hex(value: object) -> str:
    return "0x" + bytes(value).hex() if not isinstance(value, str) else value  # type: ignore[call-overload]
