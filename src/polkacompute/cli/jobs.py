"""`job submit/status/list/watch/result/cancel`: the requester's side."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from polkacompute.chain.events import Event
from polkacompute.cli.common import (
    ETH,
    STATE,
    AccountOpt,
    ChainIdOpt,
    DevOpt,
    NetworkOpt,
    RpcOpt,
    console,
    emit,
    jsonable,
    native,
    network_of,
    run,
    signer_for,
    waiting,
    with_client,
)
from polkacompute.errors import JobTimeout, ResultMismatch, ValidationError
from polkacompute.p2p.announce import announce_submission
from polkacompute.runtimes import get_runtime
from polkacompute.runtimes.package import load_package
from polkacompute.sdk.client import AsyncClient
from polkacompute.sdk.models import JobSpec, JobStatus, default_deadlines

job_app = typer.Typer(no_args_is_help=True, help="Submit and follow jobs.")


@job_app.command("submit")
def job_submit(
    package: Annotated[Path | None, typer.Option(help="A job package manifest (`job pack --out`).")] = None,
    program: Annotated[Path | None, typer.Option(help="Program file, without --package (digest: its SHA-256).")] = None,
    input_file: Annotated[Path | None, typer.Option("--input", help="Input file, without --package.")] = None,
    runtime: Annotated[str, typer.Option(help="Runtime name or 0x identity, without --package.")] = "wasi",
    replicas: Annotated[int, typer.Option("-m", "--replicas")] = 3,
    quorum: Annotated[int, typer.Option("-q", "--quorum")] = 2,
    max_price: Annotated[str, typer.Option(help="Max price per replica, in native units.")] = "0.1",
    bid_window: Annotated[int, typer.Option(help="Seconds of bidding; 0 = instant mode.")] = 0,
    commit_within: Annotated[
        int | None,
        typer.Option(help="Seconds until the commit deadline (default: bid window + time limit + a few blocks)."),
    ] = None,
    reveal_within: Annotated[
        int | None, typer.Option(help="Seconds until the reveal deadline (default: commit deadline + 10 blocks).")
    ] = None,
    dispute_window: Annotated[int, typer.Option(help="Seconds to dispute after finalization.")] = 0,
    announce: Annotated[
        list[str] | None,
        typer.Option(
            help="Announce the job to the registered workers over libp2p, with this content source (a gateway URL "
            "or a peer multiaddr; repeatable)."
        ),
    ] = None,
    network: NetworkOpt = "local",
    rpc_url: RpcOpt = None,
    chain_id: ChainIdOpt = None,
    account: AccountOpt = None,
    dev: DevOpt = None,
) -> None:
    """Submits a job; its budget (replicas x max price) is escrowed in the same transaction.

    With --package the digests, runtime identity, fuel and time limits come from the package (publish
    its program and input where workers can fetch them by CID)."""
    net = network_of(network, rpc_url, chain_id)
    signer = signer_for(net, account, dev)
    fuel, time_limit = 10**9, 60
    if package is not None:
        pkg = load_package(package)
        digests, runtime, fuel, time_limit = (
            [pkg.program_digest, pkg.input_digest],
            pkg.runtime_id,
            pkg.fuel,
            pkg.time_s,
        )
    elif program is None or input_file is None:
        raise ValidationError("package", "give --package, or both --program and --input")
    else:
        if not runtime.startswith("0x"):  # a name: the identity workers offer it under (engine and config)
            runtime = "0x" + get_runtime(runtime).identity.hex()
        digests = []
        for field, path in (("program", program), ("input", input_file)):
            try:
                digests.append(hashlib.sha256(path.read_bytes()).digest())
            except OSError as exc:
                raise ValidationError(field, f"cannot read {path}: {exc.strerror}") from None
    price = native(max_price, "max_price")

    async def submit(pc: AsyncClient) -> Any:
        # A chain that mines only on demand (a devnet's automine) may show an old latest block: its next
        # block, the one that includes this submission, is stamped with the wall clock.
        now = max(await pc.now(), int(time.time()))
        commit, reveal = default_deadlines(now, bid_window, time_limit, await pc.market_params(), net.block_time)
        if commit_within is not None:
            commit = now + bid_window + commit_within
        if reveal_within is not None:
            reveal = now + bid_window + reveal_within
        spec = JobSpec(digests[0], digests[1], runtime, replicas, quorum, price, commit, reveal, fuel_limit=fuel,
                       time_limit=time_limit, bid_window=bid_window, dispute_window=dispute_window)  # fmt: skip
        handle = await pc.jobs.submit(spec)
        reached = await announce_submission(pc, signer, handle.tx_hash, [handle.id], announce) if announce else None
        return handle, reached

    with waiting("submitting"):
        handle, reached = with_client(net, signer, submit)
    told = "" if reached is None else f"; announced to {reached} workers over libp2p"
    emit({**asdict(handle), **({} if reached is None else {"announced_to": reached})},
         lambda: console.print(f"job {handle.id} submitted (tx {handle.tx_hash}){told}"))  # fmt: skip


@job_app.command("status")
def job_status(job_id: int, network: NetworkOpt = "local", rpc_url: RpcOpt = None, chain_id: ChainIdOpt = None) -> None:
    """A job's on-chain state."""
    with waiting(f"reading job {job_id}"):
        job = with_client(network_of(network, rpc_url, chain_id), None, lambda pc: pc.jobs.get(job_id))

    def render() -> None:
        table = Table("field", "value", title=f"job {job_id}")
        for key, value in asdict(job).items():
            table.add_row(key, str(jsonable(value)))
        console.print(table)

    emit(asdict(job), render)


