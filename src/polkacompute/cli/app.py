"""`polkacompute`: the command line (Typer + Rich). Every command takes --json for scripts; errors are
one line (--verbose for the trace) with exit codes from `polkacompute.errors`."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict
from enum import Enum
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from polkacompute.chain.accounts import Keystore, Signer, dev_account, home
from polkacompute.chain.client import ChainClient
from polkacompute.chain.deploy import deploy as deploy_protocol
from polkacompute.chain.deploy import save_deployment
from polkacompute.chain.networks import NETWORKS, Network, get_network
from polkacompute.devnet import devnet, ensure_deployed_sync, start, stop
from polkacompute.devnet.demo import run_demo
from polkacompute.errors import AccountError, PolkaComputeError
from polkacompute.sdk.client import AsyncClient
from polkacompute.sdk.models import JobSpec

T = TypeVar("T")
app = typer.Typer(no_args_is_help=True, add_completion=False, help="Verifiable off-chain compute for Polkadot.")
network_app = typer.Typer(no_args_is_help=True, help="Known networks.")
account_app = typer.Typer(no_args_is_help=True, help="Encrypted keystores.")
devnet_app = typer.Typer(no_args_is_help=True, help="The local devnet (anvil + the protocol).")
job_app = typer.Typer(no_args_is_help=True, help="Submit and follow jobs.")
provider_app = typer.Typer(no_args_is_help=True, help="Provider registration and stake.")
for sub, name in ((network_app, "network"), (account_app, "account"), (devnet_app, "devnet"), (job_app, "job"),
                  (provider_app, "provider")):  # fmt: skip
    app.add_typer(sub, name=name)

console = Console()
err_console = Console(stderr=True)
STATE: dict[str, bool] = {"json": False, "verbose": False}

NetworkOpt = Annotated[str, typer.Option("--network", "-n", help="Network name (see `network list`).")]
RpcOpt = Annotated[str | None, typer.Option("--rpc-url", help="RPC URL (custom network or override).")]
ChainIdOpt = Annotated[int | None, typer.Option("--chain-id", help="Chain id of a custom network.")]
AccountOpt = Annotated[str | None, typer.Option("--account", "-a", help="Keystore account that signs.")]
DevOpt = Annotated[int | None, typer.Option("--dev", help="Use anvil dev account N (local networks only).")]


@app.callback()
def main_options(
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks on errors.")] = False,
) -> None:
    STATE["json"], STATE["verbose"] = json_output, verbose


def emit(data: Any, render: Callable[[], None]) -> None:
    if STATE["json"]:
        console.print_json(json.dumps(_plain(data), default=_jsonable))
    else:
        render()


def _plain(value: Any) -> Any:
    """Enums by name (IntEnum would otherwise serialize as a bare number), recursively."""
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


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


# ---------------------------------------------------------------------------------------------- network


@network_app.command("list")
def network_list() -> None:
    """The networks PolkaCompute knows."""
    rows = [asdict(n) for n in NETWORKS.values()]

    def render() -> None:
        table = Table("name", "chain id", "rpc url", "local")
        for n in NETWORKS.values():
            table.add_row(n.name, str(n.chain_id), n.rpc_url, "yes" if n.local else "")
        console.print(table)

    emit(rows, render)


# ---------------------------------------------------------------------------------------------- account


def _password(confirm: bool) -> str:
    return os.environ.get("POLKACOMPUTE_PASSWORD") or typer.prompt("password", hide_input=True,
                                                                  confirmation_prompt=confirm)  # fmt: skip


@account_app.command("new")
def account_new(name: str) -> None:
    """Creates a key, encrypted in the keystore (password from prompt or POLKACOMPUTE_PASSWORD)."""
    signer = Keystore().create(name, _password(True))
    emit({"name": name, "address": signer.address}, lambda: console.print(f"created {name}: {signer.address}"))


@account_app.command("import")
def account_import(name: str) -> None:
    """Imports a private key (prompted, or POLKACOMPUTE_PRIVATE_KEY) into the keystore."""
    key = os.environ.get("POLKACOMPUTE_PRIVATE_KEY") or typer.prompt("private key", hide_input=True)
    signer = Keystore().import_key(name, key, _password(True))
    emit({"name": name, "address": signer.address}, lambda: console.print(f"imported {name}: {signer.address}"))


@account_app.command("list")
def account_list() -> None:
    """Accounts in the keystore."""
    ks = Keystore()
    rows = [{"name": n, "address": ks.address_of(n)} for n in ks.names()]

    def render() -> None:
        table = Table("name", "address", title=str(ks.directory))
        for r in rows:
            table.add_row(r["name"], r["address"])
        console.print(table)

    emit(rows, render)


@account_app.command("balance")
def account_balance(address: str, network: NetworkOpt = "local", rpc_url: RpcOpt = None,
                    chain_id: ChainIdOpt = None) -> None:  # fmt: skip
    """Native balance of an address (or of a keystore account name)."""
    net = get_network(network, rpc_url=rpc_url, chain_id=chain_id)
    who = address if address.startswith("0x") else Keystore().address_of(address)

    async def go() -> int:
        async with ChainClient(net) as client:
            return await client.balance(who)

    wei = run(go())
    emit({"address": who, "balance_wei": wei}, lambda: console.print(f"{who}: {wei / 10**18} {net.currency}"))


# ---------------------------------------------------------------------------------------------- devnet


@devnet_app.command("up")
def devnet_up(
    port: Annotated[int, typer.Option(help="RPC port.")] = 8545,
    block_time: Annotated[int | None, typer.Option(help="Seconds per block (default: automine).")] = None,
    demo: Annotated[bool, typer.Option(help="Run the demo job once the devnet is up.")] = False,
    detach: Annotated[bool, typer.Option(help="Leave anvil running and return.")] = False,
) -> None:
    """Starts anvil, deploys the protocol (once; state persists), prints a summary, runs until Ctrl-C."""
    net = devnet(port)
    with console.status("starting anvil and deploying the protocol"):
        proc = start(net, block_time=block_time)
        deployment = ensure_deployed_sync(net)
    summary = {"rpc_url": net.network.rpc_url, "chain_id": net.network.chain_id, "state": str(net.directory),
               "addresses": deployment.addresses}  # fmt: skip

    def render() -> None:
        table = Table("contract", "address", title=f"devnet at {net.network.rpc_url} (chain {net.network.chain_id})")
        for name, address in deployment.addresses.items():
            table.add_row(name, address)
        console.print(table)
        console.print(f"dev accounts: anvil's 10 funded keys (e.g. {dev_account(1).address}); state in {net.directory}")

    emit(summary, render)
    if demo:
        result = run(run_demo(net.network, deployment, say=lambda m: console.print(f"[green]demo[/] {m}")))
        # What a requester does with a result: recompute the digest of the output it fetched.
        verified = hashlib.sha256(result.output).digest() == result.result_digest
        emit(
            {**asdict(result), "verified": verified},
            lambda: console.print(f"output 0x{result.output.hex()}: digest {'matches' if verified else 'MISMATCH'}"),
        )
    if detach:
        return
    console.print("devnet running; Ctrl-C to stop")
    try:
        while proc.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop(net)
        console.print("devnet stopped (state saved)")


@devnet_app.command("down")
def devnet_down(port: Annotated[int, typer.Option()] = 8545) -> None:
    """Stops a detached devnet (its state is saved)."""
    stopped = stop(devnet(port))
    emit({"stopped": stopped}, lambda: console.print("devnet stopped" if stopped else "no devnet running"))


@devnet_app.command("status")
def devnet_status(port: Annotated[int, typer.Option()] = 8545) -> None:
    """Whether the devnet runs, and where."""
    net = devnet(port)
    pid = net.pid()
    data = {"running": pid is not None, "pid": pid, "rpc_url": net.network.rpc_url, "state": str(net.directory)}
    emit(data, lambda: console.print(f"running (pid {pid}) at {net.network.rpc_url}" if pid else "not running"))


# ---------------------------------------------------------------------------------------------- deploy


@app.command("deploy")
def deploy_cmd(network: NetworkOpt = "local", rpc_url: RpcOpt = None, chain_id: ChainIdOpt = None,
               account: AccountOpt = None, dev: DevOpt = None) -> None:  # fmt: skip
    """Deploys and wires the protocol; writes deployments/<network>.json under POLKACOMPUTE_HOME."""
    net = get_network(network, rpc_url=rpc_url, chain_id=chain_id)
    signer = signer_for(net, account, dev)

    async def go() -> Any:
        async with ChainClient(net, signer) as client:
            return await deploy_protocol(client)

    with console.status(f"deploying to {net.name}"):
        deployment = run(go())
    path = save_deployment(deployment, home() / "deployments")
    emit(asdict(deployment), lambda: console.print(f"deployed to {net.name}; recorded in {path}"))


# ---------------------------------------------------------------------------------------------- jobs


@job_app.command("submit")
def job_submit(
    program: Annotated[str, typer.Option(help="Program file (its SHA-256 is the program digest).")],
    input_file: Annotated[str, typer.Option("--input", help="Input file.")],
    runtime: Annotated[str, typer.Option()] = "wasi",
    replicas: Annotated[int, typer.Option("-m", "--replicas")] = 3,
    quorum: Annotated[int, typer.Option("-q", "--quorum")] = 2,
    max_price: Annotated[float, typer.Option(help="Max price per replica, in native units.")] = 0.1,
    bid_window: Annotated[int, typer.Option(help="Seconds of bidding; 0 = instant mode.")] = 0,
    commit_within: Annotated[int, typer.Option(help="Seconds until the commit deadline.")] = 3600,
    reveal_within: Annotated[int, typer.Option(help="Seconds until the reveal deadline.")] = 7200,
    network: NetworkOpt = "local",
    account: AccountOpt = None,
    dev: DevOpt = None,
) -> None:
    """Submits a job; its budget (replicas x max price) is escrowed in the same transaction."""
    net = get_network(network)
    signer = signer_for(net, account, dev)
    with open(program, "rb") as p, open(input_file, "rb") as i:
        program_digest, input_digest = hashlib.sha256(p.read()).digest(), hashlib.sha256(i.read()).digest()

    async def submit(pc: AsyncClient) -> Any:
        now = await pc.now()
        spec = JobSpec(program_digest, input_digest, runtime, replicas, quorum, int(max_price * 10**18),
                       now + bid_window + commit_within, now + bid_window + reveal_within,
                       bid_window=bid_window)  # fmt: skip
        return await pc.jobs.submit(spec)

    with console.status("submitting"):
        handle = with_client(net, signer, submit)
    emit(asdict(handle), lambda: console.print(f"job {handle.id} submitted (tx {handle.tx_hash})"))


@job_app.command("status")
def job_status(job_id: int, network: NetworkOpt = "local") -> None:
    """A job's on-chain state."""

    job = with_client(get_network(network), None, lambda pc: pc.jobs.get(job_id))

    def render() -> None:
        table = Table("field", "value", title=f"job {job_id}")
        for key, value in asdict(job).items():
            table.add_row(key, _jsonable(value))
        console.print(table)

    emit(asdict(job), render)


