"""The worker's job view applies each event once, whichever path delivered it."""

from __future__ import annotations

from polkacompute.chain.events import Event
from polkacompute.sdk.jobview import JobView
from polkacompute.sdk.models import JobStatus

A, B = "0x" + "a" * 40, "0x" + "b" * 40


def assigned(block: int, index: int, worker: str) -> Event:
    args = {"jobId": 7, "workers": [worker], "prices": [5]}
    return Event("JobMarket", "JobAssigned", args, block, "0x" + "0" * 64, "0x" + "1" * 64, index)


def test_an_event_read_by_the_history_and_delivered_by_the_follower_counts_once() -> None:
    view = JobView(7, replicas=2, quorum=2)
    first, second = assigned(10, 0, A), assigned(11, 3, B)
    for event in (first, second, first, second):  # history load, then the follower catching up
        view.apply(event)
    assert view.assignees == [(A, 5), (B, 5)]
    assert view.index_of(B) == 1
    assert view.status is JobStatus.ASSIGNED
    assert view.assignment_final


def test_events_apply_in_chain_order_within_a_block() -> None:
    view = JobView(7, replicas=3, quorum=2)
    view.apply(assigned(10, 4, A))
    view.apply(assigned(10, 2, B))  # earlier in the same block: already covered by what was read
    assert view.assignees == [(A, 5)]
