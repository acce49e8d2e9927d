"""The log reader against a real anvil: decoding, batching, filters, the cursor, following, websockets."""

import asyncio
import json
import threading
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from polkacompute.chain.accounts import dev_account
from polkacompute.chain.client import ChainClient
from polkacompute.chain.deploy import Deployment
from polkacompute.chain.events import Cursor, CursorStore, Event, LogReader
from polkacompute.chain.networks import Network
from polkacompute.errors import ConfigError, NetworkError
from tests.conftest import free_port

PRICE = 10**15
REGION = b"eu-west\x00"
WAIT = 5.0  # seconds: the bound on every wait for an event


def job_spec(now: int) -> tuple[Any, ...]:
    """An instant-mode job (bid window 0): quorum 2 of 3, deadlines ahead of the chain's clock."""
    return (
        b"\x01" * 32,
        b"\x02" * 32,
        b"wasi".ljust(32, b"\x00"),
        1,
        3,
        2,
        10**9,
        60,
        PRICE,
        "0x" + "00" * 20,
        0,
        now + 600,
        now + 1200,
        0,
        False,
        b"\x00" * 32,
        0,
    )


@dataclass
class History:
    start: int  # first block of the produced history
    end: int  # last block
    provider: str
    requester: str
    receipts: list[dict[str, Any]]


async def produce(net: Network, deployment: Deployment) -> History:
    """Two providers register (one adds stake), two jobs are submitted, job 1 claimed, job 2 cancelled."""
    receipts = []
    async with (
        ChainClient(net, dev_account(3)) as p1,
        ChainClient(net, dev_account(4)) as p2,
        ChainClient(net, dev_account(5)) as req,
    ):
        registry = p1.contract("ProviderRegistry", deployment.address("ProviderRegistry"))
        market = req.contract("JobMarket", deployment.address("JobMarket"))
        start = await p1.block_number() + 1
        receipts.append(
            await p1.send(registry.functions.register(1, b"\x07" * 32, b"peer-1", REGION), value=2 * 10**18)
        )
        receipts.append(
            await p2.send(registry.functions.register(1, b"\x08" * 32, b"peer-2", REGION), value=2 * 10**18)
        )
        receipts.append(await p1.send(registry.functions.addStake(), value=PRICE))
        now = (await req.w3.eth.get_block("latest"))["timestamp"]
        for _ in range(2):
            receipts.append(await req.send(market.functions.submitJob(job_spec(now)), value=3 * PRICE))
        claim = p1.contract("JobMarket", deployment.address("JobMarket")).functions.claimJob(1, [])
        receipts.append(await p1.send(claim))
        receipts.append(await req.send(market.functions.cancel(2)))
        return History(start, await p1.block_number(), p1.signer.address, req.signer.address, receipts)


EXPECTED = [
    ("ProviderRegistry", "ProviderRegistered"),
    ("ProviderRegistry", "ReputationChanged"),  # the initial reputation, with jobId 0
    ("ProviderRegistry", "ProviderRegistered"),
    ("ProviderRegistry", "ReputationChanged"),
    ("ProviderRegistry", "StakeAdded"),
    ("JobMarket", "JobSubmitted"),
    ("PaymentEscrow", "Deposited"),
    ("JobMarket", "JobSubmitted"),
    ("PaymentEscrow", "Deposited"),
    ("JobMarket", "JobAssigned"),
    ("ProviderRegistry", "CollateralLocked"),
    ("JobMarket", "JobCancelled"),
    ("PaymentEscrow", "Refunded"),
]


def kinds(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.contract, e.name) for e in events]


async def add_stake(net: Network, deployment: Deployment, *, register: bool = False) -> dict[str, Any]:
    async with ChainClient(net, dev_account(6)) as client:
        registry = client.contract("ProviderRegistry", deployment.address("ProviderRegistry"))
        if register:
            await client.send(registry.functions.register(1, b"\x09" * 32, b"peer-6", REGION), value=2 * 10**18)
        return await client.send(registry.functions.addStake(), value=PRICE)


