"""What every command shares: the global options, output (tables or --json), network and signer options,
addresses, running SDK calls.

Imports stay light here (no web3, eth-account, wasmtime, libp2p at module level): `polkacompute --help`
and every command import this module, and pay for the heavy libraries only when they use them.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Awaitable, Callable, Coroutine
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from polkacompute.errors import AccountError, ValidationError

if TYPE_CHECKING:
    from polkacompute.chain.accounts import Signer
    from polkacompute.chain.networks import Network
    from polkacompute.sdk.client import AsyncClient

T = TypeVar("T")
ETH = 10**18
WIDE = 100_000  # columns a table may take with --wide: its natural width, nothing cut

console = Console(soft_wrap=True)  # sentences are not broken at 80 columns (digests stay whole); tables fit
err_console = Console(stderr=True, soft_wrap=True)
STATE: dict[str, bool] = {"json": False, "verbose": False, "wide": False}

NetworkOpt = Annotated[str, typer.Option("--network", "-n", help="Network name (see `network list`).")]
RpcOpt = Annotated[str | None, typer.Option("--rpc-url", help="RPC URL (custom network or override).")]
ChainIdOpt = Annotated[int | None, typer.Option("--chain-id", help="Chain id of a custom network.")]
AccountOpt = Annotated[str | None, typer.Option("--account", "-a", help="Keystore account that signs.")]
DevOpt = Annotated[int | None, typer.Option("--dev", help="Use anvil dev account N (local networks only).")]

# ---------------------------------------------------------------------------------------- global options
# --json, --verbose and --wide are accepted by every group and command, before or after the subcommand
# (`polkacompute --json job list` = `polkacompute job list --json`): defined once here, as Typer options,
# and attached to every command by `with_global_options`. Given anywhere, a flag is on for the whole call.

GLOBAL_PANEL = "Global options"


def _turn_on(key: str) -> Callable[[bool], None]:
    def callback(value: bool) -> None:
        if value:
            STATE[key] = True

    return callback


def _global_options(
    json_output: Annotated[
        bool,
        typer.Option("--json", help="Machine-readable output; errors too, as one JSON object on stderr.",
                     callback=_turn_on("json"), expose_value=False, rich_help_panel=GLOBAL_PANEL),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Show tracebacks on errors.", callback=_turn_on("verbose"),
                     expose_value=False, rich_help_panel=GLOBAL_PANEL),
    ] = False,
    wide: Annotated[
        bool,
        typer.Option("--wide", help="Tables show digests, ids and addresses whole, one row a line.",
                     callback=_turn_on("wide"), expose_value=False, rich_help_panel=GLOBAL_PANEL),
    ] = False,
) -> None:  # fmt: skip
    """Never called: its parameters are the global options (built once by Typer, shared by every command)."""


@functools.cache
def global_params() -> tuple[Any, ...]:
    proto = typer.Typer(add_completion=False)
    proto.command()(_global_options)
    return tuple(typer.main.get_command(proto).params)


def with_global_options(command: Any) -> Any:
    """Adds the global options to a (Typer-built) command and, for a group, to all its subcommands."""
    names = {p.name for p in command.params}
    command.params.extend(p for p in global_params() if p.name not in names)
    for sub in getattr(command, "commands", {}).values():
        with_global_options(sub)
    return command


def reset_state() -> None:
    STATE.update(json=False, verbose=False, wide=False)


# ---------------------------------------------------------------------------------------- output


def emit(data: Any, render: Callable[[], None]) -> None:
    """Prints `data` as JSON with --json, otherwise calls `render` (tables and sentences)."""
    if STATE["json"]:
        console.print_json(json.dumps(jsonable(data), default=str))
    else:
        render()


def table(*columns: str, title: str | None = None, whole: tuple[str, ...] = ()) -> Table:
    """A table whose `whole` columns (digests, ids, addresses) are never cut: folded onto more lines when the
    terminal is narrow, or on one line with --wide (print it with `show`)."""
    t = Table(title=title)
    for name in columns:
        t.add_column(name, overflow="fold" if name in whole else "ellipsis", no_wrap=STATE["wide"])
    return t


def show(renderable: Any) -> None:
    """Prints a table at the terminal's width, or at its natural width with --wide."""
    if not STATE["wide"]:
        console.print(renderable)
        return
    width, console.width = console.width, WIDE
    try:
        console.print(renderable)
    finally:
        console.width = width


