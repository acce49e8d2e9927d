"""Many workers' steps in one transaction: assignment, commits and finalization of a batch of jobs.

Workers exchange signed offers (`messages.py`) and one of them, the leader, sends the call:
- bids on a set of jobs -> `assignBatch` (or `assignWithSignedBids` for one job) once the window closed;
- every assignee's seals for the jobs assigned together -> one `commitSeals`;
- openings of any number of jobs -> one `finalizeMany`.
Leaders are chosen the same way by everyone (the best bid first; assignees in index order), and the
next in line takes over after `grace` seconds per rank, so a dead leader costs time, never the job.
Nothing here is needed for safety: a worker whose seal was not aggregated in time commits it alone,
and one that was not paid by a finalize reveals on-chain (`jobs.py`). That fallback costs a transaction
per job, so a batch call waits longer for an assignee that is slow but alive (heard from lately) than
for a silent one (`patience`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from polkacompute.errors import PolkaComputeError
from polkacompute.sdk.work import seal_result
from polkacompute.worker.messages import BidOffer, Opening, Openings, SealOffer

if TYPE_CHECKING:
    from polkacompute.worker.daemon import Worker

log = logging.getLogger("polkacompute.worker")
TICK = 0.02  # seconds between looks at what is due
MAX_EARLY_ROUNDS = 256  # job sets whose bids arrived before we saw the jobs (oldest dropped)
VIEW_LAG = 2.0  # seconds a message waits for our view to catch up with what its sender saw
MAX_REPUTATION = 10_000  # ProviderRegistry.MAX_REPUTATION (BidRanking's scale)
MAX_ASSIGNEES = 16  # JobMarket.MAX_REPLICAS: the most seal offers kept per batch


@dataclass
class _Round:
    """A set of jobs bid on together, and the bids heard for it."""

    job_ids: tuple[int, ...]
    bid_deadline: int
    bids: dict[str, BidOffer] = field(default_factory=dict)
    due_since: float = 0.0  # monotonic time the window was first seen closed
    ranked: list[BidOffer] = field(default_factory=list)  # the eligible bids, best first
    ranked_for: int = -1  # how many bids `ranked` was made from (-1: to be made)
    ranking: asyncio.Task[None] | None = None  # the check of `ranked` on its way


class Aggregator:
    def __init__(self, worker: Worker) -> None:
        self.w = worker
        self.rounds: dict[tuple[int, ...], _Round] = {}
        self._early: dict[tuple[int, ...], dict[str, BidOffer]] = {}  # bids heard before our own
        self.seal_offers: dict[int, dict[str, SealOffer]] = {}  # first job of the offer -> worker -> offer
        self._offers_since: dict[int, float] = {}
        self.openings: dict[int, dict[int, Opening]] = {}
        self.to_finalize: dict[int, tuple[bytes, list[int]]] = {}  # job -> (digest, opening indices)
        self._outgoing: dict[tuple[str, ...], list[Opening]] = {}  # our openings, by the peers they go to
        self._busy: set[Any] = set()  # what a transaction is on its way for
        self._sent: set[Any] = set()  # what our mined transactions did (until the jobs are forgotten)
        self._failures: dict[Any, tuple[int, float]] = {}  # key -> (failed sends, monotonic time of the next try)
        self._tasks: set[asyncio.Task[None]] = set()
        self._heard: dict[str, float] = {}  # worker -> monotonic time of its latest valid message

    def heard(self, worker: str) -> None:
        self._heard[worker] = time.monotonic()

    def patience(self, missing: list[str]) -> float:
        """Seconds a batch call (commit, finalize) waits past its sender's turn for assignees missing
        from it. Each one left out then acts alone, a transaction per job of the batch: a loaded machine
        running 96-job batches fell into lone commits and reveals (half its transactions) with a 2 s
        wait. So: up to half of `alone_after` while one of them was heard from within two grace periods
        (busy, not gone: a live worker bids on every round), else one grace period (a dead assignee
        costs little). Nothing when none is missing."""
        if not missing:
            return 0.0
        config, now = self.w.config, time.monotonic()
        alive = any(now - self._heard.get(m, float("-inf")) < 2 * config.finalize_grace for m in missing)
        return config.alone_after / 2 if alive else config.finalize_grace

    # ------------------------------------------------------------------ incoming offers

    async def on_bid(self, data: dict[str, Any]) -> bool:
        """Keeps a correctly signed bid of a registered provider on a set of jobs we bid on too, or may
        yet (a peer can see the submission a poll before us: a few such early bids wait for our own).
        Whether the provider is eligible for the jobs is checked on-chain before ranking (`_eligible`)."""
        offer = BidOffer.from_json(data)
        w = self.w
        if not offer.valid(w.pc.network.chain_id, w.pc.deployment.address("BidBook")):
            return False
        if offer.bid.provider not in w.peers:  # a throwaway key: not a provider the registry's events named
            return False
        self.heard(offer.bid.provider)
        round_ = self.rounds.get(offer.job_ids)
        if round_ is not None:
            round_.bids[offer.bid.provider] = offer
            return True
        known = w.view.known(offer.job_ids[0])
        if known is not None and (known.assignees or known.status.terminal):
            return False  # a set already assigned (or one we declined long ago)
        self._early.setdefault(offer.job_ids, {})[offer.bid.provider] = offer
        while len(self._early) > MAX_EARLY_ROUNDS:
            del self._early[next(iter(self._early))]
        return True

    async def on_seals(self, data: dict[str, Any]) -> bool:
        """Keeps a correctly signed offer of a registered provider, at most one per possible assignee of
        a batch; whether its indices match the assignment is checked when it is used (the sender may
        have seen the assignment before we did)."""
        offer = SealOffer.from_json(data)
        w = self.w
        if not offer.items or not offer.valid(w.pc.network.chain_id, w.pc.deployment.address("JobMarket")):
            return False
        if offer.worker not in w.peers:  # a throwaway key: not a provider the registry's events named
            return False
        self.heard(offer.worker)
        offers = self.seal_offers.get(offer.items[0][0], {})
        if offer.worker not in offers and len(offers) >= MAX_ASSIGNEES:
            return False
        self.add_seals(offer)
        return True

    def add_seals(self, offer: SealOffer) -> None:
        self.seal_offers.setdefault(offer.items[0][0], {})[offer.worker] = offer

    async def on_openings(self, data: dict[str, Any]) -> bool:
        """Keeps the openings of a bundle signed by their worker, each only if that worker is the
        assignee at its index and it opens that seal; False if the bundle is forged or none fits."""
        bundle = Openings.from_json(data)
        w = self.w
        if bundle.signer(w.pc.network.chain_id, w.pc.deployment.address("JobMarket")) != bundle.worker:
            log.warning("openings with a forged signature (claiming %s) dropped", bundle.worker)
            return False
        if bundle.worker in w.peers:
            self.heard(bundle.worker)
        kept = 0
        patience = time.monotonic() + VIEW_LAG  # the sender saw the seals committed; our view may be behind
        for opening in bundle.openings():
            view = w.view.known(opening.job_id)
            if view is None or view.index_of(opening.worker) != opening.index:
                continue
            while opening.index not in view.seals and time.monotonic() < patience:  # noqa: ASYNC110 (bounded poll)
                await asyncio.sleep(TICK)
            if view.seals.get(opening.index) != seal_result(opening.job_id, opening.worker, opening.digest,
                                                            opening.salt).seal:  # fmt: skip
                log.warning("job %d: opening of index %d does not match its seal", opening.job_id, opening.index)
                continue
            self.add_opening(opening)
            w.poke(opening.job_id)
            kept += 1
        return kept > 0

    def publish_opening(self, opening: Opening, assignees: list[tuple[str, int]]) -> None:
        """Queues our opening; each tick sends every peer set one signed bundle of what is queued for it."""
        self.add_opening(opening)
        peers = tuple(a for a, _ in assignees if a != self.w.me)
        self._outgoing.setdefault(peers, []).append(opening)

    def _send_openings(self) -> None:
        w = self.w
        for peers, openings in self._outgoing.items():
            bundle = Openings.signed(
                w.config.signer, openings, w.pc.network.chain_id, w.pc.deployment.address("JobMarket")
            )
            w.send_to([(p, 0) for p in peers], "openings", bundle.to_json())
        self._outgoing.clear()

    def add_opening(self, opening: Opening) -> None:
        self.openings.setdefault(opening.job_id, {})[opening.index] = opening

    def expect_round(self, job_ids: tuple[int, ...], bid_deadline: int, mine: BidOffer) -> None:
        round_ = self.rounds.setdefault(job_ids, _Round(job_ids, bid_deadline))
        round_.bids.update(self._early.pop(job_ids, {}))
        round_.bids[mine.bid.provider] = mine

    def finalize_soon(self, job_id: int, digest: bytes, indices: list[int]) -> None:
        self.to_finalize[job_id] = (digest, indices)

    def forget(self, job_id: int) -> None:
        self.openings.pop(job_id, None)
        self.to_finalize.pop(job_id, None)
        self._drop_offers(job_id)
        for key in (("finalize", job_id), ("commit", job_id)):
            self._sent.discard(key)
            self._failures.pop(key, None)

    # ------------------------------------------------------------------ the leader's calls

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                self._send_openings()
                await self._assign_due()
                await self._commit_due()
                self._finalize_due()
            except PolkaComputeError as exc:
                log.warning("aggregation: %s", exc)
            await asyncio.sleep(TICK)

    def _spawn(self, keys: list[Any], what: str, call: Awaitable[Any]) -> None:
        """Sends in the background; `keys` are busy meanwhile and remembered as done once it is mined
        (our view learns of it a poll later: meanwhile nothing is sent twice)."""

        async def go() -> None:
            try:
                await call
                self._sent.update(keys)
            except PolkaComputeError as exc:  # usually: another worker was first
                log.info("%s not sent: %s", what, exc)
                for key in keys:  # not again at once: 0.5 s, doubling to 8 s while it keeps failing
                    failures = self._failures.get(key, (0, 0.0))[0] + 1
                    self._failures[key] = (failures, time.monotonic() + min(8.0, 0.25 * 2**failures))
            finally:
                self._busy.difference_update(keys)

        self._busy.update(keys)
        task = asyncio.create_task(go(), name=what)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel_all(self) -> None:
        """Stops the sends still on their way (after a restart the jobs are aggregated again, or fall back)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _pending(self, key: Any) -> bool:
        """On its way, done, or failed lately (backing off)."""
        return key in self._busy or key in self._sent or self._failures.get(key, (0, 0.0))[1] > time.monotonic()

    async def _assign_due(self) -> None:
        w, grace = self.w, self.w.config.finalize_grace
        for key, round_ in list(self.rounds.items()):
            first = w.view.known(key[0])
            if first is None or first.assignees or first.status.terminal or w.now >= first.commit_deadline:
                del self.rounds[key]
                self._sent.discard(("assign", key))
                self._failures.pop(("assign", key), None)
                continue
            # Sent as soon as the next block can include it: on a chain whose next block is later than
            # the latest, one second of bid window is one block. A node mining a block per transaction
            # stamps it with the wall clock (and may repeat the latest timestamp).
            automine = await w.pc.chain.automines()
            next_block = max(w.now, int(time.time())) if automine else w.now + 1
            if next_block < round_.bid_deadline or self._pending(("assign", key)):
                continue
            early = w.now < round_.bid_deadline
            round_.due_since = round_.due_since or time.monotonic()
            if round_.ranked_for != len(round_.bids):  # who may act on the bids, in the contract's order
                if round_.ranking is None or round_.ranking.done():  # checked beside this loop, not in it
                    round_.ranking = asyncio.create_task(self._rank(key, round_))
                continue
            ranked = round_.ranked[: 2 * first.replicas]  # the most signed bids the contract takes
            # The line of senders must be the same for every worker: by price and address, not by the
            # contract's score, whose reputations each worker reads at its own moment.
            line = sorted(ranked, key=lambda o: (o.bid.price, o.bid.provider.lower()))
            rank = next((i for i, o in enumerate(line) if o.bid.provider == w.me), len(line))
            # Short of a bid per replica, wait a little for more: half a grace period in bid mode (the
            # assignment is final either way); in instant mode half of `claim_after`, since a replica
            # left open is claimed later and the job loses the aggregated path.
            patience = grace / 2 if first.bid_window else w.config.claim_after / 2
            enough = len(ranked) >= first.replicas
            if time.monotonic() - round_.due_since < rank * grace + (0 if enough else patience):
                continue
            if len(ranked) < first.quorum:
                continue
            bids = [o.bid.to_tuple() for o in ranked]
            market = w.pc.market.functions
            fn = market.assignBatch(list(key), bids) if len(key) > 1 else market.assignWithSignedBids(key[0], bids)
            at_time = round_.bid_deadline if early else None
            round_.ranked_for = -1  # a retry ranks again (a bidder may have become ineligible meanwhile)
            self._spawn([("assign", key)], f"assignment of {len(key)} jobs", w.pc.chain.send(fn, at_time=at_time))

    async def _rank(self, key: tuple[int, ...], round_: _Round) -> None:
        offers = list(round_.bids.values())  # bids arriving while these are checked: ranked after
        try:
            round_.ranked = await self._eligible(key, offers)
            round_.ranked_for = len(offers)
        except PolkaComputeError as exc:
            log.info("bids on jobs %d..%d not ranked: %s", key[0], key[-1], exc)

    async def _eligible(self, key: tuple[int, ...], offers: list[BidOffer]) -> list[BidOffer]:
        """The offers the contract would count, best first as `BidRanking` orders them: the signer is
        registered, active, staked and capable for the jobs, with its current bid nonce; the score is
        price x (2 x MAX_REPUTATION - reputation), ties by address. Filtering before ranking and
        truncation keeps bids of strangers from pushing eligible ones out."""
        w = self.w
        spec = w.state.job(key[0]).spec
        collateral = int(spec["maxPricePerReplica"]) * (await w.market_params()).collateral_bps // 10_000
        registry = w.pc.registry.functions

        async def terms(offer: BidOffer) -> tuple[bool, int, int] | None:
            try:
                return tuple(await w.pc.chain.call(
                    registry.bidTerms(offer.bid.provider, int(spec["requiredCapabilities"]), collateral)))  # fmt: skip
            except PolkaComputeError as exc:
                log.info("bid of %s not checked: %s", offer.bid.provider, exc)
                return None

        # All at once: one round trip for the round, however many bids it holds.
        answers = await asyncio.gather(*(terms(o) for o in offers))
        scored = [(o.bid.price * (2 * MAX_REPUTATION - a[1]), o.bid.provider.lower(), o)
                  for o, a in zip(offers, answers, strict=True)
                  if a is not None and a[0] and a[2] == o.bid.nonce]  # fmt: skip
        return [offer for *_, offer in sorted(scored, key=lambda t: t[:2])]

    async def _commit_due(self) -> None:
        """Commits the seals offered for a batch of jobs once every assignee offered (or, after a grace
        period, whoever did); offers that do not fit the assignment or touch a committed job are left out."""
        w, grace = self.w, self.w.config.finalize_grace
        for first_id, offers in list(self.seal_offers.items()):
            first = w.view.known(first_id)
            if first is None or first.status.terminal:
                self._drop_offers(first_id)
                continue
            rank = first.index_of(w.me)
            if rank is None and first.assignment_final:  # not ours to commit: nothing to keep them for
                self._drop_offers(first_id)
                continue
            if rank is None or w.me not in offers or self._pending(("commit", first_id)):
                continue  # only assignees with an offer of their own send (and only once at a time)
            since = self._offers_since.setdefault(first_id, time.monotonic())
            missing = [a for a, _ in first.assignees if a not in offers]
            if time.monotonic() - since < rank * grace + self.patience(missing):
                continue
            usable = [o for o in offers.values() if self._fits(o)]
            self._drop_offers(first_id)
            if not any(o.worker == w.me for o in usable):
                continue
            items: dict[int, list[tuple[int, bytes]]] = {}
            for offer in usable:
                for job_id, index, seal in offer.items:
                    items.setdefault(job_id, []).append((index, seal))
            calls = [(j, w.view.known(j).proof()[0], sorted(items[j])) for j in sorted(items)]  # type: ignore[union-attr]
            signatures = [o.signature() for o in usable if o.worker != w.me]
            fn = w.pc.market.functions.commitSeals(calls, signatures)
            self._spawn([("commit", first_id)], f"commit of {len(calls)} jobs' seals", w.pc.chain.send(fn))

    def _fits(self, offer: SealOffer) -> bool:
        for job_id, index, _ in offer.items:
            view = self.w.view.known(job_id)
            if view is None or view.seals or not view.assignment_final or view.index_of(offer.worker) != index:
                return False
        return True

    def _drop_offers(self, first_id: int) -> None:
        self.seal_offers.pop(first_id, None)
        self._offers_since.pop(first_id, None)

    def _finalize_due(self) -> None:
        ready = {j: v for j, v in self.to_finalize.items() if not self._pending(("finalize", j))}
        self.to_finalize.clear()
        items = []
        for job_id, (digest, indices) in sorted(ready.items()):
            view = self.w.view.known(job_id)
            if view is None:
                continue
            salts = self.openings.get(job_id, {})
            items.append((job_id, digest, view.proof(), [(i, salts[i].salt) for i in indices]))
        if not items:
            return
        fn = self.w.pc.market.functions
        call = fn.finalizeMany(items) if len(items) > 1 else fn.finalize(*items[0])
        keys = [("finalize", item[0]) for item in items]
        self._spawn(keys, f"finalization of {len(items)} jobs", self.w.pc.chain.send(call))
