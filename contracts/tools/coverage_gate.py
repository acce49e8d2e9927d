"""Fail if line coverage of the contracts under src/ is below a threshold.

Reads the lcov report that `forge coverage --report lcov` writes and prints per-file line coverage.
Usage: python3 tools/coverage_gate.py lcov.info [min_percent]
"""

import sys
from pathlib import Path


def main() -> int:
    report = Path(sys.argv[1] if len(sys.argv) > 1 else "lcov.info")
    minimum = float(sys.argv[2]) if len(sys.argv) > 2 else 90.0
    if not report.exists():
        print(f"coverage_gate: {report} not found; run `forge coverage --report lcov` first", file=sys.stderr)
        return 2
    files: dict[str, list[int]] = {}
    current = None
    for line in report.read_text().splitlines():
        if line.startswith("SF:"):
            current = line[3:]
            files.setdefault(current, [0, 0])
        elif line.startswith("LH:") and current:
            files[current][0] += int(line[3:])
        elif line.startswith("LF:") and current:
            files[current][1] += int(line[3:])
    src = {f: v for f, v in files.items() if f.startswith("src/") and v[1] > 0}
    if not src:
        print("coverage_gate: no src/ files in the report", file=sys.stderr)
        return 2
    hit = sum(v[0] for v in src.values())
    total = sum(v[1] for v in src.values())
    for name, (h, t) in sorted(src.items()):
        print(f"{name:<36} {100 * h / t:6.2f}% ({h}/{t})")
    percent = 100 * hit / total
    print(f"{'src/ total':<36} {percent:6.2f}% ({hit}/{total}), minimum {minimum:.0f}%")
    return 0 if percent >= minimum else 1


if __name__ == "__main__":
    sys.exit(main())
