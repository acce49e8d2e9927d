"""Start-up time of the CLI: what third-party imports it defers.

eth-account (imported by web3, so by every command that reads the chain) imports eth-keyfile, which
imports py_ecc's BLS12-381 code for validator keystores; importing that code precomputes pairing tables,
about a second of CPU per process on this machine's cores, for keys PolkaCompute never reads (its
keystores are secp256k1). `defer_keyfile` puts a stand-in for `eth_keyfile` in `sys.modules` whose
functions load the real module on their first call (encrypting or decrypting a keystore), so the cost
is paid only by the commands that do. Only for the eth-keyfile release it was written against: with
another one, nothing is deferred.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Literal

KEYFILE_VERSION = "0.10.0"  # requirements.lock; its API: the four functions and KDFType below
FUNCTIONS = ("create_keyfile_json", "decode_keyfile_json", "extract_key_from_keyfile", "load_keyfile")
_lock = threading.Lock()
_real: types.ModuleType | None = None


def defer_keyfile() -> bool:
    """Installs the stand-in (before anything imports eth_account); False if it cannot (already imported,
    or another eth-keyfile release)."""
    if "eth_keyfile" in sys.modules:
        return False
    spec = find_spec("eth_keyfile")  # its release, from its dist-info beside it (importlib.metadata is slower)
    if spec is None or spec.origin is None:
        return False
    if not (Path(spec.origin).parent.parent / f"eth_keyfile-{KEYFILE_VERSION}.dist-info").is_dir():
        return False
    package, keyfile = types.ModuleType("eth_keyfile"), types.ModuleType("eth_keyfile.keyfile")
    package.__path__ = []  # a package, so `from eth_keyfile.keyfile import ...` finds the submodule below
    for name in FUNCTIONS:
        setattr(package, name, _forward(name))
        setattr(keyfile, name, getattr(package, name))
    keyfile.KDFType = Literal["pbkdf2", "scrypt"]  # type: ignore[attr-defined]
    package.keyfile = keyfile  # type: ignore[attr-defined]
    package.deferred = True  # type: ignore[attr-defined]  # what tests look for
    sys.modules["eth_keyfile"], sys.modules["eth_keyfile.keyfile"] = package, keyfile
    return True


def _forward(name: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(_load(), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


def _load() -> types.ModuleType:
    """The real `eth_keyfile.keyfile`, imported on first use in place of the stand-in."""
    global _real
    with _lock:
        if _real is None:
            names: tuple[str, ...] = ("eth_keyfile", "eth_keyfile.keyfile")
            stand_ins = {n: sys.modules.pop(n) for n in names if n in sys.modules}
            try:
                _real = importlib.import_module("eth_keyfile.keyfile")
            except BaseException:
                sys.modules.update(stand_ins)
                raise
        return _real
