"""`account new/import/list/balance`: keys live only in encrypted keystores."""

from __future__ import annotations

import os

import typer

from polkacompute.cli.common import (
    ChainIdOpt,
    NetworkOpt,
    RpcOpt,
    checked_address,
    console,
    emit,
    network_of,
    run,
    show,
    table,
    units,
    waiting,
)

account_app = typer.Typer(no_args_is_help=True, help="Encrypted keystores.")


def _password(confirm: bool) -> str:
    return os.environ.get("POLKACOMPUTE_PASSWORD") or typer.prompt("password", hide_input=True,
                                                                  confirmation_prompt=confirm)  # fmt: skip


@account_app.command("new")
def account_new(name: str) -> None:
    """Creates a key, encrypted in the keystore (password from prompt or POLKACOMPUTE_PASSWORD)."""
    from polkacompute.chain.accounts import Keystore

    signer = Keystore().create(name, _password(True))
    emit({"name": name, "address": signer.address}, lambda: console.print(f"created {name}: {signer.address}"))


@account_app.command("import")
def account_import(name: str) -> None:
    """Imports a private key (prompted, or POLKACOMPUTE_PRIVATE_KEY) into the keystore."""
    from polkacompute.chain.accounts import Keystore

    key = os.environ.get("POLKACOMPUTE_PRIVATE_KEY") or typer.prompt("private key", hide_input=True)
    signer = Keystore().import_key(name, key, _password(True))
    emit({"name": name, "address": signer.address}, lambda: console.print(f"imported {name}: {signer.address}"))


@account_app.command("list")
def account_list() -> None:
    """Accounts in the keystore."""
    from polkacompute.chain.accounts import Keystore

    ks = Keystore()
    rows = [{"name": n, "address": ks.address_of(n)} for n in ks.names()]

    def render() -> None:
        t = table("name", "address", title=str(ks.directory), whole=("address",))
        for r in rows:
            t.add_row(r["name"], r["address"])
        show(t)

    emit(rows, render)


@account_app.command("balance")
def account_balance(address: str, network: NetworkOpt = "local", rpc_url: RpcOpt = None,
                    chain_id: ChainIdOpt = None) -> None:  # fmt: skip
    """Native balance of an address (or of a keystore account name)."""
    from polkacompute.chain.accounts import Keystore
    from polkacompute.chain.client import ChainClient

    who = checked_address(address, "address") if address.startswith("0x") else Keystore().address_of(address)
    net = network_of(network, rpc_url, chain_id)

    async def go() -> int:
        async with ChainClient(net) as chain:
            return await chain.balance(who)

    with waiting(f"reading {net.name}"):
        wei = run(go())
    emit({"address": who, "balance_wei": wei}, lambda: console.print(f"{who}: {units(wei)} {net.currency}"))
