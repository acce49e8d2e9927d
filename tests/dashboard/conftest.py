"""A live network for the browser tests: a private anvil (1 s blocks), three workers, the dashboard
process as `devnet up` starts it, and the devnet demo's job run by the workers; and Debian's chromium
driven by Playwright, failing a test on any console error or uncaught exception in the page."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from polkacompute.chain.deploy import Deployment
from polkacompute.chain.networks import Network
from polkacompute.devnet.anvil import free_port
from polkacompute.devnet.fleet import Fleet, fleet_on_fresh_anvil
from polkacompute.devnet.worker_demo import WorkerDemoResult, run_worker_demo

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"  # screenshots of each page (kept after the run)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]  # fmt: skip


@dataclass
class Live:
    network: Network
    deployment: Deployment
    fleet: Fleet
    url: str  # the dashboard, ending in "/"
    demo: WorkerDemoResult

    def api(self, path: str) -> Any:
        response = httpx.get(self.url + path.lstrip("/"), timeout=5)
        response.raise_for_status()
        return response.json()

    def wait_indexed(self, job_id: int, status: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                job: dict[str, Any] = self.api(f"/api/jobs/{job_id}")
                if job["status"] == status:
                    return job
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"job {job_id} was not indexed as {status} in {timeout}s"
            time.sleep(0.2)


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    directory = tmp_path_factory.mktemp("live")
    with fleet_on_fresh_anvil(directory, 3) as (network, deployment, fleet):
        url = fleet.start_dashboard(free_port())
        demo = asyncio.run(run_worker_demo(network, deployment, fleet.gateway_url, fleet.worker_urls,
                                           say=lambda _: None))  # fmt: skip
        assert demo.verified
        network_live = Live(network, deployment, fleet, url, demo)
        network_live.wait_indexed(demo.job_id, "FINALIZED")
        yield network_live


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `apt-get install chromium` (make setup installs it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A laptop-sized page; the test fails if the page logs an error or warning or throws."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    opened = context.new_page()
    problems = watch(opened)
    yield opened
    context.close()
    assert not problems, f"the page reported: {problems}"


def watch(page: Page) -> list[str]:
    """Collects console errors and warnings and uncaught exceptions of `page`."""
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(f"console {message.type}: {message.text}")

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    return problems


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
