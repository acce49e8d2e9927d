"""How long a batch call waits for assignees missing from it: longer for a live one than a silent one.

A worker left out of a batch's commit or finalize acts alone, a transaction per job of the batch; a dead
one never does. So the wait stretches only while a missing assignee was heard from lately.
"""

from __future__ import annotations

import time
from pathlib import Path

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.networks import NETWORKS
from polkacompute.worker.config import WorkerConfig
from polkacompute.worker.daemon import Worker

SLOW, GONE = dev_account(3).address, dev_account(4).address


def test_a_live_assignee_is_waited_for_longer_than_a_silent_one(tmp_path: Path) -> None:
    config = WorkerConfig(network=NETWORKS["local"], signer=dev_account(2), directory=tmp_path, runtimes=("wasi",),
                          p2p=False, finalize_grace=2.0, alone_after=15.0)  # fmt: skip
    aggregator = Worker(config).aggregator
    assert aggregator.patience([]) == 0.0  # everyone is in: no wait
    assert aggregator.patience([GONE]) == 2.0  # never heard from: one grace period
    aggregator.heard(SLOW)
    assert aggregator.patience([SLOW]) == 7.5  # heard just now: busy, half of alone_after
    assert aggregator.patience([GONE, SLOW]) == 7.5  # one live one is worth waiting for
    aggregator._heard[SLOW] = time.monotonic() - 4.0  # silent for two grace periods: gone
    assert aggregator.patience([SLOW]) == 2.0
