"""The devnet demo with real workers: a wasm job published, submitted, run by three worker processes,
finalized on-chain, and its output fetched and checked by the requester."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import wasmtime

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.deploy import Deployment
from polkacompute.chain.networks import Network
from polkacompute.net.policy import OutboundPolicy
from polkacompute.p2p.announce import announce_submission
from polkacompute.runtimes import WasiRuntime
from polkacompute.sandbox import RunResult
from polkacompute.sdk.client import AsyncClient
from polkacompute.sdk.models import JobSpec, JobStatus, default_deadlines
from polkacompute.store import cid_from_digest
from polkacompute.store.http import fetch, publish

ETH = 10**18

# The demo program: upper-cases its stdin (a wasm32-wasi module, written in WAT).
UPPERCASE_WAT = """
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (local $n i32) (local $i i32) (local $c i32)
    (loop $chunk
      (i32.store (i32.const 0) (i32.const 64)) (i32.store (i32.const 4) (i32.const 4096))
      (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
      (local.set $n (i32.load (i32.const 8)))
      (if (i32.gt_u (local.get $n) (i32.const 0)) (then
        (local.set $i (i32.const 0))
        (loop $each
          (local.set $c (i32.load8_u (i32.add (i32.const 64) (local.get $i))))
          (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
            (then (i32.store8 (i32.add (i32.const 64) (local.get $i)) (i32.sub (local.get $c) (i32.const 32)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $each (i32.lt_u (local.get $i) (local.get $n))))
        (i32.store (i32.const 0) (i32.const 64)) (i32.store (i32.const 4) (local.get $n))
        (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (br $chunk))))))
"""


@dataclass(frozen=True)
class WorkerDemoResult:
    job_id: int
    status: JobStatus
    result_cid: str
    output: bytes
    verified: bool
    paid: dict[str, int]


async def run_worker_demo(network: Network, deployment: Deployment, gateway: str, workers: list[str],
                          say: Callable[[str], None] = print, within: float = 120) -> WorkerDemoResult:  # fmt: skip
    """Publishes the program and input, submits a (3,2) job and waits for the workers to finish it."""
    program = bytes(wasmtime.wat2wasm(UPPERCASE_WAT))
    data = b"hello, polkadot: verified off-chain compute\n"
    program_cid, input_cid = await publish(program, gateway), await publish(data, gateway)
    say(f"published program {program_cid} and input {input_cid} to {gateway}")
    runtime = WasiRuntime()
    async with AsyncClient(network, signer=dev_account(1), deployment=deployment) as pc:
        now = max(await pc.now(), int(time.time()))  # the next block is stamped with the wall clock at least
        digests = hashlib.sha256(program).digest(), hashlib.sha256(data).digest()
        # Deadlines sized to the job and the devnet's blocks: a dead worker delays it by seconds, not minutes.
        commit, reveal = default_deadlines(now, 0, 30, await pc.market_params(), network.block_time)
        spec = JobSpec(*digests, "0x" + runtime.identity.hex(), 3, 2, ETH // 100, commit, reveal,
                       fuel_limit=10**8, time_limit=30)  # fmt: skip
        handle = await pc.jobs.submit(spec)
        say(
            f"job {handle.id} submitted: 3 replicas, quorum 2; the workers sign bids, one assigns them all "
            "in one call, then they run, commit and open it"
        )
        # Over libp2p gossip, as a requester running a node does: the workers take the job from the chain
        # at once and learn where its content is (they watch the chain all the same).
        reached = await announce_submission(pc, dev_account(1), handle.tx_hash, [handle.id], [gateway])
        say(f"job {handle.id} announced over libp2p gossip to {reached} workers")
        job = await pc.jobs.wait(handle.id, timeout=within)
        result = await pc.jobs.result(handle.id)
    if job.status is not JobStatus.FINALIZED or result.result_digest is None:
        say(f"job {handle.id} ended {job.status.name}")
        return WorkerDemoResult(handle.id, job.status, "", b"", False, result.paid)
    result_cid = cid_from_digest(result.result_digest, "dag-cbor")
    document = await fetch(result_cid, workers, outbound=OutboundPolicy.for_network(network))  # checked: its CID
    fetched = RunResult.decode(document)
    verified = fetched.digest == result.result_digest
    say(f"job {handle.id} FINALIZED; result {result_cid} fetched from a worker and checked against the chain")
    return WorkerDemoResult(handle.id, job.status, result_cid, fetched.output, verified, result.paid)
