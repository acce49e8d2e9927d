"""The worker daemon: follows the market, bids, runs assigned jobs, commits, opens and gets paid.

One asyncio service. Events move jobs into the durable state (`state.py`); one task per job then
drives it from wherever the state says it stopped, so a restarted worker resumes every job:
    assigned -> executed (result, salt and seal stored) -> committed -> opened -> done.
Opening: once every assignee committed, each sends its signed opening to the others; the first
committed assignee in index order finalizes with a quorum of matching openings, the next one takes
over after `finalize_grace` seconds, and if nobody finalized in time each reveals its own on-chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from polkacompute.chain.events import Cursor, Event, LogReader
from polkacompute.errors import ContentError, PolkaComputeError, TransactionError
from polkacompute.runtimes import JobPackage, Runtime, get_runtime
from polkacompute.sandbox import SandboxPool
from polkacompute.sdk.client import AsyncClient
from polkacompute.sdk.models import JobStatus
from polkacompute.sdk.work import Sealed, seal_result
from polkacompute.store import ContentStore, cid_from_digest
from polkacompute.store.http import Gateway, fetch
from polkacompute.worker.config import WorkerConfig
from polkacompute.worker.metrics import Metrics
from polkacompute.worker.openings import HttpOpenings, Opening
from polkacompute.worker.state import Phase, WorkerState

log = logging.getLogger("polkacompute.worker")
MAX_ATTEMPTS = 12
TERMINAL = {JobStatus.FINALIZED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.RESOLVED}


class Worker:
    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.me = config.signer.address
        config.directory.mkdir(parents=True, exist_ok=True)
        self.state = WorkerState(config.directory / "state.db")
        self.store = ContentStore(config.directory / "store")
        self.gateway = Gateway(self.store)
        self.channel = HttpOpenings(self.gateway.app, self._receive_opening)
        self.metrics = Metrics()
        self.metrics.attach(self.gateway.app)
        self.runtimes: dict[bytes, Runtime] = {}
        for name in config.runtimes:
            try:
                runtime = get_runtime(name)
                self.runtimes[runtime.identity] = runtime
            except PolkaComputeError as exc:
                log.warning("runtime %s unavailable, not offered: %s", name, exc)
        self._openings: dict[int, dict[int, Opening]] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._wake: dict[int, asyncio.Event] = {}  # set when something happens to a job (event, opening)
        self._peers: dict[str, str] = {}
        self.url = ""

    # ------------------------------------------------------------------ service

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        config = self.config
        async with AsyncClient(config.network, signer=config.signer) as pc:
            self.pc = pc
            url = await self.gateway.start(config.host, config.port)
            self.url = config.public_url or url
            self.pool = SandboxPool(config.executor_processes, cache_dir=config.directory / "modules")
            try:
                reader = LogReader(pc.chain, pc.deployment.addresses)
                self.reader = reader
                await self._ensure_registered()
                start = int(self.state.get_meta("next_block") or pc.deployment.block)
                for record in self.state.jobs(Phase.BID, *self._active_phases()):
                    self._drive(record.job_id)  # resume where the last run stopped
                log.info("worker %s serving %s; following from block %d", self.me, self.url, start)
                if ready is not None:
                    ready.set()
                poll = config.poll_interval
                withdrawing = asyncio.create_task(self._withdraw_periodically(stop), name="withdraw")
                self._tasks[-1] = withdrawing
                async for batch in reader.follow(Cursor(start), stop=stop, poll_interval=poll):
                    for event in batch:
                        await self._on_event(event)
                    self.state.set_meta("next_block", str(batch[-1].block_number + 1))
                    self.metrics.in_flight.set(len(self.state.in_flight()))
            finally:
                for task in self._tasks.values():
                    task.cancel()
                await asyncio.gather(*self._tasks.values(), return_exceptions=True)
                self.pool.close()
                await self.gateway.stop()

    @staticmethod
    def _active_phases() -> tuple[Phase, ...]:
        return (Phase.ASSIGNED, Phase.EXECUTED, Phase.COMMITTED, Phase.OPENED)

    async def _ensure_registered(self) -> None:
        info = await self.pc.providers.info(self.me)
        if info.status == 1:
            if (await self._peer_urls([(self.me, 0)]))[0] != self.url:  # restarted on another address
                region = info.region.encode().ljust(8, b"\x00")
                fn = self.pc.registry.functions.updateProfile(info.capabilities, info.metadata_digest,
                                                              self.url.encode(), region)  # fmt: skip
                await self.pc.chain.send(fn)
                self._peers[self.me] = self.url
                log.info("registered address updated to %s", self.url)
            return
        if self.config.stake <= 0:
            log.warning("%s is not a registered provider and no stake was given: it will not win jobs", self.me)
            return
        await self.pc.providers.register(stake=self.config.stake, capabilities=self.config.capabilities,
                                         peer_id=self.url.encode())  # fmt: skip
        log.info("registered %s with stake %d wei, reachable at %s", self.me, self.config.stake, self.url)

    # ------------------------------------------------------------------ events

    def _poke(self, job_id: int) -> None:
        self._wake.setdefault(job_id, asyncio.Event()).set()

    async def _on_event(self, event: Event) -> None:
        for job_id in _jobs_named(event):
            self._poke(job_id)
        if event.name == "JobSubmitted":
            await self._consider(int(event.args["jobId"]), event.args["spec"])
        elif event.name in ("JobAssigned", "BatchAssigned") and self.me in event.args["workers"]:
            ids = event.args["jobIds"] if event.name == "BatchAssigned" else [event.args["jobId"]]
            for job_id in ids:
                await self._assigned(int(job_id))
        elif event.name in ("JobFinalized", "JobFailed", "JobCancelled", "SealCommitted", "ResultRevealed"):
            job_id = int(event.args["jobId"])
            if job_id not in self._tasks and self._known(job_id):
                self._drive(job_id)

    def _known(self, job_id: int) -> bool:
        try:
            return self.state.job(job_id).phase not in (Phase.DONE, Phase.ABANDONED)
        except KeyError:
            return False

    async def _consider(self, job_id: int, spec: dict[str, Any]) -> None:
        plain = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in spec.items()}
        if not self.state.see(job_id, plain):
            return  # seen before (events are redelivered after a restart)
        self.metrics.jobs.labels("seen").inc()
        reason = self._decline_reason(spec)
        if reason:
            self.metrics.jobs.labels("declined").inc()
            self.state.advance(job_id, Phase.ABANDONED, reason=reason)
            log.info("job %d declined: %s", job_id, reason)
            return
        try:
            if spec["bidWindow"] == 0:
                await self._claim(job_id)
            else:
                await self._guarded(job_id, "bid", self.pc.chain.contract("BidBook", self.pc.deployment.address(
                    "BidBook")).functions.bid(job_id, self.config.pricing.quote(spec["fuelLimit"]), 600))  # fmt: skip
        except TransactionError as exc:
            self.state.advance(job_id, Phase.ABANDONED, reason=f"could not bid: {exc}")
            log.info("job %d: could not bid: %s", job_id, exc)
            return
        self.state.advance(job_id, Phase.BID)
        self.metrics.jobs.labels("bid").inc()
        self._drive(job_id)

    def _decline_reason(self, spec: dict[str, Any]) -> str:
        if bytes(spec["runtimeId"]) not in self.runtimes:
            return f"runtime 0x{bytes(spec['runtimeId']).hex()[:16]}... is not offered here"
        if spec["requiredCapabilities"] & ~self.config.capabilities:
            return "capabilities not offered"
        if spec["fuelLimit"] > self.config.max_fuel:
            return f"fuel limit {spec['fuelLimit']} is over this worker's {self.config.max_fuel}"
        if spec["paymentToken"] != "0x" + "00" * 20:
            return "only native-token budgets are accepted"
        if spec["confidential"]:
            return "confidential jobs are not supported"
        quote = self.config.pricing.quote(spec["fuelLimit"])
        if spec["maxPricePerReplica"] < quote:
            return f"max price {spec['maxPricePerReplica']} is below the quote {quote}"
        return ""

    async def _claim(self, job_id: int) -> None:
        """Instant mode: append ourselves to the assignee list (retrying if others got in first)."""
        for _ in range(17):
            current = (await self.pc.work.proof(job_id))[0]
            try:
                await self.pc.chain.send(self.pc.market.functions.claimJob(job_id, current))
                return
            except TransactionError as exc:
                if "RecordMismatch" not in str(exc):
                    raise
        raise TransactionError(f"job {job_id}: the assignee list kept changing")

    async def _assigned(self, job_id: int) -> None:
        proof = await self.pc.work.proof(job_id)
        workers = [w for w, _ in proof[0]]
        if self.me not in workers:
            return
        try:
            record = self.state.job(job_id)
        except KeyError:
            return
        if record.phase in (Phase.SEEN, Phase.BID):
            self.state.advance(job_id, Phase.ASSIGNED, my_index=workers.index(self.me),
                               assignees=[list(a) for a in proof[0]])  # fmt: skip
            log.info("job %d: assigned (index %d of %d)", job_id, workers.index(self.me), len(workers))
            self.metrics.jobs.labels("won").inc()
            self.state.set_meta(f"assigned_at:{job_id}", str(time.time()))
        self._drive(job_id)

    # ------------------------------------------------------------------ driving one job

    def _drive(self, job_id: int) -> None:
        task = self._tasks.get(job_id)
        if task is None or task.done():
            self._tasks[job_id] = asyncio.create_task(self._run_job(job_id), name=f"job-{job_id}")

    async def _run_job(self, job_id: int) -> None:
        """Drives the job, retrying failed steps with backoff: a step's inputs (the assignee list in
        an instant-mode job, say) can change between reading them and sending, and nodes hiccup."""
        for attempt in range(MAX_ATTEMPTS):
            try:
                await self._advance(job_id)
                return
            except asyncio.CancelledError:
                raise
            except PolkaComputeError as exc:
                log.warning("job %d: %s (attempt %d of %d)", job_id, exc, attempt + 1, MAX_ATTEMPTS)
            except Exception:
                log.exception("job %d: unexpected failure (attempt %d of %d)", job_id, attempt + 1, MAX_ATTEMPTS)
            await asyncio.sleep(min(0.1 * 2**attempt, 5.0))
        log.error("job %d: giving up for now (state kept; retried on restart)", job_id)

    async def _advance(self, job_id: int) -> None:
        wake = self._wake.setdefault(job_id, asyncio.Event())
        while True:
            record = self.state.job(job_id)
            job = await self.pc.jobs.get(job_id)
            if record.phase in (Phase.DONE, Phase.ABANDONED):
                return
            if record.phase is Phase.BID:
                if not await self._wait_assignment(job_id, job.bid_deadline, job.status):
                    return
            elif job.status in TERMINAL:
                await self._conclude(job_id, job.status)
                return
            elif record.phase is Phase.ASSIGNED:
                await self._execute(job_id)
            elif record.phase is Phase.EXECUTED:
                await self._commit(job_id)
            elif record.phase is Phase.COMMITTED:
                if job.committed == job.assigned or await self.pc.now() >= job.commit_deadline:
                    await self._open(job_id)
            elif record.phase is Phase.OPENED:
                await self._finalize_or_reveal(job_id, job)
            if self.state.job(job_id).phase is not record.phase:
                continue  # progress: take the next step at once
            # Sleep until the job's next event or opening, or a tick for what only time changes
            # (deadlines, the finalize grace).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self._tick(record.phase))
            wake.clear()

    def _tick(self, phase: Phase) -> float:
        return min(self.config.finalize_grace / 4, 0.5) if phase is Phase.OPENED else 1.0

    async def _wait_assignment(self, job_id: int, bid_deadline: int, status: JobStatus) -> bool:
        """In bid mode, after the window anyone may assign: we do, if nobody has yet."""
        if status is JobStatus.OPEN and bid_deadline and await self.pc.now() >= bid_deadline:
            with contextlib.suppress(TransactionError):  # someone else assigned it first
                await self.pc.chain.send(self.pc.market.functions.assign(job_id))
        if status not in (JobStatus.OPEN,):
            await self._assigned(job_id)
            if self.state.job(job_id).phase is Phase.BID:
                self.state.advance(job_id, Phase.ABANDONED, reason="not selected")
                return False
        return True

    async def _execute(self, job_id: int) -> None:
        record = self.state.job(job_id)
        spec = record.spec
        runtime = self.runtimes[bytes.fromhex(spec["runtimeId"])]
        digests = bytes.fromhex(spec["programDigest"]), bytes.fromhex(spec["inputDigest"])
        package = JobPackage.from_chain(runtime, *digests, spec["fuelLimit"], spec["timeLimit"])
        sources = [*self.config.content_sources, *[u for u in await self._peer_urls(record.assignees) if u]]
        try:
            for cid in (package.program, package.input):
                await fetch(cid, sources, store=self.store)
        except ContentError as exc:
            log.error("job %d: content unavailable, not committing: %s", job_id, exc)
            self.state.advance(job_id, Phase.ABANDONED, reason=f"content unavailable: {exc}")
            return
        future = self.pool.submit_package(runtime.name, package.to_json(), self.store.directory, job_id)
        with self.metrics.execution.time():
            result = await asyncio.wrap_future(future)
        self.metrics.fuel.inc(result.fuel_used)
        if not result.status.canonical:
            log.error("job %d: %s; no canonical result, not committing", job_id, result.detail)
            self.state.advance(job_id, Phase.ABANDONED, reason=f"timeout: {result.detail}")
            return
        result_cid = self.store.put(result.canonical_bytes(), "dag-cbor")
        self.store.put(result.output)
        sealed = seal_result(job_id, self.me, result.digest)
        self.state.advance(
            job_id,
            Phase.EXECUTED,
            result_digest=sealed.result_digest,
            result_cid=result_cid,
            salt=sealed.salt,
            seal=sealed.seal,
        )  # fmt: skip  (durable before the commit)
        log.info("job %d: executed: %s, result %s (fuel %d)", job_id, result.status.value, result_cid, result.fuel_used)
        self.metrics.jobs.labels("executed").inc()

    async def _commit(self, job_id: int) -> None:
        record = self.state.job(job_id)
        proof = await self.pc.work.proof(job_id)
        assert record.my_index is not None
        assert record.seal is not None
        fn = self.pc.market.functions.commit(job_id, proof, record.my_index, record.seal)
        if await self._guarded(job_id, "commit", fn):
            self.state.advance(job_id, Phase.COMMITTED)
            self.metrics.jobs.labels("committed").inc()
            log.info("job %d: seal committed", job_id)

    async def _refresh_assignees(self, job_id: int) -> list[tuple[str, int]]:
        """The full assignee list from the chain (in instant mode it grows after our own claim)."""
        assignees = [(str(w), int(p)) for w, p in (await self.pc.work.proof(job_id))[0]]
        record = self.state.job(job_id)
        if assignees != record.assignees:
            self.state.advance(job_id, record.phase, assignees=[list(a) for a in assignees])
        return assignees

    async def _open(self, job_id: int) -> None:
        await self._refresh_assignees(job_id)  # every assignee has committed: the list is final
        record = self.state.job(job_id)
        assert record.my_index is not None
        assert record.result_digest is not None
        assert record.salt is not None
        opening = Opening(job_id, record.my_index, self.me, record.result_digest, record.salt).signed(
            self.config.signer, self.pc.network.chain_id, self.pc.deployment.address("JobMarket")
        )
        self._openings.setdefault(job_id, {})[record.my_index] = opening
        others = [a for a in record.assignees if a[0] != self.me]
        peers = [u for u in await self._peer_urls(others) if u]
        accepted = await self.channel.publish(opening, peers)
        self.state.advance(job_id, Phase.OPENED)
        self.state.set_meta(f"opened_at:{job_id}", str(time.time()))  # wall clock: survives restarts
        log.info("job %d: opening sent to %d of %d peers", job_id, accepted, len(others))

    async def _finalize_or_reveal(self, job_id: int, job: Any) -> None:
        record = self.state.job(job_id)
        assert record.my_index is not None
        assert record.result_digest is not None
        opened_at = float(self.state.get_meta(f"opened_at:{job_id}") or 0)
        waited = time.time() - opened_at if opened_at else 0.0
        mine = {i: o for i, o in self._openings.get(job_id, {}).items() if o.digest == record.result_digest}
        rank = sorted(mine).index(record.my_index) if record.my_index in mine else 0
        # Everyone's opening in one finalize pays everyone in one transaction; with only a quorum, the
        # leader waits half a grace period for the rest (stragglers are paid by their own reveal).
        everyone = len(mine) == len(record.assignees)
        patience = rank * self.config.finalize_grace + (0 if everyone else self.config.finalize_grace / 2)
        if len(mine) >= job.quorum and waited >= patience:
            openings = [(i, mine[i].salt) for i in sorted(mine)]
            proof = await self.pc.work.proof(job_id)
            fn = self.pc.market.functions.finalize(job_id, record.result_digest, proof, openings)
            with contextlib.suppress(TransactionError):  # another assignee finalized first
                if await self._guarded(job_id, "finalize", fn):
                    log.info("job %d: finalized with %d openings", job_id, len(openings))
            return
        if await self.pc.now() > job.reveal_deadline:  # nobody finalized in time: settle it, as any keeper would
            with contextlib.suppress(TransactionError):
                await self.pc.work.settle(job_id)
            return
        fallback = (len(record.assignees) + 1) * self.config.finalize_grace
        if waited >= fallback and self.state.may_send(job_id, "reveal"):
            sealed = Sealed(job_id, self.me, record.result_digest, record.salt or b"", record.seal or b"")
            proof = await self.pc.work.proof(job_id)
            fn = self.pc.market.functions.reveal(job_id, proof, record.my_index, sealed.result_digest, sealed.salt)
            with contextlib.suppress(TransactionError):
                await self._guarded(job_id, "reveal", fn)
                log.info("job %d: no aggregated finalize after %.1fs: revealed on-chain", job_id, waited)

    async def _conclude(self, job_id: int, status: JobStatus) -> None:
        """A finalized job pays agreeing assignees: an opener in the finalize call already is; one that
        revealed before finalization claims; one that never opened (say it crashed) reveals now, until
        the reveal deadline, and is paid by that reveal."""
        record = self.state.job(job_id)
        if status in (JobStatus.FINALIZED, JobStatus.RESOLVED) and record.my_index is not None:
            job = await self.pc.jobs.get(job_id)
            committed = record.phase in (Phase.COMMITTED, Phase.OPENED)
            if committed and record.result_digest == job.result_digest and not await self._was_paid(job_id):
                proof = await self.pc.work.proof(job_id)
                revealed = any(t.state.value == "mined" for t in self.state.txs(job_id, "reveal"))
                if revealed:
                    fn = self.pc.market.functions.claimPayout(job_id, proof, record.my_index)
                    kind = "claim"
                else:
                    fn = self.pc.market.functions.reveal(job_id, proof, record.my_index, record.result_digest,
                                                         record.salt)  # fmt: skip
                    kind = "reveal"
                try:
                    await self._guarded(job_id, kind, fn)
                    log.info("job %d: paid through %s", job_id, kind)
                except TransactionError as exc:
                    log.warning("job %d: could not get paid (%s): %s", job_id, kind, exc)
        self.state.advance(job_id, Phase.DONE, reason=status.name.lower())
        self._account(job_id, status, await self.pc.jobs.result(job_id))
        log.info("job %d: %s", job_id, status.name.lower())

    def _account(self, job_id: int, status: JobStatus, outcome: Any) -> None:
        """Metrics of a job that ended: its stage, our payout or slash, its latency."""
        self.metrics.jobs.labels("finalized" if status in (JobStatus.FINALIZED, JobStatus.RESOLVED) else "failed").inc()
        self.metrics.earnings.inc(outcome.paid.get(self.me, 0))
        if self.me in outcome.slashed:
            self.metrics.slashes.inc()
        if started := self.state.get_meta(f"assigned_at:{job_id}"):
            self.metrics.latency.observe(max(time.time() - float(started), 0.0))

    async def _was_paid(self, job_id: int) -> bool:
        return self.me in (await self.pc.jobs.result(job_id)).paid

    async def _withdraw_periodically(self, stop: asyncio.Event) -> None:
        """Moves credited payouts from the escrow to the worker's account every `withdraw_every` seconds."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.config.withdraw_every)
            try:
                amount = await self.pc.escrow.balance(self.me)
                if amount > 0:
                    await self.pc.escrow.withdraw()
                    log.info("withdrew %d wei of earnings", amount)
            except PolkaComputeError as exc:
                log.warning("withdrawing earnings failed (will retry): %s", exc)

    # ------------------------------------------------------------------ helpers

    async def _guarded(self, job_id: int, kind: str, fn: Any) -> bool:
        """Sends `fn` once per (job, kind): the intent is durable before sending, the hash right after."""
        if not self.state.may_send(job_id, kind):
            for tx in self.state.txs(job_id, kind):
                if tx.tx_hash and tx.state.value == "sent":  # sent before a crash: wait for its receipt
                    receipt = await self.pc.chain.wait(tx.tx_hash)
                    self.state.settled(tx.id, receipt["status"] == 1)
            if not self.state.may_send(job_id, kind):
                return True  # it was mined
            # it was mined but reverted: send it again below
        tx_id = self.state.intend(job_id, kind)
        try:
            await self.pc.chain.send(fn, on_sent=lambda tx_hash: self.state.sent(tx_id, tx_hash))
        except TransactionError as exc:
            self.state.settled(tx_id, ok=False, detail=str(exc))
            raise
        self.state.settled(tx_id, ok=True)
        return True

    async def _peer_urls(self, assignees: list[tuple[str, int]] | list[Any]) -> list[str]:
        """Gateway URLs the given assignees registered (their `peerId`), from registry events."""
        missing = [a[0] for a in assignees if a[0] not in self._peers]
        if missing:
            events = await self.reader.read(self.pc.deployment.block, await self.pc.chain.block_number(),
                                            events=["ProviderRegistered", "ProviderUpdated"])  # fmt: skip
            for event in events:
                peer = bytes(event.args["peerId"])
                if peer.startswith(b"http"):
                    self._peers[event.args["provider"]] = peer.decode()
        return [self._peers.get(a[0], "") for a in assignees]

    async def _receive_opening(self, opening: Opening) -> bool:
        """Keeps an opening only if its signer is the assignee at its index and it opens that seal."""
        try:
            assignees = self.state.job(opening.job_id).assignees
        except KeyError:
            return False
        market = self.pc.deployment.address("JobMarket")
        if not 0 <= opening.index < len(assignees) or assignees[opening.index][0] != opening.worker:
            assignees = await self._refresh_assignees(opening.job_id)  # ours may predate later claims
            if not 0 <= opening.index < len(assignees) or assignees[opening.index][0] != opening.worker:
                return False
        if opening.signer(self.pc.network.chain_id, market) != opening.worker:
            log.warning("job %d: opening with a forged signature dropped", opening.job_id)
            return False
        seal, _ = await self.pc.chain.call(self.pc.market.functions.workOf(opening.job_id, opening.index))
        if bytes(seal) != seal_result(opening.job_id, opening.worker, opening.digest, opening.salt).seal:
            log.warning("job %d: opening of index %d does not match its seal", opening.job_id, opening.index)
            return False
        self._openings.setdefault(opening.job_id, {})[opening.index] = opening
        self._poke(opening.job_id)
        return True


def _jobs_named(event: Event) -> list[int]:
    args = event.args
    if "jobIds" in args:
        return [int(j) for j in args["jobIds"]]
    if "firstJobId" in args:
        return list(range(int(args["firstJobId"]), int(args["firstJobId"]) + int(args["jobs"])))
    return [int(args["jobId"])] if "jobId" in args else []


def result_cid_for(digest: bytes) -> str:
    """The CID a requester fetches a finalized result by (dag-cbor, from the on-chain digest)."""
    return cid_from_digest(digest, "dag-cbor")
