"""The content gateway and fetcher over real HTTP on loopback: honest, lying and dead sources."""

import asyncio
from pathlib import Path

import pytest
from aiohttp import web

from polkacompute.errors import ContentError
from polkacompute.net import LOCAL
from polkacompute.store import ContentStore, cid_of
from polkacompute.store.http import Gateway, fetch, publish
from tests.conftest import free_port


async def lying_gateway() -> tuple[web.AppRunner, str]:
    """Serves the wrong bytes for every CID."""

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=b"not what you asked for")

    app = web.Application()
    app.router.add_get("/ipfs/{cid}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def test_fetch_skips_liars_and_dead_sources_and_verifies(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def run() -> None:
        origin = Gateway(ContentStore(tmp_path / "origin"), uploads=True)
        url = await origin.start()
        liar, liar_url = await lying_gateway()
        dead = f"http://127.0.0.1:{free_port()}"
        try:
            cid = await publish(b"the program", url)
            assert cid == cid_of(b"the program")
            mine = ContentStore(tmp_path / "worker")
            data = await fetch(cid, [dead, liar_url, url], store=mine, request_timeout=2, outbound=LOCAL)
            assert data == b"the program"
            assert mine.get(cid) == b"the program"  # kept, so a second fetch needs no network
            assert await fetch(cid, [], store=mine, outbound=LOCAL) == b"the program"
            with pytest.raises(ContentError, match="no source served") as err:
                await fetch(cid_of(b"missing"), [dead, liar_url, url], request_timeout=2, outbound=LOCAL)
            message = str(err.value)
            assert "content does not match" in message  # the liar (checked here)
            assert dead in message
            # What a source answered, or why it could not be reached, is logged, never passed on.
            assert "HTTP 404" not in message
            assert "source unavailable" in message
            assert "HTTP 404" in caplog.text  # the honest gateway without it
            assert "Connect call failed" in caplog.text or "Cannot connect" in caplog.text  # the dead one
        finally:
            await origin.stop()
            await liar.cleanup()

    asyncio.run(run())


def test_gateway_refuses_bad_cids_and_uploads_when_closed(tmp_path: Path) -> None:
    async def run() -> None:
        closed = Gateway(ContentStore(tmp_path))
        url = await closed.start()
        try:
            with pytest.raises(ContentError, match="refused the upload: HTTP 404"):
                await publish(b"x", url)
            with pytest.raises(ContentError, match="is not a CID"):
                await fetch("not-a-cid", [url], outbound=LOCAL)
        finally:
            await closed.stop()

    asyncio.run(run())


def test_oversized_content_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def run() -> None:
        store = ContentStore(tmp_path)
        cid = store.put(b"x" * 5000)
        gateway = Gateway(store)
        url = await gateway.start()
        try:
            with pytest.raises(ContentError, match="no source served"):
                await fetch(cid, [url], max_bytes=1000, outbound=LOCAL)
            assert "over the 1000-byte limit" in caplog.text
        finally:
            await gateway.stop()

    asyncio.run(run())
