"""`job result --verify`'s check (`polkacompute.sdk.verify`): output bytes or the result record against the
result digest, which is the SHA-256 of the record (docs/sandbox.md, "What the digest covers")."""

from __future__ import annotations

import hashlib

import pytest

from polkacompute.sandbox.result import RunResult, Status
from polkacompute.sdk.verify import ResultMatch, match_result

OUTPUT = b'{"eu-west": {"n": 3}}\n'


@pytest.mark.parametrize(
    "result",
    [
        RunResult(Status.EXITED, OUTPUT, 0),
        RunResult(Status.EXITED, OUTPUT, 3),
        RunResult(Status.EXITED, OUTPUT, 125),
        RunResult(Status.OUT_OF_FUEL, OUTPUT),
        RunResult(Status.OUTPUT_LIMIT, OUTPUT, detail=f"more than {len(OUTPUT)} bytes"),
        RunResult(Status.OUTPUT_LIMIT, OUTPUT),
    ],
    ids=lambda r: f"{r.status.value}-{r.exit_code}-{bool(r.detail)}",
)
def test_output_bytes_verify_against_the_record_digest(result: RunResult) -> None:
    assert hashlib.sha256(OUTPUT).digest() != result.digest  # the digest is not the output's
    match = match_result(OUTPUT, result.digest)
    assert match == ResultMatch("output", result.status.value, result.exit_code, result.detail)
    assert match_result(OUTPUT + b" ", result.digest) is None  # a modified output
    assert match_result(OUTPUT[:-1], result.digest) is None


def test_the_record_itself_verifies_whatever_its_status() -> None:
    trapped = RunResult(Status.TRAP, OUTPUT, detail="unreachable")
    assert match_result(OUTPUT, trapped.digest) is None  # a trap's output alone does not say how it ended
    match = match_result(trapped.canonical_bytes(), trapped.digest)
    assert match == ResultMatch("record", "trap", 0, "unreachable")
    assert match.describe() == "it is the result record: the run trap (unreachable)"
    tampered = trapped.canonical_bytes().replace(b"unreachable", b"unreachablf")
    assert match_result(tampered, trapped.digest) is None


def test_bytes_whose_digest_is_given_directly() -> None:
    """The devnet's worker-less demo attests SHA-256(output) itself: accepted, and said to be no record."""
    match = match_result(b"plain", hashlib.sha256(b"plain").digest())
    assert match is not None
    assert match.kind == "digest"
    assert "not a PolkaCompute result record" in match.describe()


def test_what_a_match_says() -> None:
    exited = RunResult(Status.EXITED, OUTPUT, 0)
    match = match_result(OUTPUT, exited.digest)
    assert match is not None
    assert match.describe() == "it is the output of the result: the run exited with code 0"
