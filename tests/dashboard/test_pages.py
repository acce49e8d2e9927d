"""The dashboard in Debian's chromium against a live network: every page renders real data, the activity
stream shows a job submitted during the test within 2 seconds (and holds it while paused), the verify
button confirms a real result and catches a tampered one, jobs show a known runtime by name, phones get
no sideways scrolling nor cut-off event names, and no page logs an error. Screenshots of each page go to
test-artifacts/dashboard/."""

from __future__ import annotations

import asyncio
import re
import time
from concurrent.futures import ThreadPoolExecutor

from playwright.sync_api import Browser, Page, Route, expect

from polkacompute.chain.accounts import dev_account
from polkacompute.sdk import AsyncClient
from tests.sdk.test_client import spec_at

from .conftest import Live, screenshot, watch

WITHIN = 10_000  # ms: how long a page may take to show what the index already has


def submit_job(live: Live) -> tuple[int, float]:
    """Submits a job (it stays open); returns its id and the monotonic time its receipt arrived."""

    async def go() -> int:
        async with AsyncClient(live.network, signer=dev_account(1), deployment=live.deployment) as pc:
            return (await pc.jobs.submit(spec_at(await pc.now()))).id

    with ThreadPoolExecutor(1) as thread:  # Playwright's sync API keeps an event loop on this thread
        job_id = thread.submit(asyncio.run, go()).result(timeout=60)
    return job_id, time.monotonic()


def activity_row(page: Page, job_id: int, event: str = "JobSubmitted"):  # type: ignore[no-untyped-def]
    rows = page.get_by_test_id("activity-row").and_(page.locator(f'[data-event="{event}"]'))
    return rows.filter(has=page.locator(f'xpath=self::*[contains(concat(",", @data-jobs, ","), ",{job_id},")]'))


def test_overview_shows_metrics_and_charts(live: Live, page: Page) -> None:
    page.goto(live.url)
    stats = live.api("/api/stats")
    expect(page.get_by_test_id("metric-jobs")).to_contain_text(str(stats["jobs"]), timeout=WITHIN)
    expect(page.get_by_test_id("metric-active-workers")).to_contain_text("3")
    expect(page.get_by_test_id("metric-success-rate")).to_contain_text("100")
    for chart in ("jobs", "success-rate", "latency", "gas", "workers", "escrowed"):
        expect(page.get_by_test_id(f"chart-{chart}").locator("canvas").first).to_be_visible(timeout=WITHIN)
    expect(page.get_by_test_id("stream-status")).to_have_attribute("data-state", "live", timeout=WITHIN)
    screenshot(page, "overview")

    # A day's window: the charts are redrawn from a 1,440-point series.
    with page.expect_response(lambda r: "/api/series?minutes=1440" in r.url and r.ok):
        page.get_by_test_id("series-range").select_option("1440")
    expect(page.get_by_test_id("chart-jobs").locator("canvas").first).to_be_visible()


