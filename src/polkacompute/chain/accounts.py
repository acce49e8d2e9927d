"""Keys: encrypted keystores for real networks, anvil's well-known dev keys for local ones only.

Keystores are standard Web3 Secret Storage (v3) JSON files, one per named account, in
`$POLKACOMPUTE_HOME/keystores` (default `~/.polkacompute/keystores`). Private keys never appear in logs,
reprs or error messages. eth-account signs through coincurve when it is installed (it is a dependency):
about ten times faster than the pure-Python backend.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from polkacompute.chain.networks import Network
from polkacompute.errors import AccountError, DevKeyRefused
from polkacompute.paths import home as home  # re-exported: `home` lived here first

Account.enable_unaudited_hdwallet_features()

DEV_MNEMONIC = "test test test test test test test test test test test junk"  # anvil's default
DEV_ACCOUNTS = 20
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Signer:
    """A loaded key. `repr` never shows the key."""

    name: str
    account: LocalAccount = field(repr=False)
    dev: bool = False

    @property
    def address(self) -> str:
        return str(self.account.address)

    def check_network(self, network: Network) -> None:
        """Development keys are public: using one outside a local network would hand funds to anyone."""
        if (self.dev or self.address in dev_addresses()) and not network.local:
            raise DevKeyRefused(
                f"{self.name} ({self.address}) is a well-known development key; refused on network {network.name!r}",
                hint="create or import a private key with `polkacompute account new` / `account import`",
            )


@cache
def dev_addresses() -> frozenset[str]:
    return frozenset(dev_account(i).address for i in range(DEV_ACCOUNTS))


@cache
def _dev_local_account(index: int) -> LocalAccount:
    account: LocalAccount = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return account


def dev_account(index: int) -> Signer:
    """Anvil's dev account `index` (0..19): funded on the devnet, refused everywhere else."""
    if not 0 <= index < DEV_ACCOUNTS:
        raise AccountError(f"dev account index {index} out of range", hint=f"use 0..{DEV_ACCOUNTS - 1}")
    return Signer(f"dev{index}", _dev_local_account(index), dev=True)


class Keystore:
    """Named, encrypted keys in one directory."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or home() / "keystores"

    def path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise AccountError(f"invalid account name {name!r}", hint="use letters, digits, '.', '_' or '-'")
        return self.directory / f"{name}.json"

    def names(self) -> list[str]:
        if not self.directory.exists():
            return []
        return sorted(p.stem for p in self.directory.glob("*.json"))

    def address_of(self, name: str) -> str:
        """The account's address, read from the keystore without decrypting it."""
        data = self._read(name)
        if "address" not in data:
            raise AccountError(f"keystore of {name!r} does not record its address", hint="load it with its password")
        return _checksum(data["address"])

    def create(self, name: str, password: str) -> Signer:
        """A new random key, saved encrypted under `name`."""
        return self._save(name, Account.create(), password)

    def import_key(self, name: str, private_key: str, password: str) -> Signer:
        """Saves an existing private key (hex) encrypted under `name`."""
        try:
            account = Account.from_key(private_key)
        except (ValueError, TypeError) as exc:
            raise AccountError("not a valid private key", hint="give 32 bytes as hex, with or without 0x") from exc
        return self._save(name, account, password)

    def load(self, name: str, password: str) -> Signer:
        data = self._read(name)
        try:
            key = Account.decrypt(data, password)
        except ValueError as exc:
            raise AccountError(f"cannot decrypt account {name!r}: wrong password") from exc
        return Signer(name, Account.from_key(key))

    def _save(self, name: str, account: LocalAccount, password: str) -> Signer:
        path = self.path(name)
        if path.exists():
            raise AccountError(f"account {name!r} already exists", hint=f"choose another name or remove {path}")
        if not password:
            raise AccountError("an empty password would leave the key unprotected", hint="set a password")
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        encrypted = Account.encrypt(account.key, password)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(encrypted, fh)
        tmp.replace(path)
        return Signer(name, account)

    def _read(self, name: str) -> dict[str, object]:
        path = self.path(name)
        if not path.exists():
            raise AccountError(f"no account named {name!r} in {self.directory}", hint="see `polkacompute account list`")
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise AccountError(f"keystore {path} is unreadable or not JSON") from exc
        if not isinstance(data, dict):
            raise AccountError(f"keystore {path} is not a keystore object")
        return data


def _checksum(address: object) -> str:
    from web3 import Web3

    return str(Web3.to_checksum_address("0x" + str(address).removeprefix("0x")))