def short(value: str, keep: int = 6) -> str:
    """A long hex value (address, digest) in a compact table: whole with --wide, else its first `keep` and
    last 4 characters."""
    if STATE["wide"] or len(value) <= keep + 5:
        return value
    return f"{value[:keep]}…{value[-4:]}"


def waiting(text: str) -> Any:
    """A spinner on stderr while something slow runs (silent with --json, so stdout stays parseable)."""
    return err_console.status(text) if not STATE["json"] else _Quiet()


class _Quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


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


def units(wei: int) -> str:
    """Native units for people: exact (a Decimal, not a float), without trailing zeros."""
    text = format(Decimal(wei) / ETH, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# ---------------------------------------------------------------------------------------- inputs

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def checked_address(value: str, field: str) -> str:
    """`value` as a checksummed address, or a one-line ValidationError (exit 2)."""
    if not _ADDRESS.fullmatch(value):
        raise ValidationError(field, f"{value!r} is not an address", hint="0x followed by 40 hex digits")
    from eth_utils.address import to_checksum_address

    checksummed = str(to_checksum_address(value))
    if value != checksummed and value[2:] not in (value[2:].lower(), value[2:].upper()):
        raise ValidationError(field, f"{value} has a wrong checksum (mixed case)", hint=f"did you mean {checksummed}?")
    return checksummed


def readable(path: Path, field: str) -> bytes:
    """A file's bytes, or a one-line ValidationError (exit 2) saying why it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValidationError(field, f"cannot read {path}: {exc.strerror or exc}") from None


def native(amount: str, field: str) -> int:
    """An amount typed in native units ("0.1") as wei, exactly (decimal, not float)."""
    try:
        value = Decimal(amount) * ETH
    except InvalidOperation:
        raise ValidationError(field, f"{amount!r} is not a number", hint="e.g. 0.1") from None
    if value < 0 or value != value.to_integral_value():
        raise ValidationError(field, f"{amount} is negative or finer than 1 wei")
    return int(value)


# ---------------------------------------------------------------------------------------- chain


def network_of(name: str, rpc_url: str | None, chain_id: int | None) -> Network:
    """The network; `local` without --rpc-url or POLKACOMPUTE_RPC_URL follows a running devnet (its port)."""
    from polkacompute.chain.networks import get_network
    from polkacompute.cli.defaults import devnet

    if name == "local" and rpc_url is None and not os.environ.get("POLKACOMPUTE_RPC_URL"):
        found = devnet()
        if found is not None and found.running and found.rpc_url:
            rpc_url = found.rpc_url
    return get_network(name, rpc_url=rpc_url, chain_id=chain_id)


def run(coro: Coroutine[Any, Any, T]) -> T:
    import asyncio  # not at start: `--help` needs no event loop

    return asyncio.run(coro)


def client(net: Network, signer: Signer | None = None) -> AsyncClient:
    """An SDK client; on `local`, with the deployment of the devnet found from here (`defaults.devnet`)."""
    from polkacompute.cli.defaults import devnet_deployment
    from polkacompute.sdk.client import AsyncClient

    return AsyncClient(net, signer=signer, deployment_path=devnet_deployment(net))


def with_client(net: Network, signer: Signer | None, action: Callable[[AsyncClient], Awaitable[T]]) -> T:
    """Runs one SDK action on a connected client (every command that talks to the market uses this)."""

    async def go() -> T:
        async with client(net, signer) as pc:
            return await action(pc)

    return run(go())


def signer_for(network: Network, account: str | None, dev: int | None) -> Signer:
    from polkacompute.chain.accounts import Keystore, dev_account

    if dev is not None:
        signer = dev_account(dev)
    elif account:
        password = os.environ.get("POLKACOMPUTE_PASSWORD") or typer.prompt(f"password for {account}", hide_input=True)
        signer = Keystore().load(account, password)
    else:
        raise AccountError("no signer", hint="pass --account NAME (or --dev N on a local network)")
    signer.check_network(network)
    return signer
