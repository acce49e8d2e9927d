"""Stand-ins for what a node must never be made to reach, each on a loopback port of its own: an
"internal service" that records every HTTP request and answers with an error text naming itself (what a
port scanner would want echoed), a raw TCP port that counts connections (what a libp2p dial reaches), and
a redirector that sends every request on to the internal service."""

from __future__ import annotations

import asyncio
from types import TracebackType

from aiohttp import web


async def _serve(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, int(runner.addresses[0][1])


class Internal:
    """An admin service on loopback: `requests` holds "METHOD /path?query" of each HTTP request,
    `connections` counts TCP connections to `raw_port`."""

    SECRET = "internal-admin: deleted everything, db at 10.1.2.3:5432"

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.connections = 0
        self.port = self.raw_port = 0
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._raw: asyncio.Server | None = None

    @property
    def reached(self) -> bool:
        return bool(self.requests or self.connections)

    async def __aenter__(self) -> Internal:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._record)
        self._runner, self.port = await _serve(app)
        self.url = f"http://127.0.0.1:{self.port}"
        self._raw = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.raw_port = int(self._raw.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._raw is not None:
            self._raw.close()
            await self._raw.wait_closed()

    async def _record(self, request: web.Request) -> web.Response:
        self.requests.append(f"{request.method} {request.path_qs}")
        return web.Response(status=500, text=f"{self.SECRET} (listening on port {self.port})")

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()


class Redirector:
    """Answers every request with a 302 to `target` (recorded in `requests` like the internal service)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.requests: list[str] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> Redirector:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._redirect)
        self._runner, port = await _serve(app)
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _redirect(self, request: web.Request) -> web.Response:
        self.requests.append(f"{request.method} {request.path_qs}")
        raise web.HTTPFound(self.target)
