"""Fail if any deployable contract exceeds Polkadot Hub's code limits.

Polkadot Hub's REVM backend enforces runtime code <= 24,576 bytes (EIP-170) and initcode <= 49,152
bytes (EIP-3860). Reads the forge artifacts of every contract under src/ that has bytecode.
Usage: python3 tools/check_sizes.py [out-dir]
"""

import json
import sys
from pathlib import Path

RUNTIME_LIMIT = 24_576
INITCODE_LIMIT = 49_152


def main() -> int:
    here = Path(__file__).resolve().parent.parent
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else here / "out"
    sources = {p.name for p in (here / "src").rglob("*.sol")}
    failures, rows = [], []
    for artifact in sorted(out.glob("*.sol/*.json")):
        if artifact.parent.name not in sources:
            continue
        data = json.loads(artifact.read_text())
        runtime = (len(data.get("deployedBytecode", {}).get("object", "0x")) - 2) // 2
        initcode = (len(data.get("bytecode", {}).get("object", "0x")) - 2) // 2
        if runtime <= 0:
            continue  # interfaces and internal libraries
        rows.append((artifact.stem, runtime, initcode))
        if runtime > RUNTIME_LIMIT:
            failures.append(f"{artifact.stem}: runtime {runtime} > {RUNTIME_LIMIT}")
        if initcode > INITCODE_LIMIT:
            failures.append(f"{artifact.stem}: initcode {initcode} > {INITCODE_LIMIT}")
    if not rows:
        print("check_sizes: no artifacts found; run `forge build` first", file=sys.stderr)
        return 2
    for name, runtime, initcode in rows:
        print(f"{name:<20} runtime {runtime:>6} / {RUNTIME_LIMIT}   initcode {initcode:>6} / {INITCODE_LIMIT}")
    for failure in failures:
        print(f"SIZE LIMIT EXCEEDED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
