"""What every command shares: output (tables or --json), network and signer options, running SDK calls."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Coroutine
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from polkacompute.chain.accounts import Keystore, Signer, dev_account
from polkacompute.chain.networks import Network, get_network
from polkacompute.errors import AccountError, ValidationError
from polkacompute.sdk.client import AsyncClient

T = TypeVar("T")
ETH = 10**18

console = Console()
err_console = Console(stderr=True)
STATE: dict[str, bool] = {"json": False, "verbose": False}

NetworkOpt = Annotated[str, typer.Option("--network", "-n", help="Network name (see `network list`).")]
RpcOpt = Annotated[str | None, typer.Option("--rpc-url", help="RPC URL (custom network or override).")]
ChainIdOpt = Annotated[int | None, typer.Option("--chain-id", help="Chain id of a custom network.")]
AccountOpt = Annotated[str | None, typer.Option("--account", "-a", help="Keystore account that signs.")]
DevOpt = Annotated[int | None, typer.Option("--dev", help="Use anvil dev account N (local networks only).")]


def network_of(name: str, rpc_url: str | None, chain_id: int | None) -> Network:
    return get_network(name, rpc_url=rpc_url, chain_id=chain_id)


def emit(data: Any, render: Callable[[], None]) -> None:
    """Prints `data` as JSON with --json, otherwise calls `render` (tables and sentences)."""
    if STATE["json"]:
        console.print_json(json.dumps(jsonable(data), default=str))
    else:
        render()


def waiting(text: str) -> Any:
    """A spinner on stderr while something slow runs (silent with --json, so stdout stays parseable)."""
    return err_console.status(text) if not STATE["json"] else _Quiet()


class _Quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def with_client(net: Network, signer: Signer | None, action: Callable[[AsyncClient], Awaitable[T]]) -> T:
    """Runs one SDK action on a connected client (every command that talks to the market uses this)."""

    async def go() -> T:
        async with AsyncClient(net, signer=signer) as pc:
            return await action(pc)

    return run(go())


def signer_for(network: Network, account: str | None, dev: int | None) -> Signer:
    if dev is not None:
        signer = dev_account(dev)
    elif account:
        password = os.environ.get("POLKACOMPUTE_PASSWORD") or typer.prompt(f"password for {account}", hide_input=True)
        signer = Keystore().load(account, password)
    else:
        raise AccountError("no signer", hint="pass --account NAME (or --dev N on a local network)")
    signer.check_network(network)
    return signer


def native(amount: str, field: str) -> int:
    """An amount typed in native units ("0.1") as wei, exactly (decimal, not float)."""
    try:
        value = Decimal(amount) * ETH
    except InvalidOperation:
        raise ValidationError(field, f"{amount!r} is not a number", hint="e.g. 0.1") from None
    if value < 0 or value != value.to_integral_value():
        raise ValidationError(field, f"{amount} is negative or finer than 1 wei")
    return int(value)


def jsonable(value: Any) -> Any:
    """JSON-ready: bytes as 0x-hex, enums by name (an IntEnum would otherwise print as a bare number),
    structs (dicts) and lists recursively."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)
