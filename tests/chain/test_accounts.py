import stat
from pathlib import Path

import pytest

from polkacompute.chain.accounts import Keystore, dev_account, dev_addresses
from polkacompute.chain.networks import NETWORKS
from polkacompute.errors import AccountError, DevKeyRefused


def test_keystore_round_trip_is_encrypted_and_private(home: Path) -> None:
    ks = Keystore()
    created = ks.create("alice", "correct horse")
    path = ks.path("alice")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert created.account.key.hex() not in text  # only ciphertext on disk
    assert '"crypto"' in text or '"Crypto"' in text
    loaded = ks.load("alice", "correct horse")
    assert loaded.address == created.address == ks.address_of("alice")
    assert ks.names() == ["alice"]
    assert created.account.key.hex() not in repr(loaded)


def test_wrong_password_and_missing_account_fail_clearly(home: Path) -> None:
    ks = Keystore()
    ks.create("bob", "pw")
    with pytest.raises(AccountError, match="wrong password"):
        ks.load("bob", "nope")
    with pytest.raises(AccountError, match="no account named 'carol'"):
        ks.load("carol", "pw")


def test_import_rejects_bad_keys_names_duplicates_and_empty_passwords(home: Path) -> None:
    ks = Keystore()
    with pytest.raises(AccountError, match="not a valid private key"):
        ks.import_key("x", "0x1234", "pw")
    with pytest.raises(AccountError, match="invalid account name"):
        ks.import_key("../evil", "0x" + "11" * 32, "pw")
    with pytest.raises(AccountError, match="empty password"):
        ks.import_key("x", "0x" + "11" * 32, "")
    signer = ks.import_key("x", "0x" + "11" * 32, "pw")
    assert signer.address == ks.load("x", "pw").address
    with pytest.raises(AccountError, match="already exists"):
        ks.import_key("x", "0x" + "22" * 32, "pw")


def test_dev_keys_only_on_local_networks(home: Path) -> None:
    dev = dev_account(0)
    assert dev.address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    dev.check_network(NETWORKS["local"])
    with pytest.raises(DevKeyRefused, match="well-known development key"):
        dev.check_network(NETWORKS["hub-testnet"])
    # importing a dev key into a keystore does not launder it
    imported = Keystore().import_key("sneaky", dev.account.key.hex(), "pw")
    assert imported.address in dev_addresses()
    with pytest.raises(DevKeyRefused):
        imported.check_network(NETWORKS["polkadot-hub"])
    with pytest.raises(AccountError, match="out of range"):
        dev_account(20)