def test_jobs_list_filters_and_detail(live: Live, page: Page) -> None:
    job_id = live.demo.job_id
    page.goto(live.url + "#/jobs")
    expect(page.locator(f'[data-testid="job-row"][data-job-id="{job_id}"]')).to_be_visible(timeout=WITHIN)
    page.get_by_test_id("filter-status").select_option("FAILED")
    expect(page.locator(f'[data-testid="job-row"][data-job-id="{job_id}"]')).to_have_count(0, timeout=WITHIN)
    page.get_by_test_id("filter-status").select_option("FINALIZED")
    expect(page.locator(f'[data-testid="job-row"][data-job-id="{job_id}"]')).to_be_visible(timeout=WITHIN)
    # The demo's runtime by name (it is a runtime the indexer knows), its full identity on hover.
    runtime_id = live.api(f"/api/jobs/{job_id}")["runtime"]
    runtime = page.locator(f'[data-testid="job-row"][data-job-id="{job_id}"] [data-testid="job-runtime"]')
    expect(runtime).to_have_text("wasi")
    expect(runtime).to_have_attribute("title", runtime_id)
    screenshot(page, "jobs")

    page.locator(f'[data-testid="job-row"][data-job-id="{job_id}"]').click()
    detail = page.get_by_test_id("job-detail")
    expect(detail).to_have_attribute("data-job-id", str(job_id), timeout=WITHIN)
    expect(page.get_by_test_id("job-status")).to_contain_text("FINALIZED")
    expect(page.get_by_test_id("job-runtime")).to_contain_text("wasi")
    expect(page.get_by_test_id("job-runtime")).to_contain_text(runtime_id)
    events = page.get_by_test_id("timeline-item")
    for name in ("JobSubmitted", "JobAssigned", "JobFinalized", "Paid"):
        expect(events.and_(page.locator(f'[data-event="{name}"]')).first).to_be_visible()
    assignees = page.get_by_test_id("assignees-table")
    for worker in live.demo.paid:
        expect(assignees.locator(f'a[href="#/workers/{worker}"]')).to_be_visible()
    expect(assignees).to_contain_text("paid")
    expect(page.get_by_test_id("escrow-flows")).to_be_visible()
    screenshot(page, "job-detail")


def test_jobs_list_shows_a_new_job_without_a_reload(live: Live, page: Page) -> None:
    page.goto(live.url + "#/jobs")
    page.get_by_test_id("job-row").first.wait_for(timeout=WITHIN)
    job_id, _ = submit_job(live)
    expect(page.locator(f'[data-testid="job-row"][data-job-id="{job_id}"]')).to_be_visible(timeout=5_000)
    expect(page.locator(f'[data-testid="job-row"][data-job-id="{job_id}"]')).to_contain_text("OPEN")


def test_verify_button_confirms_a_real_result(live: Live, page: Page) -> None:
    page.goto(live.url + f"#/jobs/{live.demo.job_id}")
    page.get_by_test_id("verify-button").click()
    status = page.get_by_test_id("verify-status")
    expect(status).to_have_attribute("data-state", "ok", timeout=30_000)  # fetched from a worker over libp2p
    expect(status).to_contain_text(re.compile("verified", re.IGNORECASE))
    expect(page.get_by_test_id("result-output")).to_contain_text(live.demo.output.decode().strip())
    screenshot(page, "job-verified")


def test_verify_button_refuses_tampered_bytes(live: Live, page: Page) -> None:
    def tamper(route: Route) -> None:
        route.fulfill(status=200, body=b"\xa1avb\x01 not the result", content_type="application/octet-stream")

    page.route("**/api/jobs/*/result", tamper)
    page.goto(live.url + f"#/jobs/{live.demo.job_id}")
    page.get_by_test_id("verify-button").click()
    status = page.get_by_test_id("verify-status")
    expect(status).to_have_attribute("data-state", "mismatch", timeout=WITHIN)
    expect(page.get_by_test_id("result-output")).to_have_count(0)


def test_workers_list_and_detail(live: Live, page: Page) -> None:
    page.goto(live.url + "#/workers")
    rows = page.get_by_test_id("worker-row")
    expect(rows).to_have_count(3, timeout=WITHIN)
    page.get_by_test_id("sort-earned").click()
    expect(rows).to_have_count(3)
    screenshot(page, "workers")
    worker = next(iter(live.demo.paid))
    page.locator(f'[data-testid="worker-row"][data-address="{worker}"]').click()
    expect(page.get_by_test_id("worker-detail")).to_be_visible(timeout=WITHIN)
    expect(page.get_by_test_id("reputation-chart").locator("canvas").first).to_be_visible()
    history = page.get_by_test_id("reputation-table")
    expect(history).to_contain_text("REGISTERED")
    expect(history).to_contain_text("AGREED")
    screenshot(page, "worker-detail")


