"""`worker run/status/logs/ping` (the provider's daemon) and `gateway serve` (a content gateway for requesters)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from polkacompute.cli.common import (
    AccountOpt,
    ChainIdOpt,
    DevOpt,
    NetworkOpt,
    RpcOpt,
    checked_address,
    client,
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
from polkacompute.errors import ConfigError, NetworkError, ValidationError
from polkacompute.paths import home

if TYPE_CHECKING:
    from polkacompute.p2p.status import Status
    from polkacompute.sdk.client import AsyncClient

MAX_UPLOAD_MB, QUOTA_MB = 64, 1024  # polkacompute.store.uploads.MAX_UPLOAD and QUOTA, in MiB (not imported: aiohttp)
worker_app = typer.Typer(no_args_is_help=True, help="Run a provider's worker.")
gateway_app = typer.Typer(no_args_is_help=True, help="Serve content by CID.")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        data = {"time": round(record.created, 3), "level": record.levelname.lower(), "logger": record.name,
                "message": record.getMessage()}  # fmt: skip
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data)


def setup_logging(log_format: str, level: str = "INFO", file: Path | None = None) -> None:
    """Logs to stderr (human or JSON lines) and, for a worker, to `file` too (what `worker logs` reads)."""
    formatter: logging.Formatter = JsonFormatter() if log_format == "json" else logging.Formatter(
        "%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S")  # fmt: skip
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(file))
    for handler in handlers:
        handler.setFormatter(formatter)
    logging.basicConfig(level=level, handlers=handlers, force=True)
    for noisy in ("web3", "aiohttp.access", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@worker_app.command("run")
def worker_run(
    directory: Annotated[
        Path | None, typer.Option("--dir", help="State, content and cache (default: per account).")
    ] = None,
    stake: Annotated[str, typer.Option(help="Register with this stake if not registered (native units).")] = "0",
    host: Annotated[
        str,
        typer.Option(
            help="IP address the gateway and libp2p listen on, and others reach "
            "(the machine's own address to serve other machines)."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Gateway port (0: any free one).")] = 0,
    public_url: Annotated[str | None, typer.Option(help="URL other workers reach the gateway at.")] = None,
    content: Annotated[
        list[str] | None,
        typer.Option(
            help="Gateway to fetch programs and inputs from (repeatable; default on a running devnet's chain: "
            "its gateway)."
        ),
    ] = None,
    runtime: Annotated[
        list[str] | None, typer.Option(help="Runtime to offer (repeatable; default wasi, python).")
    ] = None,
    price_per_gigafuel: Annotated[str, typer.Option(help="Price per 10^9 fuel of a job's limit.")] = "0.001",
    min_price: Annotated[str, typer.Option(help="Minimum price per replica.")] = "0.001",
    max_fuel: Annotated[int, typer.Option(help="Decline jobs with a larger fuel limit.")] = 10**11,
    processes: Annotated[int, typer.Option(help="Sandbox processes.")] = 1,
    finalize_grace: Annotated[float, typer.Option(help="Seconds each assignee in line waits to finalize.")] = 2.0,
    p2p: Annotated[
        bool,
        typer.Option(
            "--p2p/--http-channel",
            help="Talk to other workers over libp2p, or over "
            "HTTP to their gateways (no announcements, no peer content).",
        ),
    ] = True,
    p2p_port: Annotated[int, typer.Option(help="libp2p TCP port (0: any free one).")] = 0,
    allow_net: Annotated[
        list[str] | None,
        typer.Option(
            help="Let announced sources and registered peers in this network be reached (a CIDR, repeatable): "
            "loopback, private, link-local and metadata addresses are refused off a local devnet "
            "(docs/security.md)."
        ),
    ] = None,
    log_format: Annotated[str, typer.Option(help="human or json.")] = "human",
    network: NetworkOpt = "local",
    rpc_url: RpcOpt = None,
    chain_id: ChainIdOpt = None,
    account: AccountOpt = None,
    dev: DevOpt = None,
) -> None:
    """Runs the worker until Ctrl-C or SIGTERM; state survives restarts (and kill -9)."""
    import uvloop

    from polkacompute.cli.defaults import content_sources
    from polkacompute.net.policy import OutboundPolicy
    from polkacompute.worker.config import Pricing, WorkerConfig
    from polkacompute.worker.daemon import Worker

    net = network_of(network, rpc_url, chain_id)
    signer = signer_for(net, account, dev)
    directory = directory or home() / "workers" / signer.address
    setup_logging(log_format, file=directory / "worker.log")
    config = WorkerConfig(
        network=net, signer=signer, directory=directory,
        runtimes=tuple(runtime or ("wasi", "python")), stake=native(stake, "stake"), host=host, port=port,
        public_url=public_url,
        content_sources=content_sources(content, net), max_fuel=max_fuel, executor_processes=processes,
        finalize_grace=finalize_grace, p2p=p2p, p2p_port=p2p_port,
        outbound=OutboundPolicy.for_network(net, allow=allow_net or ()),
        pricing=Pricing(per_gigafuel=native(price_per_gigafuel, "price_per_gigafuel"),
                        minimum=native(min_price, "min_price")),
    )  # fmt: skip
    worker = Worker(config)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await worker.run(stop)

    uvloop.run(main())  # libuv's event loop: the worker is bound by its event loop's speed


def _worker_dir(directory: Path | None, account: str | None, dev: int | None, needs: str) -> Path:
    """The worker's directory: --dir, else the first of the devnet's `workers/worker<N>` (for --dev N) and
    `~/.polkacompute/workers/<address>` that holds `needs`."""
    if directory is not None:
        candidates = [directory]
    elif dev is None and account is None:
        raise ValidationError("dir", "which worker?", hint="pass --dir, --account NAME or --dev N")
    else:
        from polkacompute.cli.defaults import worker_directories

        candidates = worker_directories(dev, _address_of(account, dev))
    for candidate in candidates:
        if (candidate / needs).exists():
            return candidate
    where = " or ".join(str(c / needs) for c in candidates)
    raise ValidationError("dir", f"no worker {needs} at {where}",
                          hint="start it with `worker run` (or `devnet up --workers N`) first")  # fmt: skip


def _address_of(account: str | None, dev: int | None) -> str:
    from polkacompute.chain.accounts import Keystore, dev_account

    return dev_account(dev).address if dev is not None else Keystore().address_of(str(account))


@worker_app.command("status")
def worker_status(
    directory: Annotated[Path | None, typer.Option("--dir", help="The worker's directory.")] = None,
    account: AccountOpt = None,
    dev: DevOpt = None,
    network: NetworkOpt = "local",
    rpc_url: RpcOpt = None,
    chain_id: ChainIdOpt = None,
) -> None:
    """Jobs in flight, stake, reputation and earnings of a worker (its state file and the chain).

    With --dev N after `make devnet`, the devnet's workerN (.polkacompute/devnet/workers/workerN)."""
    from polkacompute.worker.state import WorkerState

    path = _worker_dir(directory, account, dev, "state.db") / "state.db"
    state = WorkerState(path)
    jobs = state.jobs()
    address = _address_of(account, dev) if dev is not None or account else None
    info: Any = None
    balance = 0
    if address:

        async def chain(pc: AsyncClient) -> tuple[Any, int]:
            return await pc.providers.info(address), await pc.escrow.balance(address)

        with waiting("reading the chain"):
            info, balance = with_client(network_of(network, rpc_url, chain_id), None, chain)
    phases: dict[str, int] = {}
    for record in jobs:
        phases[record.phase.value] = phases.get(record.phase.value, 0) + 1
    in_flight = state.in_flight()
    data: dict[str, Any] = {
        "address": address,
        "phases": phases,
        "in_flight": [
            {"job_id": r.job_id, "phase": r.phase.value, "index": r.my_index, "result_cid": r.result_cid}
            for r in in_flight
        ],
    }
    if info is not None:
        data |= {"stake": info.stake, "locked": info.locked, "reputation": info.reputation, "earnings_wei": balance}

    def render() -> None:
        t = table("job", "phase", "index", "result", title=f"worker {address or path.parent}: jobs in flight",
                  whole=("result",))  # fmt: skip
        for r in in_flight:
            t.add_row(str(r.job_id), r.phase.value, str(r.my_index), r.result_cid or "")
        show(t)
        console.print("jobs by phase: " + ", ".join(f"{k} {v}" for k, v in sorted(phases.items())))
        if info is not None:
            console.print(f"stake {units(info.stake)}, locked {units(info.locked)}, reputation {info.reputation}"
                          f"/10000, withdrawable earnings {units(balance)}")  # fmt: skip

    emit(data, render)


