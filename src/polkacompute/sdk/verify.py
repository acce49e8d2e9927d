"""Checking bytes against a job's `resultDigest`.

The digest is the SHA-256 of the job's *result record* (docs/sandbox.md, `sandbox/result.py`): the
DAG-CBOR map {"v": 1, "status", "detail", "exit", "output"}, not of the output bytes alone (replicas
attest how the run ended as well as what it printed). `match_result` accepts either:

- the record itself (fetched by its CID, or written by `job result --record`): any status;
- the output bytes (what `job run --output` and `job result --output` write): the record is rebuilt for
  each way a run that printed them can end without a trap: exited with code 0..125, out of fuel, or
  stopped at the output cap. A trapped or rejected run's result is checked with its record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from polkacompute.sandbox.result import RunResult, Status

EXIT_CODES = range(126)  # `exited` covers exit(n) for 0 <= n <= 125; higher codes are traps


@dataclass(frozen=True)
class ResultMatch:
    """How bytes matched a result digest."""

    kind: str  # "record" (the result record), "output" (its output bytes) or "digest" (see `match_result`)
    status: str | None = None  # how the run ended: exited, out_of_fuel, trap...
    exit_code: int | None = None
    detail: str = ""

    def describe(self) -> str:
        if self.kind == "digest":
            return "its SHA-256 is the result digest (it is not a PolkaCompute result record)"
        how = f"{self.status} with code {self.exit_code}" if self.status == "exited" else str(self.status)
        how += f" ({self.detail})" if self.detail else ""
        if self.kind == "record":
            return f"it is the result record: the run {how}"
        return f"it is the output of the result: the run {how}"


def match_result(data: bytes, digest: bytes) -> ResultMatch | None:
    """How `data` matches `digest` (None: it does not).

    "record": `data` is the result record; "output": `data` is the output of the result whose record is
    rebuilt around it; "digest": SHA-256(`data`) is the digest, but `data` is not a result record (a
    digest some other way attests bytes, as the devnet's worker-less demo does)."""
    if hashlib.sha256(data).digest() == digest:
        try:
            record = RunResult.decode(data)
        except ValueError:
            return ResultMatch("digest")
        return ResultMatch("record", record.status.value, record.exit_code, record.detail)
    for candidate in _outcomes(data):
        if candidate.digest == digest:
            return ResultMatch("output", candidate.status.value, candidate.exit_code, candidate.detail)
    return None


def _outcomes(output: bytes) -> Iterator[RunResult]:
    """The records of every outcome without a trap that printed `output`."""
    for code in EXIT_CODES:
        yield RunResult(Status.EXITED, output, code)
    yield RunResult(Status.OUT_OF_FUEL, output)
    yield RunResult(Status.OUTPUT_LIMIT, output, detail=f"more than {len(output)} bytes")  # the wasm runtimes
    yield RunResult(Status.OUTPUT_LIMIT, output)  # onnx
