"""ABIs and bytecode of the PolkaCompute contracts, shipped inside the package.

Generated from the forge build by `tools/export_artifacts.py` (a test fails when they are stale), so
`pip install polkacompute` users need neither Node nor forge.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

DEPLOYABLE = ("PaymentEscrow", "ProviderRegistry", "BidBook", "JobMarketExtension", "JobMarket")


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str | None  # initcode (constructor included)
    deployed_bytecode: str | None  # runtime code
    compiler: str | None
    settings: dict[str, Any]


@cache
def artifact(name: str) -> Artifact:
    """The artifact of a contract (`IJobMarket` is the market's full ABI: both halves)."""
    try:
        text = resources.files(__package__).joinpath("artifacts", f"{name}.json").read_text()
    except FileNotFoundError:
        raise KeyError(f"no contract artifact named {name!r}") from None
    data = json.loads(text)
    return Artifact(
        name,
        data["abi"],
        data.get("bytecode"),
        data.get("deployedBytecode"),
        data.get("compiler"),
        data.get("settings", {}),
    )


def abi(name: str) -> list[dict[str, Any]]:
    """The ABI clients use for a deployed contract (`JobMarket` resolves to the full market API)."""
    return artifact("IJobMarket" if name == "JobMarket" else name).abi


@cache
def all_errors() -> list[dict[str, Any]]:
    """Every custom error of every contract (for decoding reverts), de-duplicated by signature."""
    seen: dict[str, dict[str, Any]] = {}
    for name in (*DEPLOYABLE, "IJobMarket"):
        for item in artifact(name).abi:
            if item.get("type") == "error":
                signature = item["name"] + "(" + ",".join(abi_type(i) for i in item["inputs"]) + ")"
                seen.setdefault(signature, item)
    return list(seen.values())


def abi_type(item: dict[str, Any]) -> str:
    """The canonical type of an ABI input (tuples spelled out), as used in signatures."""
    if item["type"].startswith("tuple"):
        return "(" + ",".join(abi_type(c) for c in item["components"]) + ")" + str(item["type"][5:])
    return str(item["type"])
