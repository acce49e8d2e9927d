"""The ABIs and bytecode shipped in the package match the contracts in this repository."""

import subprocess
import sys
from pathlib import Path

import pytest

from polkacompute.contracts import abi, artifact

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_artifacts_are_not_stale() -> None:
    if not (ROOT / "contracts" / "out").exists():
        pytest.fail("contracts/out is missing: run `make build` (forge build) before the tests")
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "export_artifacts.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_market_abi_is_the_full_api() -> None:
    names = {item.get("name") for item in abi("JobMarket") if item.get("type") == "function"}
    assert {"submitJob", "finalize", "settle", "dispute", "commitSeals", "reveal"} <= names
    assert artifact("JobMarket").bytecode.startswith("0x")
    assert artifact("JobMarket").settings["evmVersion"] == "cancun"
