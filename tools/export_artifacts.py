"""Export the contract ABIs and bytecode the Python package ships, from the forge build.

The package must work after `pip install` without Node or forge, so the artifacts it needs live in
`src/polkacompute/contracts/artifacts/` and are committed. This script regenerates them from
`contracts/out/` (run `forge build` first); `--check` fails if the committed files are stale, which a
test runs in CI.

Usage: python tools/export_artifacts.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "contracts" / "out"
DEST = ROOT / "src" / "polkacompute" / "contracts" / "artifacts"
# Deployable contracts (with bytecode) and interfaces the SDK talks through (ABI only).
CONTRACTS = ("ProviderRegistry", "PaymentEscrow", "BidBook", "JobMarket", "JobMarketExtension")
INTERFACES = ("IJobMarket",)


def _load(name: str) -> dict:
    candidates = list(OUT.glob(f"*/{name}.json"))
    if not candidates:
        raise SystemExit(f"export_artifacts: no forge artifact for {name} under {OUT}; run `forge build` first")
    return json.loads(candidates[0].read_text())


def render() -> dict[str, str]:
    files = {}
    for name in CONTRACTS + INTERFACES:
        art = _load(name)
        data = {"contractName": name, "abi": art["abi"]}
        if name not in INTERFACES:
            data["bytecode"] = art["bytecode"]["object"]
            data["deployedBytecode"] = art["deployedBytecode"]["object"]
        meta = art.get("metadata") or {}
        if isinstance(meta, dict) and meta.get("compiler"):
            data["compiler"] = meta["compiler"].get("version")
            settings = meta.get("settings", {})
            data["settings"] = {k: settings.get(k) for k in ("evmVersion", "optimizer") if k in settings}
        files[f"{name}.json"] = json.dumps(data, indent=1, sort_keys=True) + "\n"
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed artifacts are stale")
    args = parser.parse_args()
    files = render()
    if args.check:
        stale = [n for n, text in files.items() if not (DEST / n).exists() or (DEST / n).read_text() != text]
        extra = sorted(p.name for p in DEST.glob("*.json") if p.name not in files)
        if stale or extra:
            print(f"stale contract artifacts: {stale + extra}; run `make artifacts` and commit", file=sys.stderr)
            return 1
        print(f"contract artifacts up to date ({len(files)} files)")
        return 0
    DEST.mkdir(parents=True, exist_ok=True)
    for p in DEST.glob("*.json"):
        if p.name not in files:
            p.unlink()
    for name, text in files.items():
        (DEST / name).write_text(text)
    print(f"wrote {len(files)} artifacts to {DEST.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