@job_app.command("list")
def job_list(
    limit: Annotated[int, typer.Option(help="At most this many jobs.")] = 20,
    status: Annotated[list[str] | None, typer.Option(help="Only jobs in this status (repeatable).")] = None,
    requester: Annotated[str | None, typer.Option(help="Only jobs of this address.")] = None,
    oldest_first: Annotated[bool, typer.Option(help="Oldest first (default newest first).")] = False,
    network: NetworkOpt = "local",
    rpc_url: RpcOpt = None,
    chain_id: ChainIdOpt = None,
) -> None:
    """Jobs on the network, newest first."""
    wanted = {_status(s) for s in status} if status else None
    net = network_of(network, rpc_url, chain_id)
    with waiting("reading jobs"):
        jobs = with_client(net, None, lambda pc: pc.jobs.list(limit=limit, status=wanted, requester=requester,
                                                              newest_first=not oldest_first))  # fmt: skip

    def render() -> None:
        columns = ("id", "status", "requester", "M/N", "max price", "commit by", "result")
        table = Table(*columns, title=f"jobs on {net.name}")
        for j in jobs:
            result = "0x" + j.result_digest.hex()[:16] + "…" if j.result_digest else ""
            table.add_row(str(j.id), j.status.name, j.requester, f"{j.replicas}/{j.quorum}", f"{j.max_price / ETH:g}",
                          _time(j.commit_deadline), result)  # fmt: skip
        console.print(table)

    emit([asdict(j) for j in jobs], render)


@job_app.command("watch")
def job_watch(
    job_id: int,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds (exit code 7).")] = 3600,
    network: NetworkOpt = "local",
    rpc_url: RpcOpt = None,
    chain_id: ChainIdOpt = None,
) -> None:
    """Prints the job's events (past, then live) until it is finalized, failed or cancelled."""
    net = network_of(network, rpc_url, chain_id)

    async def follow(pc: AsyncClient) -> None:
        async for event in pc.jobs.events(job_id, poll_interval=None):
            show(event)

    def show(event: Event) -> None:
        if STATE["json"]:  # JSON lines: one compact object per event, flushed as it arrives
            record = {"block": event.block_number, "event": event.name, "tx": event.tx_hash,
                      "args": {k: jsonable(v) for k, v in event.args.items()}}  # fmt: skip
            print(json.dumps(record, default=jsonable), flush=True)
        else:
            args = ", ".join(f"{k}={_short(v)}" for k, v in event.args.items() if k not in ("jobId", "spec"))
            console.print(f"block {event.block_number:>6}  [bold]{event.name}[/]  {args}", highlight=False)

    async def go() -> None:
        async with AsyncClient(net) as pc:
            await asyncio.wait_for(follow(pc), timeout)

    with waiting(f"following job {job_id}; Ctrl-C to stop"):
        try:
            run(go())
        except TimeoutError:
            raise JobTimeout(f"job {job_id} did not finish within {timeout:g}s") from None


@job_app.command("result")
def job_result(
    job_id: int,
    verify: Annotated[Path | None, typer.Option(help="Output file to check against the result digest.")] = None,
    network: NetworkOpt = "local",
    rpc_url: RpcOpt = None,
    chain_id: ChainIdOpt = None,
) -> None:
    """The job's outcome: result digest, payouts, slashes and refund; --verify checks an output file."""
    with waiting(f"reading job {job_id}"):
        result = with_client(network_of(network, rpc_url, chain_id), None, lambda pc: pc.jobs.result(job_id))
    data: dict[str, Any] = {"job_id": job_id, "status": result.job.status.name, "result_digest": result.result_digest,
                            "paid": result.paid, "fees": result.fees, "slashed": result.slashed,
                            "refunded": result.refunded}  # fmt: skip
    if verify is not None:
        if result.result_digest is None:
            raise ResultMismatch(f"job {job_id} is {result.job.status.name}: it has no result to verify against")
        actual = hashlib.sha256(verify.read_bytes()).digest()
        if actual != result.result_digest:
            raise ResultMismatch(
                f"{verify} has digest 0x{actual.hex()}, not job {job_id}'s result 0x{result.result_digest.hex()}",
                hint="do not use this output",
            )
        data["verified"] = str(verify)

    def render() -> None:
        digest = "0x" + result.result_digest.hex() if result.result_digest else "none"
        console.print(f"job {job_id} {result.job.status.name}; result digest {digest}")
        for who, amount in result.paid.items():
            console.print(f"  paid     {who}  {amount / ETH:g}")
        for who, amount in result.slashed.items():
            console.print(f"  slashed  {who}  {amount / ETH:g}")
        if result.refunded:
            console.print(f"  refunded to the requester: {result.refunded / ETH:g}")
        if verify is not None:
            console.print(f"[green]verified[/]: {verify} matches the result digest")

    emit(data, render)


@job_app.command("cancel")
def job_cancel(job_id: int, network: NetworkOpt = "local", rpc_url: RpcOpt = None, chain_id: ChainIdOpt = None,
               account: AccountOpt = None, dev: DevOpt = None) -> None:  # fmt: skip
    """Cancels an Open job you submitted; its budget is credited back."""
    net = network_of(network, rpc_url, chain_id)
    signer = signer_for(net, account, dev)
    with waiting(f"cancelling job {job_id}"):
        with_client(net, signer, lambda pc: pc.jobs.cancel(job_id))
    emit({"cancelled": job_id}, lambda: console.print(f"job {job_id} cancelled; withdraw the refund from escrow"))


def _status(name: str) -> JobStatus:
    try:
        return JobStatus[name.upper().replace("-", "_")]
    except KeyError:
        names = ", ".join(s.name.lower() for s in JobStatus if s is not JobStatus.NONE)
        raise ValidationError("status", f"unknown status {name!r}", hint=f"one of {names}") from None


def _time(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _short(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()[:12] + ("…" if len(value) > 6 else "")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)
