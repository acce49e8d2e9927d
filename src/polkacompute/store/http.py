"""Content over HTTP: a gateway serving a ContentStore by CID, and a fetcher that trusts no source.

Paths follow the IPFS gateway convention (`GET /ipfs/<cid>`), so an IPFS HTTP gateway is a valid
source too. Whatever a source returns is checked against the CID before it is stored or used; a
source that serves wrong bytes is skipped like one that is down.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

import aiohttp
from aiohttp import web

from polkacompute.errors import ContentError
from polkacompute.store.cid import cid_of
from polkacompute.store.local import ContentStore
from polkacompute.store.sources import first_verified
from polkacompute.store.uploads import UploadPolicy, Uploads

log = logging.getLogger(__name__)
MAX_BLOB = 64 * 1024 * 1024  # the sandbox refuses larger programs anyway


class Gateway:
    """Serves `store` at http://host:port/ipfs/<cid>; with `uploads` (True: `UploadPolicy()`), POST /ipfs
    stores a body (the devnet's requester-facing gateway) within that policy's limits."""

    def __init__(self, store: ContentStore, *, uploads: bool | UploadPolicy = False, max_bytes: int = MAX_BLOB) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.app = web.Application(client_max_size=max_bytes)
        self.app.router.add_get("/ipfs/{cid}", self._get)
        self.uploads = UploadPolicy(max_upload=max_bytes) if uploads is True else uploads or None
        if self.uploads is not None:
            self.app.router.add_post("/ipfs", Uploads(store, self.uploads).handle)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self.uploads is not None:
            self.uploads.check_host(host)  # no unauthenticated uploads from other machines
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0][1]  # the real port when 0 was asked for
        self.url = f"http://{host}:{bound}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _get(self, request: web.Request) -> web.StreamResponse:
        cid = request.match_info["cid"]
        try:
            data = self.store.get(cid)  # verified on read: a corrupted blob is never served
        except ContentError as exc:
            status = 404 if "is not in the store" in str(exc) else 400
            return web.Response(status=status, text=str(exc))
        return web.Response(body=data, content_type="application/octet-stream", headers={"X-Ipfs-Path": f"/ipfs/{cid}"})


async def fetch(
    cid: str,
    sources: Sequence[str],
    *,
    store: ContentStore | None = None,
    max_bytes: int = MAX_BLOB,
    request_timeout: float = 10.0,
    session: aiohttp.ClientSession | None = None,
) -> bytes:
    """The bytes of `cid` from the first gateway that serves the right ones (and into `store`).

    `sources` are gateway base URLs. The local store, if given, is tried first.
    """
    own = session is None
    client = session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=request_timeout))

    def read(base: str) -> Callable[[], Awaitable[bytes]]:
        return lambda: _get(client, f"{base.rstrip('/')}/ipfs/{cid}", max_bytes)

    try:
        gateways = [(base, read(base)) for base in sources]
        return await first_verified(cid, gateways, store=store, errors=(aiohttp.ClientError, TimeoutError))
    finally:
        if own:
            await client.close()


async def _get(client: aiohttp.ClientSession, url: str, max_bytes: int) -> bytes:
    async with client.get(url) as response:
        if response.status != 200:
            raise ContentError(f"HTTP {response.status}")
        if (response.content_length or 0) > max_bytes:
            raise ContentError(f"{response.content_length} bytes is over the {max_bytes}-byte limit")
        data = await response.content.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise ContentError(f"more than {max_bytes} bytes")
        return data


async def publish(data: bytes, gateway: str, *, token: str | None = None, request_timeout: float = 10.0) -> str:
    """Uploads `data` to a gateway that accepts uploads (with its upload `token` if it has one); returns
    its CID (checked locally)."""
    timeout = aiohttp.ClientTimeout(total=request_timeout)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession(timeout=timeout) as client,
        client.post(f"{gateway.rstrip('/')}/ipfs", data=data, headers=headers) as response,
    ):
        if response.status != 200:
            raise ContentError(f"{gateway} refused the upload: HTTP {response.status} {await response.text()}")
        cid = str((await response.json())["cid"])
    if cid != cid_of(data):
        raise ContentError(f"{gateway} answered {cid} for content whose CID is {cid_of(data)}")
    return cid


__all__ = ["Gateway", "fetch", "publish"]
