"""libp2p dials under the outbound policy: the host's one TCP transport checks what it connects to.

py-libp2p dials from many places (`Node.connect` and `Node.request` here; its DHT's lookups; addresses
peers tell each other), and every one of them goes through the swarm's transports. `PolicedTCP` is the
only transport a `Node` has, so every outgoing connection passes `pinned` first: an /ip4 or /ip6
address is checked as it is; a /dns, /dns4 or /dns6 name is resolved here, each address checked, and
the dial goes to an allowed address written into the multiaddr (py-libp2p does not resolve it again);
/dnsaddr (an indirection through TXT records) and anything else is refused, as is a multiaddr with more
than one address part (py-libp2p would dial the last one, not the one checked).
"""

from __future__ import annotations

import ipaddress
import re
import socket

import multiaddr  # type: ignore[import-untyped]
import trio
from libp2p.abc import IRawConnection
from libp2p.transport.exceptions import OpenConnectionError
from libp2p.transport.tcp.tcp import TCP

from polkacompute.errors import OutboundRefused, SourceUnavailable
from polkacompute.net.policy import OutboundPolicy, refuse

_FAMILIES = {"dns": socket.AF_UNSPEC, "dns4": socket.AF_INET, "dns6": socket.AF_INET6}
_SHAPE = re.compile(r"/(?P<kind>ip4|ip6|dns|dns4|dns6)/(?P<host>[^/]+)/tcp/(?P<port>[0-9]{1,5})(?:/p2p/[^/]+)?")


def pinned(policy: OutboundPolicy, addr: str | multiaddr.Multiaddr) -> multiaddr.Multiaddr:
    """`addr` with its host an IP address `policy` allows (a DNS name resolved: this blocks);
    OutboundRefused if there is none, SourceUnavailable if the name does not resolve."""
    text = str(addr)
    # Exactly one address, then its TCP port, then at most the peer id: py-libp2p dials the *last* IP
    # part of a multiaddr, so `/ip4/<public>/ip4/127.0.0.1/tcp/P` would pass a check of the first one.
    shape = _SHAPE.fullmatch(text)
    if shape is None:
        refuse(text, "not a multiaddr of one TCP address (/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>[/p2p/<id>])")
    kind, host, port, rest = shape["kind"], shape["host"], int(shape["port"]), text.split("/", 3)[3]
    if kind in ("ip4", "ip6"):
        policy.check(host, named=text)
        return multiaddr.Multiaddr(text)
    if kind not in _FAMILIES:
        refuse(text, f"/{kind} addresses are not dialed (only /ip4, /ip6, /dns, /dns4, /dns6)")
    ip = policy.resolve(host, port, family=_FAMILIES[kind])[0]
    version = ipaddress.ip_address(ip).version
    return multiaddr.Multiaddr(f"/ip{version}/{ip}/{rest}")


async def dialable(policy: OutboundPolicy, addr: str | multiaddr.Multiaddr) -> multiaddr.Multiaddr:
    """`pinned` from trio: name resolution runs in a worker thread."""
    text = str(addr)
    if text.startswith(("/ip4/", "/ip6/")):
        return pinned(policy, text)
    # abandon_on_cancel: a deadline is not held up by a slow resolver (trio-typing's stubs predate the name)
    return await trio.to_thread.run_sync(pinned, policy, text, abandon_on_cancel=True)  # type: ignore[call-arg]


class PolicedTCP(TCP):
    """py-libp2p's TCP transport, dialing only addresses `policy` allows (listening is unchanged)."""

    def __init__(self, policy: OutboundPolicy) -> None:
        super().__init__()
        self.policy = policy

    async def dial(self, maddr: multiaddr.Multiaddr) -> IRawConnection:
        return await super().dial(await self._checked(maddr))

    async def dial_with_source(self, maddr: multiaddr.Multiaddr, source: tuple[str, int]) -> IRawConnection:
        return await super().dial_with_source(await self._checked(maddr), source)

    async def _checked(self, maddr: multiaddr.Multiaddr) -> multiaddr.Multiaddr:
        try:
            return await dialable(self.policy, maddr)
        except SourceUnavailable as exc:  # why is logged; py-libp2p wants its own error type
            kind = "refused by the outbound policy" if isinstance(exc, OutboundRefused) else "unavailable"
            raise OpenConnectionError(f"{maddr}: {kind}") from exc
