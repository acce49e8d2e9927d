import pytest

from polkacompute.chain.networks import NETWORKS, get_network
from polkacompute.errors import ConfigError


def test_known_networks_have_the_hub_chain_ids() -> None:
    assert NETWORKS["hub-testnet"].chain_id == 420420417
    assert NETWORKS["polkadot-hub"].chain_id == 420420419
    assert NETWORKS["kusama-hub"].chain_id == 420420418
    assert NETWORKS["local"].local
    assert not NETWORKS["polkadot-hub"].local


def test_known_network_at_another_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLKACOMPUTE_RPC_URL", raising=False)
    net = get_network("hub-testnet", rpc_url="http://127.0.0.1:9999")
    assert net.rpc_url == "http://127.0.0.1:9999"
    assert net.chain_id == 420420417
    monkeypatch.setenv("POLKACOMPUTE_RPC_URL", "http://127.0.0.1:7777")
    assert get_network("polkadot-hub").rpc_url == "http://127.0.0.1:7777"


def test_custom_network_needs_url_and_chain_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLKACOMPUTE_RPC_URL", raising=False)
    with pytest.raises(ConfigError, match="unknown network 'mine'") as err:
        get_network("mine", rpc_url="http://127.0.0.1:1")
    assert "--rpc-url and --chain-id" in str(err.value)
    custom = get_network("mine", rpc_url="http://127.0.0.1:8545", chain_id=31337)
    assert custom.local
    assert custom.chain_id == 31337
    assert not get_network("remote", rpc_url="http://10.1.2.3:8545", chain_id=31337).local


def test_known_network_with_wrong_chain_id_is_refused() -> None:
    with pytest.raises(ConfigError, match="has chain id 420420419, not 5"):
        get_network("polkadot-hub", chain_id=5)
