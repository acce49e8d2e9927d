"""Builds every job template (`make templates`) and checks the builds are the pinned bytes.

Each template directory holds a `template.json`:
    runtime, program (path after building), build (commands, run in the directory), input, fuel,
    time_s, program_sha256 (reproducible builds: the same bytes on every machine),
    expected_result_digest (what every replica must compute: checked by tests/test_templates.py).

Usage: python templates/build.py [--measure]   (--measure prints the digests to pin after a change)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def templates() -> list[Path]:
    return sorted(p.parent for p in HERE.glob("*/template.json"))


def spec(directory: Path) -> dict:
    return json.loads((directory / "template.json").read_text())


def build(directory: Path) -> Path:
    data = spec(directory)
    program = directory / data["program"]
    generated = ("build", "node_modules")
    sources = [p for p in directory.rglob("*") if p.is_file() and not set(generated) & set(p.parts)]
    if program.exists() and all(p.stat().st_mtime <= program.stat().st_mtime for p in sources):
        return program  # up to date
    env = {**os.environ, "ZIG_GLOBAL_CACHE_DIR": str(HERE.parent / ".polkacompute" / "zig-cache")}
    (directory / "build").mkdir(exist_ok=True)
    for command in data.get("build", []):
        argv = [sys.executable if part == "{python}" else part for part in command]
        print(f"[{directory.name}] {' '.join(command)}", flush=True)
        subprocess.run(argv, cwd=directory, env=env, check=True)
    if not program.exists():
        raise SystemExit(f"{directory.name}: the build did not produce {data['program']}")
    return program


def run(directory: Path, sandbox: object, *, job_id: int = 1) -> object:
    """Runs a built template as a worker would: packed by CID into a temporary store, then run."""
    import tempfile

    from polkacompute.runtimes import get_runtime, pack, run_package
    from polkacompute.store import ContentStore

    data = spec(directory)
    runtime = get_runtime(data["runtime"])
    with tempfile.TemporaryDirectory() as tmp:
        store = ContentStore(Path(tmp))
        program, input_data = (directory / data["program"]).read_bytes(), (directory / data["input"]).read_bytes()
        package = pack(store, runtime, program, input_data, fuel=data["fuel"], time_s=data["time_s"])
        return run_package(package, runtime, store, sandbox, job_id=job_id)  # type: ignore[arg-type]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", action="store_true", help="print program and result digests to pin")
    args = parser.parse_args()
    failed = []
    for directory in templates():
        program = build(directory)
        actual = hashlib.sha256(program.read_bytes()).hexdigest()
        pinned = spec(directory).get("program_sha256")
        if args.measure:
            from polkacompute.sandbox import Sandbox

            with Sandbox() as sandbox:
                result = run(directory, sandbox)
            digest = "0x" + result.digest.hex()  # type: ignore[attr-defined]
            print(
                json.dumps(
                    {
                        "template": directory.name,
                        "program_sha256": actual,
                        "expected_result_digest": digest,
                        "status": result.status.value,
                        "output": result.output[:120].decode(),
                    }
                )
            )  # type: ignore[attr-defined]
        elif pinned and actual != pinned:
            failed.append(f"{directory.name}: built {actual}, pinned {pinned}")
    if failed:
        print("builds are not reproducible:\n  " + "\n  ".join(failed), file=sys.stderr)
        return 1
    print(f"{len(templates())} templates built")
    return 0


if __name__ == "__main__":
    sys.exit(main())