def test_read_decodes_names_and_args_in_order(anvil: Network, deployment: Deployment) -> None:
    async def run() -> None:
        history = await produce(anvil, deployment)
        async with ChainClient(anvil) as client:
            events = await LogReader(client, deployment.addresses).read(history.start, history.end)
        assert kinds(events) == EXPECTED
        assert [(e.block_number, e.log_index) for e in events] == sorted((e.block_number, e.log_index) for e in events)
        registered, submitted, assigned, locked = events[0], events[5], events[9], events[10]
        assert registered.args == {
            "provider": history.provider,
            "capabilities": 1,
            "metadataDigest": b"\x07" * 32,
            "peerId": b"peer-1",
            "region": REGION,
            "stake": 2 * 10**18,
        }
        assert registered.tx_hash == history.receipts[0]["transactionHash"].to_0x_hex()
        assert registered.block_hash == history.receipts[0]["blockHash"].to_0x_hex()
        assert registered.block_number == history.start
        assert submitted.args["jobId"] == 1
        assert submitted.args["requester"] == history.requester
        assert submitted.args["spec"]["replicas"] == 3
        assert submitted.args["spec"]["quorum"] == 2
        assert submitted.args["spec"]["maxPricePerReplica"] == PRICE
        assert assigned.args == {"jobId": 1, "workers": [history.provider], "prices": [PRICE]}
        assert locked.args["jobIds"] == [1]
        assert locked.args["provider"] == history.provider

    asyncio.run(run())


def test_unknown_logs_and_other_contracts_are_skipped(anvil: Network, deployment: Deployment) -> None:
    async def run() -> None:
        async with ChainClient(anvil) as client:
            head = await client.block_number()
            market = deployment.address("JobMarket")
            raw = await client.w3.eth.get_logs({"address": market, "fromBlock": deployment.block, "toBlock": head})
            only_market = LogReader(client, {"JobMarket": market, "JobMarketExtension": market, "Other": market})
            decoded = await only_market.read(deployment.block, head)
        # the constructor's RoleGranted logs are not in the IJobMarket ABI: skipped, ParamsUpdated decoded
        assert len(raw) > len(decoded) >= 1
        assert {e.name for e in decoded} == {"ParamsUpdated"}
        assert all(e.contract == "JobMarket" for e in decoded)

    asyncio.run(run())


def test_small_batches_give_the_same_result_as_one_request(anvil: Network, deployment: Deployment) -> None:
    async def run() -> None:
        history = await produce(anvil, deployment)
        async with ChainClient(anvil) as big, ChainClient(replace(anvil, log_batch=2)) as small:
            whole = await LogReader(big, deployment.addresses).read(deployment.block, history.end)
            batched = await LogReader(small, deployment.addresses).read(deployment.block, history.end)
        assert batched == whole
        assert kinds(whole[-len(EXPECTED) :]) == EXPECTED

    asyncio.run(run())


def test_event_name_filter(anvil: Network, deployment: Deployment) -> None:
    async def run() -> None:
        history = await produce(anvil, deployment)
        async with ChainClient(anvil) as client:
            reader = LogReader(client, deployment.addresses)
            events = await reader.read(history.start, history.end, events={"JobSubmitted", "StakeAdded"})
            assert [e.name for e in events] == ["StakeAdded", "JobSubmitted", "JobSubmitted"]
            assert [e.name for e in await reader.read(history.start, history.end, events="Refunded")] == ["Refunded"]
            with pytest.raises(ConfigError, match="unknown event"):
                await reader.read(history.start, history.end, events=["JobSubmited"])

    asyncio.run(run())


def test_job_id_filter(anvil: Network, deployment: Deployment) -> None:
    async def run() -> None:
        history = await produce(anvil, deployment)
        async with ChainClient(replace(anvil, log_batch=3)) as client:
            reader = LogReader(client, deployment.addresses)
            job1 = await reader.read(history.start, history.end, job_id=1)
            job2 = await reader.read(history.start, history.end, job_id=2)
            # node-filtered (jobId first indexed) and decoded-then-filtered (jobIds list, firstJobId range) alike
            assert [e.name for e in job1] == ["JobSubmitted", "Deposited", "JobAssigned", "CollateralLocked"]
            assert [e.name for e in job2] == ["JobSubmitted", "Deposited", "JobCancelled", "Refunded"]
            assert await reader.read(history.start, history.end, job_id=3) == []
            # jobId indexed second: filtered after decoding (registration records reputation under job 0)
            assert [e.name for e in await reader.read(history.start, history.end, job_id=0)] == [
                "ReputationChanged"
            ] * 2
            locked = await reader.read(history.start, history.end, events=["CollateralLocked"], job_id=2)
            assert locked == []
            with pytest.raises(ConfigError, match="StakeAdded carry no job id"):
                await reader.read(history.start, history.end, events=["StakeAdded"], job_id=1)

    asyncio.run(run())


def test_cursor_store_is_atomic_json(tmp_path: Path) -> None:
    store = CursorStore(tmp_path / "state" / "cursor.json")
    assert store.load(default=42) == Cursor(42)
    store.save(Cursor(7))
    assert json.loads(store.path.read_text()) == {"next_block": 7}
    assert CursorStore(store.path).load(default=42) == Cursor(7)
    assert [p.name for p in store.path.parent.iterdir()] == ["cursor.json"]  # no temp file left behind
    store.path.write_text('{"next_block": -1}')
    with pytest.raises(ConfigError, match="no valid next_block"):
        store.load()
    store.path.write_text("{torn")
    with pytest.raises(ConfigError, match="unreadable"):
        store.load()


