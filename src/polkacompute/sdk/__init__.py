"""The PolkaCompute SDK: `AsyncClient` (asyncio) and `Client` (blocking) over one implementation."""

from polkacompute.sdk.client import AsyncClient, Client
from polkacompute.sdk.jobs import JobHandle, JobResult
from polkacompute.sdk.models import Bid, Job, JobSpec, JobStatus, MarketParams, Provider
from polkacompute.sdk.work import Assignee, Sealed, seal_result

__all__ = [
    "Assignee",
    "AsyncClient",
    "Bid",
    "Client",
    "Job",
    "JobHandle",
    "JobResult",
    "JobSpec",
    "JobStatus",
    "MarketParams",
    "Provider",
    "Sealed",
    "seal_result",
]
