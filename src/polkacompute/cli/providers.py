"""`provider register/stake/unbond/withdraw/info` and `escrow balance/withdraw`."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from polkacompute.cli.common import (
    AccountOpt,
    ChainIdOpt,
    DevOpt,
    NetworkOpt,
    RpcOpt,
    checked_address,
    console,
    emit,
    native,
    network_of,
    show,
    signer_for,
    table,
    units,
    waiting,
    with_client,
)
from polkacompute.errors import NothingToWithdraw

if TYPE_CHECKING:
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
    emit(asdict(info), lambda: console.print(f"stake is now {units(info.stake)}"))


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
    emit(asdict(info), lambda: console.print(f"{units(info.unbonding)} unbonding until {release}"))


@provider_app.command("withdraw")
def provider_withdraw(network: NetworkOpt = "local", rpc_url: RpcOpt = None, chain_id: ChainIdOpt = None,
                      account: AccountOpt = None, dev: DevOpt = None) -> None:  # fmt: skip
    """Withdraws unbonded stake whose unbonding period is over."""
    net = network_of(network, rpc_url, chain_id)
    signer = signer_for(net, account, dev)
    with waiting("withdrawing unbonded stake"):
        info = with_client(net, signer, lambda pc: _then_info(pc.providers.withdraw(), pc))
    text = f"withdrawn; stake {units(info.stake)}, unbonding {units(info.unbonding)}"
    emit(asdict(info), lambda: console.print(text))


@provider_app.command("info")
def provider_info(address: str, network: NetworkOpt = "local", rpc_url: RpcOpt = None,
                  chain_id: ChainIdOpt = None) -> None:  # fmt: skip
    """A provider's stake, locked collateral and reputation."""
    who = checked_address(address, "address")
    with waiting("reading provider"):
        info = with_client(network_of(network, rpc_url, chain_id), None, lambda pc: pc.providers.info(who))

    def render() -> None:
        t = table("field", "value", title=f"provider {who}")
        for key in ("status", "stake", "locked", "unbonding"):
            value = getattr(info, key)
            t.add_row(key, units(value) if key != "status" else ("none", "active", "deregistered")[value])
        t.add_row("reputation", f"{info.reputation} / 10000")
        t.add_row("capabilities", bin(info.capabilities))
        t.add_row("region", info.region)
        show(t)

    emit(asdict(info), render)


@escrow_app.command("balance")
def escrow_balance(address: str, network: NetworkOpt = "local", rpc_url: RpcOpt = None,
                   chain_id: ChainIdOpt = None) -> None:  # fmt: skip
    """What the escrow holds for an address (payouts, refunds), ready to withdraw."""
    who = checked_address(address, "address")
    with waiting("reading escrow"):
        wei = with_client(network_of(network, rpc_url, chain_id), None, lambda pc: pc.escrow.balance(who))
    emit({"address": who, "balance_wei": wei}, lambda: console.print(f"{who}: {units(wei)}"))


@escrow_app.command("withdraw")
def escrow_withdraw(network: NetworkOpt = "local", rpc_url: RpcOpt = None, chain_id: ChainIdOpt = None,
                    account: AccountOpt = None, dev: DevOpt = None) -> None:  # fmt: skip
    """Withdraws everything the escrow holds for the signer (payouts, refunds) to its account.

    With nothing to withdraw it sends nothing and fails with exit code 6, as the contract would
    (`NothingToWithdraw`): a script learns that no funds moved."""
    net = network_of(network, rpc_url, chain_id)
    signer = signer_for(net, account, dev)

    async def go(pc: AsyncClient) -> int:
        owed = await pc.escrow.balance()
        if not owed:
            raise NothingToWithdraw(f"nothing to withdraw: the escrow holds nothing for {signer.address} on {net.name}",
                                    hint=f"see `polkacompute escrow balance {signer.address}`")  # fmt: skip
        await pc.escrow.withdraw()
        return owed

    with waiting("withdrawing"):
        withdrawn = with_client(net, signer, go)
    emit({"withdrawn_wei": withdrawn, "to": signer.address},
         lambda: console.print(f"withdrew {units(withdrawn)} to {signer.address}"))  # fmt: skip


async def _then_info(action: Awaitable[Any], pc: AsyncClient) -> Provider:
    """Runs a provider transaction, then reads the provider's new state."""
    await action
    return await pc.providers.info()