def test_activity_shows_a_submitted_job_within_two_seconds_and_pauses(live: Live, page: Page) -> None:
    page.goto(live.url + "#/activity")
    expect(page.get_by_test_id("stream-status")).to_have_attribute("data-state", "live", timeout=WITHIN)
    expect(page.get_by_test_id("activity-row").first).to_be_visible(timeout=WITHIN)  # the recent backlog

    job_id, mined = submit_job(live)
    activity_row(page, job_id).wait_for(timeout=5_000)
    shown = time.monotonic() - mined
    assert shown < 2.0, f"job {job_id} showed {shown:.2f}s after its transaction was mined"
    screenshot(page, "activity")

    page.get_by_test_id("activity-pause").click()
    held, _ = submit_job(live)
    expect(page.get_by_test_id("activity-buffered")).to_contain_text(re.compile(r"[1-9]"), timeout=WITHIN)
    expect(activity_row(page, held)).to_have_count(0)
    page.get_by_test_id("activity-pause").click()
    expect(activity_row(page, held)).to_have_count(1, timeout=WITHIN)

    page.get_by_test_id("filter-job").fill(str(held))
    expect(page.get_by_test_id("activity-row").first).to_be_visible()
    assert all(str(held) in (row.get_attribute("data-jobs") or "").split(",")
               for row in page.get_by_test_id("activity-row").all())  # fmt: skip


# Event-name cells of the Activity table that are cut off: overflowing themselves, or reaching past the
# table's visible box or the screen (a table that scrolls sideways hides its right-hand columns).
CUT_EVENT_NAMES = """() => {
  const box = document.querySelector('[data-testid="activity-table"]').closest(".table-scroll");
  const edge = Math.min(box.getBoundingClientRect().right, window.innerWidth) + 0.5;
  const cells = [...document.querySelectorAll('[data-testid="activity-event"]')];
  const cut = cells.filter((cell) => cell.scrollWidth > cell.clientWidth || cell.getBoundingClientRect().right > edge);
  return { cells: cells.length, cut: cut.map((cell) => cell.textContent) };
}"""


def test_phone_layout_and_dark_theme(live: Live, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True,
                                  color_scheme="dark")  # fmt: skip
    page = context.new_page()
    problems = watch(page)
    try:
        for name, route in (("overview", ""), ("jobs", "#/jobs"), ("job", f"#/jobs/{live.demo.job_id}"),
                            ("workers", "#/workers"), ("activity", "#/activity")):  # fmt: skip
            page.goto(live.url + route)
            page.get_by_test_id("nav-overview").wait_for(timeout=WITHIN)
            if name == "activity":
                expect(page.get_by_test_id("activity-row").first).to_be_visible(timeout=WITHIN)
                events = page.evaluate(CUT_EVENT_NAMES)
                assert events["cells"] > 0
                assert events["cut"] == [], "event names are cut off on a phone"
                scroll = page.get_by_test_id("activity-table").locator("xpath=..")
                assert scroll.evaluate("box => box.scrollWidth <= box.clientWidth"), "the table scrolls sideways"
            else:
                page.wait_for_load_state("networkidle")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, f"the {name} page scrolls sideways on a phone ({width}px wide)"
            screenshot(page, f"phone-{name}")
        dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
        page.get_by_test_id("theme-toggle").click()
        expect(page.locator("body")).not_to_have_css("background-color", dark)
    finally:
        context.close()
    assert not problems, f"the page reported: {problems}"


def test_unknown_job_and_worker_show_the_reason(live: Live, browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    problems = watch(page)
    try:
        page.goto(live.url + "#/jobs/999999")
        expect(page.locator("main")).to_contain_text("job 999999 is not indexed", timeout=WITHIN)
        page.goto(live.url + "#/workers/0x0000000000000000000000000000000000000001")
        expect(page.locator("main")).to_contain_text("is not indexed", timeout=WITHIN)
    finally:
        context.close()
    # The browser itself logs each 404 it received; the page must add nothing else.
    assert [p for p in problems if "404 (Not Found)" not in p] == []
