"""What a run produces, and its one canonical encoding (the bytes whose SHA-256 goes on-chain).

A result is a DAG-CBOR map (the IPLD canonical CBOR: sorted keys, shortest integers), so it is
also an IPFS object: its CID (codec dag-cbor, sha2-256) carries the same digest the contracts store
as `resultDigest`. Fields:

    {"v": 1, "status": "exited" | "out_of_fuel" | "trap" | "output_limit" | "rejected",
     "detail": str,       # trap kind ("unreachable", "stack_overflow"...) or rejection reason, else ""
     "exit": int,         # exit code for "exited" (0 = success), else 0
     "output": bytes}     # stdout (up to the output cap; what was written before a failure)

Failures are results: replicas agree on "out of fuel" or "trapped" exactly as on an output. The
exception is a wall-clock timeout: whether a job finishes in time depends on the machine, so a
timed-out run has no canonical encoding and a worker must not commit one.

Fuel used is reported with every run but is not part of the canonical bytes: it is identical across
machines for a program that reads no file metadata, but a program that stats files (CPython does,
importing its library) converts host values (inode numbers, change times) whose size changes the
instruction count by a few hundred units. Replicas must not disagree over that; the job's outcome,
including "out of fuel", is what they attest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import Enum

import dag_cbor
from multiformats import CID, multihash

RESULT_VERSION = 1


class Status(Enum):
    EXITED = "exited"  # the program returned or called exit(n); see exit_code
    OUT_OF_FUEL = "out_of_fuel"  # the job's fuel limit was reached
    TRAP = "trap"  # a wasm trap (detail: its kind) or an invalid exit status
    OUTPUT_LIMIT = "output_limit"  # stdout exceeded the output cap
    REJECTED = "rejected"  # not runnable: malformed module, unknown import, memory over the limit...
    TIMEOUT = "timeout"  # stopped by the wall clock: NOT canonical (machine dependent)

    @property
    def canonical(self) -> bool:
        return self is not Status.TIMEOUT


class NotCanonical(Exception):
    """The run has no canonical result (it timed out): there is nothing replicas could agree on."""


@dataclass(frozen=True)
class RunResult:
    status: Status
    output: bytes = b""
    exit_code: int = 0
    fuel_used: int = field(default=0, compare=False)  # reported, not attested (see the module docstring)
    detail: str = ""
    stderr: bytes = field(default=b"", compare=False)  # diagnostics only: not part of the result
    wall_ms: float = field(default=0.0, compare=False)

    @property
    def ok(self) -> bool:
        return self.status is Status.EXITED and self.exit_code == 0

    def canonical_bytes(self) -> bytes:
        if not self.status.canonical:
            raise NotCanonical(f"a {self.status.value} run has no canonical result ({self.detail})")
        return bytes(
            dag_cbor.encode(
                {
                    "v": RESULT_VERSION,
                    "status": self.status.value,
                    "detail": self.detail,
                    "exit": self.exit_code,
                    "output": self.output,
                }
            )
        )

    @property
    def digest(self) -> bytes:
        """`resultDigest`: SHA-256 of the canonical bytes."""
        return hashlib.sha256(self.canonical_bytes()).digest()

    @property
    def cid(self) -> str:
        """The result as an IPFS object (CIDv1, dag-cbor, sha2-256): fetchable, and checkable against the digest."""
        return str(CID("base32", 1, "dag-cbor", multihash.wrap(self.digest, "sha2-256")))

    @classmethod
    def decode(cls, data: bytes) -> RunResult:
        """Parses canonical bytes (e.g. fetched by CID); refuses anything that does not re-encode identically."""
        try:
            raw = dag_cbor.decode(data)
            if not isinstance(raw, dict) or raw.get("v") != RESULT_VERSION:
                raise ValueError("not a version-1 PolkaCompute result")
            status, output, exit_code, detail = (raw[k] for k in ("status", "output", "exit", "detail"))
            if not (isinstance(output, bytes) and isinstance(exit_code, int)):
                raise TypeError("output must be bytes and exit an integer")
            result = cls(Status(status), output, exit_code, 0, str(detail))
        except (KeyError, TypeError, ValueError, dag_cbor.decoding.err.CBORDecodingError) as exc:
            raise ValueError(f"not a canonical PolkaCompute result: {exc}") from None
        if result.canonical_bytes() != data:
            raise ValueError("not a canonical PolkaCompute result: it does not re-encode to the same bytes")
        return result
