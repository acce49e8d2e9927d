"""`devnet up/down/status/restart-worker`: the local chain with the protocol deployed (the main job)."""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import time
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.table import Table

from polkacompute.chain.accounts import dev_account
from polkacompute.cli.common import STATE, console, emit, run, waiting
from polkacompute.devnet import BLOCK_TIME, Devnet, devnet, down, ensure_deployed_sync, start, stop
from polkacompute.devnet.anvil import free_port
from polkacompute.devnet.demo import run_demo
from polkacompute.devnet.fleet import Fleet
from polkacompute.devnet.supervise import Supervisor, describe, read_fleet, request_restart, run_detached, write_pid
from polkacompute.devnet.worker_demo import run_worker_demo
from polkacompute.errors import ConfigError, NetworkError

devnet_app = typer.Typer(no_args_is_help=True, help="The local devnet (anvil + the protocol).")
PortOpt = Annotated[int, typer.Option(help="RPC port.")]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@devnet_app.command("up")
def devnet_up(
    port: PortOpt = 8545,
    block_time: Annotated[int, typer.Option(help="Seconds between blocks when no transaction comes (transactions "
                                                 "are mined at once); 0: only a block per transaction.")] = BLOCK_TIME,
    demo: Annotated[bool, typer.Option(help="Run the demo job once the devnet is up.")] = False,
    workers: Annotated[int, typer.Option(help="Worker processes to start (dev accounts 2..N+1).")] = 0,
    detach: Annotated[bool, typer.Option(help="Run in the background and return once up.")] = False,
    dashboard_port: Annotated[int, typer.Option(help="Port of the dashboard and its API (0: any free one).")] = 0,
    background: Annotated[bool, typer.Option(hidden=True, help="Be the supervisor `--detach` starts.")] = False,
) -> None:  # fmt: skip
    """Starts anvil, deploys the protocol (once; state persists), prints a summary, and supervises the
    workers (a crashed one is restarted) until Ctrl-C or `devnet down`."""
    net = devnet(port)
    if (pid := net.supervisor_pid() or net.pid()) is not None:
        raise ConfigError(f"a devnet is already running (pid {pid})", hint="`polkacompute devnet down` first")
    if not detach:
        _serve(net, block_time, demo, workers, dashboard_port, background)
        return
    argv = [*(["--json"] if STATE["json"] else []), *(["--verbose"] if STATE["verbose"] else []), "devnet", "up",
            "--port", str(port), "--block-time", str(block_time), "--workers", str(workers),
            "--dashboard-port", str(dashboard_port), *(["--demo"] if demo else []), "--background"]  # fmt: skip
    sys.stdout.flush()
    pid, code = run_detached(net.directory, argv, sys.stdout.buffer, sys.stderr.buffer, columns=console.width)
    if code is not None:
        raise typer.Exit(code)
    log = net.directory / "supervisor.out"
    emit({"supervisor": pid, "log": str(log)},
         lambda: console.print(f"devnet running in the background (supervisor pid {pid}, its log {log}); "
                               "`polkacompute devnet down` stops it"))  # fmt: skip


def _serve(net: Devnet, block_time: int, demo: bool, workers: int, dashboard_port: int, background: bool) -> None:
    # A shell starts background jobs with SIGINT ignored (Python then leaves it ignored): Ctrl-C, `kill`,
    # a closed terminal and `devnet down` (SIGTERM) all stop the devnet cleanly (state saved).
    for sig in STOP_SIGNALS:
        signal.signal(sig, _interrupt)
    with waiting("starting anvil"):
        proc = start(net, block_time=block_time)
    fleet = Fleet(net.directory, net.network.rpc_url)
    try:
        with waiting("deploying the protocol"):
            deployment = ensure_deployed_sync(net)
        summary = {"rpc_url": net.network.rpc_url, "chain_id": net.network.chain_id, "state": str(net.directory),
                   "block_time": block_time, "addresses": deployment.addresses}  # fmt: skip
        emit(summary, lambda: _render(net, deployment.addresses, block_time))
        fleet.start_dashboard(dashboard_port or free_port(), wait=False)  # starts beside the workers
        if workers:
            with waiting(f"starting the content gateway and {workers} workers"):
                fleet.start(workers)
            emit({"gateway": fleet.gateway_url, "workers": fleet.worker_urls},
                 lambda: console.print(f"gateway {fleet.gateway_url}; {workers} workers: "
                                       f"{', '.join(fleet.worker_urls)}; logs in {net.directory}"))  # fmt: skip
        with waiting("starting the indexer and the dashboard"):
            dashboard = fleet.dashboard_url = fleet.wait_ready("dashboard")
        emit({"dashboard": dashboard}, lambda: console.print(f"dashboard: {dashboard} (API docs at {dashboard}docs)"))
        if demo:
            _demo(net, deployment, fleet, workers)
        supervisor = Supervisor(fleet, _report)
        if not background:  # a detached one's launcher says how to stop it
            emit({"running": True, "supervisor": os.getpid()},
                 lambda: console.print("devnet running; Ctrl-C or `polkacompute devnet down` stops it"))  # fmt: skip
        sys.stdout.flush()
        write_pid(net.supervisor_pid_file, os.getpid())  # also says "up" to a `--detach` launcher
        while proc.poll() is None:
            supervisor.check()
            time.sleep(0.5)
        raise NetworkError(f"anvil {describe(proc.returncode)}; devnet stopped", hint=f"see {net.directory}/anvil.log")
    except KeyboardInterrupt:
        pass
    finally:
        for sig in STOP_SIGNALS:  # let the cleanup finish
            signal.signal(sig, signal.SIG_IGN)
        fleet.stop()
        stop(net)
        if net.supervisor_pid() == os.getpid():
            net.supervisor_pid_file.unlink()
        emit({"stopped": True}, lambda: console.print("devnet stopped (state saved)"))


