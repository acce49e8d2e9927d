"""The dashboard's result endpoint is not a way into the server's network (issue 15, finding 1).

On a real anvil, three providers run a job to finalization, then change their registered peer ids
(`updateProfile`, as any assignee can at any time) to point at an "internal service" on another loopback
port: a URL whose path and `?x=` pick what is requested, a redirector to it, and a multiaddr of its raw
TCP port. A dashboard on a public network, asked for the result, reaches none of them and answers a 502
that names neither ports nor what any source said; the same dashboard as a devnet's does reach loopback
(so the refusal is the policy's), still without the attacker's path, the redirect or the text. A result
that is available is served, and kept by CID."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import replace
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.deploy import Deployment
from polkacompute.chain.networks import Network
from polkacompute.dashboard import create_dashboard
from polkacompute.indexer import Indexer, open_store
from polkacompute.net import LOCAL
from polkacompute.p2p import peer_id_of
from polkacompute.sdk import AsyncClient
from polkacompute.sdk.work import seal_result
from polkacompute.store import ContentStore, cid_from_digest
from polkacompute.store.http import Gateway
from tests.conftest import free_port
from tests.net.internal import Internal, Redirector
from tests.sdk.test_client import spec_at

ETH = 10**18
PRICE = ETH // 10
WORKERS = (2, 3, 4)
DOCUMENT = b"the result document"  # served as the result: its sha256 is the finalized digest
DIGEST = hashlib.sha256(DOCUMENT).digest()


async def finalized_job(pc: AsyncClient, network: Network, deployment: Deployment) -> int:
    signers = [dev_account(i) for i in WORKERS]
    for s in signers:
        async with AsyncClient(network, signer=s, deployment=deployment) as worker:
            if (await worker.providers.info()).status != 1:
                await worker.providers.register(
                    stake=10 * ETH, peer_id=f"/ip4/8.8.8.8/tcp/4001/p2p/{s.address}".encode()
                )
    now = await pc.now()
    handle = await pc.jobs.submit(spec_at(now, bid_window=0, max_price_per_replica=PRICE))
    assignees = await pc.work.assign(handle.id, [pc.work.sign_bid(s, [handle.id], PRICE, expiry=now + 3600)
                                                 for s in signers])  # fmt: skip
    by = {s.address: s for s in signers}
    sealed = {a.worker: seal_result(handle.id, a.worker, DIGEST) for a in assignees}
    seals = [sealed[a.worker].seal for a in assignees]
    sigs = [pc.work.sign_seals(by[a.worker], [(handle.id, sealed[a.worker].seal)]) for a in assignees]
    await pc.work.commit_seals(handle.id, assignees, seals, sigs)
    openings = [(i, sealed[a.worker].salt) for i, a in enumerate(assignees)]
    await pc.work.finalize(handle.id, DIGEST, await pc.work.proof(handle.id), openings)
    return handle.id


async def repoint(network: Network, deployment: Deployment, peer_ids: dict[int, str]) -> None:
    """What an assignee can do at any time: register another peer id."""
    for account, peer_id in peer_ids.items():
        async with AsyncClient(network, signer=dev_account(account), deployment=deployment) as worker:
            info = await worker.providers.info()
            fn = worker.registry.functions.updateProfile(info.capabilities, info.metadata_digest, peer_id.encode(),
                                                         info.region.encode().ljust(8, b"\x00"))  # fmt: skip
            await worker.chain.send(fn)


class Served:
    """A dashboard app served by uvicorn on loopback, in this event loop."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> httpx.AsyncClient:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            assert not self.task.done(), "uvicorn stopped"
            await asyncio.sleep(0.02)
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=60)

    async def __aexit__(self, *_: object) -> None:
        self.server.should_exit = True
        assert self.task is not None
        await self.task


def test_the_result_endpoint_never_reaches_an_internal_service(anvil: Network, deployment: Deployment,
                                                               tmp_path: Path) -> None:  # fmt: skip
    engine = open_store(f"sqlite:///{tmp_path / 'index.db'}")

    async def run() -> None:
        async with Internal() as internal:
            redirector = Redirector(f"{internal.url}/admin/delete-everything?confirm=yes")
            async with redirector, AsyncClient(anvil, signer=dev_account(1), deployment=deployment) as pc:
                job_id = await finalized_job(pc, anvil, deployment)
                await repoint(anvil, deployment, {
                    2: f"{internal.url}/admin/delete-everything?confirm=yes&x=",  # + "/ipfs/<cid>" swallowed
                    3: redirector.url,
                    4: f"/ip4/127.0.0.1/tcp/{internal.raw_port}/p2p/{peer_id_of(dev_account(4))}",
                })  # fmt: skip
                await Indexer(pc, engine, confirmations=0).sync()
                path = f"/api/jobs/{job_id}/result"
                secrets = (
                    Internal.SECRET,
                    str(internal.port),
                    str(internal.raw_port),
                    redirector.url.rsplit(":", 1)[1],
                )

                # A public network's dashboard: nothing on loopback is reached, the 502 says nothing.
                public = create_dashboard(engine, replace(anvil, local=False))
                async with Served(public) as client:
                    for _ in range(2):
                        answer = await client.get(path)
                        assert answer.status_code == 502
                        assert answer.json() == {"detail": f"job {job_id}'s result is unavailable from its sources"}
                        assert not any(s in answer.text for s in secrets)
                assert internal.requests == []
                assert internal.connections == 0
                assert redirector.requests == []

                # The same as a devnet's dashboard: loopback is reached, and still never at the attacker's
                # path, nor through the redirect; the answer is the same.
                async with Served(create_dashboard(engine, anvil, outbound=LOCAL)) as client:
                    answer = await client.get(path)
                    assert answer.status_code == 502
                    assert not any(s in answer.text for s in secrets)
                cid = cid_from_digest(DIGEST, "dag-cbor")
                assert redirector.requests == [f"GET /ipfs/{cid}"]  # its 302 not followed
                assert internal.requests == []  # the ?x= URL is refused anywhere
                assert internal.connections >= 1  # the multiaddr: a devnet dials loopback

                # The operator's own gateway serves it: 200, checked by CID, and kept.
                store = ContentStore(tmp_path / "gateway")
                assert store.put(DOCUMENT, "dag-cbor") == cid
                gateway = Gateway(store)
                url = await gateway.start()
                async with Served(create_dashboard(engine, replace(anvil, local=False), gateways=[url])) as client:
                    answer = await client.get(path)
                    assert answer.status_code == 200
                    assert answer.content == DOCUMENT
                    assert answer.headers["X-Result-Cid"] == cid
                    await gateway.stop()
                    again = await client.get(path)  # the gateway is gone: from the cache
                    assert again.status_code == 200
                    assert again.content == DOCUMENT

    asyncio.run(run())
