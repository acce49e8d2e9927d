"""`network list` and `deploy`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import typer

from polkacompute.chain.networks import NETWORKS
from polkacompute.cli.common import (
    AccountOpt,
    ChainIdOpt,
    DevOpt,
    NetworkOpt,
    RpcOpt,
    console,
    emit,
    network_of,
    run,
    show,
    signer_for,
    table,
    waiting,
)
from polkacompute.paths import home

network_app = typer.Typer(no_args_is_help=True, help="Known networks.")


@network_app.command("list")
def network_list() -> None:
    """The networks PolkaCompute knows."""
    rows = [asdict(n) for n in NETWORKS.values()]

    def render() -> None:
        t = table("name", "chain id", "rpc url", "local", whole=("rpc url",))
        for n in NETWORKS.values():
            t.add_row(n.name, str(n.chain_id), n.rpc_url, "yes" if n.local else "")
        show(t)

    emit(rows, render)


def deploy_cmd(network: NetworkOpt = "local", rpc_url: RpcOpt = None, chain_id: ChainIdOpt = None,
               account: AccountOpt = None, dev: DevOpt = None) -> None:  # fmt: skip
    """Deploys and wires the protocol; writes deployments/<network>.json under POLKACOMPUTE_HOME."""
    from polkacompute.chain.client import ChainClient
    from polkacompute.chain.deploy import deploy as deploy_protocol
    from polkacompute.chain.deploy import save_deployment

    net = network_of(network, rpc_url, chain_id)
    signer = signer_for(net, account, dev)

    async def go() -> Any:
        async with ChainClient(net, signer) as client:
            return await deploy_protocol(client)

    with waiting(f"deploying to {net.name}"):
        deployment = run(go())
    path = save_deployment(deployment, home() / "deployments")
    emit(asdict(deployment), lambda: console.print(f"deployed to {net.name}; recorded in {path}"))
