"""A libp2p host for an asyncio program: TCP, Noise only, yamux, in a thread of its own.

py-libp2p runs on trio and fails under asyncio, so the host lives in a dedicated thread running trio
and the two loops meet at two bridges where neither blocks a thread: a request from asyncio starts a
task in the host's nursery (`TrioToken.run_sync_soon`) and its result comes back through
`loop.call_soon_threadsafe`; a protocol handler written for asyncio runs on the caller's loop
(`asyncio.run_coroutine_threadsafe`) and wakes the waiting trio task when done.

Every dial, ours or py-libp2p's own (its DHT's lookups), goes through the one transport it has, which
applies the outbound policy (`polkacompute.net.dial`): addresses named by the chain or by peers are
checked, and DNS names resolved and pinned, before a connection is opened.

Security is Noise alone: a default py-libp2p host also accepts plaintext and secio, so a peer that
offers only those is refused (`tests/p2p`). A request and its response are length-prefixed messages on
a stream the asker keeps open per peer and protocol (opening and negotiating a stream per request cost
py-libp2p more than the request itself).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import multiaddr  # type: ignore[import-untyped]
import trio
from libp2p import new_host
from libp2p.crypto.keys import KeyPair
from libp2p.crypto.x25519 import X25519PrivateKey
from libp2p.custom_types import TProtocol
from libp2p.host.basic_host import BasicHost
from libp2p.kad_dht.kad_dht import DHTMode, KadDHT
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo, info_from_p2p_addr
from libp2p.pubsub.gossipsub import PROTOCOL_ID as GOSSIPSUB
from libp2p.pubsub.gossipsub import GossipSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX
from libp2p.stream_muxer.yamux.yamux import Yamux
from libp2p.tools.anyio_service import background_trio_service

from polkacompute.errors import NetworkError
from polkacompute.net.dial import PolicedTCP, dialable
from polkacompute.net.policy import OutboundPolicy
from polkacompute.p2p.framing import MAX_MESSAGE, Line, read_message, write_message

log = logging.getLogger(__name__)


class _QuietCleanClose(logging.Filter):
    """py-libp2p's DHT logs a warning with an empty reason whenever a peer closes a stream cleanly."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.msg == "Failed to read DHT message from stream: %s" and not str(record.args[0]))  # type: ignore[index]


class _PeerGoneToDebug(logging.Filter):
    """py-libp2p's DHT warns, once per provider record and lookup, about each peer of its routing table it
    cannot reach: a peer that left (a requester's node after its announcement, a restarted worker's old
    address) stays in the other peers' tables for an hour, so a restarted worker printed three lines per
    record it announced. An expected condition of a peer-to-peer network: debug level (LIBP2P_DEBUG shows it)."""

    PREFIXES = ("Failed to send ADD_PROVIDER", "Error sending ADD_PROVIDER", "Failed to open stream to")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR and str(record.msg).startswith(self.PREFIXES):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


logging.getLogger("libp2p.kad_dht.kad_dht").addFilter(_QuietCleanClose())
for _name in ("libp2p.kad_dht.provider_store", "libp2p.kad_dht.peer_routing"):
    logging.getLogger(_name).addFilter(_PeerGoneToDebug())
# A failed dial is an ERROR there, also when py-libp2p itself retries a peer that left; callers here see
# the failure as a NetworkError (and `connect` logs it), so that log only repeated it.
logging.getLogger("libp2p.transport.tcp.tcp").setLevel(logging.CRITICAL)

Handler = Callable[[str, bytes], Coroutine[Any, Any, bytes]]  # (remote peer id, request) -> response
T = TypeVar("T")
GossipHandler = Callable[[str, bytes], Coroutine[Any, Any, None]]  # (sender peer id, data)
START_WITHIN = 10.0  # seconds for a host to listen
SERVE_WITHIN = 30.0  # seconds to answer one request
OPEN_WITHIN = 30.0  # seconds to open a stream, dial included: cut short, py-libp2p can keep a broken connection


