"""`devnet up/down/status`: the local chain with the protocol deployed (the main job)."""

from __future__ import annotations

import hashlib
import signal
import time
from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from polkacompute.chain.accounts import dev_account
from polkacompute.cli.common import console, emit, run, waiting
from polkacompute.devnet import devnet, ensure_deployed_sync, start, stop
from polkacompute.devnet.anvil import free_port
from polkacompute.devnet.demo import run_demo
from polkacompute.devnet.fleet import Fleet, stop_fleet
from polkacompute.devnet.worker_demo import run_worker_demo

devnet_app = typer.Typer(no_args_is_help=True, help="The local devnet (anvil + the protocol).")
PortOpt = Annotated[int, typer.Option(help="RPC port.")]


@devnet_app.command("up")
def devnet_up(
    port: PortOpt = 8545,
    block_time: Annotated[int | None, typer.Option(help="Seconds per block (default: automine).")] = None,
    demo: Annotated[bool, typer.Option(help="Run the demo job once the devnet is up.")] = False,
    workers: Annotated[int, typer.Option(help="Worker processes to start (dev accounts 2..N+1).")] = 0,
    detach: Annotated[bool, typer.Option(help="Leave anvil running and return.")] = False,
    dashboard_port: Annotated[int, typer.Option(help="Port of the dashboard and its API (0: any free one).")] = 0,
) -> None:
    """Starts anvil, deploys the protocol (once; state persists), prints a summary, runs until Ctrl-C."""
    net = devnet(port)
    with waiting("starting anvil and deploying the protocol"):
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
    fleet = Fleet(net.directory, net.network.rpc_url)
    with waiting("starting the indexer and the dashboard"):
        dashboard = fleet.start_dashboard(dashboard_port or free_port())
    emit({"dashboard": dashboard}, lambda: console.print(f"dashboard: {dashboard} (API docs at {dashboard}docs)"))
    if workers:
        with waiting(f"starting the content gateway and {workers} workers"):
            fleet.start(workers)
        emit({"gateway": fleet.gateway_url, "workers": fleet.worker_urls},
             lambda: console.print(f"gateway {fleet.gateway_url}; {workers} workers: {', '.join(fleet.worker_urls)}; "
                                   f"logs in {net.directory}"))  # fmt: skip
    if demo and workers >= 3:
        outcome = run(run_worker_demo(net.network, deployment, fleet.gateway_url, fleet.worker_urls, say=_say))
        emit(
            {**asdict(outcome), "verified": outcome.verified},
            lambda: console.print(f"output {outcome.output!r}: {'verified' if outcome.verified else 'NOT verified'}"),
        )
    elif demo:
        result = run(run_demo(net.network, deployment, say=_say))
        # What a requester does with a result: recompute the digest of the output it fetched.
        verified = hashlib.sha256(result.output).digest() == result.result_digest
        emit(
            {**asdict(result), "verified": verified},
            lambda: console.print(f"output 0x{result.output.hex()}: digest {'matches' if verified else 'MISMATCH'}"),
        )
    if detach:
        return  # the workers keep running too; `devnet down` stops them
    console.print("devnet running; Ctrl-C to stop")
    # `kill`, a closed terminal or a supervisor stop the devnet as cleanly as Ctrl-C (state saved).
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    try:
        while proc.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        fleet.stop()
        stop(net)
        console.print("devnet stopped (state saved)")


def _say(message: str) -> None:
    console.print(f"[green]demo[/] {message}")


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@devnet_app.command("down")
def devnet_down(port: PortOpt = 8545) -> None:
    """Stops a detached devnet and its workers (its state is saved)."""
    stop_fleet(devnet(port).directory)
    stopped = stop(devnet(port))
    emit({"stopped": stopped}, lambda: console.print("devnet stopped" if stopped else "no devnet running"))


@devnet_app.command("status")
def devnet_status(port: PortOpt = 8545) -> None:
    """Whether the devnet runs, and where."""
    net = devnet(port)
    pid = net.pid()
    data = {"running": pid is not None, "pid": pid, "rpc_url": net.network.rpc_url, "state": str(net.directory)}
    emit(data, lambda: console.print(f"running (pid {pid}) at {net.network.rpc_url}" if pid else "not running"))
