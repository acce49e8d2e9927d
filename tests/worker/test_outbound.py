"""A worker on a public network is never made to reach an internal service (issue 15, finding 2): not by
the content sources a requester announces (a path and `?x=` to choose what is requested, a loopback name,
IPv4-mapped IPv6, a redirect), not by the gateway URL a peer registers for the HTTP channel. The same
worker on a local devnet does reach loopback, only ever at the path it chose, which shows the refusals
come from the policy and not from an unreachable service. Real `Worker` objects, servers on loopback."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from aiohttp import web

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.networks import NETWORKS, Network
from polkacompute.errors import ContentError
from polkacompute.net.http import OutboundHttp
from polkacompute.store import cid_of
from polkacompute.worker.channel import HttpChannel
from polkacompute.worker.config import WorkerConfig
from polkacompute.worker.daemon import Worker
from tests.net.internal import Internal, Redirector

PUBLIC = NETWORKS["hub-testnet"]  # not local: the policy refuses private addresses
DEVNET = NETWORKS["local"]
CID = cid_of(b"a program")


def worker(tmp_path: Path, network: Network) -> Worker:
    """A worker as `worker run --http-channel` builds it (not started: no chain is needed to fetch or post)."""
    config = WorkerConfig(network=network, signer=dev_account(2), directory=tmp_path / network.name,
                          runtimes=("wasi",), p2p=False)  # fmt: skip
    return Worker(config)


def hostile_sources(internal: Internal, redirector: Redirector) -> list[str]:
    return [
        f"{internal.url}/admin/delete-everything?confirm=yes&x=",  # the attacker's path, /ipfs/<cid> swallowed
        f"{internal.url}/?x=",
        f"{internal.url}#",
        internal.url,
        f"http://localhost:{internal.port}",
        f"http://[::ffff:127.0.0.1]:{internal.port}",
        f"http://2130706433:{internal.port}",
        redirector.url,  # 302 to the internal service
    ]


def test_announced_sources_never_reach_an_internal_service(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)

    async def run() -> None:
        async with Internal() as internal:
            target = f"{internal.url}/admin/delete-everything?confirm=yes"
            async with Redirector(target) as redirector:
                w = worker(tmp_path, PUBLIC)
                w.http = OutboundHttp(w.outbound)
                try:
                    for _ in range(3):  # a job's ticks look again until the content patience runs out
                        with pytest.raises(ContentError) as err:
                            await w.driver._fetch(CID, hostile_sources(internal, redirector))
                        assert Internal.SECRET not in str(err.value)
                finally:
                    await w.http.close()
                assert internal.requests == []
                assert internal.connections == 0
                assert redirector.requests == []  # on loopback too
        assert "is loopback" in caplog.text  # why is logged
        assert Internal.SECRET not in caplog.text

    asyncio.run(run())


def test_on_a_devnet_loopback_is_reached_but_only_at_the_path_the_worker_chose(tmp_path: Path) -> None:
    async def run() -> None:
        async with Internal() as internal:
            redirector = Redirector(f"{internal.url}/admin/delete-everything?confirm=yes")
            async with redirector:
                w = worker(tmp_path, DEVNET)
                w.http = OutboundHttp(w.outbound)
                try:
                    with pytest.raises(ContentError) as err:
                        await w.driver._fetch(CID, hostile_sources(internal, redirector))
                finally:
                    await w.http.close()
            assert Internal.SECRET not in str(err.value)  # its answer is logged, not passed on
            assert redirector.requests == [f"GET /ipfs/{CID}"]  # asked, and its redirect not followed
            # Reached (a devnet is all on loopback), by the plain URLs and the loopback name, at /ipfs/<cid> only.
            assert internal.requests
            assert set(internal.requests) == {f"GET /ipfs/{CID}"}

    asyncio.run(run())


@pytest.mark.parametrize("network", [PUBLIC, DEVNET], ids=["public", "devnet"])
def test_http_channel_posts_only_to_allowed_peers(network: Network, tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    caplog.set_level(logging.INFO)

    async def run() -> None:
        async with Internal() as internal:
            # The channel `worker run --http-channel` sends with, under the worker's policy (fewer, faster
            # retries: the stand-in answers 500, which a channel retries).
            channel = HttpChannel(web.Application(), {}, outbound=worker(tmp_path, network).outbound, attempts=2,
                                  backoff=0.01)  # fmt: skip
            await channel.start()
            try:
                peers = [f"{internal.url}/admin?x=", internal.url, f"http://localhost:{internal.port}"]
                channel.send("openings", {"n": 1}, peers)
                assert await channel.drain(within=30)
            finally:
                await channel.stop()
            if network.local:
                assert internal.requests
                assert set(internal.requests) == {"POST /p2p/openings"}  # the path is the channel's
            else:
                assert not internal.reached
                # Each refused peer is given up at once (a refusal would not change on retry), and logged.
                given_up = [r.getMessage() for r in caplog.records if "gave up 1 openings" in r.getMessage()]
                assert len(given_up) == 3
                assert all("after 1 attempt(s):" in m and "refused by the outbound policy" in m for m in given_up)

    asyncio.run(run())


def test_the_workers_policy_follows_its_network_and_the_operators_options(tmp_path: Path) -> None:
    from polkacompute.net import OutboundPolicy

    assert worker(tmp_path, PUBLIC).outbound == OutboundPolicy()
    assert worker(tmp_path, DEVNET).outbound == OutboundPolicy(local=True)
    lan = OutboundPolicy.for_network(PUBLIC, allow=["10.0.0.0/8"])
    config = WorkerConfig(network=PUBLIC, signer=dev_account(3), directory=tmp_path / "lan", runtimes=("wasi",),
                          p2p=False, outbound=lan, content_sources=("http://127.0.0.1:8080",))  # fmt: skip
    configured = Worker(config).outbound
    assert configured.refusal("10.1.2.3") is None
    assert configured.refusal("192.168.0.1") == "private"
    assert configured.trusts("http://127.0.0.1:8080/")  # the operator's --content gateway
    assert not configured.trusts("http://127.0.0.1:8081")
    assert isinstance(worker(tmp_path, PUBLIC).channel, HttpChannel)  # --http-channel: posts under that policy
