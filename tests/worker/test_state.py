"""The worker's SQLite state: forward-only phases, transaction intents, survival of kill -9."""

import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from polkacompute.errors import ConfigError
from polkacompute.worker.state import Phase, TxState, WorkerState


def test_phases_only_move_forward(tmp_path: Path) -> None:
    state = WorkerState(tmp_path / "worker.db")
    assert state.see(7, {"replicas": 3})
    assert not state.see(7, {"replicas": 3})  # already known
    state.advance(7, Phase.ASSIGNED, my_index=1, assignees=[("0xa", 10), ("0xb", 10)])
    state.advance(7, Phase.EXECUTED, result_digest=b"d" * 32, salt=b"s" * 32, seal=b"x" * 32)
    record = state.job(7)
    assert (record.phase, record.my_index, record.assignees) == (Phase.EXECUTED, 1, [("0xa", 10), ("0xb", 10)])
    assert (record.salt, record.spec) == (b"s" * 32, {"replicas": 3})
    with pytest.raises(ValueError, match="cannot go back to assigned"):
        state.advance(7, Phase.ASSIGNED)
    with pytest.raises(KeyError):
        state.advance(7, Phase.COMMITTED, unknown_column=1)
    assert state.job(7).phase is Phase.EXECUTED  # the failed update changed nothing
    assert [j.job_id for j in state.in_flight()] == [7]
    with pytest.raises(KeyError, match="job 99 is not in the worker state"):
        state.job(99)


def test_a_sent_commit_is_never_sent_again(tmp_path: Path) -> None:
    state = WorkerState(tmp_path / "worker.db")
    state.see(1, {})
    first = state.intend(1, "commit")
    assert state.may_send(1, "commit")  # an intent alone may never have reached the node
    state.sent(first, "0xabc")
    assert not state.may_send(1, "commit")
    state.settled(first, ok=True)
    assert [(t.kind, t.state, t.tx_hash) for t in state.txs(1)] == [("commit", TxState.MINED, "0xabc")]
    assert state.may_send(1, "reveal")


CHILD = """
import os, sys, time
from pathlib import Path
from polkacompute.worker.state import Phase, WorkerState
state = WorkerState(Path(sys.argv[1]))
state.see(5, {"replicas": 3})
state.advance(5, Phase.EXECUTED, result_digest=b"d" * 32, salt=b"secret-salt".ljust(32, b"\\0"), seal=b"s" * 32)
tx = state.intend(5, "commit")
state.sent(tx, "0xfeed")
print("ready", flush=True)
time.sleep(60)
"""


def test_state_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "worker.db"
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    state = WorkerState(path)
    record = state.job(5)
    assert record.phase is Phase.EXECUTED
    assert record.salt == b"secret-salt".ljust(32, b"\0")  # the salt is never lost
    assert not state.may_send(5, "commit")  # and the commit is not sent twice


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "worker.db"
    WorkerState(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(ConfigError, match="written by a newer worker"):
        WorkerState(path)
