"""Uploads to a content gateway (`POST /ipfs`, where requesters publish programs and inputs): who may
upload and how much.

- Size: each upload at most `max_upload` bytes (413), and the store at most `quota` bytes in all (507):
  what it held when the gateway started counts, and bytes already stored (same CID) cost nothing.
- Who: with a `token`, only requests carrying `Authorization: Bearer <token>` (401 otherwise). Without
  one, anyone who can connect may upload, so a gateway accepting uploads without a token only listens
  on a loopback address (`check_host` refuses any other).
- Memory: at most `concurrent` uploads are read at once (each up to `max_upload` bytes); others wait.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from polkacompute.errors import ConfigError
from polkacompute.store.cid import cid_of
from polkacompute.store.local import ContentStore

MAX_UPLOAD = 64 * 1024 * 1024  # bytes per upload (the sandbox refuses larger programs anyway)
QUOTA = 1024 * 1024 * 1024  # bytes in the store, in all


@dataclass(frozen=True)
class UploadPolicy:
    token: str | None = None  # required as `Authorization: Bearer <token>` when set
    max_upload: int = MAX_UPLOAD
    quota: int = QUOTA
    concurrent: int = 4

    def __post_init__(self) -> None:
        if self.token is not None and len(self.token) < 16:
            raise ConfigError("the upload token is too short", hint="use at least 16 random characters")
        if self.max_upload < 1 or self.quota < 1 or self.concurrent < 1:
            raise ConfigError("upload limits must be positive")

    def check_host(self, host: str) -> None:
        """Refuses to accept uploads without a token on an address others can reach."""
        if self.token is None and not is_loopback(host):
            raise ConfigError(f"uploads without a token on {host}: anyone who reaches it could fill the store",
                              hint="set POLKACOMPUTE_UPLOAD_TOKEN (or --upload-token-file), or listen on "
                                   "127.0.0.1")  # fmt: skip


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name could resolve anywhere


class Uploads:
    """The `POST /ipfs` handler of a gateway over `store` (body: the bytes; `?codec=raw|dag-cbor`)."""

    def __init__(self, store: ContentStore, policy: UploadPolicy) -> None:
        self.store, self.policy = store, policy
        self.used = stored_bytes(store.directory)
        self._reading = asyncio.Semaphore(policy.concurrent)

    async def handle(self, request: web.Request) -> web.Response:
        policy = self.policy
        if policy.token is not None and not _authorized(request.headers.get("Authorization", ""), policy.token):
            return web.Response(status=401, text="uploads need Authorization: Bearer <token>",
                                headers={"WWW-Authenticate": 'Bearer realm="uploads"'})  # fmt: skip
        codec = request.query.get("codec", "raw")
        if codec not in ("raw", "dag-cbor"):
            return web.Response(status=400, text="codec must be raw or dag-cbor")
        declared = request.content_length
        if declared is not None and declared > policy.max_upload:
            return _too_large(policy.max_upload)
        async with self._reading:
            data = bytearray()
            async for chunk in request.content.iter_chunked(1 << 16):
                data += chunk
                if len(data) > policy.max_upload:
                    return _too_large(policy.max_upload)
        body = bytes(data)
        if self.store.has(cid := cid_of(body, codec)):
            return web.json_response({"cid": cid})  # stored already: costs nothing
        if self.used + len(body) > policy.quota:
            return self._full()
        cid = self.store.put(body, codec)
        self.used += len(body)
        return web.json_response({"cid": cid})

    def _full(self) -> web.Response:
        text = f"the gateway's store is full: {self.used} bytes of its {self.policy.quota}-byte quota are used"
        return web.Response(status=507, text=text)


def _too_large(limit: int) -> web.Response:
    return web.Response(status=413, text=f"an upload may be at most {limit} bytes")


def _authorized(header: str, token: str) -> bool:
    scheme, _, given = header.partition(" ")
    try:  # a header's undecodable bytes arrive as surrogates: compared as the bytes they were
        presented = given.strip().encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return scheme.lower() == "bearer" and hmac.compare_digest(presented, token.encode())


def stored_bytes(directory: Path) -> int:
    """Bytes of the blobs in a store directory (what counts toward the quota)."""
    blobs = Path(directory) / "blobs"
    if not blobs.is_dir():
        return 0
    return sum(p.stat().st_size for p in blobs.glob("*/*") if p.is_file() and not p.name.endswith(".tmp"))
