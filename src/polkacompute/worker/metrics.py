"""Prometheus metrics of one worker, served at /metrics on its gateway."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.jobs = Counter("polkacompute_worker_jobs", "Jobs by stage reached", ["stage"], registry=r)
        # stages: seen, declined, bid, won, executed, committed, finalized, failed, abandoned
        self.fuel = Counter("polkacompute_worker_fuel", "Fuel consumed by executed jobs", registry=r)
        self.earnings = Counter("polkacompute_worker_earnings_wei", "Payouts credited to this worker", registry=r)
        self.slashes = Counter("polkacompute_worker_slashes", "Times this worker was slashed", registry=r)
        self.in_flight = Gauge("polkacompute_worker_jobs_in_flight", "Assigned jobs not yet done", registry=r)
        self.execution = Histogram("polkacompute_worker_execution_seconds", "Fetch and run time of a job",
                                   buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300), registry=r)  # fmt: skip
        self.latency = Histogram("polkacompute_worker_job_seconds", "Assignment to done, per job",
                                 buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 1800), registry=r)  # fmt: skip

    def attach(self, app: web.Application) -> None:
        app.router.add_get("/metrics", self._serve)

    async def _serve(self, request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
