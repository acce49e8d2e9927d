"""`polkacompute index`: follows a network's PolkaCompute events into SQL (SQLite file or PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from types import FrameType
from typing import Annotated

import typer

from polkacompute.cli.common import ChainIdOpt, NetworkOpt, RpcOpt, client, console, emit, network_of, run, waiting
from polkacompute.paths import home


def index_cmd(
    db: Annotated[
        str | None,
        typer.Option(
            help="SQLAlchemy URL (default: a SQLite file per network in the "
            "PolkaCompute home; postgresql+psycopg://... for PostgreSQL)."
        ),
    ] = None,
    confirmations: Annotated[int, typer.Option(help="Blocks below the head before a block is indexed.")] = 2,
    once: Annotated[bool, typer.Option("--once", help="Index up to the confirmed head and exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between passes when following.")] = 1.0,
    network: NetworkOpt = "local",
    rpc_url: RpcOpt = None,
    chain_id: ChainIdOpt = None,
) -> None:
    """Indexes every PolkaCompute event into SQL: jobs, providers and the escrow's ledger rebuilt from
    events alone; reorgs rewound; resumable. Follows new blocks until Ctrl-C unless --once."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from polkacompute.indexer import Indexer, open_store
    from polkacompute.indexer.schema import EventRow, JobRow, ProviderRow

    net = network_of(network, rpc_url, chain_id)
    url = _db_url(db, net.name)

    async def go() -> dict[str, object]:
        async with client(net) as pc:
            indexer = Indexer(pc, open_store(url), confirmations=confirmations)
            added = await indexer.sync()
            if not once:
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, stop.set)
                console.print(f"indexing {net.name} into {url} (Ctrl-C stops)")
                await indexer.follow(stop, interval)
            with Session(indexer.engine) as session:
                tables = (("events", EventRow), ("jobs", JobRow), ("providers", ProviderRow))
                counts = {name: int(session.scalar(select(func.count()).select_from(table)) or 0)
                          for name, table in tables}  # fmt: skip
            return {"db": url, "added": added, "next_block": indexer.next_block(), **counts}

    with waiting(f"indexing {net.name}") if once else contextlib.nullcontext():
        summary = run(go())
    emit(summary, lambda: console.print(f"{summary['events']} events, {summary['jobs']} jobs, {summary['providers']} "
                                        f"providers in {url}; next block {summary['next_block']}"))  # fmt: skip


def dashboard_cmd(
    db: Annotated[str | None, typer.Option(help="SQLAlchemy URL of the index (default: as `index`).")] = None,
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8700,
    confirmations: Annotated[int, typer.Option(help="Blocks below the head before a block is indexed.")] = 2,
    interval: Annotated[float, typer.Option(help="Seconds between indexing passes.")] = 1.0,
    gateway: Annotated[
        list[str] | None,
        typer.Option(help="Content gateway to fetch results from before asking the assignees (repeatable)."),
    ] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            help="Another name this server is reached by, answered in the Host header (repeatable; "
            "the loopback names, or the --host address, are answered without it)."
        ),
    ] = None,
    allow_net: Annotated[
        list[str] | None,
        typer.Option(
            help="Let assignees' registered addresses in this network be fetched from (a CIDR, repeatable): "
            "loopback, private, link-local and metadata addresses are refused off a local devnet "
            "(docs/security.md)."
        ),
    ] = None,
    network: NetworkOpt = "local",
    rpc_url: RpcOpt = None,
    chain_id: ChainIdOpt = None,
) -> None:
    """Serves the web dashboard and the indexer's API (with its live stream) for a network while
    indexing it, until Ctrl-C. Requests whose Host header names another host are refused (400)."""
    import uvicorn

    from polkacompute.dashboard import create_dashboard
    from polkacompute.indexer import Indexer, open_store
    from polkacompute.indexer.limits import ApiLimits, allowed_hosts_for
    from polkacompute.net.policy import OutboundPolicy

    net = network_of(network, rpc_url, chain_id)
    url = _db_url(db, net.name)
    outbound = OutboundPolicy.for_network(net, allow=allow_net or ())

    async def go() -> None:
        async with client(net) as pc:
            engine = open_store(url)
            indexer = Indexer(pc, engine, confirmations=confirmations)
            limits = ApiLimits(allowed_hosts=allowed_hosts_for(host, allowed_host or []))
            app = create_dashboard(engine, net, indexer=indexer, gateways=gateway or [], follow_every=interval,
                                   limits=limits, outbound=outbound)  # fmt: skip

            class Server(uvicorn.Server):
                def handle_exit(self, sig: int, frame: FrameType | None) -> None:
                    # Open live streams would hold the graceful shutdown: they end first (and anything
                    # else still running after 2 s is cancelled).
                    app.state.streams.drain()
                    super().handle_exit(sig, frame)

            # proxy_headers off: X-Forwarded-For from a local client would pick its own stream cap and rate
            # limit bucket (clients are told apart by the address that connected; docs/security.md).
            server = Server(uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2,
                                           proxy_headers=False))  # fmt: skip
            console.print(f"PolkaCompute on {net.name}: http://{host}:{port}/ (API docs at /docs), index {url}")
            await server.serve()

    run(go())


def _db_url(db: str | None, network: str) -> str:
    """The index's URL: `db`, else a SQLite file per network in the PolkaCompute home (created)."""
    if db:
        return db
    home().mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home() / f'index-{network}.db'}"
