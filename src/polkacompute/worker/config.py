"""What a worker is told: who it is, where it works, what it accepts and at what price."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from polkacompute.chain.accounts import Signer
from polkacompute.chain.networks import Network
from polkacompute.errors import ValidationError
from polkacompute.net.policy import OutboundPolicy


@dataclass(frozen=True)
class Pricing:
    """The default bidding strategy: a price per billion fuel units, never below a minimum.

    A job is taken only if its max price per replica covers the quote; the bid is the quote.
    """

    per_gigafuel: int = 10**15  # wei per 10^9 fuel units of the job's fuel limit
    minimum: int = 10**15  # wei per replica

    def quote(self, fuel_limit: int) -> int:
        return max(self.minimum, fuel_limit * self.per_gigafuel // 10**9)


@dataclass(frozen=True)
class WorkerConfig:
    network: Network
    signer: Signer
    directory: Path  # state.db, cursor, content store, module cache
    runtimes: tuple[str, ...] = ("wasi", "python")
    capabilities: int = 1
    pricing: Pricing = field(default_factory=Pricing)
    max_fuel: int = 10**11  # larger jobs are declined
    stake: int = 0  # if > 0 and not registered: register with this stake
    host: str = "127.0.0.1"  # the worker's gateway (content and openings)
    port: int = 0
    public_url: str | None = None  # what other workers use to reach the gateway (default: http://host:port)
    content_sources: tuple[str, ...] = ()  # gateways to fetch programs and inputs from (requesters', IPFS...)
    outbound: OutboundPolicy | None = None  # whom of those others name it may reach (default: the network's)
    p2p: bool = True  # messages, announcements and content between workers over libp2p (else over HTTP)
    p2p_port: int = 0
    poll_interval: float | None = None  # seconds between looks for new blocks (default: the network's, >= 50 ms)
    finalize_grace: float = 2.0  # seconds each assignee in line waits for the one before it (assign, commit, finalize)
    claim_after: float = 6.0  # seconds an instant-mode job waits for the aggregated assignment before claiming
    alone_after: float = 15.0  # seconds without the aggregated commit or finalize before acting alone
    deadline_margin: int = 30  # chain seconds before a commit or reveal deadline when a worker acts alone anyway
    content_patience: float = 10.0  # seconds a job's missing content is looked for again before giving up
    executor_processes: int = 1
    withdraw_every: float = 600.0  # seconds between withdrawals of credited earnings
    keeper_every: float = 5.0  # seconds between keeper rounds (settling expired jobs); 0: not a keeper

    def __post_init__(self) -> None:
        if not self.runtimes:
            raise ValidationError("runtimes", "a worker needs at least one runtime")
        if self.executor_processes < 1:
            raise ValidationError("executor_processes", "must be at least 1")
