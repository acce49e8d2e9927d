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

from polkacompute.errors import ContentError, SourceUnavailable
from polkacompute.net.http import OutboundHttp
from polkacompute.net.policy import OutboundPolicy
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
    session: OutboundHttp | None = None,
    outbound: OutboundPolicy | None = None,
) -> bytes:
    """The bytes of `cid` from the first gateway that serves the right ones (and into `store`).

    `sources` are gateway base URLs, named by anyone (a requester's announcement, an assignee's
    registration, the operator): each is reached under an outbound policy, `session`'s (a client shared
    by many fetches) or `outbound` (give one of the two): as scheme://host:port plus `/ipfs/<cid>`, at an
    address the policy allows, with no redirect, within `request_timeout` seconds and `max_bytes` bytes a
    source (`polkacompute.net`). The local store, if given, is tried first. ContentError if no source
    serves the right bytes; why each one failed is logged.
    """
    if (session is None) == (outbound is None):
        raise TypeError("fetch: give outbound= (the policy for these sources) or session= (a client applying one)")
    client = session or OutboundHttp(outbound or OutboundPolicy())

    def read(base: str) -> Callable[[], Awaitable[bytes]]:
        return lambda: client.get(base, f"/ipfs/{cid}", within=request_timeout, max_bytes=max_bytes)

    try:
        gateways = [(base, read(base)) for base in dict.fromkeys(sources)]
        return await first_verified(cid, gateways, store=store, errors=(SourceUnavailable,))
    finally:
        if session is None:
            await client.close()


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
