"""`client.jobs`: submit, read, list, follow and settle jobs from the requester's side."""

from __future__ import annotations

import asyncio
import builtins
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from web3.logs import DISCARD

from polkacompute.chain.client import Receipt
from polkacompute.chain.events import Cursor, Event, LogReader
from polkacompute.errors import JobTimeout, ValidationError
from polkacompute.sdk.models import ZERO_ADDRESS, Job, JobSpec, JobStatus

if TYPE_CHECKING:
    from polkacompute.sdk.client import AsyncClient

_PAGE = 32  # getJob calls in flight at once when listing


@dataclass(frozen=True)
class JobHandle:
    id: int
    tx_hash: str
    budget: int


@dataclass(frozen=True)
class JobResult:
    """What became of a job: its digest (when finalized) and who was paid or slashed, from its events."""

    job: Job
    result_digest: bytes | None
    paid: dict[str, int] = field(default_factory=dict)  # worker -> amount, before the protocol fee
    fees: int = 0  # protocol fees taken out of `paid`
    slashed: dict[str, int] = field(default_factory=dict)  # worker -> amount
    refunded: int = 0  # budget returned to the requester
    received: dict[str, int] = field(default_factory=dict)  # worker -> what it was credited: `paid` less its fee
    slash_reasons: dict[str, str] = field(default_factory=dict)  # worker -> the contract's reason (NO_SHOW...)


