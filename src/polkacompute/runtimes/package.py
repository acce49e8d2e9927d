"""Job packages: a runtime identity, a program and an input, each content-addressed.

A package is what a requester publishes and what the chain points at: `programDigest` and
`inputDigest` are the SHA-256 digests inside the program's and input's CIDs, `runtime` is the
runtime identity, `fuelLimit`/`timeLimit` come from the package. `run_package` executes a package
exactly as a worker does: fetch by CID, verify the bytes, check the runtime identity, run.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from polkacompute.errors import ValidationError
from polkacompute.runtimes.base import Runtime, job_seed
from polkacompute.sandbox import RunResult, Sandbox
from polkacompute.store import ContentStore, cid_from_digest, digest_of

MANIFEST_VERSION = 1


@dataclass(frozen=True)
class JobPackage:
    runtime: str  # the runtime's name ("wasi", "python", "onnx")
    runtime_id: str  # 0x-hex of the 32-byte runtime identity (the on-chain `runtime`)
    program: str  # CID
    input: str  # CID
    fuel: int
    time_s: int

    @property
    def program_digest(self) -> bytes:
        return digest_of(self.program)

    @property
    def input_digest(self) -> bytes:
        return digest_of(self.input)

    def to_json(self) -> str:
        return json.dumps({"version": MANIFEST_VERSION, **asdict(self)}, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> JobPackage:
        try:
            data: dict[str, Any] = json.loads(text)
            if data.pop("version", None) != MANIFEST_VERSION:
                raise ValueError(f"not a version-{MANIFEST_VERSION} job package")
            package = cls(**data)
        except (ValueError, TypeError) as exc:
            raise ValidationError("package", f"not a job package manifest: {exc}") from None
        package.program_digest, package.input_digest  # noqa: B018 (validates both CIDs)
        return package

    @classmethod
    def from_chain(cls, runtime: Runtime, program_digest: bytes, input_digest: bytes, fuel: int,
                   time_s: int) -> JobPackage:  # fmt: skip
        """The package a worker reconstructs from a job's on-chain spec."""
        return cls(runtime.name, "0x" + runtime.identity.hex(), cid_from_digest(program_digest),
                   cid_from_digest(input_digest), fuel, time_s)  # fmt: skip


def pack(store: ContentStore, runtime: Runtime, program: bytes, input_data: bytes, *, fuel: int,
         time_s: int) -> JobPackage:  # fmt: skip
    """Stores program and input in `store` and returns the package naming them."""
    if fuel < 1 or time_s < 1:
        raise ValidationError("fuel" if fuel < 1 else "time_s", "must be at least 1")
    return JobPackage(runtime.name, "0x" + runtime.identity.hex(), store.put(program), store.put(input_data), fuel,
                      time_s)  # fmt: skip


def run_package(package: JobPackage, runtime: Runtime, store: ContentStore, sandbox: Sandbox, *,
                job_id: int = 0) -> RunResult:  # fmt: skip
    """Runs a package as a worker would (content verified by CID; job `job_id` seeds the entropy)."""
    if "0x" + runtime.identity.hex() != package.runtime_id:
        raise ValidationError(
            "runtime",
            f"this machine's {runtime.name} runtime is {'0x' + runtime.identity.hex()}, the package needs "
            f"{package.runtime_id}",
            hint="results would not match other replicas; install the same runtime version",
        )
    program, input_data = store.get(package.program), store.get(package.input)
    return runtime.run(sandbox, program, input_data, fuel=package.fuel, time_s=package.time_s, seed=job_seed(job_id))


def load_package(path: str | Path) -> JobPackage:
    """The package manifest at `path` (`job pack --out`)."""
    try:
        return JobPackage.from_json(Path(path).read_text())
    except OSError as exc:
        raise ValidationError("package", f"cannot read {path}: {exc.strerror}") from None