def test_follow_resumes_from_saved_cursor_without_loss_or_duplicates(
    anvil: Network, deployment: Deployment, tmp_path: Path
) -> None:
    async def run() -> None:
        history = await produce(anvil, deployment)
        net = replace(anvil, log_batch=2)
        store = CursorStore(tmp_path / "cursor.json")
        async with ChainClient(net) as client:
            reader = LogReader(client, deployment.addresses)
            expected = await reader.read(history.start, history.end)
            handled: list[Event] = []

            # first run: handles two batches, then "crashes" while holding the third
            cursor = store.load(default=history.start)
            async with aclosing(reader.follow(cursor, store=store)) as batches:
                for _ in range(3):
                    batch = await asyncio.wait_for(anext(batches), WAIT)
                    handled.extend(batch)
            crashed_with = batch
            handled = handled[: -len(crashed_with)]  # the third batch was never acknowledged
            assert crashed_with[0].block_number == history.start + 4  # batches are 2 blocks, each block has events
            assert store.load().next_block == history.start + 4

            # second run: resumes at the saved cursor, gets the third batch again and the rest once
            cursor = store.load(default=0)
            stop = asyncio.Event()
            async with aclosing(reader.follow(cursor, store=store, stop=stop)) as batches:
                async with asyncio.timeout(WAIT):
                    async for batch in batches:
                        handled.extend(batch)
                        if handled[-1] == expected[-1]:
                            stop.set()
        assert handled == expected
        assert store.load().next_block == expected[-1].block_number + 1

    asyncio.run(run())


def test_follow_yields_newly_mined_events_after_confirmations_and_stops(anvil: Network, deployment: Deployment) -> None:
    async def run() -> None:
        async with ChainClient(anvil) as client:
            reader = LogReader(client, deployment.addresses)
            await add_stake(anvil, deployment, register=True)  # history before the cursor: never yielded
            cursor = Cursor(await client.block_number() + 1)
            stop = asyncio.Event()
            batches = reader.follow(cursor, confirmations=1, poll_interval=0.01, stop=stop)
            pending = asyncio.ensure_future(anext(batches))
            receipt = await add_stake(anvil, deployment)
            await asyncio.sleep(0.2)
            assert not pending.done()  # one block deep only after the next block
            await client.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            batch = await asyncio.wait_for(pending, WAIT)
            assert [(e.name, e.block_number) for e in batch] == [("StakeAdded", receipt["blockNumber"])]
            assert cursor.next_block == receipt["blockNumber"]  # advanced only when the next batch is asked for
            stop.set()
            with pytest.raises(StopAsyncIteration):
                await asyncio.wait_for(anext(batches), WAIT)
            assert cursor.next_block == receipt["blockNumber"] + 1

    asyncio.run(run())


def test_follow_stops_promptly_while_idle(anvil: Network, deployment: Deployment) -> None:
    async def run() -> None:
        async with ChainClient(anvil) as client:
            reader = LogReader(client, deployment.addresses)
            stop = asyncio.Event()
            asyncio.get_running_loop().call_later(0.1, stop.set)
            cursor = Cursor(await client.block_number() + 1)
            async with asyncio.timeout(WAIT):  # the poll interval is far longer: stop must wake it
                batches = [b async for b in reader.follow(cursor, poll_interval=60, stop=stop)]
            assert batches == []

    asyncio.run(run())


def test_subscribe_receives_an_event_sent_after_subscribing(anvil: Network, deployment: Deployment) -> None:
    ws = replace(anvil, ws_url=anvil.rpc_url.replace("http", "ws"))

    async def run() -> None:
        async with ChainClient(ws) as client:
            reader = LogReader(client, deployment.addresses)
            ready, job_ready = asyncio.Event(), asyncio.Event()

            async def first(events: AsyncIterator[Event]) -> Event:
                async with aclosing(events):
                    return await anext(events)

            task = asyncio.ensure_future(first(reader.subscribe(events=["StakeAdded"], ready=ready)))
            job_task = asyncio.ensure_future(first(reader.subscribe(job_id=1, ready=job_ready)))
            await asyncio.wait_for(asyncio.gather(ready.wait(), job_ready.wait()), WAIT)
            await produce(anvil, deployment)  # only StakeAdded passes the first filter
            event = await asyncio.wait_for(task, WAIT)
            job_event = await asyncio.wait_for(job_task, WAIT)  # ReputationChanged(jobId 0) is filtered out
            assert (job_event.name, job_event.args["jobId"]) == ("JobSubmitted", 1)
            block = event.block_number
            assert event.name == "StakeAdded"
            assert event.contract == "ProviderRegistry"
            assert event.args["amount"] == PRICE
            assert [event] == await reader.read(block, block, events=["StakeAdded"])  # same as polled

    asyncio.run(run())


