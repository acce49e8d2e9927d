"""The worker's durable state: jobs in flight, salts, results and the transactions it sent.

Everything a later step depends on is committed *before* the transaction or message that depends
on it leaves the process, and `sync()` puts it on disk first (SQLite WAL with `synchronous=NORMAL`:
a commit survives a killed process at once, and a power loss once the WAL is fsynced; one fsync per
batch of seals instead of one per row). After `kill -9` the worker therefore finds:
- every job it was assigned and how far it got (`phase`);
- the salt and digest of every seal it may have committed, so it can always open it;
- every transaction it meant to send: `intent` (maybe never sent), `sent` (hash known: check the
  receipt, never send again), `mined` or `failed`.
A commit is sent only after its intent row exists and no earlier commit intent for the job was
sent, so a restart can never commit twice.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from polkacompute.errors import ConfigError

SCHEMA_VERSION = 1


class Phase(StrEnum):
    """How far the worker got with a job (only ever moves forward)."""

    SEEN = "seen"  # submitted, considered
    BID = "bid"  # we bid or claimed
    ASSIGNED = "assigned"  # we are an assignee
    EXECUTED = "executed"  # result computed, seal and salt stored
    COMMITTED = "committed"  # our seal is on-chain
    OPENED = "opened"  # our opening was sent to the others or revealed on-chain
    DONE = "done"  # finalized and paid (or settled): nothing left to do
    ABANDONED = "abandoned"  # not for us, expired, or failed for good (with a reason)


ORDER = list(Phase)


class TxState(StrEnum):
    INTENT = "intent"
    SENT = "sent"
    MINED = "mined"
    FAILED = "failed"


@dataclass(frozen=True)
class JobRecord:
    job_id: int
    phase: Phase
    spec: dict[str, Any]
    my_index: int | None
    assignees: list[tuple[str, int]]
    result_digest: bytes | None
    result_cid: str | None
    salt: bytes | None
    seal: bytes | None
    reason: str
    updated_at: float


@dataclass(frozen=True)
class TxRecord:
    id: int
    job_id: int
    kind: str
    state: TxState
    tx_hash: str | None
    detail: str


class WorkerState:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # see `sync`
        self._records: dict[int, JobRecord] = {}  # read-through caches: this object is the only writer
        self._meta: dict[str, str] = {}
        self._migrate()

    def close(self) -> None:
        self._db.close()

    def sync(self) -> None:
        """Forces every committed row to disk (the WAL file): call before a seal or a transaction leaves."""
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.exists():
            fd = os.open(wal, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _migrate(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise ConfigError(f"{self.path} was written by a newer worker (schema {version})")
        if version == SCHEMA_VERSION:
            return
        with self._tx():
            self._db.execute("""CREATE TABLE IF NOT EXISTS jobs (
                job_id INTEGER PRIMARY KEY, phase TEXT NOT NULL, spec TEXT NOT NULL, my_index INTEGER,
                assignees TEXT NOT NULL DEFAULT '[]', result_digest BLOB, result_cid TEXT, salt BLOB, seal BLOB,
                reason TEXT NOT NULL DEFAULT '', updated_at REAL NOT NULL)""")
            self._db.execute("""CREATE TABLE IF NOT EXISTS txs (
                id INTEGER PRIMARY KEY AUTOINCREMENT, job_id INTEGER NOT NULL, kind TEXT NOT NULL,
                state TEXT NOT NULL, tx_hash TEXT, detail TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL)""")
            self._db.execute("CREATE INDEX IF NOT EXISTS txs_job ON txs(job_id, kind)")
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextmanager
    def _tx(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ------------------------------------------------------------------ jobs

    def see(self, job_id: int, spec: dict[str, Any]) -> bool:
        """Records a submitted job; False if it was already known."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO jobs (job_id, phase, spec, updated_at) VALUES (?, ?, ?, ?)",
            (job_id, Phase.SEEN.value, json.dumps(spec, sort_keys=True), time.time()),
        )
        return cursor.rowcount == 1

    def advance(self, job_id: int, phase: Phase, **fields: Any) -> None:
        """Moves a job forward to `phase` (never backward) and stores `fields` with it, atomically."""
        with self._tx():
            current = self.job(job_id)
            if ORDER.index(phase) < ORDER.index(current.phase):
                raise ValueError(f"job {job_id} is {current.phase.value}; it cannot go back to {phase.value}")
            columns = {"phase": phase.value, "updated_at": time.time()}
            for name, value in fields.items():
                if name not in ("my_index", "assignees", "result_digest", "result_cid", "salt", "seal", "reason"):
                    raise KeyError(name)
                columns[name] = json.dumps(value) if name == "assignees" else value
            assignments = ", ".join(f"{name} = ?" for name in columns)
            self._records.pop(job_id, None)
            self._db.execute(f"UPDATE jobs SET {assignments} WHERE job_id = ?", (*columns.values(), job_id))  # noqa: S608

    def job(self, job_id: int) -> JobRecord:
        record = self._records.get(job_id)
        if record is None:
            row = self._db.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            if row is None:
                raise KeyError(f"job {job_id} is not in the worker state")
            record = _job(row)
            if record.phase not in (Phase.DONE, Phase.ABANDONED):  # finished jobs are rarely read again
                self._records[job_id] = record
        return record

    def jobs(self, *phases: Phase) -> list[JobRecord]:
        """Jobs in any of `phases` (all jobs if none given), oldest first."""
        if phases:
            marks = ", ".join("?" for _ in phases)
            rows = self._db.execute(f"SELECT * FROM jobs WHERE phase IN ({marks}) ORDER BY job_id",  # noqa: S608
                                    [p.value for p in phases])  # fmt: skip
        else:
            rows = self._db.execute("SELECT * FROM jobs ORDER BY job_id")
        return [_job(r) for r in rows]

    def in_flight(self) -> list[JobRecord]:
        return self.jobs(Phase.ASSIGNED, Phase.EXECUTED, Phase.COMMITTED, Phase.OPENED)

    # ------------------------------------------------------------------ transactions

    def intend(self, job_id: int, kind: str) -> int:
        """Records that a `kind` transaction for the job is about to be sent; returns its row id."""
        cursor = self._db.execute(
            "INSERT INTO txs (job_id, kind, state, created_at) VALUES (?, ?, ?, ?)",
            (job_id, kind, TxState.INTENT.value, time.time()),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def sent(self, tx_id: int, tx_hash: str) -> None:
        self._db.execute("UPDATE txs SET state = ?, tx_hash = ? WHERE id = ?", (TxState.SENT.value, tx_hash, tx_id))

    def settled(self, tx_id: int, ok: bool, detail: str = "") -> None:
        state = TxState.MINED if ok else TxState.FAILED
        self._db.execute("UPDATE txs SET state = ?, detail = ? WHERE id = ?", (state.value, detail, tx_id))

    def txs(self, job_id: int, kind: str | None = None) -> list[TxRecord]:
        query = "SELECT id, job_id, kind, state, tx_hash, detail FROM txs WHERE job_id = ?"
        args: list[object] = [job_id]
        if kind is not None:
            query, args = query + " AND kind = ?", [job_id, kind]
        return [
            TxRecord(r[0], r[1], r[2], TxState(r[3]), r[4], r[5])
            for r in self._db.execute(query + " ORDER BY id", args)
        ]

    def may_send(self, job_id: int, kind: str) -> bool:
        """False once a `kind` transaction for the job was sent or mined (a restart must not resend)."""
        return not any(t.state in (TxState.SENT, TxState.MINED) for t in self.txs(job_id, kind))

    # ------------------------------------------------------------------ small values

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        if key not in self._meta:  # read through: a job's driver asks for its timestamps at every tick
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if row is None:
                return default
            self._meta[key] = row[0]
        return self._meta[key]

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = ?",
                         (key, value, value))  # fmt: skip
        self._meta[key] = value

    def drop_meta(self, *keys: str) -> None:
        self._db.executemany("DELETE FROM meta WHERE key = ?", [(k,) for k in keys])
        for key in keys:
            self._meta.pop(key, None)


def _job(row: tuple[Any, ...]) -> JobRecord:
    job_id, phase, spec, my_index, assignees, digest, cid, salt, seal, reason, updated = row
    return JobRecord(job_id, Phase(phase), json.loads(spec), my_index, [tuple(a) for a in json.loads(assignees)],
                     digest, cid, salt, seal, reason, updated)  # fmt: skip
