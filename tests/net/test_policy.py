"""The outbound policy's rules: which addresses are refused (each range, IPv4 inside IPv6, the numeric
host forms the C resolver accepts), what a devnet and the operator allow, how source URLs are reduced to
an origin, and how libp2p multiaddrs are checked and pinned."""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest

from polkacompute.chain.networks import NETWORKS, Network
from polkacompute.errors import ConfigError, OutboundRefused, SourceUnavailable
from polkacompute.net import LOCAL, OutboundPolicy
from polkacompute.net.dial import pinned
from polkacompute.net.http import OutboundHttp, PolicyRefusal
from polkacompute.net.policy import classify

PUBLIC = OutboundPolicy()
PEER = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.254", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private (unique-local)"),
    ("fd12:3456::1", "private (unique-local)"),
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("0.0.0.0", "unspecified"),  # noqa: S104 (an address to refuse, not to bind)
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("169.254.169.254", "a cloud metadata address"),
    ("fd00:ec2::254", "a cloud metadata address"),
    ("192.0.2.1", "reserved"),  # documentation
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    # IPv4 inside IPv6 is that IPv4 address
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:169.254.169.254", "a cloud metadata address"),
    ("2002:7f00:1::", "loopback (127.0.0.1 inside"),  # 6to4
    ("64:ff9b::7f00:1", "loopback (127.0.0.1 inside"),  # NAT64
    ("64:ff9b::a9fe:a9fe", "a cloud metadata address (169.254.169.254 inside"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback (127.0.0.1 inside"),  # Teredo, client 127.0.0.1
    ("::127.0.0.1", "reserved (IPv4-compatible"),
    ("::ffff:0:7f00:1", "reserved (IPv4-translated"),
    ("64:ff9b:1::a00:1", "private (local-use NAT64"),
]
PUBLIC_ADDRESSES = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::808:808", "::ffff:8.8.8.8"]
METADATA = ["169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe"]
# Hosts the C resolver reads as 127.0.0.1: refused as they are, never resolved.
NUMERIC_LOOPBACK = ["2130706433", "0177.0.0.1", "0x7f000001", "0x7f.1", "127.1", "017700000001"]


@pytest.mark.parametrize(("address", "why"), REFUSED)
def test_each_refused_range_is_refused_off_a_devnet(address: str, why: str) -> None:
    assert (PUBLIC.refusal(address) or "").startswith(why)
    with pytest.raises(OutboundRefused):
        PUBLIC.check(address)


@pytest.mark.parametrize("address", PUBLIC_ADDRESSES)
def test_public_addresses_are_allowed(address: str) -> None:
    assert classify(address) is None
    assert PUBLIC.refusal(address) is None
    PUBLIC.check(address)


def test_a_devnet_allows_everything_but_metadata() -> None:
    for address, _ in REFUSED:
        if address not in METADATA:
            assert LOCAL.refusal(address) is None, address
    for address in METADATA:
        assert LOCAL.refusal(address) is not None
        assert LOCAL.refusal(address) == classify(address)
    assert OutboundPolicy.for_network(NETWORKS["local"]) == LOCAL
    for name in ("hub-testnet", "polkadot-hub", "kusama-hub"):
        assert OutboundPolicy.for_network(NETWORKS[name]) == PUBLIC


def test_the_operator_allows_cidrs_and_only_those() -> None:
    network = replace(NETWORKS["hub-testnet"])
    lan = OutboundPolicy.for_network(network, allow=["10.0.0.0/8", "fd00::/8"])
    assert lan.refusal("10.1.2.3") is None
    assert lan.refusal("::ffff:10.1.2.3") is None
    assert lan.refusal("fd12::1") is None
    assert lan.refusal("192.168.1.1") == "private"
    assert lan.refusal("127.0.0.1") == "loopback"
    assert lan.refusal("169.254.169.254") == "a cloud metadata address"  # not in the CIDRs given
    assert OutboundPolicy.for_network(network, allow=["169.254.169.254/32"]).refusal("169.254.169.254") is None
    with pytest.raises(ConfigError, match="not an IP network"):
        OutboundPolicy.for_network(network, allow=["ten.0.0.0/8"])


@pytest.mark.parametrize("host", NUMERIC_LOOPBACK)
def test_numeric_host_forms_the_resolver_accepts_are_refused(host: str) -> None:
    resolved = {info[4][0] for info in socket.getaddrinfo(host, 80, socket.AF_INET, socket.SOCK_STREAM)}
    assert resolved == {"127.0.0.1"}  # what connecting to it would reach
    with pytest.raises(OutboundRefused):
        PUBLIC.resolve(host, 80)
    with pytest.raises(OutboundRefused):
        LOCAL.resolve(host, 80)  # not a form anyone registers: refused on a devnet too
    with pytest.raises(OutboundRefused):
        PUBLIC.origin(f"http://{host}:8080")


def test_names_are_resolved_and_every_address_checked() -> None:
    with pytest.raises(OutboundRefused):
        PUBLIC.resolve("localhost", 80)
    assert set(LOCAL.resolve("localhost", 80)) <= {"127.0.0.1", "::1"}
    with pytest.raises(SourceUnavailable):
        PUBLIC.resolve("no-such-host.invalid", 80)


@pytest.mark.parametrize(
    "source",
    [
        "http://example.com/admin/delete-everything",  # a path: the attacker would pick what is requested
        "http://example.com/?x=",  # a query that would swallow /ipfs/<cid>
        "http://example.com?x=",
        "http://example.com#x",
        "http://user:pw@example.com",
        "http://example.com@127.0.0.1",
        "ftp://example.com",
        "file:///etc/passwd",
        "gopher://example.com:70",
        "http://",
        "http://exa mple.com",
        "http://example.com\\@127.0.0.1",
        "http://bücher.example",  # IDN hosts are given in punycode
        "http://example.com:99999",
        "http://127.0.0.1:8080",
        "http://[::1]:8080",
        "http://[::ffff:127.0.0.1]:8080",
        "http://[fe80::1%25eth0]:8080",
        "http://169.254.169.254",
        "http://10.0.0.1",
    ],
)
def test_source_urls_other_than_a_public_origin_are_refused(source: str) -> None:
    with pytest.raises(OutboundRefused):
        PUBLIC.origin(source)


@pytest.mark.parametrize(
    ("source", "origin"),
    [
        ("http://example.com", "http://example.com"),
        ("https://ipfs.io/", "https://ipfs.io"),
        ("https://EXAMPLE.com:8443/", "https://example.com:8443"),
        ("http://xn--bcher-kva.example", "http://xn--bcher-kva.example"),
        ("http://[2606:4700::1111]:8080", "http://[2606:4700::1111]:8080"),
        ("http://8.8.8.8:80", "http://8.8.8.8"),  # the default port is implied
    ],
)
def test_a_public_origin_is_kept_and_only_the_callers_path_is_added(source: str, origin: str) -> None:
    assert str(PUBLIC.origin(source)) == origin
    url, trusted = OutboundHttp(PUBLIC).url(source, "/ipfs/bafkqaaa")
    assert str(url) == origin + "/ipfs/bafkqaaa"
    assert not trusted


def test_the_operators_own_sources_are_trusted_as_given() -> None:
    policy = PUBLIC.trusting(["http://127.0.0.1:8080/", "https://gw.example/prefix"])
    client = OutboundHttp(policy)
    assert client.url("http://127.0.0.1:8080", "/ipfs/x") == (client.url("http://127.0.0.1:8080/", "/ipfs/x")[0], True)
    assert str(client.url("https://gw.example/prefix", "/ipfs/x")[0]) == "https://gw.example/prefix/ipfs/x"
    with pytest.raises(OutboundRefused):
        client.url("http://127.0.0.1:8081", "/ipfs/x")  # the same host, another port: not the operator's
    with pytest.raises(OutboundRefused):
        client.url("http://127.0.0.1:8080/?x=", "/ipfs/x")


def test_multiaddrs_are_checked_and_dns_names_pinned_to_a_checked_address() -> None:
    for addr in (f"/ip4/127.0.0.1/tcp/4001/p2p/{PEER}", f"/ip6/::1/tcp/4001/p2p/{PEER}",
                 f"/ip6/::ffff:127.0.0.1/tcp/4001/p2p/{PEER}", f"/ip4/10.0.0.1/tcp/4001/p2p/{PEER}",
                 f"/dns4/localhost/tcp/4001/p2p/{PEER}", f"/dns/localhost/tcp/4001/p2p/{PEER}",
                 f"/ip4/169.254.169.254/tcp/80/p2p/{PEER}"):  # fmt: skip
        with pytest.raises(OutboundRefused):
            pinned(PUBLIC, addr)
    for addr in (f"/dnsaddr/bootstrap.libp2p.io/p2p/{PEER}", "/unix/tmp/socket", "not a multiaddr"):
        with pytest.raises(OutboundRefused):
            pinned(LOCAL, addr)
    # More than one address part: py-libp2p dials the last IP part, so a public first part must not
    # carry an internal one through (found by the attacker review of the fixes).
    for addr in (f"/ip4/8.8.8.8/ip4/127.0.0.1/tcp/4001/p2p/{PEER}", "/ip4/8.8.8.8/tcp/4001/ip4/127.0.0.1/tcp/4001",
                 "/ip6/2001:4860::1/ip4/127.0.0.1/tcp/4001", "/dns4/8.8.8.8/ip4/127.0.0.1/tcp/4001",
                 f"/ip4/8.8.8.8/tcp/1/p2p-circuit/ip4/127.0.0.1/tcp/4001/p2p/{PEER}", "/ip4/8.8.8.8/udp/4001",
                 "/ip4/8.8.8.8/tcp/4001/p2p/x/extra", "/ip6zone/eth0/ip6/fe80::1/tcp/4001"):  # fmt: skip
        with pytest.raises(OutboundRefused):
            pinned(PUBLIC, addr)
        with pytest.raises(OutboundRefused):
            pinned(LOCAL, addr)  # not even on a devnet, where loopback is allowed: its shape is the attack
    public = f"/ip4/8.8.8.8/tcp/4001/p2p/{PEER}"
    assert str(pinned(PUBLIC, public)) == public
    assert str(pinned(LOCAL, f"/dns4/localhost/tcp/4001/p2p/{PEER}")) == f"/ip4/127.0.0.1/tcp/4001/p2p/{PEER}"


def test_a_custom_network_is_local_only_on_loopback_with_the_devnet_chain_id() -> None:
    from polkacompute.chain.networks import get_network

    assert OutboundPolicy.for_network(get_network("mine", rpc_url="http://127.0.0.1:9545", chain_id=31337)).local
    assert not OutboundPolicy.for_network(get_network("mine", rpc_url="http://10.0.0.5:8545", chain_id=31337)).local
    assert not OutboundPolicy.for_network(Network("x", 1, "http://127.0.0.1:8545")).local


def test_the_http_connector_checks_the_very_address_it_connects_to() -> None:
    """aiohttp hands the socket factory each address it is about to connect to, after DNS: the last check,
    so an answer that changed since the name was resolved (DNS rebinding) is refused there too."""
    client = OutboundHttp(PUBLIC)
    for family, address in ((socket.AF_INET, ("127.0.0.1", 80)), (socket.AF_INET6, ("::ffff:10.0.0.1", 80, 0, 0)),
                            (socket.AF_INET, ("169.254.169.254", 80))):  # fmt: skip
        with pytest.raises(PolicyRefusal, match="refused by the outbound policy"):
            client._checked_socket((family, socket.SOCK_STREAM, 6, "", address))
    sock = client._checked_socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", 80)))
    sock.close()