@worker_app.command("ping")
def worker_ping(
    addr: Annotated[str, typer.Argument(help="The worker's multiaddr (/ip4/.../tcp/.../p2p/<peer id>), or its "
                                             "provider address (0x...): the multiaddr it registered on-chain.")],
    network: NetworkOpt = "local",
    rpc_url: RpcOpt = None,
    chain_id: ChainIdOpt = None,
    within: Annotated[float, typer.Option(help="Seconds to wait for the answer (for a provider address, also for "
                                                "it to register its multiaddr and serve).")] = 5.0,
) -> None:  # fmt: skip
    """Asks a worker's libp2p node for its status, signed by its provider account and checked here."""
    provider = None if addr.startswith("/") else checked_address(addr, "addr")
    net = network_of(network, rpc_url, chain_id)
    from libp2p.crypto.ed25519 import create_new_key_pair

    from polkacompute.net.policy import LOCAL, OutboundPolicy
    from polkacompute.p2p import Node
    from polkacompute.p2p.status import query_status

    async def ask() -> tuple[str, Status, float]:
        # A throwaway identity (asking needs none). The one address it dials is the operator's own choice (any),
        # or the one the provider registered: that one only where the network lets workers reach (security.md).
        node = Node(create_new_key_pair(), outbound=LOCAL if provider is None else OutboundPolicy.for_network(net))
        await node.start()
        try:
            if provider is None:
                start = time.perf_counter()
                status = await query_status(node, addr, net.chain_id, within=within)
                return addr, status, time.perf_counter() - start
            async with client(net) as pc:
                return await _ask_provider(pc, node, provider, within)
        finally:
            await node.stop()

    with waiting(f"asking {addr}"):
        target, status, rtt = asyncio.run(ask())
    data = {**asdict(status), "multiaddr": target, "round_trip_ms": round(rtt * 1000, 1)}
    emit(data, lambda: console.print(
        f"{status.address} (peer {status.peer_id}), version {status.version}, chain {status.chain_id}: "
        f"{status.jobs_in_flight} jobs in flight, chain time {status.chain_time}, runtimes "
        f"{', '.join(status.runtimes) or 'none'}, up {status.uptime_s:.0f}s; signature checked, "
        f"{rtt * 1000:.0f} ms"))  # fmt: skip