def test_subscribe_without_ws_url_says_to_follow(anvil: Network, deployment: Deployment) -> None:
    assert anvil.ws_url is None
    reader = LogReader(ChainClient(anvil), deployment.addresses)
    with pytest.raises(NetworkError, match="no websocket endpoint") as err:
        reader.subscribe()
    assert "follow" in str(err.value)


def test_unreachable_websocket_is_a_network_error(anvil: Network, deployment: Deployment) -> None:
    dead = replace(anvil, ws_url=f"ws://127.0.0.1:{free_port()}")

    async def run() -> None:
        async with aclosing(LogReader(ChainClient(dead), deployment.addresses).subscribe()) as events:
            await asyncio.wait_for(anext(events), WAIT)

    with pytest.raises(NetworkError, match="cannot open the websocket"):
        asyncio.run(run())


# ---------------------------------------------------------------------- a node with a getLogs range limit


@pytest.fixture
def limited(anvil: Network) -> Iterator[tuple[Network, list[int], list[int]]]:
    """anvil behind a proxy that refuses eth_getLogs over more than `limit[0]` blocks, as hosted nodes do."""
    limit = [3]
    spans: list[int] = []

    class Proxy(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            request = json.loads(body)
            if request.get("method") == "eth_getLogs":
                params = request["params"][0]
                span = int(params["toBlock"], 16) - int(params["fromBlock"], 16) + 1
                spans.append(span)
                if span > limit[0]:
                    error = {"code": -32005, "message": f"query exceeds max block range {limit[0]}"}
                    return self._reply(json.dumps({"jsonrpc": "2.0", "id": request["id"], "error": error}).encode())
            forward = urllib.request.Request(anvil.rpc_url, body, {"Content-Type": "application/json"})  # noqa: S310
            with urllib.request.urlopen(forward, timeout=10) as response:  # noqa: S310 (anvil's http URL)
                return self._reply(response.read())

        def _reply(self, data: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield replace(anvil, rpc_url=f"http://127.0.0.1:{server.server_port}", log_batch=100), spans, limit
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_ranges_the_node_refuses_are_halved(
    anvil: Network, deployment: Deployment, limited: tuple[Network, list[int], list[int]]
) -> None:
    net, spans, limit = limited

    async def run() -> None:
        history = await produce(anvil, deployment)
        async with ChainClient(anvil) as direct, ChainClient(net) as proxied:
            expected = await LogReader(direct, deployment.addresses).read(history.start, history.end)
            reader = LogReader(proxied, deployment.addresses)
            assert await reader.read(history.start, history.end) == expected
            assert spans[0] == history.end - history.start + 1
            assert max(spans[1:]) <= limit[0]
            limit[0] = 0  # a node that refuses even one block: bounded, then a clear error
            with pytest.raises(NetworkError, match="refuses eth_getLogs even for block"):
                await reader.read(history.start, history.end)

    asyncio.run(run())


def test_decoding_matches_web3(anvil: Network, deployment: Deployment) -> None:
    """The reader decodes with eth_abi directly; every log must read exactly as web3's `process_log` has it."""
    from web3.utils import log_topic_to_bytes

    from polkacompute.chain.events import SOURCES

    def plain(value: Any) -> Any:
        if isinstance(value, dict):  # web3's AttributeDict for structs
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    async def run() -> None:
        history = await produce(anvil, deployment)
        async with ChainClient(anvil) as client:
            reader = LogReader(client, deployment.addresses)
            events = await reader.read(history.start, history.end)
            addresses = [deployment.address(c) for c in SOURCES if c in deployment.addresses]
            logs = await client.w3.eth.get_logs({"fromBlock": history.start, "toBlock": history.end,
                                                 "address": addresses})  # fmt: skip
            by_address = {deployment.address(c).lower(): c for c in SOURCES if c in deployment.addresses}
            expected = []
            for entry in logs:
                contract = client.contract(by_address[entry["address"].lower()], entry["address"])
                event = contract.get_event_by_topic("0x" + log_topic_to_bytes(entry["topics"][0]).hex())
                expected.append(plain(dict(event.process_log(entry)["args"])))
        assert len(events) == len(expected) == len(EXPECTED)
        assert [plain(e.args) for e in events] == expected

    asyncio.run(run())
