"""Reading PolkaCompute events: range reads, a resumable follower and websocket subscriptions.

The worker and the indexer both need the protocol's history and its new events, decoded. One
`eth_getLogs` request per block batch covers every contract (address list + topic0 list), so reading
costs one request per `Network.log_batch` blocks however many contracts and events are involved.
Logs are decoded by looking their topic0 up in a table built from the shipped ABIs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_typing import ABIEvent
from eth_utils.abi import collapse_if_tuple
from eth_utils.address import to_checksum_address
from web3 import AsyncWeb3, WebSocketProvider
from web3.exceptions import Web3Exception
from web3.types import LogsSubscriptionArg, RPCEndpoint
from web3.utils import event_abi_to_log_topic

from polkacompute.chain.client import ChainClient
from polkacompute.contracts import abi
from polkacompute.errors import ChainIdMismatch, ConfigError, NetworkError

log = logging.getLogger(__name__)

# The contracts whose events are decoded. JobMarketExtension is absent on purpose: it runs by
# delegatecall, so its events carry JobMarket's address and are covered by JobMarket's full ABI.
SOURCES = ("JobMarket", "BidBook", "PaymentEscrow", "ProviderRegistry")

# Phrases nodes use when a getLogs range or its result is over their limit (geth, erigon, Alchemy,
# Infura, QuickNode, the Polkadot eth-rpc proxy...). Halving the range is the documented remedy.
_TOO_LARGE = ("too large", "too many", "too big", "exceed", "more than", "range", "limit", "response size")
_RATE_LIMITED = ("rate limit", "rate-limit", "too many requests")  # not cured by more, smaller requests

# Arguments that say which job(s) an event is about: one id, a list, or a range (`firstJobId` + `jobs`).
_JOB_ARGS = ("jobId", "jobIds", "firstJobId")

Topics = list[list[str] | str]


@dataclass(frozen=True)
class Event:
    """One decoded log. `args` holds the Solidity argument names; structs are nested dicts."""

    contract: str
    name: str
    args: dict[str, Any]
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int

    def model(self) -> Any:
        """The event as its typed dataclass from `polkacompute.contracts.events` (snake_case fields)."""
        from polkacompute.contracts.events import EVENT_ARGS, EVENTS  # ~100 dataclasses: built when first asked

        return EVENTS[self.name](*(self.args[name] for name in EVENT_ARGS[self.name]))


@dataclass
class Cursor:
    """The first block not yet delivered by `LogReader.follow`."""

    next_block: int


class CursorStore:
    """A `Cursor` in a JSON file. Writes go to a temp file then rename, so a crash leaves the old
    position or the new one, never a torn file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self, default: int = 0) -> Cursor:
        """The stored cursor, or `Cursor(default)` (e.g. the deployment block) when there is none."""
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return Cursor(default)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cursor file {self.path} is unreadable", hint="delete it to start over") from exc
        block = data.get("next_block") if isinstance(data, dict) else None
        if not isinstance(block, int) or isinstance(block, bool) or block < 0:
            raise ConfigError(f"cursor file {self.path} has no valid next_block", hint="delete it to start over")
        return Cursor(block)

    def save(self, cursor: Cursor) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump({"next_block": cursor.next_block}, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


@dataclass(frozen=True)
class _Kind:
    """One event of one contract, as found in the topic0 table."""

    contract: str
    name: str
    topic: str  # topic0, 0x hex
    inputs: tuple[dict[str, Any], ...]  # the event's ABI inputs
    job_arg: str | None  # the argument naming the job(s), one of _JOB_ARGS
    job_topic1: bool  # the first indexed argument is `jobId`: the node can filter on topic1

    def decode(self, topics: list[bytes], data: bytes) -> dict[str, Any]:
        """The arguments by name, as web3's `process_log` gives them (checksummed addresses, structs as
        dicts), straight from eth_abi: web3's formatter chain cost a busy worker a fifth of its time."""
        indexed = [i for i in self.inputs if i["indexed"]]
        plain = [i for i in self.inputs if not i["indexed"]]
        if len(topics) != len(indexed) + 1:
            raise DecodingError(f"{self.name}: {len(topics) - 1} indexed topics, expected {len(indexed)}")
        args: dict[str, Any] = {}
        for item, topic in zip(indexed, topics[1:], strict=True):
            dynamic = item["type"] in ("string", "bytes") or item["type"].endswith("]") or item["type"] == "tuple"
            args[item["name"]] = topic if dynamic else _shape(item, abi_decode([item["type"]], topic)[0])
        values = abi_decode([collapse_if_tuple(i) for i in plain], data)
        args.update((i["name"], _shape(i, v)) for i, v in zip(plain, values, strict=True))
        return {i["name"]: args[i["name"]] for i in self.inputs}


class _TooLarge(Exception):
    """The node refused a getLogs range as too large (internal: triggers halving)."""


class LogReader:
    """Decodes the events of the PolkaCompute contracts at `addresses` (contract name -> address).

    Names outside `SOURCES` are ignored, so a deployment's `addresses` can be passed as they are.
    Logs of other contracts, or with an unknown topic0, are skipped.
    """

    def __init__(self, client: ChainClient, addresses: dict[str, str]) -> None:
        self.client = client
        self._kinds: dict[tuple[str, bytes], _Kind] = {}
        self._addresses: list[str] = []
        for contract in SOURCES:
            if contract not in addresses:
                continue
            address = AsyncWeb3.to_checksum_address(addresses[contract])
            self._addresses.append(address)
            for item in abi(contract):
                if item.get("type") != "event" or item.get("anonymous"):
                    continue
                topic = event_abi_to_log_topic(cast(ABIEvent, item))
                inputs = item["inputs"]
                indexed = [i["name"] for i in inputs if i["indexed"]]
                job_arg = next((i["name"] for i in inputs if i["name"] in _JOB_ARGS), None)
                kind = _Kind(
                    contract, item["name"], "0x" + topic.hex(), tuple(inputs), job_arg, indexed[:1] == ["jobId"]
                )
                self._kinds[(address.lower(), topic)] = kind
        if not self._addresses:
            raise ConfigError("no PolkaCompute contract address given", hint=f"pass addresses of {', '.join(SOURCES)}")

    @property
    def event_names(self) -> set[str]:
        return {k.name for k in self._kinds.values()}

    # ------------------------------------------------------------------ range reads

    async def read(
        self, from_block: int, to_block: int, *, events: Iterable[str] | None = None, job_id: int | None = None
    ) -> list[Event]:
        """Events in blocks `from_block..to_block` (inclusive), ordered by (block, log index).

        `events` restricts to those event names. `job_id` keeps only events about that job: events
        whose first indexed argument is `jobId` are filtered by the node (topic1); the node cannot
        filter the others that name jobs (`BatchAssigned`/`CollateralLocked` list `jobIds`, `Slashed`
        and `ReputationChanged` index `jobId` second, `Deposited` covers `firstJobId` and the next
        `jobs - 1`), so they are fetched by topic0 in a second request per batch and filtered after
        decoding. Events that name no job are left out.

        A batch the node refuses as too large is halved and retried, down to single blocks; the
        smaller size is kept for the rest of the read, so halving costs at most log2(log_batch)
        refused requests per read.
        """
        if from_block < 0:
            raise ConfigError(f"from_block must be >= 0, not {from_block}")
        queries = self._queries(events, job_id)
        found: list[Event] = []
        size = max(1, self.client.network.log_batch)
        start = from_block
        while start <= to_block:
            end = min(to_block, start + size - 1)
            try:
                batches = await asyncio.gather(*(self._get_logs(start, end, topics) for topics in queries))
            except _TooLarge as exc:
                if end == start:
                    raise NetworkError(f"the node refuses eth_getLogs even for block {start}: {exc}") from exc
                size = (end - start + 1) // 2
                log.debug("eth_getLogs %d..%d too large, retrying with %d blocks", start, end, size)
                continue
            for entries in batches:
                found.extend(e for e in map(self._decode, entries) if e is not None and _about(e, job_id))
            start = end + 1
        found.sort(key=lambda e: (e.block_number, e.log_index))
        return found

    async def of_transaction(self, tx_hash: str) -> list[Event]:
        """The events a mined transaction emitted (none if it is unknown or not mined yet)."""
        try:
            response = await self.client.w3.provider.make_request(RPCEndpoint("eth_getTransactionReceipt"), [tx_hash])
        except (OSError, TimeoutError, Web3Exception) as exc:
            raise NetworkError(f"the receipt of {tx_hash} could not be read: {exc}") from exc
        receipt = response.get("result")
        if not receipt:
            return []
        found = (self._decode(entry) for entry in receipt.get("logs") or [])
        return sorted((e for e in found if e is not None), key=lambda e: e.log_index)

    def _queries(self, events: Iterable[str] | None, job_id: int | None) -> list[Topics]:
        """The topic filters (one getLogs request each per batch) for a selection."""
        kinds = list(self._kinds.values())
        if events is not None:
            names = set([events] if isinstance(events, str) else events)
            if unknown := names - self.event_names:
                raise ConfigError(f"unknown event(s) {', '.join(sorted(unknown))}", hint="check the spelling")
            kinds = [k for k in kinds if k.name in names]
        if job_id is None:
            return [[sorted({k.topic for k in kinds})]] if kinds else []
        if not 0 <= job_id < 2**256:
            raise ConfigError(f"job id {job_id} is not a uint256")
        if events is not None and (unrelated := {k.name for k in kinds if k.job_arg is None}):
            raise ConfigError(f"event(s) {', '.join(sorted(unrelated))} carry no job id", hint="drop job_id or them")
        on_node = sorted({k.topic for k in kinds if k.job_topic1})
        after = sorted({k.topic for k in kinds if k.job_arg and not k.job_topic1})
        queries: list[Topics] = []
        if on_node:
            queries.append([on_node, "0x" + job_id.to_bytes(32, "big").hex()])
        if after:
            queries.append([after])
        return queries

    async def _get_logs(self, start: int, end: int, topics: Topics) -> list[dict[str, Any]]:
        """The raw logs (hex strings): sent straight to the provider, since web3's result formatters
        cost a busy worker more than decoding the events does."""
        params = {"address": self._addresses, "fromBlock": hex(start), "toBlock": hex(end), "topics": topics}
        try:
            response = await self.client.w3.provider.make_request(RPCEndpoint("eth_getLogs"), [params])
        except (OSError, TimeoutError, Web3Exception) as exc:
            raise NetworkError(f"eth_getLogs {start}..{end} at {self.client.network.rpc_url} failed: {exc}") from exc
        if "error" in response:
            error = response["error"]
            text = str(error.get("message", error) if isinstance(error, dict) else error)
            if any(p in text.lower() for p in _TOO_LARGE) and not any(p in text.lower() for p in _RATE_LIMITED):
                raise _TooLarge(text)
            raise NetworkError(f"eth_getLogs {start}..{end} failed: {text}")
        return list(response.get("result") or [])

    def _decode(self, entry: Any) -> Event | None:
        """The decoded event of a log, or None for logs that are not ours (or were reorged out)."""
        topics = entry.get("topics") or []
        if not topics or entry.get("removed"):
            return None
        kind = self._kinds.get((str(entry["address"]).lower(), _bytes(topics[0])))
        if kind is None:
            return None
        try:
            args = kind.decode([_bytes(t) for t in topics], _bytes(entry["data"]))
        except (DecodingError, ValueError) as exc:  # same signature, other indexing: not our event
            log.debug("skipping undecodable %s log: %s", kind.name, exc)
            return None
        return Event(
            contract=kind.contract,
            name=kind.name,
            args=args,
            block_number=_int(entry["blockNumber"]),
            block_hash=_hex(entry["blockHash"]),
            tx_hash=_hex(entry["transactionHash"]),
            log_index=_int(entry["logIndex"]),
        )

    # ------------------------------------------------------------------ following new blocks

    async def follow(
        self,
        cursor: Cursor,
        *,
        confirmations: int = 0,
        poll_interval: float | None = None,
        stop: asyncio.Event | None = None,
        events: Iterable[str] | None = None,
        job_id: int | None = None,
        store: CursorStore | None = None,
    ) -> AsyncIterator[list[Event]]:
        """Yields the events of new blocks, one non-empty batch (<= log_batch blocks) at a time.

        Only blocks `confirmations` deep are read, so reorgs shallower than that are never seen.
        `cursor.next_block` advances past a batch only when the consumer asks for the next one, i.e.
        after it has handled the batch; `store` (if given) saves it right then. A crash or a `break`
        therefore redelivers at most the batch in hand: delivery is at-least-once per batch, never
        lossy, and a resumed follower starts exactly where the saved cursor says. (Saving the cursor
        yourself inside the loop body would record the position *before* the current batch.)
        Polls every `poll_interval` seconds (default: the network's); returns once `stop` is set.
        RPC errors propagate: restart from the cursor.
        """
        if confirmations < 0:
            raise ConfigError(f"confirmations must be >= 0, not {confirmations}")
        interval = self.client.network.poll_interval if poll_interval is None else poll_interval
        stop = stop or asyncio.Event()
        while not stop.is_set():
            head = await self.client.block_number() - confirmations
            if cursor.next_block > head:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)
                continue
            end = min(head, cursor.next_block + max(1, self.client.network.log_batch) - 1)
            batch = await self.read(cursor.next_block, end, events=events, job_id=job_id)
            if batch:
                yield batch
            cursor.next_block = end + 1
            if store is not None:
                store.save(cursor)

    # ------------------------------------------------------------------ websocket subscriptions

    def subscribe(
        self, *, events: Iterable[str] | None = None, job_id: int | None = None, ready: asyncio.Event | None = None
    ) -> AsyncIterator[Event]:
        """Events as the node pushes them over `eth_subscribe("logs")`, with the same filters as `read`.

        Lowest latency, but no history, no confirmations and no resume: logs the node retracts in a
        reorg are dropped, not undone. `ready` is set once the node has confirmed the subscription;
        subscribe, wait for it, then `read` the gap since your last cursor (and de-duplicate) to miss
        nothing. The socket closes when iteration ends; use `contextlib.aclosing` when you may break.
        """
        if not self.client.network.ws_url:
            raise NetworkError(
                f"network {self.client.network.name!r} has no websocket endpoint (ws_url)",
                hint="use LogReader.follow, which polls over HTTP",
            )
        # One subscription for all selected topic0s (job filtering after decoding): a single stream
        # keeps the node's (block, log index) order, which two subscriptions would not.
        topic0s = sorted({topic for query in self._queries(events, job_id) for topic in query[0]})
        return self._subscribe(self.client.network.ws_url, topic0s, job_id, ready)

    async def _subscribe(
        self, url: str, topic0s: list[str], job_id: int | None, ready: asyncio.Event | None
    ) -> AsyncIterator[Event]:
        network = self.client.network
        provider = WebSocketProvider(url, max_connection_retries=1)  # the caller decides about retrying
        w3 = AsyncWeb3(provider)
        try:
            await provider.connect()
        except (OSError, TimeoutError, Web3Exception) as exc:
            raise NetworkError(f"cannot open the websocket {url} of network {network.name!r}: {exc}") from exc
        try:
            if (chain_id := await w3.eth.chain_id) != network.chain_id:
                raise ChainIdMismatch(network.name, network.chain_id, chain_id)
            if topic0s:
                arg = {"address": self._addresses, "topics": [topic0s]}
                await w3.eth.subscribe("logs", cast(LogsSubscriptionArg, arg))
            if ready is not None:
                ready.set()
            if not topic0s:
                return
            async for message in w3.socket.process_subscriptions():
                event = self._decode(message["result"])
                if event is not None and _about(event, job_id):
                    yield event
        except (OSError, Web3Exception) as exc:
            raise NetworkError(f"the websocket subscription at {url} failed: {exc}") from exc
        finally:
            await provider.disconnect()


def _about(event: Event, job_id: int | None) -> bool:
    """Whether an event concerns `job_id` (always true without one)."""
    if job_id is None:
        return True
    args = event.args
    if "firstJobId" in args:
        return bool(args["firstJobId"] <= job_id < args["firstJobId"] + args["jobs"])
    value = args.get("jobId", args.get("jobIds"))
    return value == job_id or (isinstance(value, list | tuple) and job_id in value)


def _shape(item: dict[str, Any], value: Any) -> Any:
    """An eth_abi value in web3's form: checksummed addresses, structs as dicts by field name."""
    kind = item["type"]
    if kind.endswith("]"):
        element = {**item, "type": kind[: kind.rindex("[")]}
        return [_shape(element, v) for v in value]
    if kind == "tuple":
        return {c["name"]: _shape(c, v) for c, v in zip(item["components"], value, strict=True)}
    if kind == "address":
        return _checksum(value)
    return value


@functools.lru_cache(maxsize=65536)
def _checksum(address: str) -> str:
    return str(to_checksum_address(address))


def _bytes(value: Any) -> bytes:
    """Bytes from a raw JSON-RPC hex string or from web3's HexBytes (subscriptions)."""
    return bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)


def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex() if isinstance(value, bytes) else str(value)