class Node:
    """One libp2p host. `start`/`stop` from asyncio; `handle` a protocol; `request` a peer. It dials only
    what `outbound` allows (`OutboundPolicy.for_network(network)`; `polkacompute.net.LOCAL` on a devnet)."""

    def __init__(self, key_pair: KeyPair, *, outbound: OutboundPolicy, host: str = "127.0.0.1", port: int = 0,
                 dht: bool = False) -> None:  # fmt: skip
        self._key_pair = key_pair
        self._outbound = outbound
        self._listen = multiaddr.Multiaddr(f"/ip4/{host}/tcp/{port}")
        self._handlers: dict[str, Handler] = {}
        self._thread: threading.Thread | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._stopping: trio.Event | None = None
        self._host: BasicHost | None = None
        self._nursery: trio.Nursery | None = None
        self._lines: dict[tuple[str, str], Line] = {}  # (peer multiaddr, protocol) -> open stream
        self._opening: dict[tuple[str, str], trio.Lock] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._topics: dict[str, list[GossipHandler]] = {}
        self._pubsub: Pubsub | None = None
        self._dht_wanted = dht
        self._dht: KadDHT | None = None
        self.peer_id = ID.from_pubkey(key_pair.public_key).to_base58()
        self.addrs: list[str] = []

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Starts the host's thread and returns once it listens (its addresses are in `addrs`)."""
        self._loop = asyncio.get_running_loop()
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(started,), name=f"libp2p-{self.peer_id[-6:]}",
                                        daemon=True)  # fmt: skip
        self._thread.start()
        try:
            await asyncio.wait_for(asyncio.wrap_future(started), START_WITHIN)
        except TimeoutError:
            raise NetworkError(
                f"the libp2p host did not start listening on {self._listen} within {START_WITHIN:.0f}s"
            ) from None

    async def stop(self) -> None:
        """Closes every connection and joins the host's thread."""
        if self._thread is None:
            return
        if self._token is not None and self._stopping is not None:
            stopping = self._stopping
            await asyncio.to_thread(trio.from_thread.run_sync, stopping.set, trio_token=self._token)
        await asyncio.to_thread(self._thread.join, 10)
        self._thread = None

    def _run(self, started: concurrent.futures.Future[None]) -> None:
        try:
            trio.run(self._main, started)
        except BaseException as exc:  # the host could not start (e.g. the port is taken)
            if not started.done():
                started.set_exception(NetworkError(f"the libp2p host failed: {exc}"))
            else:
                log.exception("the libp2p host stopped with an error")

    async def _main(self, started: concurrent.futures.Future[None]) -> None:
        noise = NoiseTransport(self._key_pair, noise_privkey=X25519PrivateKey.new())
        host = new_host(key_pair=self._key_pair, sec_opt={TProtocol(NOISE): noise},  # Noise only
                        muxer_opt={TProtocol(YAMUX): Yamux}, transports=[PolicedTCP(self._outbound)])  # fmt: skip
        assert isinstance(host, BasicHost)
        self._host = host
        self._token = trio.lowlevel.current_trio_token()
        self._stopping = trio.Event()
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(host.run(listen_addrs=[self._listen]))
            nursery = await stack.enter_async_context(trio.open_nursery())
            self._nursery = nursery  # where requests from asyncio run
            for protocol in self._handlers:
                host.set_stream_handler(TProtocol(protocol), self._serve)
            if self._topics:
                await self._start_gossip(host, stack, nursery)
            if self._dht_wanted:  # Kademlia, in server mode: every worker also answers others' lookups
                self._dht = KadDHT(host, DHTMode.SERVER)
                await stack.enter_async_context(background_trio_service(self._dht))
            self.addrs = [str(a) for a in host.get_addrs()]
            started.set_result(None)
            await self._stopping.wait()
            nursery.cancel_scope.cancel()
            await host.close()  # before pubsub stops, or sockets and threads are left behind
            if self._pubsub is not None:
                self._pubsub.seen_messages.stop()  # its sweeper thread

    async def _start_gossip(self, host: BasicHost, stack: contextlib.AsyncExitStack, nursery: trio.Nursery) -> None:
        router = GossipSub(
            protocols=[GOSSIPSUB], degree=6, degree_low=4, degree_high=12, heartbeat_interval=1,
            spam_protection_enabled=False,  # 10 messages/s per topic, own publishes included, dropped silently
            eclipse_protection_enabled=False,  # wants 3 distinct IPs in a mesh: never true on one machine
        )  # fmt: skip
        pubsub = Pubsub(host, router, strict_signing=True)  # every gossip message signed by its peer key
        await stack.enter_async_context(background_trio_service(pubsub))
        await stack.enter_async_context(background_trio_service(router))
        await pubsub.wait_until_ready()
        for topic, handlers in self._topics.items():
            nursery.start_soon(self._deliver, await pubsub.subscribe(topic), handlers)
        self._pubsub = pubsub

    async def _deliver(self, subscription: Any, handlers: list[GossipHandler]) -> None:
        while True:
            message = await subscription.get()
            sender = ID(message.from_id).to_base58()
            if sender == self.peer_id:
                continue  # our own publish, delivered locally
            try:
                with trio.fail_after(SERVE_WITHIN):
                    for handler in handlers:
                        await self._on_asyncio(handler(sender, bytes(message.data)))
            except Exception as exc:  # a bad message must not stop the topic
                log.warning("gossip from %s failed: %s", sender, exc or type(exc).__name__)

    # ------------------------------------------------------------------ gossip

    def subscribe(self, topic: str, handler: GossipHandler) -> None:
        """Delivers every gossip message on `topic` from another peer to `handler` (an asyncio coroutine
        given the sender's peer id and the data). Subscribe before `start`."""
        if self._thread is not None:
            raise RuntimeError("subscribe before starting the node")
        self._topics.setdefault(topic, []).append(handler)

    async def publish(self, topic: str, data: bytes) -> None:
        """Gossips `data` on `topic` to the peers subscribed to it (NetworkError if not subscribed)."""
        pubsub = self._pubsub
        if pubsub is None:
            raise NetworkError(f"the node does not gossip on {topic}: subscribe before starting it")

        async def send() -> bytes:
            await pubsub.publish(topic, data)
            return b""

        await self._on_trio(send)

    async def connect(self, addrs: list[str], *, within: float = 5.0) -> int:
        """Connects to the peers at `addrs` (bootstrap): how many it reached; the others are logged."""

        async def dial(addr: str) -> bytes:
            assert self._host is not None
            with trio.fail_after(within):
                info = info_from_p2p_addr(await dialable(self._outbound, addr))  # refused here: not dialed
                await self._connect(info)
                if self._dht is not None:
                    await self._dht.add_peer(info.peer_id)
            return b""

        reached = 0
        for addr in addrs:
            if addr in self.addrs:
                continue
            try:
                await self._on_trio(lambda addr=addr: dial(addr))  # type: ignore[misc]
                reached += 1
            except (Exception, trio.TooSlowError) as exc:
                log.info("bootstrap peer %s unreachable: %s", addr, exc or type(exc).__name__)
        return reached

    # ------------------------------------------------------------------ protocols

    def handle(self, protocol: str, handler: Handler) -> None:
        """Serves `protocol` with `handler`, an asyncio coroutine run on the loop that started the node.
        Register handlers before `start`."""
        if self._thread is not None:
            raise RuntimeError("register handlers before starting the node")
        self._handlers[protocol] = handler

    async def _serve(self, stream: Any) -> None:
        """Answers requests on one stream until the asker closes it (askers keep a stream per peer and
        protocol open, so only the first request pays for opening and negotiating it)."""
        remote = stream.muxed_conn.peer_id.to_base58()
        protocol = str(stream.get_protocol())
        try:
            while (request := await read_message(stream, idle_ok=True)) is not None:
                with trio.fail_after(SERVE_WITHIN):
                    response = await self._on_asyncio(self._handlers[protocol](remote, request))
                    await write_message(stream, response)
            await stream.close()
        except Exception as exc:  # a bad or slow peer must not take the host down
            log.warning("%s from %s failed: %s", protocol, remote, exc or type(exc).__name__)
            await stream.reset()

    async def request(self, addr: str, protocol: str, payload: bytes, *, within: float = 5.0) -> bytes:
        """Sends `payload` to the peer at `addr` (a multiaddr ending in /p2p/<peer id>) and returns its response;
        NetworkError if it cannot be reached, refuses, or does not answer `within` seconds once a stream is open
        (opening one has OPEN_WITHIN). Requests to one peer and protocol share a stream, one at a time; a stream
        that fails is dropped and the request tried once more on a new one (every protocol here tolerates a repeat)."""
        if self._token is None or self._host is None:
            raise NetworkError("the libp2p node is not started")
        if len(payload) > MAX_MESSAGE:
            raise NetworkError(f"a request is at most {MAX_MESSAGE} bytes, not {len(payload)}")

        async def exchange() -> bytes:
            for attempt in range(2):
                with trio.move_on_after(max(within, OPEN_WITHIN)) as opening:
                    line = await self._line(addr, protocol)
                if opening.cancelled_caught:
                    raise NetworkError(f"{protocol} to {addr}: no stream within {max(within, OPEN_WITHIN):.0f}s")
                with trio.fail_after(within):
                    async with line.lock:
                        try:
                            await write_message(line.stream, payload)
                            answer = await read_message(line.stream)
                            assert answer is not None
                            return answer
                        except BaseException:
                            await self._drop(addr, protocol, line)
                            if attempt or not line.reused:
                                raise
            raise AssertionError("unreachable")

        try:
            return await self._on_trio(exchange)
        except trio.TooSlowError:
            raise NetworkError(f"{protocol} to {addr}: no answer within {within:.0f}s") from None
        except NetworkError:
            raise
        except Exception as exc:
            raise NetworkError(f"{protocol} to {addr} failed: {exc or type(exc).__name__}") from exc

    async def _line(self, addr: str, protocol: str) -> Line:
        """The open stream to `addr` for `protocol`, opened (connection included) if there is none."""
        key = (addr, protocol)
        async with self._opening.setdefault(key, trio.Lock()):
            line = self._lines.get(key)
            if line is not None:
                line.reused = True
                return line
            assert self._host is not None
            info = info_from_p2p_addr(await dialable(self._outbound, addr))  # OutboundRefused: not dialed
            with contextlib.suppress(AttributeError):  # py-libp2p dials no peer for 60 s after a failed dial:
                self._host.get_network()._negative_peer_cache.evict(str(info.peer_id))  # type: ignore[attr-defined]
            await self._connect(info)  # callers pace their own retries, a restarted peer is back at once
            stream = await self._host.new_stream(info.peer_id, [TProtocol(protocol)])
            line = self._lines[key] = Line(stream, trio.Lock())
            return line

    async def _connect(self, info: PeerInfo) -> None:
        """Connects to `info`'s peer at the address given, the one it registered. py-libp2p dials one TCP
        address per peer, the first it stored: a restarted peer's former address (still in the peerstore, from
        the chain or the DHT) would be the only one tried (a devnet restarted without kept ports: no bid, seal
        or opening got through). So the address dialed replaces them; and a connection to the peer's former
        process, closed but not dropped yet, is dropped (connect() takes any connection as one)."""
        assert self._host is not None
        network = self._host.get_network()
        connections = network.get_connections(info.peer_id)
        if all(connection.is_closed for connection in connections):
            if connections:
                await network.close_peer(info.peer_id)
            self._host.get_peerstore().clear_addrs(info.peer_id)
        await self._host.connect(info)

    async def _drop(self, addr: str, protocol: str, line: Line) -> None:
        if self._lines.get((addr, protocol)) is line:
            del self._lines[(addr, protocol)]
        with trio.CancelScope(shield=True), contextlib.suppress(Exception):
            await line.stream.reset()

    # ------------------------------------------------------------------ Kademlia provider records

    async def provide(self, key: str, *, within: float = 10.0) -> None:
        """Announces in the DHT that this node provides `key` (a CID, or a name such as a capability)."""
        dht = self._require_dht()

        async def run() -> bytes:
            with trio.fail_after(within):
                await dht.provide(key)
            return b""

        try:
            await self._on_trio(run)
        except trio.TooSlowError:  # peers that left, or a busy machine: the record stays with those reached
            raise NetworkError(f"no DHT peer took the provider record of {key} within {within:.0f}s") from None

    async def find_providers(self, key: str, *, count: int = 20, within: float = 10.0) -> list[str]:
        """The multiaddrs (ending in /p2p/<peer id>) of the nodes the DHT knows to provide `key`."""
        dht = self._require_dht()

        async def run() -> list[str]:
            with trio.fail_after(within):
                found = await dht.find_providers(key, count)
            addrs: dict[str, str] = {}
            for info in found:
                peer = info.peer_id.to_base58()
                if peer != self.peer_id and info.addrs and peer not in addrs:
                    base = str(info.addrs[0])
                    addrs[peer] = base if base.endswith(f"/p2p/{peer}") else f"{base}/p2p/{peer}"
            return list(addrs.values())

        try:
            return await self._on_trio(run)
        except trio.TooSlowError:
            raise NetworkError(f"no DHT answer for {key} within {within:.0f}s") from None

    def _require_dht(self) -> KadDHT:
        if self._dht is None:
            raise NetworkError("this node runs no DHT (Node(..., dht=True))")
        return self._dht

    # ------------------------------------------------------------------ the bridges (no thread blocks on either)

    async def _on_trio(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Runs `fn` in the host's trio loop and awaits its result from asyncio."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def settle(result: T | None, error: BaseException | None) -> None:
            if future.done():  # the asyncio caller gave up meanwhile
                return
            if error is None:
                future.set_result(result)  # type: ignore[arg-type]
            else:
                future.set_exception(error)

        async def run() -> None:
            try:
                result = await fn()
            except trio.Cancelled:
                loop.call_soon_threadsafe(settle, None, NetworkError("the libp2p node stopped"))
                raise
            except Exception as exc:
                loop.call_soon_threadsafe(settle, None, exc)
            else:
                loop.call_soon_threadsafe(settle, result, None)

        nursery = self._nursery
        assert self._token is not None
        assert nursery is not None
        try:
            self._token.run_sync_soon(nursery.start_soon, run)
        except trio.RunFinishedError:
            raise NetworkError("the libp2p node stopped") from None
        return await future

    async def _on_asyncio(self, coro: Coroutine[Any, Any, T]) -> T:
        """Runs `coro` on the asyncio loop that started the node and awaits its result from trio."""
        assert self._loop is not None
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)

        def wake(_: object) -> None:
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(done.set)

        future.add_done_callback(wake)
        try:
            await done.wait()
        finally:
            future.cancel()  # a no-op once done; otherwise trio gave up (timeout, shutdown)
        return future.result()
