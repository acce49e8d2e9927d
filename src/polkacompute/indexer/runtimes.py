"""Names for the runtime identities jobs carry: a job names its runtime by a digest of the runtime's
pinned parts (`runtimes.base.identity_of`), which only a machine with that runtime can recompute."""

from __future__ import annotations

import logging
from functools import cache

from polkacompute.errors import PolkaComputeError
from polkacompute.runtimes import NAMES, get_runtime

log = logging.getLogger(__name__)


@cache
def known_runtimes() -> dict[str, str]:
    """0x-hex identity -> name, for each runtime installed here (the others are left unnamed)."""
    names = {}
    for name in NAMES:
        try:
            names["0x" + get_runtime(name).identity.hex()] = name
        except (PolkaComputeError, OSError, ImportError) as exc:
            log.info("runtime %s is not installed here; its jobs show the identity only (%s)", name, exc)
    return names


def runtime_name(identity: str) -> str | None:
    """The runtime's name if it is installed here, or a name padded into bytes32 (older submissions)."""
    if identity in known_runtimes():
        return known_runtimes()[identity]
    text = bytes.fromhex(identity.removeprefix("0x")).rstrip(b"\x00")
    return text.decode() if text and text.isascii() and text.decode().isidentifier() else None


def runtime_identities(runtime: str) -> list[str]:
    """What a runtime filter matches as stored: a 0x identity as given; a name, its identity here (if
    installed) and the name padded into bytes32 (as older submissions carry it)."""
    if runtime.startswith("0x"):
        return [runtime.lower()]
    padded = runtime.encode()
    if len(padded) > 32:
        raise ValueError(f"a runtime name is at most 32 bytes, not {runtime!r}")
    by_name = {name: identity for identity, name in known_runtimes().items()}
    return [*([by_name[runtime]] if runtime in by_name else []), "0x" + padded.ljust(32, b"\x00").hex()]
