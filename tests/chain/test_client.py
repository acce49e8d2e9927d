"""The chain layer against a real anvil: connect checks, deployment, typed reverts, nonces."""

import asyncio
from dataclasses import replace

import pytest
from eth_account import Account

from polkacompute.chain.accounts import Signer, dev_account
from polkacompute.chain.client import ChainClient
from polkacompute.chain.deploy import Deployment, load_deployment, save_deployment, verify_deployment
from polkacompute.chain.networks import Network
from polkacompute.errors import ChainIdMismatch, ContractError, DeploymentError, InsufficientFunds, NetworkError
from tests.conftest import free_port

BAD_SPEC = (
    b"\x01" * 32,
    b"\x02" * 32,
    b"wasi".ljust(32, b"\x00"),
    1,
    3,
    1,
    10**9,
    60,
    10**18,
    "0x" + "00" * 20,
    0,
    2**31,
    2**31 + 1,
    0,
    False,
    b"\x00" * 32,
    0,
)


def test_connect_checks_chain_id(anvil: Network) -> None:
    async def run() -> None:
        async with ChainClient(anvil) as client:
            assert await client.block_number() >= 0
        with pytest.raises(ChainIdMismatch, match="expects chain id 1, but the RPC endpoint reports 31337"):
            async with ChainClient(replace(anvil, chain_id=1)):
                pass

    asyncio.run(run())


def test_unreachable_rpc_is_a_network_error() -> None:
    dead = Network("local", 31337, f"http://127.0.0.1:{free_port()}", local=True)

    async def run() -> None:
        async with ChainClient(dead):
            pass

    with pytest.raises(NetworkError, match="cannot reach the RPC endpoint"):
        asyncio.run(run())


def test_deployment_is_recorded_and_verifiable(anvil: Network, deployment: Deployment, tmp_path) -> None:
    assert set(deployment.addresses) == {
        "PaymentEscrow",
        "ProviderRegistry",
        "BidBook",
        "JobMarketExtension",
        "JobMarket",
        "Governance",
    }
    path = save_deployment(deployment, tmp_path)
    loaded = load_deployment("local", path)
    assert loaded == deployment
    assert loaded.compiler["evmVersion"] == "cancun"

    async def run() -> None:
        async with ChainClient(anvil) as client:
            await verify_deployment(client, loaded)
            market = client.contract("JobMarket", loaded.address("JobMarket"))
            assert await client.call(market.functions.jobCount()) == 0
            # Governance (the timelock) administers every contract; the deployer wired them and holds
            # no admin power, only the guardian and arbiter roles of the default config.
            governance = loaded.address("Governance")
            for name in ("PaymentEscrow", "ProviderRegistry", "BidBook", "JobMarket"):
                c = client.contract(name, loaded.address(name))
                assert await client.call(c.functions.defaultAdmin()) == governance, name
                assert not await client.call(c.functions.hasRole(b"\x00" * 32, loaded.deployer)), name
            escrow = client.contract("PaymentEscrow", loaded.address("PaymentEscrow"))
            market_role = await client.call(escrow.functions.MARKET_ROLE())
            assert await client.call(escrow.functions.hasRole(market_role, loaded.address("JobMarket")))
            arbiter_role = await client.call(market.functions.ARBITER_ROLE())
            assert await client.call(market.functions.hasRole(arbiter_role, loaded.deployer))
            forged = replace(loaded, code_hashes={**loaded.code_hashes, "BidBook": "0x" + "00" * 32})
            with pytest.raises(DeploymentError, match="does not hold the deployed code"):
                await verify_deployment(client, forged)

    asyncio.run(run())


def test_missing_deployment_says_how_to_deploy(home, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DeploymentError, match="polkacompute deploy --network hub-testnet"):
        load_deployment("hub-testnet")


def test_custom_error_is_decoded_before_sending(anvil: Network, deployment: Deployment) -> None:
    async def run() -> None:
        async with ChainClient(anvil, dev_account(1)) as client:
            market = client.contract("JobMarket", deployment.address("JobMarket"))
            nonce_before = await client.w3.eth.get_transaction_count(client.signer.address)
            with pytest.raises(ContractError) as err:
                await client.send(market.functions.submitJob(BAD_SPEC), value=3 * 10**18)
            assert err.value.name == "InvalidQuorum"
            assert err.value.args_by_name == {"quorum": 1, "replicas": 3}
            assert "InvalidQuorum(quorum=1, replicas=3)" in str(err.value)
            assert await client.w3.eth.get_transaction_count(client.signer.address) == nonce_before

    asyncio.run(run())


def test_insufficient_funds_is_typed(anvil: Network, deployment: Deployment) -> None:
    pauper = Signer("pauper", Account.create())

    async def run() -> None:
        async with ChainClient(anvil, pauper) as client:
            registry = client.contract("ProviderRegistry", deployment.address("ProviderRegistry"))
            with pytest.raises((InsufficientFunds, ContractError)) as err:
                await client.send(registry.functions.register(1, b"\x00" * 32, b"", b"\x00" * 8), value=10**19)
            assert "fund" in str(err.value) or "insufficient" in str(err.value).lower()

    asyncio.run(run())


def test_concurrent_sends_from_one_signer_get_distinct_nonces(anvil: Network, deployment: Deployment) -> None:
    async def run() -> None:
        async with ChainClient(anvil, dev_account(2)) as client:
            registry = client.contract("ProviderRegistry", deployment.address("ProviderRegistry"))
            await client.send(registry.functions.register(1, b"\x00" * 32, b"peer", b"eu-west\x00"), value=10**19)
            receipts = await asyncio.gather(
                *(client.send(registry.functions.addStake(), value=10**15) for _ in range(12))
            )
            assert all(r["status"] == 1 for r in receipts)
            info = await client.call(registry.functions.providerInfo(client.signer.address))
            assert info[1] == 10**19 + 12 * 10**15

    asyncio.run(run())