class Jobs:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def submit(self, spec: JobSpec) -> JobHandle:
        """Validates the spec against the contract's rules, then submits it with its budget."""
        c = self._c
        spec.validate(await c.market_params(), await c.now())
        if spec.payment_token not in (None, ZERO_ADDRESS):
            raise ValidationError("payment_token", "ERC-20 budgets need an approval first; not supported here yet")
        receipt = await c.chain.send(c.market.functions.submitJob(spec.to_tuple()), value=spec.budget)
        events = c.market.events.JobSubmitted().process_receipt(receipt, errors=DISCARD)
        return JobHandle(int(events[0]["args"]["jobId"]), _hex(receipt["transactionHash"]), spec.budget)

    async def get(self, job_id: int, *, block: int | None = None) -> Job:
        """The job as stored on-chain (at `block`, default the latest)."""
        fn = self._c.market.functions.getJob(job_id)
        data = await self._c.chain.call(fn, "latest" if block is None else block)
        job = Job.from_tuple(job_id, data)
        if job.status is JobStatus.NONE:
            raise ValidationError("job_id", f"no job {job_id} on {self._c.network.name}", hint="see `job list`")
        return job

    async def count(self) -> int:
        """How many jobs were ever submitted (ids run from 1 to this)."""
        return int(await self._c.chain.call(self._c.market.functions.jobCount()))

    async def iter(
        self,
        *,
        status: JobStatus | set[JobStatus] | None = None,
        requester: str | None = None,
        newest_first: bool = True,
    ) -> AsyncIterator[Job]:
        """Every job, newest first by default, optionally only those in `status` or of `requester`.

        Reads `getJob` in pages of concurrent calls; break out when you have enough.
        """
        wanted = {status} if isinstance(status, JobStatus) else status
        who = requester.lower() if requester else None
        count = await self.count()
        ids = range(count, 0, -1) if newest_first else range(1, count + 1)
        for start in range(0, len(ids), _PAGE):  # itertools.batched is 3.12+
            jobs = await asyncio.gather(*(self.get(job_id) for job_id in ids[start : start + _PAGE]))
            for job in jobs:
                if (wanted is None or job.status in wanted) and (who is None or job.requester.lower() == who):
                    yield job

    async def list(
        self,
        *,
        limit: int = 20,
        status: JobStatus | set[JobStatus] | None = None,
        requester: str | None = None,
        newest_first: bool = True,
    ) -> builtins.list[Job]:
        """Up to `limit` jobs matching the filters (see `iter`)."""
        if limit < 1:
            raise ValidationError("limit", f"must be at least 1, not {limit}")
        found: builtins.list[Job] = []
        async for job in self.iter(status=status, requester=requester, newest_first=newest_first):
            found.append(job)
            if len(found) == limit:
                break
        return found

    async def cancel(self, job_id: int) -> Receipt:
        return await self._c.chain.send(self._c.market.functions.cancel(job_id))

    async def dispute(self, job_id: int) -> Receipt:
        """Disputes a finalized result within its dispute window, posting the market's dispute bond."""
        params = await self._c.market_params()
        return await self._c.chain.send(self._c.market.functions.dispute(job_id), value=params.dispute_bond)

    async def history(self, job_id: int, *, from_block: int | None = None) -> builtins.list[Event]:
        """Every event about the job since the deployment (or `from_block`), in chain order."""
        reader = LogReader(self._c.chain, self._c.deployment.addresses)
        start = self._c.deployment.block if from_block is None else from_block
        return await reader.read(start, await self._c.chain.block_number(), job_id=job_id)

    async def events(self, job_id: int, *, poll_interval: float | None = None) -> AsyncIterator[Event]:
        """The job's past events, then its new ones as they land, until it reaches a terminal status."""
        head = await self._c.chain.block_number()
        for event in await self.history(job_id):
            yield event
        if (await self.get(job_id, block=head)).status.terminal:
            return
        reader = LogReader(self._c.chain, self._c.deployment.addresses)
        async for batch in reader.follow(Cursor(head + 1), job_id=job_id, poll_interval=poll_interval):
            for event in batch:
                yield event
            if (await self.get(job_id, block=batch[-1].block_number)).status.terminal:
                return

    async def watch(self, job_id: int, *, poll_interval: float | None = None) -> AsyncIterator[Job]:
        """Yields the job now and at each status change, until it reaches a terminal status.

        Driven by the job's events: the job is re-read at the block of each event, so a status that
        lasted a single block is still reported (statuses within one block are not observable).
        """
        head = await self._c.chain.block_number()
        job = await self.get(job_id, block=head)
        yield job
        if job.status.terminal:
            return
        last = job.status
        reader = LogReader(self._c.chain, self._c.deployment.addresses)
        async for batch in reader.follow(Cursor(head + 1), job_id=job_id, poll_interval=poll_interval):
            for block in sorted({e.block_number for e in batch}):
                job = await self.get(job_id, block=block)
                if job.status != last:
                    last = job.status
                    yield job
                    if job.status.terminal:
                        return

    async def wait(self, job_id: int, *, timeout: float, until: set[JobStatus] | None = None) -> Job:  # noqa: ASYNC109
        """The job once it reaches one of `until` (default: any terminal status), or JobTimeout."""
        deadline = time.monotonic() + timeout

        async def reach() -> Job:
            async for job in self.watch(job_id):
                if (until and job.status in until) or (not until and job.status.terminal):
                    return job
            return await self.get(job_id)  # terminal, but not one of `until`

        try:
            return await asyncio.wait_for(reach(), timeout=max(deadline - time.monotonic(), 0.001))
        except TimeoutError:
            job = await self.get(job_id)
            raise JobTimeout(f"job {job_id} is still {job.status.name} after {timeout:.0f}s") from None

    async def result(self, job_id: int) -> JobResult:
        """The job's outcome: result digest, payments, slashes and refund, gathered from its events."""
        job = await self.get(job_id)
        paid: dict[str, int] = {}
        received: dict[str, int] = {}
        slashed: dict[str, int] = {}
        reasons: dict[str, str] = {}
        refunded = fees = 0
        for event in await self.history(job_id):
            args: dict[str, Any] = event.args
            if event.name == "Paid":
                for payee, amount in zip(args["payees"], args["amounts"], strict=True):
                    paid[payee] = paid.get(payee, 0) + int(amount)
                    # as PaymentEscrow.pay credits it: the fee is taken from each amount, rounded down
                    received[payee] = received.get(payee, 0) + int(amount) - int(amount) * int(args["feeBps"]) // 10_000
                fees += int(args["fees"])
            elif event.name == "Slashed":
                slashed[args["provider"]] = slashed.get(args["provider"], 0) + int(args["amount"])
                reasons[args["provider"]] = reason_name(args["reason"])
            elif event.name == "Refunded" and args["to"].lower() == job.requester.lower():
                refunded += int(args["amount"])
        return JobResult(job, job.result_digest, paid, fees, slashed, refunded, received, reasons)


def reason_name(value: Any) -> str:
    """A contract's bytes32 reason ("NO_SHOW", "MISMATCH") as its name; 0x-hex if it is not ASCII text."""
    raw = bytes(value)
    text = raw.rstrip(b"\0")
    if text and all(0x20 < c < 0x7F for c in text):
        return text.decode()
    return "0x" + raw.hex()


def _hex(value: Any) -> str:
    return value.to_0x_hex() if hasattr(value, "to_0x_hex") else str(value)
