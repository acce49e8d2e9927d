"""`job submit/status/list/watch/result/cancel` (the requester's side), and `job pack/run` (packaging.py)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from polkacompute.cli.common import (
    STATE,
    AccountOpt,
    ChainIdOpt,
    DevOpt,
    NetworkOpt,
    RpcOpt,
    checked_address,
    client,
    console,
    emit,
    jsonable,
    native,
    network_of,
    readable,
    run,
    short,
    show,
    signer_for,
    table,
    units,
    waiting,
    with_client,
)
from polkacompute.cli.packaging import StoreOpt, pack_cmd, run_cmd
from polkacompute.errors import ContentError, JobTimeout, NetworkError, ResultMismatch, ValidationError

if TYPE_CHECKING:
    from polkacompute.chain.events import Event
    from polkacompute.chain.networks import Network
    from polkacompute.sdk.client import AsyncClient
    from polkacompute.sdk.models import JobStatus

job_app = typer.Typer(no_args_is_help=True, help="Submit, follow, pack and run jobs.")
job_app.command("pack")(pack_cmd)
job_app.command("run")(run_cmd)


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
            "or a peer multiaddr; repeatable). The program and input are published to each gateway first."
        ),
    ] = None,
    store: StoreOpt = None,
    network: NetworkOpt = "local",
    rpc_url: RpcOpt = None,
    chain_id: ChainIdOpt = None,
    account: AccountOpt = None,
    dev: DevOpt = None,
) -> None:
    """Submits a job; its budget (replicas x max price) is escrowed in the same transaction.

    With --package the digests, runtime identity, fuel and time limits come from the package. Before
    submitting, the program and input are published (from the files, or the package's content store) to
    every gateway the job is announced with and, on a running devnet, to its gateway, where its workers
    fetch them: a gateway that has neither them nor accepts them fails the command (exit 9)."""
    from polkacompute.cli.defaults import devnet_gateway, store_directory

    net = network_of(network, rpc_url, chain_id)
    fuel, time_limit = 10**9, 60
    contents: dict[str, bytes | None] = {}  # CID -> bytes (None: not on this machine)
    if package is not None:
        from polkacompute.runtimes.package import load_package
        from polkacompute.store import ContentStore

        pkg = load_package(package)
        digests, runtime, fuel, time_limit = (
            [pkg.program_digest, pkg.input_digest],
            pkg.runtime_id,
            pkg.fuel,
            pkg.time_s,
        )
        local = ContentStore(store_directory(store))
        for cid in (pkg.program, pkg.input):
            contents[cid] = local.get(cid) if local.has(cid) else None
    elif program is None or input_file is None:
        raise ValidationError("package", "give --package, or both --program and --input")
    else:
        from polkacompute.store import cid_of

        if not runtime.startswith("0x"):  # a name: the identity workers offer it under (engine and config)
            from polkacompute.runtimes import get_runtime

            runtime = "0x" + get_runtime(runtime).identity.hex()
        data = [readable(program, "program"), readable(input_file, "input")]
        digests = [hashlib.sha256(d).digest() for d in data]
        contents = {cid_of(d): d for d in data}
    signer = signer_for(net, account, dev)
    price = native(max_price, "max_price")
    gateways = [s for s in announce or () if s.startswith(("http://", "https://"))]
    if (own := devnet_gateway(net)) is not None and own not in gateways:
        gateways.append(own)
    if gateways:
        with waiting(f"publishing the program and input to {', '.join(gateways)}"):
            run(publish(contents, gateways, store_directory(store)))

    async def submit(pc: AsyncClient) -> Any:
        from polkacompute.sdk.models import JobSpec, default_deadlines

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
        reached = None
        if announce:
            from polkacompute.p2p.announce import announce_submission

            reached = await announce_submission(pc, signer, handle.tx_hash, [handle.id], announce)
        return handle, reached

    with waiting("submitting"):
        handle, reached = with_client(net, signer, submit)
    told = "" if reached is None else f"; announced to {reached} workers over libp2p"
    where = f"; its program and input are at {', '.join(gateways)}" if gateways else ""
    emit({**asdict(handle), "published_to": gateways, **({} if reached is None else {"announced_to": reached})},
         lambda: console.print(f"job {handle.id} submitted (tx {handle.tx_hash}){told}{where}"))  # fmt: skip


async def publish(contents: dict[str, bytes | None], gateways: list[str], store: Path) -> None:
    """Makes every CID in `contents` available at every gateway: what one serves already is left alone,
    the rest is uploaded (`POST /ipfs`, with POLKACOMPUTE_UPLOAD_TOKEN if set). ContentError (exit 9) if
    a gateway lacks a CID that is in no local store here, or refuses an upload; NetworkError (exit 3) if
    it cannot be reached."""
    import aiohttp

    from polkacompute.store.http import publish as upload

    token = os.environ.get("POLKACOMPUTE_UPLOAD_TOKEN") or None
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        for gateway in gateways:
            base = gateway.rstrip("/")
            for cid, data in contents.items():
                try:
                    async with session.head(f"{base}/ipfs/{cid}", allow_redirects=False) as response:
                        if response.status == 200:
                            continue
                    if data is None:
                        raise ContentError(f"{cid} is neither at {gateway} nor in the content store {store}",
                                           hint="pack the job again (`job pack`), or publish it there")  # fmt: skip
                    await upload(data, base, token=token)
                except aiohttp.ClientError as exc:
                    raise NetworkError(f"cannot reach the gateway {gateway}: {exc}") from None
                except ContentError as exc:
                    if exc.hint is not None:
                        raise
                    raise ContentError(exc.message, hint="a gateway off loopback needs its upload token: set "
                                                         "POLKACOMPUTE_UPLOAD_TOKEN") from None  # fmt: skip


@job_app.command("status")
def job_status(job_id: int, network: NetworkOpt = "local", rpc_url: RpcOpt = None, chain_id: ChainIdOpt = None) -> None:
    """A job's on-chain state, every value whole."""
    with waiting(f"reading job {job_id}"):
        job = with_client(network_of(network, rpc_url, chain_id), None, lambda pc: pc.jobs.get(job_id))

    def render() -> None:
        t = table("field", "value", title=f"job {job_id}", whole=("value",))
        for key, value in asdict(job).items():
            t.add_row(key, str(jsonable(value)))
        show(t)

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
    """Jobs on the network, newest first (--wide: result digests whole)."""
    wanted = {_status(s) for s in status} if status else None
    who = checked_address(requester, "requester") if requester is not None else None
    net = network_of(network, rpc_url, chain_id)
    with waiting("reading jobs"):
        jobs = with_client(net, None, lambda pc: pc.jobs.list(limit=limit, status=wanted, requester=who,
                                                              newest_first=not oldest_first))  # fmt: skip

    def render() -> None:
        columns = ("id", "status", "requester", "M/N", "max price", "commit by", "result")
        t = table(*columns, title=f"jobs on {net.name}", whole=("requester", "result"))
        for j in jobs:
            result = short("0x" + j.result_digest.hex()) if j.result_digest else ""
            t.add_row(str(j.id), j.status.name, short(j.requester), f"{j.replicas}/{j.quorum}", units(j.max_price),
                      _time(j.commit_deadline), result)  # fmt: skip
        show(t)

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
    from polkacompute.sdk.jobs import reason_name

    net = network_of(network, rpc_url, chain_id)

    async def follow(pc: AsyncClient) -> None:
        async for event in pc.jobs.events(job_id, poll_interval=None):
            show_event(event)

    def value(key: str, v: Any) -> Any:
        return reason_name(v) if key == "reason" and isinstance(v, bytes) else v

    def show_event(event: Event) -> None:
        args = {k: value(k, v) for k, v in event.args.items()}
        if STATE["json"]:  # JSON lines: one compact object per event, flushed as it arrives
            record = {"block": event.block_number, "event": event.name, "tx": event.tx_hash,
                      "args": {k: jsonable(v) for k, v in args.items()}}  # fmt: skip
            print(json.dumps(record, default=jsonable), flush=True)
        else:
            shown = ", ".join(f"{k}={_short(v)}" for k, v in args.items() if k not in ("jobId", "spec"))
            console.print(f"block {event.block_number:>6}  [bold]{event.name}[/]  {shown}", highlight=False,
                          soft_wrap=STATE["wide"])  # fmt: skip

    async def go() -> None:
        async with client(net) as pc:
            await asyncio.wait_for(follow(pc), timeout)

    with waiting(f"following job {job_id}; Ctrl-C to stop"):
        try:
            run(go())
        except TimeoutError:
            raise JobTimeout(f"job {job_id} did not finish within {timeout:g}s") from None


@job_app.command("result")
def job_result(
    job_id: int,
    verify: Annotated[
        Path | None,
        typer.Option(
            help="Check this file against the job's result digest: its output bytes (as `job run "
            "--output` or `job result --output` write them) or its result record. Exit 8 if "
            "it does not match."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            help="Fetch the result (from --gateway, then the workers paid for it), check it against "
            "the digest, and write its output bytes here."
        ),
    ] = None,
    record: Annotated[
        Path | None, typer.Option(help="Fetch the result like --output and write its record (DAG-CBOR) here.")
    ] = None,
    gateway: Annotated[
        list[str] | None, typer.Option(help="A gateway to fetch the result from first (repeatable).")
    ] = None,
    network: NetworkOpt = "local",
    rpc_url: RpcOpt = None,
    chain_id: ChainIdOpt = None,
) -> None:
    """The job's outcome: result digest, what each worker received (net of the protocol fee), slashes
    with their reasons, the refund; --verify checks a file, --output fetches the output."""
    claimed = readable(verify, "verify") if verify is not None else None  # before anything slow
    net = network_of(network, rpc_url, chain_id)
    with waiting(f"reading job {job_id}"):
        result = with_client(net, None, lambda pc: pc.jobs.result(job_id))
    digest = result.result_digest
    data: dict[str, Any] = {"job_id": job_id, "status": result.job.status.name, "result_digest": digest,
                            "paid": result.paid, "fees": result.fees, "received": result.received,
                            "slashed": result.slashed, "slash_reasons": result.slash_reasons,
                            "refunded": result.refunded}  # fmt: skip
    if (output is not None or record is not None or claimed is not None) and digest is None:
        raise ResultMismatch(f"job {job_id} is {result.job.status.name}: it has no result",
                             hint="only a finalized job has one")  # fmt: skip
    fetched: Any = None
    if digest is not None and (output is not None or record is not None):
        fetched = _fetch_result(net, digest, list(result.received or result.paid), gateway or [])
        data |= {
            "result_cid": fetched.cid,
            "result": {"status": fetched.status.value, "exit_code": fetched.exit_code, "detail": fetched.detail},
        }
        if output is not None:
            output.write_bytes(fetched.output)
            data["output"] = str(output)
        if record is not None:
            record.write_bytes(fetched.canonical_bytes())
            data["record"] = str(record)
    match: Any = None
    if claimed is not None and verify is not None and digest is not None:
        from polkacompute.sdk.verify import match_result

        match = match_result(claimed, digest)
        if match is None:
            raise ResultMismatch(f"{verify} matches neither the result record nor the output of job {job_id} "
                                 f"(result digest 0x{digest.hex()})", hint="do not use this output")  # fmt: skip
        data["verified"] = {"file": str(verify), "matched": match.kind, "status": match.status,
                            "exit_code": match.exit_code}  # fmt: skip

    def render() -> None:
        console.print(f"job {job_id} {result.job.status.name}; result digest "
                      f"{'0x' + digest.hex() if digest else 'none'}")  # fmt: skip
        for who, gross in result.paid.items():  # what the escrow credited each worker: its pay less the fee
            got = result.received.get(who, gross)
            fee = f" (pay {units(gross)} less the protocol fee {units(gross - got)})" if got != gross else ""
            console.print(f"  paid     {who}  {units(got)}{fee}")
        for who, taken in result.slashed.items():
            console.print(f"  slashed  {who}  {units(taken)} ({result.slash_reasons.get(who, '?')})")
        if result.refunded:
            console.print(f"  refunded to the requester: {units(result.refunded)}")
        if fetched is not None:
            console.print(f"result {fetched.cid}: {fetched.status.value}, exit {fetched.exit_code}, "
                          f"{len(fetched.output)} bytes of output; checked against the digest")  # fmt: skip
            for what, path in (("output", output), ("record", record)):
                if path is not None:
                    console.print(f"  {what} written to {path}")
        if match is not None:
            console.print(f"[green]verified[/]: {verify} matches job {job_id}'s result digest: {match.describe()}")

    emit(data, render)


MAX_RESULT = 2 * 1024 * 1024  # bytes: a result record holds at most the runtimes' 1 MiB output


def _fetch_result(net: Network, digest: bytes, workers: list[str], gateways: list[str]) -> Any:
    """The job's result record (a RunResult), fetched by its CID from `gateways`, then from `workers` at the
    addresses they registered (gateway URLs or libp2p multiaddrs) under the network's outbound policy;
    checked against the CID, i.e. the on-chain digest."""
    from polkacompute.net.policy import OutboundPolicy
    from polkacompute.sandbox.result import RunResult
    from polkacompute.store import cid_from_digest
    from polkacompute.store.http import fetch

    cid = cid_from_digest(digest, "dag-cbor")
    policy = OutboundPolicy.for_network(net).trusting(gateways)

    async def from_peers(addrs: list[str]) -> bytes:
        from libp2p.crypto.ed25519 import create_new_key_pair

        from polkacompute.p2p import Node
        from polkacompute.p2p.content import fetch_from_peers

        node = Node(create_new_key_pair(), outbound=policy)  # a throwaway identity: asking needs none
        await node.start()
        try:
            return await fetch_from_peers(node, cid, addrs, within=10.0, max_bytes=MAX_RESULT)
        finally:
            await node.stop()

    async def go() -> bytes:
        async with client(net) as pc:
            registered = await pc.providers.peer_ids()
        peers = [registered[w] for w in workers if registered.get(w)]
        urls = [*gateways, *(p for p in peers if p.startswith(("http://", "https://")))]
        addrs = [p for p in peers if p.startswith("/")]
        if urls:
            try:
                return await fetch(cid, urls, outbound=policy, max_bytes=MAX_RESULT)
            except ContentError:
                if not addrs:
                    raise
        if addrs:
            return await from_peers(addrs)
        raise ContentError(f"result {cid}: no gateway was given and its workers registered no address",
                           hint="pass --gateway URL")  # fmt: skip

    with waiting(f"fetching the result {cid}"):
        try:
            document = run(go())
        except (ContentError, NetworkError) as exc:
            raise ContentError(f"result {cid} is unavailable from its sources ({exc.message})",
                               hint="pass --gateway URL of a gateway that has it") from None  # fmt: skip
    try:
        return RunResult.decode(document)
    except ValueError as exc:
        raise ContentError(f"result {cid}: {exc}") from None


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
    from polkacompute.sdk.models import JobStatus

    try:
        return JobStatus[name.upper().replace("-", "_")]
    except KeyError:
        names = ", ".join(s.name.lower() for s in JobStatus if s is not JobStatus.NONE)
        raise ValidationError("status", f"unknown status {name!r}", hint=f"one of {names}") from None


def _time(ts: int) -> str:
    """A UTC time in a table: month, day, hours and minutes; all of it with --wide."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S" if STATE["wide"] else "%m-%d %H:%M")


def _short(value: Any) -> str:
    if isinstance(value, bytes):
        return short("0x" + value.hex(), 12)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)
