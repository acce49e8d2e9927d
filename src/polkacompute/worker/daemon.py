"""The worker daemon: follows the market, bids, runs assigned jobs, commits, opens and gets paid.

One asyncio service. Followed events update the worker's view of each job (`view.py`) and move jobs
into the durable state (`state.py`); one task per job drives it from there (`jobs.py`), so a
restarted worker resumes every job. Steps shared with other workers (assignment, commits,
finalization) are aggregated into one transaction per batch of jobs (`aggregation.py`) through
signed messages over the channel (`channel.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import defaultdict
from collections.abc import Coroutine
from typing import Any

from polkacompute.chain.events import Cursor, Event, LogReader
from polkacompute.errors import ContractError, PolkaComputeError
from polkacompute.net.http import OutboundHttp
from polkacompute.net.policy import OutboundPolicy
from polkacompute.p2p import Node, key_pair_of
from polkacompute.p2p.announce import Announcement, Announcements
from polkacompute.p2p.channel import P2PChannel
from polkacompute.p2p.content import serve_content
from polkacompute.p2p.status import serve_status
from polkacompute.runtimes import Runtime, get_runtime
from polkacompute.sandbox import SandboxPool
from polkacompute.sdk.client import AsyncClient
from polkacompute.sdk.jobview import jobs_named
from polkacompute.sdk.models import MarketParams
from polkacompute.sdk.work import sign_bid
from polkacompute.store import ContentStore, cid_from_digest
from polkacompute.store.http import Gateway
from polkacompute.worker.aggregation import Aggregator
from polkacompute.worker.channel import Channel, Handler, HttpChannel
from polkacompute.worker.config import WorkerConfig
from polkacompute.worker.jobs import ACTIVE, JobDriver
from polkacompute.worker.messages import BidOffer
from polkacompute.worker.metrics import Metrics
from polkacompute.worker.state import Phase, WorkerState
from polkacompute.worker.view import ChainView

log = logging.getLogger("polkacompute.worker")
# What the worker follows (the node filters by topic, so the rest is never fetched or decoded).
FOLLOWED = ("JobSubmitted", "JobAssigned", "BatchAssigned", "SealCommitted", "SealsCommitted", "ResultRevealed",
            "JobFinalized", "JobFailed", "JobCancelled", "DisputeOpened", "DisputeResolved", "Paid", "Slashed",
            "WorkerSettled", "BidPlaced",
            "ProviderRegistered", "ProviderUpdated")  # fmt: skip
BID_SLA = 600  # seconds promised in bids
KEEPER_BATCH = 16  # settlements per keeper round
FORGET_AFTER = 60.0  # seconds a closed job's view is kept before it is forgotten
GOSSIP_PEERS = 32  # registered peers a worker connects to for gossip (more are reached through them)


class Worker:
    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.me = config.signer.address
        config.directory.mkdir(parents=True, exist_ok=True)
        self.state = WorkerState(config.directory / "state.db")
        self.store = ContentStore(config.directory / "store")
        self.gateway = Gateway(self.store)
        self.aggregator = Aggregator(self)
        self.driver = JobDriver(self)
        agg = self.aggregator
        handlers: dict[str, Handler] = {"bids": agg.on_bid, "seals": agg.on_seals, "openings": agg.on_openings}
        # Whom this worker may reach of what others name (announced sources, registered peers): docs/security.md
        policy = (config.outbound or OutboundPolicy.for_network(config.network)).trusting(config.content_sources)
        self.outbound = policy
        self.node: Node | None = None
        self.channel: Channel
        if config.p2p:  # workers find each other by the multiaddr they registered as their peer id
            self.node = Node(key_pair_of(config.signer), host=config.host, port=config.p2p_port, dht=True,
                             outbound=policy)  # fmt: skip
            self.channel = P2PChannel(self.node, handlers)
            serve_content(self.node, self.store)
            serve_status(self.node, config.signer, config.network.chain_id, self._status)
        else:  # --http-channel: each worker's gateway URL is its peer id
            self.channel = HttpChannel(self.gateway.app, handlers, outbound=policy)
        self.metrics = Metrics()
        self.metrics.attach(self.gateway.app)
        self.runtimes: dict[bytes, Runtime] = {}
        for name in config.runtimes:
            try:
                runtime = get_runtime(name)
                self.runtimes[runtime.identity] = runtime
            except PolkaComputeError as exc:
                log.warning("runtime %s unavailable, not offered: %s", name, exc)
        self.peers: dict[str, str] = {}  # provider address -> its registered peer id (URL or multiaddr)
        self._params: tuple[float, MarketParams] | None = None  # (monotonic time read, params)
        self.sources: dict[int, list[str]] = {}  # job -> content sources its requester announced
        self.url = ""
        self.now = 0  # the latest block's timestamp, refreshed by a clock task
        self._kept: set[int] = set()  # jobs this keeper tried to settle
        self._started = time.monotonic()
        self._dialed = 0  # registered peers connected to
        self._background: set[asyncio.Task[None]] = set()
        self._provided: set[str] = set()  # DHT keys announced
        self._closed: dict[int, float] = {}  # job -> when the keeper first saw it closed (monotonic)

    # ------------------------------------------------------------------ service

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        config = self.config
        async with AsyncClient(config.network, signer=config.signer) as pc:
            self.pc = pc
            self.view = ChainView(pc)
            url = await self.gateway.start(config.host, config.port)
            self.url = config.public_url or url
            if self.node is not None:  # requesters' job announcements, checked against this chain and market
                Announcements(self.node, pc.network.chain_id, pc.deployment.address("JobMarket"), self._announced)
                await self.node.start()
            self.address = self.node.addrs[0] if self.node is not None else self.url  # what we register
            await self.channel.start()
            self.http = OutboundHttp(self.outbound)  # content fetches
            self.pool = SandboxPool(config.executor_processes, cache_dir=config.directory / "modules")
            background: list[asyncio.Task[None]] = []
            try:
                self.reader = LogReader(pc.chain, pc.deployment.addresses)
                self.now = await pc.now()
                await self._load_peers()
                await self._ensure_registered()
                for runtime in self.runtimes.values():  # who offers what, findable without the chain
                    self.provide(f"polkacompute/runtime/{runtime.name}")
                start = int(self.state.get_meta("next_block") or pc.deployment.block)
                for record in self.state.jobs(*ACTIVE):
                    self.driver.drive(record.job_id)  # resume where the last run stopped
                log.info("worker %s serving %s; following from block %d", self.me, self.url, start)
                if ready is not None:
                    ready.set()
                loops = (self._withdraw_periodically(stop), self._clock(stop), self.aggregator.run(stop),
                         self._keep(stop))  # fmt: skip
                background = [asyncio.create_task(c) for c in loops]
                follow = self.reader.follow(
                    Cursor(start), stop=stop, poll_interval=self._poll_interval(), events=FOLLOWED
                )
                async for batch in follow:
                    await self._on_events(batch)
                    self.state.set_meta("next_block", str(batch[-1].block_number + 1))
                    self.metrics.in_flight.set(len(self.driver.tasks))
            finally:
                for task in [*background, *self._background]:
                    task.cancel()
                await asyncio.gather(*background, *self._background, return_exceptions=True)
                await self.driver.cancel_all()
                await self.aggregator.cancel_all()
                self.pool.close()
                await self.channel.stop()
                if self.node is not None:
                    await self.node.stop()
                await self.http.close()
                await self.gateway.stop()

    def _status(self) -> dict[str, Any]:
        """What the status protocol reports (`polkacompute worker ping`)."""
        return {"chain_time": self.now, "jobs_in_flight": len(self.driver.tasks),
                "runtimes": sorted(r.name for r in self.runtimes.values()),
                "uptime_s": time.monotonic() - self._started}  # fmt: skip

    def _poll_interval(self) -> float:
        """A local network polls receipts every 5 ms; new blocks need not be looked for as often (three
        workers polling every 5 ms kept a quarter of anvil's time busy answering them)."""
        return self.config.poll_interval or max(self.config.network.poll_interval, 0.05)

    async def _clock(self, stop: asyncio.Event) -> None:
        """Deadlines are in chain time: keep the latest block's timestamp at hand."""
        while not stop.is_set():
            with contextlib.suppress(PolkaComputeError):
                self.now = max(self.now, await self.pc.now())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)

    async def _ensure_registered(self) -> None:
        info = await self.pc.providers.info(self.me)
        if info.status == 1:
            if self.peers.get(self.me) != self.address:  # restarted on another address
                region = info.region.encode().ljust(8, b"\x00")
                fn = self.pc.registry.functions.updateProfile(info.capabilities, info.metadata_digest,
                                                              self.address.encode(), region)  # fmt: skip
                await self.pc.chain.send(fn)
                self.peers[self.me] = self.address
                log.info("registered address updated to %s", self.address)
            return
        if self.config.stake <= 0:
            log.warning("%s is not a registered provider and no stake was given: it will not win jobs", self.me)
            return
        await self.pc.providers.register(stake=self.config.stake, capabilities=self.config.capabilities,
                                         peer_id=self.address.encode())  # fmt: skip
        log.info("registered %s with stake %d wei, reachable at %s", self.me, self.config.stake, self.address)

    # ------------------------------------------------------------------ events

    def poke(self, job_id: int) -> None:
        self.driver.poke(job_id)

    async def _on_events(self, batch: list[Event]) -> None:
        submitted: list[Event] = []
        booked: set[int] = set()
        for event in batch:
            job_ids = jobs_named(event)
            self.view.apply(event, job_ids)
            if event.name in ("ProviderRegistered", "ProviderUpdated"):
                self._learn_peer(event)
            elif event.name == "JobSubmitted":
                submitted.append(event)
            elif event.name == "BidPlaced":
                booked.add(int(event.args["jobId"]))
            for job_id in job_ids:
                self.poke(job_id)
                if job_id not in self.driver.tasks and self._active(job_id):
                    self.driver.drive(job_id)
        if submitted:
            await self._consider(submitted)
        if booked:
            await self._rebid(booked)

    async def _announced(self, announcement: Announcement) -> None:
        """A requester's announcement: its jobs from the chain (the receipt it names), taken at once, with
        the content sources it gave; the follower's copy of the same events is then ignored."""
        events = await self.reader.of_transaction(announcement.tx_hash)
        submitted = [e for e in events if e.name == "JobSubmitted" and e.args["requester"] == announcement.requester
                     and int(e.args["jobId"]) in announcement.job_ids]  # fmt: skip
        if not submitted:
            log.info("announcement %s#%d: no such submission on-chain (yet)", announcement.requester,
                     announcement.seq)  # fmt: skip
            return
        for event in submitted:
            job_id = int(event.args["jobId"])
            self.sources[job_id] = [s for s in announcement.sources if s.startswith(("http://", "https://", "/"))]
            self.view.apply(event, [job_id])
            self.poke(job_id)  # a job already waiting for its content looks again at once
        log.info("announced by %s: %d jobs from %d", announcement.requester, len(submitted),
                 submitted[0].args["jobId"])  # fmt: skip
        await self._consider(submitted)
        for event in submitted:  # declined ones have no driver to drop their sources when done
            if not self._active(int(event.args["jobId"])):
                self.sources.pop(int(event.args["jobId"]), None)

    def _active(self, job_id: int) -> bool:
        try:
            return self.state.job(job_id).phase in ACTIVE
        except KeyError:
            return False

    async def _consider(self, events: list[Event]) -> None:
        """Takes the jobs it can run; bids once on each set of jobs submitted together on the same terms."""
        rounds: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for event in events:
            job_id, spec = int(event.args["jobId"]), event.args["spec"]
            plain = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in spec.items()}
            if not self.state.see(job_id, plain):
                continue  # seen before (events are redelivered after a restart)
            self.metrics.jobs.labels("seen").inc()
            if reason := self._decline_reason(spec):
                self.metrics.jobs.labels("declined").inc()
                self.state.advance(job_id, Phase.ABANDONED, reason=reason)
                log.info("job %d: declined: %s", job_id, reason)
            else:  # instant mode (window 0) too: signed bids first, so one call assigns; claims are the fallback
                terms = (spec["replicas"], spec["quorum"], spec["maxPricePerReplica"], spec["requiredCapabilities"])
                rounds[(event.block_number, spec["bidWindow"], *terms)].append(job_id)
        for (block, window, *_), job_ids in rounds.items():
            submitted_at = int((await self.pc.chain.w3.eth.get_block(block))["timestamp"])
            await self._bid(tuple(sorted(job_ids)), submitted_at + window)

    async def _rebid(self, booked: set[int]) -> None:
        """Jobs of a set we bid on together got on-chain bids (`BidBook.bid`). `assignBatch` refuses a set
        with on-chain bids (they must take part in the ranking), so the set is bid on again: the jobs
        without on-chain bids together, each booked job alone (`assignWithSignedBids` ranks its on-chain
        bids with the signed ones). Every worker sees the same events, so all split the same way."""
        for key, round_ in list(self.aggregator.rounds.items()):
            hit = booked.intersection(key)
            if len(key) < 2 or not hit:
                continue
            del self.aggregator.rounds[key]
            rest = tuple(j for j in key if j not in hit)
            log.info("on-chain bids on jobs %s: bidding again on them alone", sorted(hit))
            for job_ids in ([rest] if rest else []) + [(j,) for j in sorted(hit)]:
                await self._bid(job_ids, round_.bid_deadline)

    async def _bid(self, job_ids: tuple[int, ...], bid_deadline: int) -> None:
        specs = [self.state.job(j).spec for j in job_ids]
        price = max(self.config.pricing.quote(s["fuelLimit"]) for s in specs)
        expiry = min(s["commitDeadline"] for s in specs)
        pc = self.pc
        book = pc.deployment.address("BidBook")
        bid = sign_bid(self.config.signer, list(job_ids), price, sla=BID_SLA, expiry=expiry,
                       chain_id=pc.network.chain_id, book=book, nonce=await pc.work.bid_nonce(self.me))  # fmt: skip
        offer = BidOffer(job_ids, bid)
        self.aggregator.expect_round(job_ids, bid_deadline, offer)
        self.send_to([(a, 0) for a in self.peers if a != self.me], "bids", offer.to_json())
        for job_id in job_ids:
            self.state.advance(job_id, Phase.BID)
            self.metrics.jobs.labels("bid").inc()
            self.driver.drive(job_id)
        log.info("bid %d wei on %d jobs (%d..%d)", price, len(job_ids), job_ids[0], job_ids[-1])

    async def market_params(self) -> MarketParams:
        """The market's parameters, read again at most once a minute (governance changes them rarely)."""
        if self._params is None or time.monotonic() - self._params[0] > 60:
            self._params = (time.monotonic(), await self.pc.market_params())
        return self._params[1]

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

    # ------------------------------------------------------------------ peers

    async def _load_peers(self) -> None:
        events = await self.reader.read(self.pc.deployment.block, await self.pc.chain.block_number(),
                                        events=["ProviderRegistered", "ProviderUpdated"])  # fmt: skip
        for event in events:
            self._learn_peer(event)

    def _learn_peer(self, event: Event) -> None:
        """Keeps the addresses this worker's transport can reach: gateway URLs or libp2p multiaddrs."""
        peer = bytes(event.args["peerId"]).decode(errors="replace")
        provider = event.args["provider"]
        if not peer.startswith("/" if self.node is not None else "http"):
            return
        known, self.peers[provider] = self.peers.get(provider), peer
        if self.node is not None and known != peer and provider != self.me and self._dialed < GOSSIP_PEERS:
            # The registry is the bootstrap list: connected workers gossip and route DHT lookups.
            self._dialed += 1
            self.later(self.node.connect([peer]))

    def later(self, work: Coroutine[Any, Any, Any]) -> None:
        """Runs `work` in the background (network chores nothing waits for); failures are logged."""

        async def run() -> None:
            try:
                await work
            except PolkaComputeError as exc:
                log.info("background: %s", exc)

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def provide(self, key: str) -> None:
        """Puts a provider record for `key` (a CID or a capability) in the DHT, once."""
        if self.node is not None and key not in self._provided:
            self._provided.add(key)
            self.later(self.node.provide(key))

    async def peer_addresses(self, assignees: list[tuple[str, int]]) -> list[str]:
        """What the given assignees registered as their peer id (gateway URLs or multiaddrs)."""
        if any(a[0] not in self.peers for a in assignees):
            await self._load_peers()
        return [self.peers.get(a[0], "") for a in assignees]

    def send_to(self, assignees: list[tuple[str, int]], topic: str, message: dict[str, Any]) -> None:
        self.channel.send(topic, message, [self.peers.get(a, "") for a, _ in assignees if a != self.me])

    # ------------------------------------------------------------------ keeper

    async def _keep(self, stop: asyncio.Event) -> None:
        """As a keeper, settles the expired jobs it sees (refunds, pays or slashes what nobody settled),
        a few per round at a random moment, so that workers rarely race for the same job (a loser's
        call fails at estimation and costs nothing); forgets jobs nothing more can happen to."""
        every = self.config.keeper_every
        while every > 0 and not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every * random.uniform(0.5, 1.5))  # noqa: S311
            now = time.monotonic()
            for view in self.view.jobs():
                done = view.closed and view.job_id not in self.driver.tasks and not self._active(view.job_id)
                # A closed job's view is kept a while: late messages about it are still recognized.
                if done and now - self._closed.setdefault(view.job_id, now) >= FORGET_AFTER:
                    self.view.forget(view.job_id)
                    self._kept.discard(view.job_id)
                    del self._closed[view.job_id]
            due = [v for v in self.view.jobs() if v.settleable(self.now) and v.job_id not in self._kept]
            for view in due[:KEEPER_BATCH]:
                self._kept.add(view.job_id)
                try:
                    await self.pc.work.settle(view.job_id, view.proof())
                    log.info("job %d: settled as keeper", view.job_id)
                except ContractError as exc:
                    if exc.name == "SettlementTooEarly":  # the reveal grace after finalization runs: later
                        self._kept.discard(view.job_id)
                    log.debug("job %d: not settled: %s", view.job_id, exc)
                except PolkaComputeError as exc:  # another keeper (or an assignee) was first
                    log.debug("job %d: not settled: %s", view.job_id, exc)

    # ------------------------------------------------------------------ earnings

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


def result_cid_for(digest: bytes) -> str:
    """The CID a requester fetches a finalized result by (dag-cbor, from the on-chain digest)."""
    return cid_from_digest(digest, "dag-cbor")
