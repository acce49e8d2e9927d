"""`worker run` (the provider's daemon) and `gateway serve` (a content gateway for requesters)."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from polkacompute.chain.accounts import home
from polkacompute.cli.common import AccountOpt, ChainIdOpt, DevOpt, NetworkOpt, RpcOpt, native, network_of, signer_for
from polkacompute.store import ContentStore
from polkacompute.store.http import Gateway
from polkacompute.worker.config import Pricing, WorkerConfig
from polkacompute.worker.daemon import Worker

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


def setup_logging(log_format: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in ("web3", "aiohttp.access", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@worker_app.command("run")
def worker_run(
    directory: Annotated[
        Path | None, typer.Option("--dir", help="State, content and cache (default: per account).")
    ] = None,
    stake: Annotated[str, typer.Option(help="Register with this stake if not registered (native units).")] = "0",
    port: Annotated[int, typer.Option(help="Gateway port (0: any free one).")] = 0,
    public_url: Annotated[str | None, typer.Option(help="URL other workers reach the gateway at.")] = None,
    content: Annotated[
        list[str] | None, typer.Option(help="Gateway to fetch programs and inputs from (repeatable).")
    ] = None,
    runtime: Annotated[
        list[str] | None, typer.Option(help="Runtime to offer (repeatable; default wasi, python).")
    ] = None,
    price_per_gigafuel: Annotated[str, typer.Option(help="Price per 10^9 fuel of a job's limit.")] = "0.001",
    min_price: Annotated[str, typer.Option(help="Minimum price per replica.")] = "0.001",
    max_fuel: Annotated[int, typer.Option(help="Decline jobs with a larger fuel limit.")] = 10**11,
    processes: Annotated[int, typer.Option(help="Sandbox processes.")] = 1,
    log_format: Annotated[str, typer.Option(help="human or json.")] = "human",
    network: NetworkOpt = "local",
    rpc_url: RpcOpt = None,
    chain_id: ChainIdOpt = None,
    account: AccountOpt = None,
    dev: DevOpt = None,
) -> None:
    """Runs the worker until Ctrl-C or SIGTERM; state survives restarts (and kill -9)."""
    setup_logging(log_format)
    net = network_of(network, rpc_url, chain_id)
    signer = signer_for(net, account, dev)
    config = WorkerConfig(
        network=net, signer=signer, directory=directory or home() / "workers" / signer.address,
        runtimes=tuple(runtime or ("wasi", "python")), stake=native(stake, "stake"), port=port, public_url=public_url,
        content_sources=tuple(content or ()), max_fuel=max_fuel, executor_processes=processes,
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

    asyncio.run(main())


@gateway_app.command("serve")
def gateway_serve(
    store: Annotated[Path, typer.Option(help="Content store directory.")],
    port: Annotated[int, typer.Option(help="Port (0: any free one, printed).")] = 8080,
    uploads: Annotated[bool, typer.Option(help="Accept POST /ipfs uploads (requesters publishing).")] = False,
) -> None:
    """Serves a content store at http://127.0.0.1:PORT/ipfs/<cid> until Ctrl-C or SIGTERM."""
    setup_logging("human")

    async def main() -> None:
        gateway = Gateway(ContentStore(store), uploads=uploads)
        url = await gateway.start("127.0.0.1", port)
        print(json.dumps({"url": url}), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await gateway.stop()

    asyncio.run(main())
