"""The outbound-request policy: which remotes named by the chain, a peer or a requester may be reached.

Those addresses come from people a node does not trust: a provider registers any peer id (a URL or a
multiaddr) on-chain and changes it at will, a requester announces any content source, peers tell each
other addresses. Reached unchecked, they let anyone make this machine send requests into its own
network (server-side request forgery: an admin endpoint on loopback, a database on the LAN, the cloud's
metadata service). So every connection to such a remote is checked here:

- every address a name resolves to is checked, and the connection goes to an address that was checked
  (`polkacompute.net.http` checks in aiohttp's socket factory, `polkacompute.net.dial` in the libp2p
  transport), so a DNS answer cannot change between check and connect;
- refused: loopback, private (RFC 1918, unique-local fc00::/7), link-local, carrier-grade NAT 100.64/10,
  unspecified, multicast, every other range that is not globally routable, and the cloud metadata
  addresses; an IPv4 address inside an IPv6 one (mapped, 6to4, Teredo, NAT64) counts as that IPv4 one;
- on a local devnet (`Network.local`) all of those are allowed except metadata; an operator allows more
  with CIDRs (`--allow-net`, which can name metadata too), and the sources the operator configured
  (`worker run --content`, `dashboard --gateway`) are trusted as given;
- a source URL is reduced to scheme, host and port: a path (other than "/"), query, fragment or user
  info is refused, so nobody but the caller picks the path requested (`/ipfs/<cid>`, `/p2p/<topic>`).

The transports also refuse redirects, bound each request's bytes and total time, and tell callers only
that a source is unavailable (`SourceUnavailable`); the detail goes to the log. docs/security.md,
"Outbound requests", lists the tests that show each part.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, NoReturn

from yarl import URL

from polkacompute.errors import ConfigError, OutboundRefused, SourceUnavailable

if TYPE_CHECKING:
    from polkacompute.chain.networks import Network

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# The cloud instance-metadata services (AWS, GCP, Azure, OpenStack... on IPv4; AWS on IPv6): refused even
# on a local devnet, reached only through an --allow-net CIDR that names them.
METADATA: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("169.254.169.254/32"),
    ipaddress.ip_network("fd00:ec2::254/128"),
)
RANGES: tuple[tuple[IPNetwork, str], ...] = (
    *((net, "a cloud metadata address") for net in METADATA),
    *(
        (ipaddress.ip_network(net), why)
        for net, why in (
            ("127.0.0.0/8", "loopback"),
            ("::1/128", "loopback"),
            ("0.0.0.0/8", "unspecified"),
            ("::/128", "unspecified"),
            ("::/96", "reserved (IPv4-compatible IPv6)"),
            ("::ffff:0:0:0/96", "reserved (IPv4-translated IPv6)"),
            ("64:ff9b:1::/48", "private (local-use NAT64)"),
            ("10.0.0.0/8", "private"),
            ("172.16.0.0/12", "private"),
            ("192.168.0.0/16", "private"),
            ("fc00::/7", "private (unique-local)"),
            ("169.254.0.0/16", "link-local"),
            ("fe80::/10", "link-local"),
            ("100.64.0.0/10", "carrier-grade NAT"),
            ("224.0.0.0/4", "multicast"),
            ("ff00::/8", "multicast"),
        )
    ),
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
SCHEMES = ("http", "https")


def ip_of(address: str | IPAddress) -> IPAddress:
    """`address` as an IP address: an IPv4-mapped IPv6 address as its IPv4 address, without IPv6 scope."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        return ip.ipv4_mapped or ipaddress.IPv6Address(int(ip))  # int(): drops a "%eth0" scope
    return ip


