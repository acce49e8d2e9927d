"""What the human output says (the chain's answers stubbed): what each worker received net of the fee, slash
reasons by name, digests whole on request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import polkacompute.cli.jobs as jobs
from polkacompute.chain.events import Event
from polkacompute.sdk.jobs import JobResult, reason_name
from polkacompute.sdk.models import Job, JobStatus

from .conftest import Ran

Cli = Callable[..., Ran]
W1, W2, W3 = (f"0x{c * 40}" for c in "123")
DIGEST = bytes(range(32))
NO_SHOW = b"NO_SHOW".ljust(32, b"\0")


def job(status: JobStatus = JobStatus.FINALIZED) -> Job:
    return Job(id=7, requester=W1, status=status, replicas=3, quorum=2, assigned=3, committed=2, settled_mask=7,
               flags=0, finalized_at=0, max_price=10**16, capabilities=1, bid_deadline=0, commit_deadline=1_800_000_000,
               reveal_deadline=1_800_000_100, dispute_window=0, collateral_bps=0, record=b"",
               result_digest=DIGEST)  # fmt: skip


def test_reason_names() -> None:
    assert reason_name(NO_SHOW) == "NO_SHOW"
    assert reason_name(b"MISMATCH".ljust(32, b"\0")) == "MISMATCH"
    assert reason_name(b"\xff" * 32) == "0x" + "ff" * 32  # not text: hex, whole


def test_job_result_shows_net_pay_and_slash_reasons(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    result = JobResult(job(), DIGEST, paid={W1: 10**16, W2: 10**16}, fees=2 * 10**14, slashed={W3: 5 * 10**15},
                       refunded=10**16, received={W1: 99 * 10**14, W2: 99 * 10**14},
                       slash_reasons={W3: "NO_SHOW"})  # fmt: skip
    monkeypatch.setattr(jobs, "with_client", lambda *_: result)
    shown = cli("job", "result", "7")
    assert shown.code == 0, shown.stderr
    assert f"paid     {W1}  0.0099 (pay 0.01 less the protocol fee 0.0001)" in shown.stdout
    assert f"slashed  {W3}  0.005 (NO_SHOW)" in shown.stdout
    assert "0x" + DIGEST.hex() in shown.stdout  # whole, on one line
    data = cli("job", "result", "7", "--json").json()
    assert data["received"] == {W1: 99 * 10**14, W2: 99 * 10**14}
    assert data["paid"][W1] == 10**16  # gross, as the Paid event says
    assert data["slash_reasons"] == {W3: "NO_SHOW"}


class FakeClient:
    """`client(net)` for `job watch`: one Slashed event."""

    def __init__(self, *_: Any) -> None:
        self.jobs = self

    async def __aenter__(self) -> FakeClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    async def events(self, job_id: int, *, poll_interval: float | None = None) -> AsyncIterator[Event]:
        args = {"provider": W3, "jobId": job_id, "token": "0x" + "00" * 20, "amount": 5, "beneficiary": W1,
                "reason": NO_SHOW}  # fmt: skip
        yield Event("ProviderRegistry", "Slashed", args, 12, "0x" + "ab" * 32, "0x" + "cd" * 32, 0)


def test_job_watch_names_slash_reasons(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "client", FakeClient)
    shown = cli("job", "watch", "7")
    assert shown.code == 0, shown.stderr
    assert "reason=NO_SHOW" in shown.stdout
    assert "0x4e4f5f53" not in shown.stdout
    lines = cli("job", "watch", "7", "--json").stdout.strip().splitlines()
    assert '"reason": "NO_SHOW"' in lines[0]


def test_job_list_digests_whole_with_wide(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "with_client", lambda *_: [job()])
    compact = cli("job", "list")
    assert compact.code == 0, compact.stderr
    assert "0x" + DIGEST.hex() not in compact.stdout
    assert "…" in compact.stdout
    wide = cli("job", "list", "--wide")
    assert "0x" + DIGEST.hex() in wide.stdout
    assert W1 in wide.stdout
    assert "2027-01-15 08:00:00" in wide.stdout  # the commit deadline, with year and seconds
    assert "…" not in wide.stdout
