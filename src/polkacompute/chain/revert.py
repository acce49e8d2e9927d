"""Turns revert data into typed exceptions: contract custom errors by name and arguments."""

from __future__ import annotations

from functools import cache
from typing import Any

from eth_abi.abi import decode
from eth_utils.crypto import keccak

from polkacompute.contracts import abi_type, all_errors
from polkacompute.errors import ContractError, TransactionError

_HINTS = {
    "NativeValueMismatch": "send exactly replicas x maxPricePerReplica as value for a native-token job",
    "NotEligible": "the provider needs an active registration, enough free stake and the required capabilities",
    "StakeBelowMinimum": "stake at least the registry's minStake",
    "InsufficientFreeStake": "unbond at most stake minus locked collateral",
    "CommitDeadlinePassed": "the commit deadline has passed; the job can only be settled now",
    "OpeningNotYetAllowed": "wait until every assignee committed or the commit deadline passed",
    "WrongStatus": "the job is not in a state that allows this call",
    "NotRequester": "only the account that submitted the job can do this",
    "EnforcedPause": "the contract is paused by its PAUSER_ROLE",
}


@cache
def _by_selector() -> dict[bytes, tuple[str, list[str], list[str]]]:
    table = {}
    errors = [*all_errors(), _std("Error", ["string"], ["message"]), _std("Panic", ["uint256"], ["code"])]
    for item in errors:
        types = [abi_type(i) for i in item["inputs"]]
        names = [i.get("name") or f"arg{n}" for n, i in enumerate(item["inputs"])]
        selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
        table[selector] = (item["name"], types, names)
    return table


def decode_revert(data: bytes | str | None, *, tx_hash: str | None = None) -> TransactionError:
    """A ContractError for known revert data, else a plain TransactionError that shows the raw data."""
    raw = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else (data or b"")
    if len(raw) < 4:
        return TransactionError("transaction reverted without a reason", tx_hash=tx_hash)
    known = _by_selector().get(raw[:4])
    if known is None:
        return TransactionError(f"transaction reverted with unknown error 0x{raw.hex()}", tx_hash=tx_hash)
    name, types, names = known
    try:
        values = decode(types, raw[4:])
    except Exception:  # malformed payload for a known selector
        return TransactionError(f"transaction reverted with malformed {name} data", tx_hash=tx_hash)
    args: dict[str, Any] = dict(zip(names, values, strict=True))
    return ContractError(name, args, tx_hash=tx_hash, hint=_HINTS.get(name))


def _std(name: str, types: list[str], names: list[str]) -> dict[str, Any]:
    return {"name": name, "inputs": [{"type": t, "name": n} for t, n in zip(types, names, strict=True)]}
