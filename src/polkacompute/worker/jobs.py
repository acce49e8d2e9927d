"""One resumable task per job: from wherever the durable state says it stopped, to done.

    seen -> bid -> assigned -> executed (result, salt and seal stored) -> committed -> opened -> done

Steps that many workers share go through the aggregator (one transaction for a batch); each has a
fallback the worker takes alone when the aggregated call does not come in time: commit its own seal,
reveal its own result on-chain, settle an expired job as a keeper.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from polkacompute.errors import ContentError, NetworkError, PolkaComputeError, TransactionError
from polkacompute.p2p.content import fetch_from_peers
from polkacompute.runtimes import JobPackage
from polkacompute.sdk.jobview import JobView
from polkacompute.sdk.models import JobStatus
from polkacompute.sdk.work import seal_result
from polkacompute.store.http import fetch
from polkacompute.worker.messages import Opening, SealOffer
from polkacompute.worker.state import Phase

if TYPE_CHECKING:
    from polkacompute.worker.daemon import Worker

log = logging.getLogger("polkacompute.worker")
MAX_ATTEMPTS = 12
TERMINAL = {JobStatus.FINALIZED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.RESOLVED}
ACTIVE = (Phase.SEEN, Phase.BID, Phase.ASSIGNED, Phase.EXECUTED, Phase.COMMITTED, Phase.OPENED)


class JobDriver:
    def __init__(self, worker: Worker) -> None:
        self.w = worker
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.wake: dict[int, asyncio.Event] = {}  # set when something happens to a job (event, opening)
        self._since: dict[tuple[int, str], float] = {}  # (job, step) -> monotonic time it started waiting

    def poke(self, job_id: int) -> None:
        self.wake.setdefault(job_id, asyncio.Event()).set()

    def drive(self, job_id: int) -> None:
        task = self.tasks.get(job_id)
        if task is None or task.done():
            self.tasks[job_id] = asyncio.create_task(self._run(job_id), name=f"job-{job_id}")

    async def cancel_all(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)

    async def _run(self, job_id: int) -> None:
        """Drives the job, retrying failed steps with backoff: a step's inputs (the assignee list in
        an instant-mode job, say) can change between reading them and sending, and nodes hiccup."""
        try:
            for attempt in range(MAX_ATTEMPTS):
                try:
                    await self._advance(job_id)
                    return
                except asyncio.CancelledError:
                    raise
                except PolkaComputeError as exc:
                    log.warning("job %d: %s (attempt %d of %d)", job_id, exc, attempt + 1, MAX_ATTEMPTS)
                    if "RecordMismatch" in str(exc):
                        self.w.view.forget(job_id)  # our view of the job is wrong: read it again
                except Exception:
                    log.exception("job %d: unexpected failure (attempt %d of %d)", job_id, attempt + 1, MAX_ATTEMPTS)
                await asyncio.sleep(min(0.1 * 2**attempt, 5.0))
            log.error("job %d: giving up for now (state kept; retried on restart)", job_id)
        finally:
            self.tasks.pop(job_id, None)
            self.wake.pop(job_id, None)

    async def _advance(self, job_id: int) -> None:
        w = self.w
        wake = self.wake.setdefault(job_id, asyncio.Event())
        while True:
            record = w.state.job(job_id)
            if record.phase in (Phase.DONE, Phase.ABANDONED):
                self._done(job_id)
                return
            job = await w.view.get(job_id)
            if job.status in TERMINAL:
                await self._conclude(job_id, job)
                continue
            if record.phase is Phase.SEEN and record.spec["bidWindow"]:
                w.state.advance(job_id, Phase.BID)  # stopped between taking the job and its bid's offer
            elif record.phase is Phase.SEEN:
                await self._claim(job_id)  # instant mode, stopped before its bid's offer: claim at once
            elif record.phase is Phase.BID and self._claim_due(job_id, job):
                await self._claim(job_id)
            elif record.phase is Phase.BID:
                self._bid_outcome(job_id, job)
            elif record.phase is Phase.ASSIGNED:
                await self._execute(job_id, job)
            elif record.phase is Phase.EXECUTED:
                await self._commit(job_id, job)
            elif record.phase is Phase.COMMITTED:
                if job.all_committed or w.now >= job.commit_deadline:
                    self._open(job_id, job)
            elif record.phase is Phase.OPENED:
                await self._finalize_or_reveal(job_id, job)
            if w.state.job(job_id).phase is not record.phase:
                continue  # progress: take the next step at once
            # Sleep until the job's next event or opening, or a tick for what only time changes.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), 0.25 if record.phase is Phase.OPENED else 1.0)
            wake.clear()

    def _done(self, job_id: int) -> None:
        self.w.aggregator.forget(job_id)
        self.w.state.drop_meta(f"assigned_at:{job_id}", f"opened_at:{job_id}")
        self.w.sources.pop(job_id, None)
        for key in [k for k in self._since if k[0] == job_id]:
            del self._since[key]

    def _waited(self, job_id: int, step: str) -> float:
        return time.monotonic() - self._since.setdefault((job_id, step), time.monotonic())

    # ------------------------------------------------------------------ getting the job

    def _claim_due(self, job_id: int, job: JobView) -> bool:
        """Instant mode: our signed bid was offered for one aggregated assignment; we claim alone once
        someone claimed (the aggregated call can no longer happen) or nobody assigned it in time."""
        if job.bid_window or job.index_of(self.w.me) is not None or len(job.assignees) >= job.replicas:
            return False
        return bool(job.assignees) or self._waited(job_id, "claim") >= self.w.config.claim_after

    async def _claim(self, job_id: int) -> None:
        """Instant mode: append ourselves to the assignee list (retrying if others got in first)."""
        w = self.w
        for _ in range(17):
            job = await w.view.get(job_id)
            if len(job.assignees) >= job.replicas or job.index_of(w.me) is not None:
                break
            try:
                await w.pc.chain.send(w.pc.market.functions.claimJob(job_id, job.proof()[0]))
                break
            except TransactionError as exc:
                if "RecordMismatch" not in str(exc) and "JobFull" not in str(exc):
                    w.state.advance(job_id, Phase.ABANDONED, reason=f"could not bid: {exc}")
                    log.info("job %d: could not bid: %s", job_id, exc)
                    return
                await asyncio.sleep(0.05)
                w.view.forget(job_id)  # our list is behind: reloaded below (events meanwhile kept)
        w.state.advance(job_id, Phase.BID)
        w.metrics.jobs.labels("bid").inc()
        self._bid_outcome(job_id, await w.view.get(job_id))

    def _bid_outcome(self, job_id: int, job: JobView) -> None:
        w = self.w
        index = job.index_of(w.me)
        if index is not None:
            w.state.advance(job_id, Phase.ASSIGNED, my_index=index, assignees=[list(a) for a in job.assignees])
            log.info("job %d: assigned (index %d of %d)", job_id, index, len(job.assignees))
            w.metrics.jobs.labels("won").inc()
            w.state.set_meta(f"assigned_at:{job_id}", str(time.time()))
        elif job.assignment_final or (job.assignees and job.bid_window > 0):
            w.state.advance(job_id, Phase.ABANDONED, reason="not selected")
        elif w.now >= job.commit_deadline:
            w.state.advance(job_id, Phase.ABANDONED, reason="never assigned")

    # ------------------------------------------------------------------ running and committing

    async def _execute(self, job_id: int, job: JobView) -> None:
        w = self.w
        record = w.state.job(job_id)
        spec = record.spec
        runtime = w.runtimes[bytes.fromhex(spec["runtimeId"])]
        digests = bytes.fromhex(spec["programDigest"]), bytes.fromhex(spec["inputDigest"])
        package = JobPackage.from_chain(runtime, *digests, spec["fuelLimit"], spec["timeLimit"])
        # The requester's announced sources first (they published the content), then the other assignees.
        peers = [*w.sources.get(job_id, ()), *(p for p in await w.peer_addresses(job.assignees) if p)]
        try:
            for cid in (package.program, package.input):
                await self._fetch(cid, peers)
            w.provide(package.program)  # programs are run again: others may fetch them here
        except ContentError as exc:
            # It may yet appear: a requester's announcement naming a source, a late publish, a peer.
            if (
                self._waited(job_id, "content") < w.config.content_patience
                and w.now < job.commit_deadline - w.config.deadline_margin
            ):
                log.warning("job %d: content not found yet, looking again: %s", job_id, exc)
                return  # the job's next tick (or an announcement's poke) tries again
            log.error("job %d: content unavailable, not committing: %s", job_id, exc)
            w.state.advance(job_id, Phase.ABANDONED, reason=f"content unavailable: {exc}")
            return
        future = w.pool.submit_package(runtime.name, package.to_json(), w.store.directory, job_id)
        with w.metrics.execution.time():
            result = await asyncio.wrap_future(future)
        w.metrics.fuel.inc(result.fuel_used)
        if not result.status.canonical:
            log.error("job %d: %s; no canonical result, not committing", job_id, result.detail)
            w.state.advance(job_id, Phase.ABANDONED, reason=f"timeout: {result.detail}")
            return
        # What requesters fetch (it holds the output); written off the event loop.
        result_cid = await asyncio.to_thread(w.store.put, result.canonical_bytes(), "dag-cbor")
        sealed = seal_result(job_id, w.me, result.digest)
        w.state.advance(
            job_id,
            Phase.EXECUTED,
            result_digest=sealed.result_digest,
            result_cid=result_cid,
            salt=sealed.salt,
            seal=sealed.seal,
        )  # fmt: skip  (durable before any commit)
        log.info("job %d: executed: %s, result %s (fuel %d)", job_id, result.status.value, result_cid, result.fuel_used)
        w.metrics.jobs.labels("executed").inc()

    async def _fetch(self, cid: str, peers: list[str]) -> None:
        """From the configured gateways, else from `peers` (gateway URLs over HTTP, multiaddrs over
        libp2p), else from whoever the DHT says provides it."""
        w = self.w
        urls = [*w.config.content_sources, *(p for p in peers if p.startswith("http"))]
        addrs = [p for p in peers if p.startswith("/")]
        try:
            await fetch(cid, urls, store=w.store, session=w.http)
        except ContentError:
            if w.node is None:
                raise
            try:
                await fetch_from_peers(w.node, cid, addrs, store=w.store)
            except ContentError as exc:
                try:
                    providers = await w.node.find_providers(cid)
                except NetworkError as lookup:
                    raise ContentError(f"{exc}; and the DHT lookup failed: {lookup}") from lookup
                if not providers:
                    raise ContentError(f"{exc}; and the DHT knows no provider") from exc
                log.info("%s: from the DHT's providers %s", cid, providers)
                await fetch_from_peers(w.node, cid, providers, store=w.store)

    async def _commit(self, job_id: int, job: JobView) -> None:
        """Offers the seal for the batch's one `commitSeals`; commits alone if that does not come in time."""
        w = self.w
        index = job.index_of(w.me)
        if job.assignment_final and index is not None and index != w.state.job(job_id).my_index:
            # An instant-mode list seen mid-growth: the seal does not depend on the index, so take the final one.
            w.state.advance(job_id, Phase.EXECUTED, my_index=index)
        record = w.state.job(job_id)
        assert record.my_index is not None
        assert record.seal is not None
        if job.seals.get(record.my_index) == record.seal:
            w.state.advance(job_id, Phase.COMMITTED)
            w.metrics.jobs.labels("committed").inc()
            return
        batch = job.batch or (job_id,)
        if job.assignment_final and not job.seals and (job_id, "offer") not in self._since:
            self._offer(batch, job)
        # Acting alone costs a transaction per job: only when the batch's commit left us out, or it did not
        # come for `alone_after` seconds (a dead leader line, not a busy one), or the deadline nears.
        late = self._waited(job_id, "offer") >= w.config.alone_after
        if job.seals or not job.assignment_final or late or w.now >= job.commit_deadline - w.config.deadline_margin:
            fn = w.pc.market.functions.commit(job_id, job.proof(), record.my_index, record.seal)
            if await self.guarded(job_id, "commit", fn):
                w.state.advance(job_id, Phase.COMMITTED)
                w.metrics.jobs.labels("committed").inc()
                log.info("job %d: seal committed alone", job_id)

    def _offer(self, batch: tuple[int, ...], job: JobView) -> None:
        """Once every job of the batch we hold has run, offers all their seals in one signed message."""
        w = self.w
        records = []
        for other in batch:
            with contextlib.suppress(KeyError):
                records.append(w.state.job(other))
        if any(r.phase is Phase.ASSIGNED for r in records):
            return  # the last one to run makes the offer
        items = [(r.job_id, r.my_index, r.seal) for r in records if r.phase is Phase.EXECUTED and r.seal]
        for r in records:
            self._since.setdefault((r.job_id, "offer"), time.monotonic())
        if not items:
            return
        offer = SealOffer.signed(w.config.signer, items, w.pc.network.chain_id, w.pc.deployment.address("JobMarket"))  # type: ignore[arg-type]
        w.state.sync()  # the salts are on disk before their seals leave
        w.aggregator.add_seals(offer)
        w.send_to(job.assignees, "seals", offer.to_json())

    # ------------------------------------------------------------------ opening and getting paid

    def _open(self, job_id: int, job: JobView) -> None:
        w = self.w
        record = w.state.job(job_id)
        assert record.my_index is not None
        assert record.result_digest is not None
        assert record.salt is not None
        opening = Opening(job_id, record.my_index, w.me, record.result_digest, record.salt)
        w.aggregator.publish_opening(opening, job.assignees)
        grown = {} if record.assignees == job.assignees else {"assignees": [list(a) for a in job.assignees]}
        w.state.advance(job_id, Phase.OPENED, **grown)
        w.state.set_meta(f"opened_at:{job_id}", str(time.time()))  # wall clock: survives restarts

    async def _finalize_or_reveal(self, job_id: int, job: JobView) -> None:
        """The first opener in index order finalizes with every matching opening; the next takes over
        after a grace period; if nobody finalized in time, each reveals its own on-chain."""
        w = self.w
        grace = w.config.finalize_grace
        record = w.state.job(job_id)
        assert record.my_index is not None
        assert record.result_digest is not None
        waited = time.time() - float(w.state.get_meta(f"opened_at:{job_id}") or time.time())
        mine = sorted(i for i, o in w.aggregator.openings.get(job_id, {}).items() if o.digest == record.result_digest)
        rank = mine.index(record.my_index) if record.my_index in mine else 0
        # Everyone's opening in one finalize pays everyone in one transaction; with only a quorum, the
        # leader waits for the rest, longer for live ones (stragglers are paid by their own reveal).
        missing = [a for i, (a, _) in enumerate(job.assignees) if i not in mine]
        if len(mine) >= job.quorum and waited >= rank * grace + w.aggregator.patience(missing):
            w.aggregator.finalize_soon(job_id, record.result_digest, mine)
        elif w.now > job.reveal_deadline:  # nobody finalized in time: settle it, as any keeper would
            with contextlib.suppress(TransactionError):
                await w.pc.work.settle(job_id, job.proof())
        elif self._reveal_due(job, waited) and w.state.may_send(job_id, "reveal"):
            fn = w.pc.market.functions.reveal(job_id, job.proof(), record.my_index, record.result_digest, record.salt)
            with contextlib.suppress(TransactionError):
                await self.guarded(job_id, "reveal", fn)
                log.info("job %d: no aggregated finalize after %.1fs: revealed on-chain", job_id, waited)

    def _reveal_due(self, job: JobView, waited: float) -> bool:
        config = self.w.config
        return waited >= config.alone_after or self.w.now >= job.reveal_deadline - config.deadline_margin

    async def _conclude(self, job_id: int, job: JobView) -> None:
        """A finalized job pays agreeing assignees: an opener in the finalize call already is; one that
        revealed before finalization claims; one that never opened (say it crashed) reveals now, until
        the reveal deadline, and is paid by that reveal."""
        w = self.w
        record = w.state.job(job_id)
        paid = w.me in job.paid
        committed = record.phase in (Phase.COMMITTED, Phase.OPENED)
        agreed = record.result_digest == job.result_digest and record.my_index is not None
        if job.status in (JobStatus.FINALIZED, JobStatus.RESOLVED) and committed and agreed and not paid:
            if record.my_index in job.revealed:
                kind, fn = "claim", w.pc.market.functions.claimPayout(job_id, job.proof(), record.my_index)
            else:
                kind, fn = "reveal", w.pc.market.functions.reveal(job_id, job.proof(), record.my_index,
                                                                  record.result_digest, record.salt)  # fmt: skip
            try:
                await self.guarded(job_id, kind, fn)
                log.info("job %d: paid through %s", job_id, kind)
            except TransactionError as exc:
                log.warning("job %d: could not get paid (%s): %s", job_id, kind, exc)
        w.state.advance(job_id, Phase.DONE, reason=job.status.name.lower())
        self._account(job_id, job)
        log.info("job %d: %s", job_id, job.status.name.lower())

    def _account(self, job_id: int, job: JobView) -> None:
        """Metrics of a job that ended: its stage, our payout or slash, its latency."""
        w = self.w
        w.metrics.jobs.labels(
            "finalized" if job.status in (JobStatus.FINALIZED, JobStatus.RESOLVED) else "failed"
        ).inc()
        w.metrics.earnings.inc(job.paid.get(w.me, 0))
        if w.me in job.slashed:
            w.metrics.slashes.inc()
        if started := w.state.get_meta(f"assigned_at:{job_id}"):
            w.metrics.latency.observe(max(time.time() - float(started), 0.0))

    async def guarded(self, job_id: int, kind: str, fn: Any) -> bool:
        """Sends `fn` once per (job, kind): the intent is durable before sending, the hash right after."""
        w = self.w
        if not w.state.may_send(job_id, kind):
            for tx in w.state.txs(job_id, kind):
                if tx.tx_hash and tx.state.value == "sent":  # sent before a crash: wait for its receipt
                    receipt = await w.pc.chain.wait(tx.tx_hash)
                    w.state.settled(tx.id, receipt["status"] == 1)
            if not w.state.may_send(job_id, kind):
                return True  # it was mined
            # it was mined but reverted: send it again below
        tx_id = w.state.intend(job_id, kind)
        w.state.sync()
        try:
            await w.pc.chain.send(fn, on_sent=lambda tx_hash: w.state.sent(tx_id, tx_hash))
        except TransactionError as exc:
            w.state.settled(tx_id, ok=False, detail=str(exc))
            raise
        w.state.settled(tx_id, ok=True)
        return True
