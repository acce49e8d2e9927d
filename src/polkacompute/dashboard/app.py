"""The dashboard: the indexer's API, a route serving finalized results for the page to verify, and the
web front-end (built from `dashboard/` at the repository root into `static/`, shipped in the package)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.middleware import Middleware

from polkacompute.chain.networks import Network
from polkacompute.dashboard.results import ResultFetcher
from polkacompute.errors import ContentError
from polkacompute.indexer.api import create_app, read_with
from polkacompute.indexer.indexer import Indexer
from polkacompute.indexer.limits import ApiLimits, JobIdPath, RateLimit
from polkacompute.indexer.schema import JobRow, ProviderRow
from polkacompute.net.policy import OutboundPolicy
from polkacompute.store.cid import cid_from_digest

STATIC = Path(__file__).parent / "static"
RESULT_PATH = r"/api/jobs/[^/]+/result"


def create_dashboard(engine: Engine, network: Network, *, indexer: Indexer | None = None,
                     gateways: Sequence[str] = (), follow_every: float = 1.0,
                     limits: ApiLimits | None = None, outbound: OutboundPolicy | None = None) -> FastAPI:  # fmt: skip
    """The API and web pages over the index in `engine` (and, with `indexer`, indexing as it serves).

    Results are fetched from `gateways` first, then from the job's assignees, at most
    `limits.result_rate` a second per client (in bursts of `limits.result_burst`)."""
    limits = limits or ApiLimits()
    # Assignees register any address: results are fetched under the outbound policy (docs/security.md).
    results = ResultFetcher(gateways, outbound or OutboundPolicy.for_network(network))
    info = {"network": network.name, "chain_id": network.chain_id, "symbol": network.currency}
    app = create_app(engine, indexer=indexer, follow_every=follow_every, info=info, limits=limits,
                     closing=[results.close])  # fmt: skip
    # Each result request makes this server fetch from others: a token bucket per client IP. Appended, so
    # it runs inside the trusted-host check (a foreign Host never spends a client's tokens).
    app.user_middleware.append(Middleware(RateLimit, path=RESULT_PATH, rate=limits.result_rate,
                                          burst=limits.result_burst))  # fmt: skip

    @app.get("/api/jobs/{job_id}/result", summary="A finalized job's result document (DAG-CBOR), by its CID",
             response_class=Response, responses={200: {"content": {"application/octet-stream": {}}}})  # fmt: skip
    async def result(job_id: JobIdPath) -> Response:
        located = read_with(engine, _result_of, job_id)
        if located is None:
            raise HTTPException(404, f"job {job_id} is not indexed")
        cid, peers = located
        if cid is None:
            raise HTTPException(409, f"job {job_id} has no result (it is not finalized)")
        try:
            data = await results.fetch(cid, peers)
        except ContentError:  # never what a source said, or whether it listens (the log has it)
            raise HTTPException(502, f"job {job_id}'s result is unavailable from its sources") from None
        return Response(data, media_type="application/octet-stream", headers={"X-Result-Cid": cid})

    if (STATIC / "index.html").exists():  # after the API routes: they take precedence over files
        app.mount("/", StaticFiles(directory=STATIC, html=True), name="dashboard")
    return app


def _result_of(session: Session, job_id: int) -> tuple[str | None, list[str]] | None:
    """The job's result CID (None without a result) and its assignees' registered addresses."""
    job = session.get(JobRow, job_id)
    if job is None:
        return None
    if job.result_digest is None:
        return None, []
    rows = session.scalars(select(ProviderRow).where(ProviderRow.address.in_(job.assignees)))
    by_address: dict[str, Any] = {p.address: p.peer_id for p in rows}
    return cid_from_digest(job.result_digest, "dag-cbor"), [by_address[a] for a in job.assignees if by_address.get(a)]
