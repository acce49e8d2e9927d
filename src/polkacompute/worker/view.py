"""What the worker knows of each job, kept up to date from the events it follows.

A busy worker would otherwise ask the node for the job and its assignee list at every step; from
events it knows the same at no cost: the assignees (the proof every call needs), the committed seals,
the status and the payouts. A job first met after a restart is loaded once from its history.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from polkacompute.chain.events import Event
from polkacompute.sdk.jobview import JobView

if TYPE_CHECKING:
    from polkacompute.sdk.client import AsyncClient


class ChainView:
    """Job views by id, fed by `apply` from the followed events; `get` loads a job not seen yet."""

    def __init__(self, client: AsyncClient) -> None:
        self._c = client
        self._jobs: dict[int, JobView] = {}
        self._loading: dict[int, list[Event]] = {}  # events that arrive while a job's history is read

    def apply(self, event: Event, job_ids: list[int]) -> None:
        for job_id in job_ids:
            if job_id in self._loading:
                self._loading[job_id].append(event)
            if job_id in self._jobs or event.name == "JobSubmitted":
                self._jobs.setdefault(job_id, JobView(job_id)).apply(event)

    def jobs(self) -> list[JobView]:
        return list(self._jobs.values())

    def known(self, job_id: int) -> JobView | None:
        return self._jobs.get(job_id)

    async def get(self, job_id: int) -> JobView:
        """The job's view; loaded from its history (one log query) the first time it is asked for."""
        if job_id not in self._jobs:
            view = await self._load(job_id)
            self._jobs.setdefault(job_id, view)
        return self._jobs[job_id]

    async def _load(self, job_id: int) -> JobView:
        """From the job's history, plus whatever the follower delivered meanwhile (nothing is lost
        between the history's last block and the follower's next)."""
        if job_id in self._loading:  # another task is loading it: one buffer, one owner
            while job_id in self._loading:  # noqa: ASYNC110 (the loader clears it in a finally)
                await asyncio.sleep(0.01)
            if job_id in self._jobs:
                return self._jobs[job_id]
        arrived = self._loading[job_id] = []
        try:
            history = await self._c.jobs.history(job_id)
            status = (await self._c.jobs.get(job_id)).status  # authoritative (disputes, settlements)
        finally:
            del self._loading[job_id]
        view = JobView(job_id)
        for event in history:
            view.apply(event)
        view.status = status
        for event in arrived:  # those the history already held are skipped by position
            view.apply(event)
        return view

    def forget(self, job_id: int) -> None:
        self._jobs.pop(job_id, None)