async def _ask_provider(pc: AsyncClient, node: Any, provider: str, within: float) -> tuple[str, Status, float]:
    """The status of `provider`'s worker at the multiaddr it registered, read again until it answers within
    `within` seconds (a worker just started registers, or updates, its address once its node listens)."""
    from polkacompute.p2p.status import query_status

    deadline = time.monotonic() + within
    while True:
        registered = (await pc.providers.peer_ids()).get(provider, "")
        if registered.startswith("/"):
            try:
                start = time.perf_counter()
                status = await query_status(node, registered, pc.network.chain_id,
                                            within=max(deadline - time.monotonic(), 0.1))  # fmt: skip
                return registered, status, time.perf_counter() - start
            except NetworkError as exc:
                failure = str(exc)
        elif registered:
            failure = f"{provider} registered {registered}, not a libp2p multiaddr (an --http-channel worker)"
        else:
            failure = f"{provider} registered no libp2p multiaddr"
        if time.monotonic() >= deadline:
            hint = "start its worker (`worker run`), or check the address (`provider info`)"
            raise NetworkError(f"{failure} (within {within:g}s)", hint=hint)
        await asyncio.sleep(0.5)


@worker_app.command("logs")
def worker_logs(
    directory: Annotated[Path | None, typer.Option("--dir", help="The worker's directory.")] = None,
    account: AccountOpt = None,
    dev: DevOpt = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    lines: Annotated[int, typer.Option("-n", help="Lines of history.")] = 50,
) -> None:
    """Prints a worker's log (its `worker.log`), and follows it with --follow.

    With --dev N after `make devnet`, the devnet's workerN (.polkacompute/devnet/workers/workerN)."""
    path = _worker_dir(directory, account, dev, "worker.log") / "worker.log"
    with open(path) as fh:
        for line in fh.readlines()[-lines:]:
            sys.stdout.write(line)
        sys.stdout.flush()
        while follow:
            line = fh.readline()
            if line:
                sys.stdout.write(line)
                sys.stdout.flush()
            else:
                time.sleep(0.2)


@gateway_app.command("serve")
def gateway_serve(
    store: Annotated[Path, typer.Option(help="Content store directory.")],
    port: Annotated[int, typer.Option(help="Port (0: any free one, printed).")] = 8080,
    host: Annotated[str, typer.Option(help="IP address to listen on.")] = "127.0.0.1",
    uploads: Annotated[bool, typer.Option(help="Accept POST /ipfs uploads (requesters publishing).")] = False,
    upload_token_file: Annotated[
        Path | None,
        typer.Option(
            help="File holding the token uploads must carry (Authorization: Bearer <token>); "
            "or set POLKACOMPUTE_UPLOAD_TOKEN. Required for --uploads on a non-loopback --host."
        ),
    ] = None,
    max_upload_mb: Annotated[int, typer.Option(help="Largest upload, in MiB.")] = MAX_UPLOAD_MB,
    upload_quota_mb: Annotated[
        int, typer.Option(help="Most the store may hold, in MiB: uploads beyond it are refused.")
    ] = QUOTA_MB,
) -> None:
    """Serves a content store at http://HOST:PORT/ipfs/<cid> until Ctrl-C or SIGTERM."""
    import uvloop

    from polkacompute.store import ContentStore
    from polkacompute.store.http import Gateway
    from polkacompute.store.uploads import UploadPolicy

    setup_logging("human")
    policy: UploadPolicy | bool = False
    if uploads:
        token = os.environ.get("POLKACOMPUTE_UPLOAD_TOKEN") or None
        if upload_token_file is not None:
            try:
                token = upload_token_file.read_text().strip() or None
            except OSError as exc:
                raise ConfigError(f"cannot read the upload token: {exc}") from None
        policy = UploadPolicy(token=token, max_upload=max_upload_mb << 20, quota=upload_quota_mb << 20)
        policy.check_host(host)  # before anything listens

    async def main() -> None:
        gateway = Gateway(ContentStore(store), uploads=policy)
        url = await gateway.start(host, port)
        print(json.dumps({"url": url}), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await gateway.stop()

    uvloop.run(main())
