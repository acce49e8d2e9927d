"""The page against streams the server ends (their lifetime, here 1.5 s instead of 10 minutes): it
reconnects from the last event it saw, shows every event once, stays live, and logs nothing."""

from __future__ import annotations

import time

from playwright.sync_api import Page, Request, expect

from polkacompute.dashboard import create_dashboard
from polkacompute.indexer import open_store
from polkacompute.indexer.limits import ApiLimits
from tests.indexer.test_limits import serving

from .conftest import Live
from .test_pages import WITHIN, activity_row, submit_job


def test_the_page_follows_streams_the_server_ends(live: Live, page: Page) -> None:
    # A second dashboard over the live network's index (its own indexer keeps writing it).
    engine = open_store(f"sqlite:///{live.fleet.directory / 'index.db'}")
    app = create_dashboard(engine, live.network, limits=ApiLimits(stream_lifetime=1.5, stream_retry_ms=500))
    streams: list[str] = []

    def opened(request: Request) -> None:
        if "/api/stream" in request.url:
            streams.append(request.url)

    page.on("request", opened)
    with serving(app) as url:
        page.goto(url + "/#/activity")
        expect(page.get_by_test_id("stream-status")).to_have_attribute("data-state", "live", timeout=WITHIN)
        jobs = []
        for _ in range(3):  # across several streams
            jobs.append(submit_job(live)[0])
            time.sleep(1.2)
        for job_id in jobs:
            expect(activity_row(page, job_id)).to_have_count(1, timeout=WITHIN)
        expect(page.get_by_test_id("stream-status")).to_have_attribute("data-state", "live", timeout=WITHIN)
    assert len(streams) >= 3, f"the page opened {len(streams)} streams in {len(jobs) * 1.2:.0f} s"
    assert all("after=" in s for s in streams[1:])  # each one resumed after the last event it saw
