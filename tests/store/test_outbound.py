"""Content fetches under the outbound policy, over real HTTP on loopback: a redirect is never followed
(even from a source the policy allows), and each source gets one total deadline and one byte cap, however
the answer trickles in; what a source said stays in the log."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web

from polkacompute.errors import ContentError, SourceUnavailable
from polkacompute.net import LOCAL, OutboundPolicy
from polkacompute.net.http import OutboundHttp
from polkacompute.store import cid_of
from polkacompute.store.http import fetch
from tests.net.internal import Internal, Redirector

CID = cid_of(b"a program")


async def serving(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest.mark.parametrize("policy", [LOCAL, OutboundPolicy()], ids=["devnet", "public-trusting-the-redirector"])
def test_a_redirect_is_never_followed(policy: OutboundPolicy, caplog: pytest.LogCaptureFixture) -> None:
    """The redirector itself may be reached (on a devnet; or as the operator's own gateway), its redirect
    to the internal service is not."""
    caplog.set_level(logging.INFO)

    async def run() -> None:
        async with Internal() as internal:
            redirector = Redirector(f"{internal.url}/admin/delete-everything?confirm=yes")
            async with redirector:
                allowed = policy if policy.local else policy.trusting([redirector.url])
                with pytest.raises(ContentError):
                    await fetch(CID, [redirector.url], outbound=allowed, request_timeout=5)
            assert redirector.requests == [f"GET /ipfs/{CID}"]
            assert not internal.reached
        assert "a redirect" in caplog.text
        assert "not followed" in caplog.text

    asyncio.run(run())


def test_each_source_has_a_total_byte_cap_with_or_without_a_length(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    sent: list[int] = []

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # chunked: no Content-Length to refuse up front
        await response.prepare(request)
        for _ in range(1000):
            await response.write(b"x" * 65536)
            sent.append(65536)
        return response

    async def run() -> None:
        runner, url = await serving(endless)
        try:
            with pytest.raises(ContentError):
                await fetch(CID, [url], outbound=LOCAL, max_bytes=200_000, request_timeout=10)
        finally:
            await runner.cleanup()

    asyncio.run(run())
    assert "more than 200000 bytes" in caplog.text
    assert sum(sent) < 1000 * 65536  # it stopped reading: the server was cut off, not read to the end


def test_each_source_has_a_total_deadline_not_one_per_chunk(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(100):  # a byte every 0.1 s: no single read waits long, the whole takes 10 s
            await response.write(b"x")
            await asyncio.sleep(0.1)
        return response

    async def run() -> float:
        runner, url = await serving(trickle)
        start = time.monotonic()
        try:
            async with OutboundHttp(LOCAL) as client:
                with pytest.raises(SourceUnavailable):
                    await client.get(url, f"/ipfs/{CID}", within=1.0)
        finally:
            await runner.cleanup()
        return time.monotonic() - start

    assert asyncio.run(run()) < 3
    assert "no complete answer within 1s" in caplog.text


def test_what_a_source_answered_is_logged_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)

    async def run() -> None:
        async with Internal() as internal, OutboundHttp(LOCAL) as client:
            with pytest.raises(SourceUnavailable) as err:
                await client.get(internal.url, f"/ipfs/{CID}")
            assert str(err.value) == "source unavailable"
            assert internal.requests == [f"GET /ipfs/{CID}"]

    asyncio.run(run())
    assert "HTTP 500" in caplog.text
