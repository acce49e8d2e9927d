"""The status protocol: a signed, fresh answer; a node speaking for another account is caught."""

import asyncio
import json
from dataclasses import asdict

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from polkacompute.chain.accounts import dev_account
from polkacompute.errors import NetworkError
from polkacompute.net import LOCAL
from polkacompute.p2p import Node, key_pair_of
from polkacompute.p2p.status import PROTOCOL, Status, query_status, serve_status

CHAIN = 31337


def snapshot() -> dict[str, object]:
    return {"chain_time": 1_800_000_000, "jobs_in_flight": 3, "runtimes": ["onnx", "wasi"], "uptime_s": 12.34}


def test_a_worker_answers_with_its_status_signed_by_its_account() -> None:
    async def run() -> None:
        worker, asker = (Node(key_pair_of(dev_account(i)), outbound=LOCAL) for i in (2, 3))
        serve_status(worker, dev_account(2), CHAIN, snapshot)
        await worker.start()
        await asker.start()
        try:
            status = await query_status(asker, worker.addrs[0], CHAIN)
            assert status.address == dev_account(2).address
            assert status.peer_id == worker.peer_id
            assert (status.jobs_in_flight, status.runtimes, status.uptime_s) == (3, ("onnx", "wasi"), 12.3)
            with pytest.raises(NetworkError, match="serves chain 31337, not 1"):
                await query_status(asker, worker.addrs[0], 1)
            answer = await asker.request(worker.addrs[0], PROTOCOL, b"short")
            assert json.loads(answer) == {"error": "the request is a 32-byte nonce"}
        finally:
            await worker.stop()
            await asker.stop()

    asyncio.run(run())


def test_a_status_signed_by_another_key_than_the_address_it_names_is_refused() -> None:
    async def run() -> None:
        liar, asker = (Node(key_pair_of(dev_account(i)), outbound=LOCAL) for i in (4, 3))

        async def forged(peer: str, nonce: bytes) -> bytes:  # claims dev 2's address, signs with dev 4's key
            status = Status(dev_account(2).address, liar.peer_id, CHAIN, "0.1.0", 0, 0, (), 0.0)
            signature = Account.sign_message(encode_defunct(status.digest(nonce)), dev_account(4).account.key)
            return json.dumps({"status": asdict(status), "signature": bytes(signature.signature).hex()}).encode()

        liar.handle(PROTOCOL, forged)
        await liar.start()
        await asker.start()
        try:
            with pytest.raises(NetworkError, match=f"claims to be {dev_account(2).address} but its status is signed"):
                await query_status(asker, liar.addrs[0], CHAIN)
        finally:
            await liar.stop()
            await asker.stop()

    asyncio.run(run())
