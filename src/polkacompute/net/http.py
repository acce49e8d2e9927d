"""HTTP to remotes named by the chain, a peer or a requester, under an `OutboundPolicy`.

- The address: a name is resolved by this module's resolver, which keeps only the addresses the policy
  allows (none: OutboundRefused, nothing is connected to); then aiohttp calls this module's socket
  factory with each address it is about to connect to, and the factory refuses an address the policy
  refuses, so what is reached is exactly what was checked (IP literals included, and whatever DNS
  answers in between). A literal IP host is refused before any of that.
- The URL: built from the source's scheme, host and port (`OutboundPolicy.origin`) and the caller's
  path; redirects are never followed (a 3xx is a failure).
- Bounds: each request has one total deadline (connect, send, answer, body) and a total byte cap on the
  body as it arrives on the wire (no decompression: `Accept-Encoding: identity`).
- Errors: callers get `SourceUnavailable("source unavailable")` (or `OutboundRefused`); what the remote
  answered, or why it could not be reached, is logged here and nowhere else.

Sources the operator configured (`OutboundPolicy.trusted`) are fetched as given, through a session
without the address check, with the same deadline, cap and redirect rule.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from polkacompute.errors import OutboundRefused, SourceUnavailable
from polkacompute.net.policy import OutboundPolicy, refuse

if TYPE_CHECKING:
    from aiohappyeyeballs import AddrInfoType

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024 * 1024  # bytes of one answer, unless the caller says otherwise
MAX_ANSWER = 1024 * 1024  # bytes kept of an answer to a POST
WITHIN = 10.0  # seconds for one request, all of it
CHUNK = 64 * 1024


class PolicyRefusal(PermissionError):
    """Raised by the socket factory for an address the policy refuses (an OSError, so aiohttp moves on
    to the name's next address, and reports it like any failure to connect)."""


class OutboundHttp:
    """GETs and POSTs to sources named by others. Create it anywhere; its sessions open on first use
    (in the running event loop); `close()` (or `async with`) when done."""

    def __init__(self, policy: OutboundPolicy, *, within: float = WITHIN, max_bytes: int = MAX_BODY,
                 connections: int = 100) -> None:  # fmt: skip
        self.policy = policy
        self.within = within
        self.max_bytes = max_bytes
        self._connections = connections
        self._sessions: dict[bool, aiohttp.ClientSession] = {}  # trusted? -> session

    async def __aenter__(self) -> OutboundHttp:
        return self

    async def __aexit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()

    def url(self, source: str, path: str) -> tuple[URL, bool]:
        """The URL of `path` (the caller's, starting with "/") at `source`, and whether the operator trusts
        it; OutboundRefused for a malformed source or a refused IP literal."""
        if self.policy.trusts(source):
            return URL(source.rstrip("/") + path), True
        return self.policy.origin(source).with_path(path, encoded=True), False

    async def get(self, source: str, path: str, *, within: float | None = None, max_bytes: int | None = None) -> bytes:
        """The body of a 200 answer to GET `path` at `source`; SourceUnavailable otherwise."""
        url, trusted = self.url(source, path)
        status, body = await self._request("GET", url, trusted, within, max_bytes)
        if status != 200:
            log.warning("GET %s: HTTP %d", url, status)
            raise SourceUnavailable()
        return body

    async def post_json(self, source: str, path: str, payload: Any, *, within: float | None = None,
                        max_bytes: int = MAX_ANSWER) -> tuple[int, bytes]:  # fmt: skip
        """POSTs `payload` as JSON to `path` at `source`: the answer's status and body (at most `max_bytes`);
        SourceUnavailable if there is no complete answer (a redirect included)."""
        url, trusted = self.url(source, path)
        return await self._request("POST", url, trusted, within, max_bytes, json=payload)

    async def _request(self, method: str, url: URL, trusted: bool, within: float | None, max_bytes: int | None,
                       **options: Any) -> tuple[int, bytes]:  # fmt: skip
        within = self.within if within is None else within
        cap = self.max_bytes if max_bytes is None else max_bytes
        try:
            async with (
                asyncio.timeout(within),
                self._session(trusted).request(method, url, allow_redirects=False, **options) as answer,
            ):
                if 300 <= answer.status < 400:
                    where = answer.headers.get("Location", "")[:200]
                    raise _Failed(f"HTTP {answer.status}, a redirect (to {where!r}): not followed")
                if (answer.content_length or 0) > cap:
                    raise _Failed(f"{answer.content_length} bytes announced, over the {cap}-byte limit")
                body = bytearray()
                async for chunk in answer.content.iter_chunked(CHUNK):
                    body += chunk
                    if len(body) > cap:
                        raise _Failed(f"more than {cap} bytes")
                return answer.status, bytes(body)
        except _Failed as exc:
            why = str(exc)
        except TimeoutError:
            why = f"no complete answer within {within:g}s"
        except aiohttp.ClientError as exc:
            refused = isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, PolicyRefusal)
            log.warning("%s %s: %s", method, url, exc or type(exc).__name__)
            raise (OutboundRefused() if refused else SourceUnavailable()) from None
        log.warning("%s %s: %s", method, url, why)
        raise SourceUnavailable()

    def _session(self, trusted: bool) -> aiohttp.ClientSession:
        session = self._sessions.get(trusted)
        if session is None or session.closed:
            if trusted:  # the operator's own sources: as given
                connector = aiohttp.TCPConnector(limit=self._connections)
            else:
                connector = aiohttp.TCPConnector(limit=self._connections, resolver=_PolicyResolver(self.policy),
                                                 socket_factory=self._checked_socket)  # fmt: skip
            session = aiohttp.ClientSession(
                connector=connector,
                trust_env=False,  # no proxy from the environment: the address checked is the one reached
                auto_decompress=False,  # the byte cap counts what arrives; content is checked as sent
                headers={"Accept-Encoding": "identity"},
                timeout=aiohttp.ClientTimeout(total=None),  # each request has its own total deadline
            )
            self._sessions[trusted] = session
        return session

    def _checked_socket(self, addr_info: AddrInfoType) -> socket.socket:
        """aiohttp's socket factory: a socket for the address it will connect to, if the policy allows it."""
        family, kind, proto, _, sockaddr = addr_info
        why = self.policy.refusal(str(sockaddr[0]))
        if why is not None:
            raise PolicyRefusal(errno.EACCES, f"refused by the outbound policy: {sockaddr[0]} is {why}")
        return socket.socket(family=family, type=kind, proto=proto)


class _PolicyResolver(AbstractResolver):
    """The system resolver's answer, less the addresses the policy refuses; OutboundRefused if nothing is
    left (raised through aiohttp as it is: not an OSError)."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy
        self._resolver = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._resolver.resolve(host, port, family)
        allowed = [r for r in found if self._policy.refusal(r["host"]) is None]
        if not allowed:
            refuse(host, "; ".join(f"{r['host']} is {self._policy.refusal(r['host'])}" for r in found))
        return allowed

    async def close(self) -> None:
        await self._resolver.close()


class _Failed(Exception):
    """A request that got an answer this module does not accept (the reason is logged)."""