def _embedded(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (6to4, Teredo client, NAT64 well-known prefix), if any."""
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def classify(address: str | IPAddress) -> str | None:
    """Why `address` is not a public unicast address ("loopback", "private", ...), or None if it is one."""
    ip = ip_of(address)
    for net, why in RANGES:
        if ip.version == net.version and ip in net:
            return why
    inner = _embedded(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    if inner is not None and (outer := classify(inner)) is not None:
        return f"{outer} ({inner} inside {ip})"
    if ip.is_multicast:
        return "multicast"
    if not ip.is_global:
        return "reserved (not globally routable)"
    return None


def is_metadata(address: str | IPAddress) -> bool:
    ip = ip_of(address)
    inner = _embedded(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    return any(a.version == n.version and a in n for a in (ip, inner) if a is not None for n in METADATA)


def parse_cidrs(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Operator-given CIDRs (`--allow-net`); ConfigError for one that is not."""
    nets = []
    for cidr in cidrs:
        try:
            nets.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ConfigError(f"--allow-net {cidr!r} is not an IP network",
                              hint="give a CIDR such as 10.0.0.0/8 or fd00::/8") from None  # fmt: skip
    return tuple(nets)


def refuse(named: object, why: str, error: OutboundRefused | None = None) -> NoReturn:
    """Logs why a connection to `named` is refused and raises `error` (a generic OutboundRefused)."""
    log.warning("outbound to %s refused: %s", named, why)
    raise error or OutboundRefused()


def _legacy_numeric(host: str) -> bool:
    """A host like 2130706433, 0177.0.0.1 or 127.1: the C resolver reads it as an IPv4 address."""
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return True
    return False


@dataclass(frozen=True)
class OutboundPolicy:
    """What remotes named by others may be reached. The default is a public network's policy."""

    local: bool = False  # a local devnet: every address allowed but metadata
    allowed: tuple[IPNetwork, ...] = ()  # operator's CIDRs, allowed whatever they are
    trusted: frozenset[str] = frozenset()  # source URLs the operator configured, used as given

    @classmethod
    def for_network(
        cls, network: Network, *, allow: Iterable[str] = (), trusting: Iterable[str] = ()
    ) -> OutboundPolicy:
        """The policy on `network`: refusing unless it is a local devnet, allowing the `allow` CIDRs and
        trusting the operator's own `trusting` sources."""
        return cls(local=network.local, allowed=parse_cidrs(allow)).trusting(trusting)

    def trusting(self, sources: Iterable[str]) -> OutboundPolicy:
        """This policy, also trusting the operator's `sources` (gateway URLs) exactly as given."""
        extra = {s.rstrip("/") for s in sources if s}
        return self if extra <= self.trusted else replace(self, trusted=self.trusted | extra)

    # ------------------------------------------------------------------ addresses

    def refusal(self, address: str | IPAddress) -> str | None:
        """Why this policy refuses to connect to `address` (an IP address), or None if it allows it."""
        try:
            ip = ip_of(address)
        except ValueError:
            return "not an IP address"
        if any(ip.version == net.version and ip in net for net in self.allowed):
            return None
        why = classify(ip)
        if why is None or (self.local and not is_metadata(ip)):
            return None
        return why

    def check(self, address: str | IPAddress, *, named: object = "") -> None:
        """OutboundRefused (and a log line saying why) unless this policy allows `address`."""
        why = self.refusal(address)
        if why is not None:
            refuse(named or address, f"{address} is {why}")

    def resolve(self, host: str, port: int, *, family: int = socket.AF_UNSPEC) -> list[str]:
        """The addresses of `host` this policy allows, in the resolver's order (DNS: this blocks);
        OutboundRefused if it allows none, SourceUnavailable if the name does not resolve."""
        if _legacy_numeric(host):
            refuse(host, "not a canonical IP address or a name")
        try:
            infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            log.warning("outbound to %s: it does not resolve: %s", host, exc)
            raise SourceUnavailable() from None
        allowed: list[str] = []
        refused: list[str] = []
        for *_, sockaddr in infos:
            ip = str(sockaddr[0])
            (allowed if self.refusal(ip) is None else refused).append(ip)
        if not allowed:
            refuse(host, "; ".join(f"{ip} is {self.refusal(ip)}" for ip in dict.fromkeys(refused)))
        return list(dict.fromkeys(allowed))

    # ------------------------------------------------------------------ source URLs

    def origin(self, source: str) -> URL:
        """`source` (a gateway or worker URL named by someone else) as scheme://host[:port] and nothing
        else; OutboundRefused if it is not plainly that, or if its host is an IP address refused here.
        (A name is checked when it is resolved, at connect time.)"""
        why = self._malformed(source)
        if why:
            refuse(repr(source[:200]), why, OutboundRefused("source URL refused by the outbound policy",
                   hint="a source is http(s)://host[:port] with no path, query, fragment or user info "
                        "(docs/security.md)"))  # fmt: skip
        url = URL(source)
        assert url.raw_host is not None
        try:
            ip_of(url.raw_host)
        except ValueError:
            pass  # a name: its addresses are checked when it is resolved
        else:
            self.check(url.raw_host, named=source)
        return URL.build(scheme=url.scheme, host=url.raw_host, port=url.explicit_port)

    def trusts(self, source: str) -> bool:
        """Whether the operator configured `source` (then it is used as given, unchecked)."""
        return source.rstrip("/") in self.trusted

    @staticmethod
    def _malformed(source: str) -> str:
        if not source.isascii() or not source.isprintable() or any(c in source for c in " \\?#@"):
            return "a space, backslash, query, fragment, user info or a non-ASCII character"
        try:
            url = URL(source)
        except (ValueError, TypeError) as exc:
            return f"not a URL: {exc}"
        if url.scheme not in SCHEMES:
            return f"scheme {url.scheme!r} is not http or https"
        if not url.raw_host:
            return "no host"
        if url.raw_path not in ("", "/"):
            return f"a path ({url.raw_path[:100]!r}): only the root of a gateway or worker is used"
        if _legacy_numeric(url.raw_host):
            return f"host {url.raw_host!r} is not a canonical IP address or a name"
        try:
            url.explicit_port  # noqa: B018  (a port out of range raises here)
        except ValueError as exc:
            return str(exc)
        return ""


LOCAL = OutboundPolicy(local=True)  # a local devnet's policy (tests, benchmarks)