@job_app.command("cancel")
def job_cancel(job_id: int, network: NetworkOpt = "local", account: AccountOpt = None, dev: DevOpt = None) -> None:
    """Cancels an Open job you submitted; its budget is credited back."""
    net = get_network(network)
    signer = signer_for(net, account, dev)

    with_client(net, signer, lambda pc: pc.jobs.cancel(job_id))
    emit({"cancelled": job_id}, lambda: console.print(f"job {job_id} cancelled; withdraw the refund from escrow"))


# ---------------------------------------------------------------------------------------------- providers


@provider_app.command("register")
def provider_register(
    stake: Annotated[float, typer.Option(help="Stake in native units.")],
    capabilities: Annotated[int, typer.Option()] = 1,
    region: Annotated[str, typer.Option()] = "",
    network: NetworkOpt = "local",
    account: AccountOpt = None,
    dev: DevOpt = None,
) -> None:
    """Registers the signer as a provider with `stake`."""
    net = get_network(network)
    signer = signer_for(net, account, dev)

    with_client(
        net,
        signer,
        lambda pc: pc.providers.register(stake=int(stake * 10**18), capabilities=capabilities, region=region),
    )
    emit({"registered": signer.address}, lambda: console.print(f"{signer.address} registered"))


@provider_app.command("info")
def provider_info(address: str, network: NetworkOpt = "local") -> None:
    """A provider's stake, locked collateral and reputation."""

    info = with_client(get_network(network), None, lambda pc: pc.providers.info(address))
    emit(asdict(info), lambda: console.print(info))


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if hasattr(value, "name") and hasattr(value, "value"):
        return value.name
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


def main() -> None:
    """Entry point: one readable line per error, the traceback with --verbose, typed exit codes."""
    try:
        app(standalone_mode=False)
    except PolkaComputeError as exc:
        if STATE["verbose"]:
            err_console.print_exception()
        err_console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        sys.exit(130)
    except Exception as exc:  # click usage errors and the unexpected
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if STATE["verbose"]:
            raise
        err_console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