def _render(net: Devnet, addresses: dict[str, str], block_time: int) -> None:
    table = Table("contract", "address", title=f"devnet at {net.network.rpc_url} (chain {net.network.chain_id})")
    for name, address in addresses.items():
        table.add_row(name, address)
    console.print(table)
    blocks = f"a block every {block_time}s and one per transaction" if block_time else "a block per transaction"
    console.print(f"dev accounts: anvil's 10 funded keys (e.g. {dev_account(1).address}); {blocks}; "
                  f"state in {net.directory}")  # fmt: skip


def _demo(net: Devnet, deployment: Any, fleet: Fleet, workers: int) -> None:
    if workers >= 3:
        outcome = run(run_worker_demo(net.network, deployment, fleet.gateway_url, fleet.worker_urls, say=_say))
        emit(
            {**asdict(outcome), "verified": outcome.verified},
            lambda: console.print(f"output {outcome.output!r}: {'verified' if outcome.verified else 'NOT verified'}"),
        )
        return
    result = run(run_demo(net.network, deployment, say=_say))
    # What a requester does with a result: recompute the digest of the output it fetched.
    verified = hashlib.sha256(result.output).digest() == result.result_digest
    emit(
        {**asdict(result), "verified": verified},
        lambda: console.print(f"output 0x{result.output.hex()}: digest {'matches' if verified else 'MISMATCH'}"),
    )


def _say(message: str) -> None:
    console.print(f"[green]demo[/] {message}")


def _report(data: dict[str, Any], line: str) -> None:
    emit(data, lambda: console.print(f"[yellow]devnet[/] {line}", highlight=False, soft_wrap=True))
    sys.stdout.flush()  # a detached supervisor's stdout is its log file


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@devnet_app.command("down")
def devnet_down(port: PortOpt = 8545) -> None:
    """Stops the devnet (its supervisor, workers and anvil, which saves its state)."""
    stopped = down(devnet(port))
    emit({"stopped": stopped}, lambda: console.print("devnet stopped" if stopped else "no devnet running"))


@devnet_app.command("status")
def devnet_status(port: PortOpt = 8545) -> None:
    """Whether the devnet runs, where, and its processes (pid, alive, restarts)."""
    net = devnet(port)
    pid, supervisor = net.pid(), net.supervisor_pid()
    processes = [{"name": name, **entry} for name, entry in read_fleet(net.directory)["processes"].items()]
    data = {"running": pid is not None, "pid": pid, "supervisor": supervisor, "rpc_url": net.network.rpc_url,
            "state": str(net.directory), "processes": processes}  # fmt: skip

    def render() -> None:
        if pid is None:
            console.print("not running")
            return
        console.print(f"running (anvil pid {pid}, supervisor pid {supervisor}) at {net.network.rpc_url}")
        table = Table("process", "pid", "alive", "state", "restarts", "url")
        for p in processes:
            table.add_row(p["name"], str(p["pid"]), "yes" if p["alive"] else "NO", p["state"], str(p["restarts"]),
                          p["url"])  # fmt: skip
        if processes:
            console.print(table)

    emit(data, render)


@devnet_app.command("restart-worker")
def devnet_restart_worker(
    worker: Annotated[str, typer.Argument(help="N for workerN (its dev account; `devnet status` lists them), "
                                               "or a process name: gateway, dashboard.")],
    port: PortOpt = 8545,
) -> None:  # fmt: skip
    """Restarts one of the devnet's processes (same account, directory and address) and waits until it
    serves again."""
    name = f"worker{worker}" if worker.isdigit() else worker
    with waiting(f"restarting {name}"):
        entry = request_restart(devnet(port).directory, name)
    emit(
        {"name": name, **entry}, lambda: console.print(f"{name} restarted: pid {entry['pid']}, serving {entry['url']}")
    )
