"""`provider register/stake/unbond/withdraw/info` and `escrow balance/withdraw`."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from polkacompute.cli.common import (
    ETH,
    AccountOpt,
    ChainIdOpt,
    DevOpt,
    NetworkOpt,
    RpcOpt,
    console,
    emit,
    native,
    network_of,
    signer_for,
    waiting,
    with_client,
)
from polkacompute.sdk.client import AsyncClient
from polkacompute.sdk.models import Provider

provider_app = typer.Typer(no_args_is_help=True, help="Provider registration and stake.")
escrow_app = typer.Typer(no_args_is_help=True, help="Payments credited to you (pull payments).")
AmountArg = Annotated[str, typer.Argument(help="Amount in native units, e.g. 2.5.")]


@provider_app.command("register")
def provider_register(
    stake: Annotated[str, typer.Option(help="Stake in native units.")],
    capabilities: Annotated[int, typer.Option(help="Capability bits (1 = wasi).")] = 1,
    region: Annotated[str, typer.Option(help="Up to 8 bytes, e.g. eu-west.")] = "",
    network: NetworkOpt = "local",
    rpc_url: RpcOpt = None,
    chain_id: ChainIdOpt = None,
    account: AccountOpt = None,
    dev: DevOpt = None,
) -> None:
    """Registers the signer as a provider with `stake`."""
    net = network_of(network, rpc_url, chain_id)
    signer = signer_for(net, account, dev)
    wei = native(stake, "stake")
    with waiting("registering"):
        with_client(net, signer, lambda pc: pc.providers.register(stake=wei, capabilities=capabilities, region=region))
    emit({"registered": signer.address}, lambda: console.print(f"{signer.address} registered"))


@provider_app.command("stake")
def provider_stake(amount: AmountArg, network: NetworkOpt = "local", rpc_url: RpcOpt = None,
                   chain_id: ChainIdOpt = None, account: AccountOpt = None, dev: DevOpt = None) -> None:  # fmt: skip
    """Adds stake."""
    net = network_of(network, rpc_url, chain_id)
    signer = signer_for(net, account, dev)
    wei = native(amount, "amount")
    with waiting("adding stake"):
        info = with_client(net, signer, lambda pc: _then_info(pc.providers.add_stake(wei), pc))
    emit(asdict(info), lambda: console.print(f"stake is now {info.stake / ETH:g}"))


@provider_app.command("unbond")
def provider_unbond(amount: AmountArg, network: NetworkOpt = "local", rpc_url: RpcOpt = None,
                    chain_id: ChainIdOpt = None, account: AccountOpt = None, dev: DevOpt = None) -> None:  # fmt: skip
    """Starts unbonding stake; `provider withdraw` takes it out once the unbonding period is over."""
    net = network_of(network, rpc_url, chain_id)
    signer = signer_for(net, account, dev)
    wei = native(amount, "amount")
    with waiting("requesting unbond"):
        info = with_client(net, signer, lambda pc: _then_info(pc.providers.unbond(wei), pc))
    release = datetime.fromtimestamp(info.unbonding_release_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    emit(asdict(info), lambda: console.print(f"{info.unbonding / ETH:g} unbonding until {release}"))


@provider_app.command("withdraw")
def provider_withdraw(network: NetworkOpt = "local", rpc_url: RpcOpt = None, chain_id: ChainIdOpt = None,
                      account: AccountOpt = None, dev: DevOpt = None) -> None:  # fmt: skip
    """Withdraws unbonded stake whose unbonding period is over."""
    net = network_of(network, rpc_url, chain_id)
    signer = signer_for(net, account, dev)
    with waiting("withdrawing unbonded stake"):
        info = with_client(net, signer, lambda pc: _then_info(pc.providers.withdraw(), pc))
    text = f"withdrawn; stake {info.stake / ETH:g}, unbonding {info.unbonding / ETH:g}"
    emit(asdict(info), lambda: console.print(text))


@provider_app.command("info")
def provider_info(address: str, network: NetworkOpt = "local", rpc_url: RpcOpt = None,
                  chain_id: ChainIdOpt = None) -> None:  # fmt: skip
    """A provider's stake, locked collateral and reputation."""
    with waiting("reading provider"):
        info = with_client(network_of(network, rpc_url, chain_id), None, lambda pc: pc.providers.info(address))

    def render() -> None:
        table = Table("field", "value", title=f"provider {address}")
        for key in ("status", "stake", "locked", "unbonding"):
            value = getattr(info, key)
            table.add_row(key, f"{value / ETH:g}" if key != "status" else ("none", "active", "deregistered")[value])
        table.add_row("reputation", f"{info.reputation} / 10000")
        table.add_row("capabilities", bin(info.capabilities))
        table.add_row("region", info.region)
        console.print(table)

    emit(asdict(info), render)


@escrow_app.command("balance")
def escrow_balance(address: str, network: NetworkOpt = "local", rpc_url: RpcOpt = None,
                   chain_id: ChainIdOpt = None) -> None:  # fmt: skip
    """What the escrow holds for an address (payouts, refunds), ready to withdraw."""
    with waiting("reading escrow"):
        wei = with_client(network_of(network, rpc_url, chain_id), None, lambda pc: pc.escrow.balance(address))
    emit({"address": address, "balance_wei": wei}, lambda: console.print(f"{address}: {wei / ETH:g}"))


@escrow_app.command("withdraw")
def escrow_withdraw(network: NetworkOpt = "local", rpc_url: RpcOpt = None, chain_id: ChainIdOpt = None,
                    account: AccountOpt = None, dev: DevOpt = None) -> None:  # fmt: skip
    """Withdraws everything the escrow holds for the signer."""
    net = network_of(network, rpc_url, chain_id)
    signer = signer_for(net, account, dev)

    async def go(pc: AsyncClient) -> int:
        amount = await pc.escrow.balance()
        if amount:
            await pc.escrow.withdraw()
        return amount

    with waiting("withdrawing"):
        amount = with_client(net, signer, go)
    emit({"withdrawn_wei": amount}, lambda: console.print(f"withdrew {amount / ETH:g} to {signer.address}"))


async def _then_info(action: Awaitable[Any], pc: AsyncClient) -> Provider:
    """Runs a provider transaction, then reads the provider's new state."""
    await action
    return await pc.providers.info()
