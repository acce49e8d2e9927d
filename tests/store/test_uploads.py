"""Uploads to the content gateway over real HTTP on loopback: the per-upload limit, the store's total
quota (also across a restart), the bearer token, and no unauthenticated uploads on other addresses."""

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from polkacompute.errors import ConfigError, ContentError
from polkacompute.store import ContentStore, cid_of
from polkacompute.store.http import Gateway, publish
from polkacompute.store.uploads import UploadPolicy
from tests.conftest import free_port

TOKEN = "correct-horse-battery-staple"


def test_uploads_beyond_the_size_limit_or_the_quota_are_refused(tmp_path: Path) -> None:
    policy = UploadPolicy(max_upload=600, quota=1000)

    async def run() -> None:
        gateway = Gateway(ContentStore(tmp_path), uploads=policy)
        url = await gateway.start()
        try:
            first = b"a" * 600
            assert await publish(first, url) == cid_of(first)
            assert await publish(first, url) == cid_of(first)  # stored already: costs nothing
            with pytest.raises(ContentError, match="HTTP 507 the gateway's store is full: 600 bytes"):
                await publish(b"b" * 500, url)
            with pytest.raises(ContentError, match="HTTP 413 an upload may be at most 600 bytes"):
                await publish(b"c" * 700, url)

            async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
                for _ in range(7):
                    yield b"d" * 100

            async with aiohttp.ClientSession() as client, client.post(f"{url}/ipfs", data=chunks()) as response:
                assert response.status == 413
            assert await publish(b"e" * 400, url) == cid_of(b"e" * 400)  # exactly up to the quota
        finally:
            await gateway.stop()
        assert not ContentStore(tmp_path).has(cid_of(b"b" * 500))
        assert not ContentStore(tmp_path).has(cid_of(b"c" * 700))

        again = Gateway(ContentStore(tmp_path), uploads=policy)  # what is stored counts after a restart
        url = await again.start()
        try:
            with pytest.raises(ContentError, match="HTTP 507"):
                await publish(b"f", url)
        finally:
            await again.stop()

    asyncio.run(run())


def test_uploads_need_the_token_when_one_is_set(tmp_path: Path) -> None:
    async def run() -> None:
        gateway = Gateway(ContentStore(tmp_path), uploads=UploadPolicy(token=TOKEN))
        url = await gateway.start()
        try:
            with pytest.raises(ContentError, match="HTTP 401 uploads need Authorization: Bearer"):
                await publish(b"x", url)
            with pytest.raises(ContentError, match="HTTP 401"):
                await publish(b"x", url, token=TOKEN[:-1] + "!")
            assert await publish(b"x", url, token=TOKEN) == cid_of(b"x")
            # Bytes that are not UTF-8 in the header: a 401 like any wrong token, not a 500.
            reader, writer = await asyncio.open_connection(*url.removeprefix("http://").rstrip("/").split(":"))
            writer.write(b"POST /ipfs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \xff\xfe\r\n"
                         b"Content-Length: 1\r\nConnection: close\r\n\r\ny")  # fmt: skip
            await writer.drain()
            status_line = await reader.readline()
            writer.close()
            assert status_line.split()[1] == b"401", status_line
        finally:
            await gateway.stop()
        assert ContentStore(tmp_path).get(cid_of(b"x")) == b"x"

    asyncio.run(run())


def test_no_unauthenticated_uploads_on_a_non_loopback_address(tmp_path: Path) -> None:
    for host in ("0.0.0.0", "::", "192.0.2.1", "gateway.example"):  # noqa: S104 (refused before binding)
        with pytest.raises(ConfigError, match="uploads without a token"):
            asyncio.run(Gateway(ContentStore(tmp_path), uploads=True).start(host, 0))
    for host in ("127.0.0.1", "::1", "localhost"):
        UploadPolicy().check_host(host)
    UploadPolicy(token=TOKEN).check_host("0.0.0.0")  # noqa: S104 (a token makes it acceptable)
    with pytest.raises(ConfigError, match="too short"):
        UploadPolicy(token="secret")

    cli = [sys.executable, "-m", "polkacompute.cli", "gateway", "serve", "--store", str(tmp_path), "--port", "0"]
    env = {k: v for k, v in os.environ.items() if k != "POLKACOMPUTE_UPLOAD_TOKEN"}
    wildcard = "0.0.0.0"  # noqa: S104 (refused before anything listens)
    refused = subprocess.run(
        [*cli, "--uploads", "--host", wildcard], env=env, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2
    assert "uploads without a token on 0.0.0.0" in refused.stderr


def test_the_gateway_command_requires_the_token_from_its_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(TOKEN + "\n")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "polkacompute.cli", "gateway", "serve", "--store",
                             str(tmp_path / "store"), "--port", str(port), "--uploads", "--upload-token-file",
                             str(tmp_path / "token"), "--max-upload-mb", "1"],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        url = json.loads(proc.stdout.readline())["url"]

        async def run() -> None:
            with pytest.raises(ContentError, match="HTTP 401"):
                await publish(b"program", url)
            assert await publish(b"program", url, token=TOKEN) == cid_of(b"program")
            with pytest.raises(ContentError, match="HTTP 413"):
                await publish(b"z" * ((1 << 20) + 1), url, token=TOKEN)

        asyncio.run(run())
    finally:
        proc.terminate()
        proc.wait(timeout=20)
