"""What a job's events say about it: status, assignees, seals, openings, payouts.

Events alone rebuild a job's state (the worker keeps one per job it follows, the indexer one per job
it stores); `apply` takes each event once, in chain order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from polkacompute.chain.events import Event
from polkacompute.sdk.models import JobStatus


@dataclass
class JobView:
    job_id: int
    status: JobStatus = JobStatus.OPEN
    replicas: int = 0
    quorum: int = 0
    bid_window: int = 0
    commit_deadline: int = 0
    reveal_deadline: int = 0
    assignees: list[tuple[str, int]] = field(default_factory=list)
    batch: tuple[int, ...] = ()  # the jobs assigned in the same call (same assignees)
    seals: dict[int, bytes] = field(default_factory=dict)  # index -> committed seal
    mask: int = 0  # the aggregated seals' indices (part of the proof)
    aggregated: list[bytes] = field(default_factory=list)
    revealed: dict[int, bytes] = field(default_factory=dict)  # index -> digest revealed on-chain
    result_digest: bytes | None = None
    paid: dict[str, int] = field(default_factory=dict)
    slashed: dict[str, int] = field(default_factory=dict)
    settled: set[str] = field(default_factory=set)  # assignees paid, released or slashed
    # The last event applied: the follower can deliver an event the history load already read.
    position: tuple[int, int] = (-1, -1)

    def proof(self) -> tuple[Any, ...]:
        """The `Proof` the market checks: the assignee list and the aggregated seals."""
        return ([(w, p) for w, p in self.assignees], self.mask, list(self.aggregated))

    def index_of(self, worker: str) -> int | None:
        for i, (w, _) in enumerate(self.assignees):
            if w == worker:
                return i
        return None

    @property
    def assignment_final(self) -> bool:
        """Bid mode assigns once; an instant-mode list grows until every replica is claimed."""
        return bool(self.assignees) and (self.bid_window > 0 or len(self.assignees) == self.replicas)

    @property
    def all_committed(self) -> bool:
        return self.assignment_final and len(self.seals) == len(self.assignees)

    def settleable(self, now: int) -> bool:
        """Whether a keeper's `settle` has work here: an expired job, or assignees nobody settled."""
        if self.status is JobStatus.OPEN:
            return self.commit_deadline != 0 and now >= self.commit_deadline
        if self.status in (JobStatus.ASSIGNED, JobStatus.IN_PROGRESS):
            return now > self.reveal_deadline
        if self.status in (JobStatus.FINALIZED, JobStatus.RESOLVED, JobStatus.FAILED):
            return now > self.reveal_deadline and any(w not in self.settled for w, _ in self.assignees)
        return False

    @property
    def closed(self) -> bool:
        """Nothing will happen to this job any more (so the view can be dropped)."""
        if self.status is JobStatus.CANCELLED:
            return True
        return self.status.terminal and all(w in self.settled for w, _ in self.assignees)

    def apply(self, event: Event) -> None:
        """Applies `event` once: events at or before the last one applied are skipped."""
        if (event.block_number, event.log_index) <= self.position:
            return
        self.position = (event.block_number, event.log_index)
        args = event.args
        name = event.name
        if name == "JobSubmitted":
            spec = args["spec"]
            self.replicas, self.quorum, self.bid_window = spec["replicas"], spec["quorum"], spec["bidWindow"]
            self.commit_deadline, self.reveal_deadline = spec["commitDeadline"], spec["revealDeadline"]
        elif name in ("JobAssigned", "BatchAssigned"):
            self.assignees += [(str(w), int(p)) for w, p in zip(args["workers"], args["prices"], strict=True)]
            self.batch = tuple(int(j) for j in args["jobIds"]) if name == "BatchAssigned" else (self.job_id,)
            self.status = max(self.status, JobStatus.ASSIGNED)
        elif name == "SealCommitted":
            self.seals[int(args["index"])] = bytes(args["seal"])
            self.status = max(self.status, JobStatus.IN_PROGRESS)
        elif name == "SealsCommitted":
            self.mask, self.aggregated = int(args["mask"]), [bytes(s) for s in args["seals"]]
            indices = [i for i in range(16) if self.mask >> i & 1]
            self.seals.update(zip(indices, self.aggregated, strict=True))
            self.status = max(self.status, JobStatus.IN_PROGRESS)
        elif name == "ResultRevealed":
            self.revealed[int(args["index"])] = bytes(args["resultDigest"])
        elif name == "JobFinalized":
            self.status, self.result_digest = JobStatus.FINALIZED, bytes(args["resultDigest"])
        elif name in _ENDS:
            self.status = _ENDS[name]
        elif name == "DisputeResolved":
            self.status = JobStatus.RESOLVED if args["resultUpheld"] else JobStatus.FAILED
        elif name == "Paid":
            for payee, amount in zip(args["payees"], args["amounts"], strict=True):
                self.paid[str(payee)] = self.paid.get(str(payee), 0) + int(amount)
                self.settled.add(str(payee))
        elif name == "WorkerSettled":
            self.settled.add(str(args["worker"]))
        elif name == "Slashed":
            self.slashed[str(args["provider"])] = self.slashed.get(str(args["provider"]), 0) + int(args["amount"])


_ENDS = {"JobFailed": JobStatus.FAILED, "JobCancelled": JobStatus.CANCELLED, "DisputeOpened": JobStatus.DISPUTED}


def jobs_named(event: Event) -> list[int]:
    """The jobs an event is about: `jobId`, a batch's `jobIds`, or a deposit's range. Job ids start at
    1: a `jobId` of 0 means "no job" (a reputation set at registration)."""
    args = event.args
    if "jobIds" in args:
        return [int(j) for j in args["jobIds"]]
    if "firstJobId" in args:
        return list(range(int(args["firstJobId"]), int(args["firstJobId"]) + int(args["jobs"])))
    return [int(args["jobId"])] if int(args.get("jobId", 0)) else []
