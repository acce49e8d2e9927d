"""Every error is one line on stderr with its documented exit code, and one JSON object under --json
(README, "The CLI"): bad addresses, missing files, usage mistakes, nothing to withdraw, the unexpected."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from web3 import Web3

from polkacompute.chain.deploy import Deployment, save_deployment
from polkacompute.chain.networks import Network

from .conftest import Ran

Cli = Callable[..., Ran]
DEV9 = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"  # anvil dev account 9: never paid anything


def one_line(ran: Ran, code: int, text: str) -> None:
    assert ran.code == code, (ran.code, ran.stderr)
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1, ran.stderr
    assert lines[0].startswith("error: ")
    assert text in lines[0], lines[0]
    assert not ran.stdout.strip()  # stdout carries results only


def as_json(ran: Ran, code: int, text: str, kind: str) -> None:
    assert ran.code == code, (ran.code, ran.stderr)
    error = ran.error()
    assert set(error) == {"error", "hint", "exit_code", "type"}
    assert (error["exit_code"], error["type"]) == (code, kind)
    assert text in error["error"]
    assert not ran.stdout.strip()


@pytest.fixture
def chain(anvil: Network, deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Network:
    """The CLI pointed at the session's anvil (no devnet directory here)."""
    save_deployment(deployment, tmp_path / "deployments")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("POLKACOMPUTE_RPC_URL", anvil.rpc_url)
    monkeypatch.setenv("POLKACOMPUTE_DEPLOYMENTS", str(tmp_path / "deployments"))
    monkeypatch.setenv("POLKACOMPUTE_HOME", str(tmp_path / "home"))
    return anvil


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["provider", "info", "0x1234"], "address: '0x1234' is not an address"),
        (["escrow", "balance", "0xnothex0000000000000000000000000000000000"], "is not an address"),
        (["job", "list", "--requester", "notanaddress"], "requester: 'notanaddress' is not an address"),
        (["provider", "info", "0x976ea74026e726554db657fa54763abd0c3a0aA9"], "wrong checksum"),
        (["worker", "ping", "0x1234"], "addr: '0x1234' is not an address"),  # neither an address nor a multiaddr
    ],
)
def test_a_malformed_address_is_bad_input(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          args: list[str], text: str) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    one_line(cli(*args), 2, text)  # refused before any network is reached (none runs here)
    as_json(cli("--json", *args), 2, text, "ValidationError")
    as_json(cli(*args, "--json"), 2, text, "ValidationError")


def test_a_missing_verify_file_is_bad_input(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["job", "result", "1", "--verify", str(tmp_path / "missing.bin")]
    one_line(cli(*args), 2, f"verify: cannot read {tmp_path / 'missing.bin'}: No such file or directory")
    as_json(cli(*args, "--json"), 2, "cannot read", "ValidationError")


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["job", "list", "--bogus"], "No such option: --bogus"),
        (["job", "list", "--limit", "many"], "Invalid value for '--limit'"),
        (["job", "lsit"], "No such command 'lsit'"),
        (["provider", "info"], "Missing argument"),
    ],
)
def test_usage_errors_are_one_line_with_exit_2(cli: Cli, args: list[str], text: str) -> None:
    ran = cli(*args)
    one_line(ran, 2, text)
    assert "--help" in ran.stderr  # where to look
    as_json(cli("--json", *args), 2, text, "UsageError")
    as_json(cli(*args, "--json"), 2, text, "UsageError")


def test_nothing_to_withdraw_sends_nothing_and_exits_6(cli: Cli, chain: Network) -> None:
    w3 = Web3(Web3.HTTPProvider(chain.rpc_url))
    nonce = w3.eth.get_transaction_count(DEV9)
    one_line(cli("escrow", "withdraw", "--dev", "9"), 6, f"nothing to withdraw: the escrow holds nothing for {DEV9}")
    as_json(cli("escrow", "withdraw", "--dev", "9", "--json"), 6, "nothing to withdraw", "NothingToWithdraw")
    assert w3.eth.get_transaction_count(DEV9) == nonce  # no transaction, no gas spent


def test_pinging_a_provider_that_registered_no_multiaddr(cli: Cli, chain: Network) -> None:
    one_line(cli("worker", "ping", DEV9, "--within", "1"), 3, f"{DEV9} registered no libp2p multiaddr (within 1s)")
    as_json(cli("worker", "ping", DEV9, "--within", "0", "--json"), 3, "registered no libp2p multiaddr", "NetworkError")


def test_a_job_that_does_not_exist(cli: Cli, chain: Network) -> None:
    one_line(cli("job", "status", "999"), 2, "no job 999 on local")
    as_json(cli("job", "result", "999", "--json"), 2, "no job 999 on local", "ValidationError")


def test_the_unexpected_is_still_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import polkacompute.cli.jobs as jobs

    def broken(*_: object) -> None:
        raise RuntimeError("a library's message\n\n  spread over\nlines")

    monkeypatch.setattr(jobs, "network_of", broken)
    ran = cli("job", "list")
    one_line(ran, 1, "RuntimeError: a library's message; spread over; lines")
    as_json(cli("job", "list", "--json"), 1, "spread over", "RuntimeError")
    verbose = cli("job", "list", "--verbose")
    assert "Traceback" in verbose.stderr
    assert verbose.code == 1


def test_errors_stay_on_one_line_in_a_real_process(tmp_path: Path) -> None:
    """A message longer than the 80 columns of a non-terminal: not wrapped."""
    long = "0x" + "ab" * 40
    done = subprocess.run([sys.executable, "-m", "polkacompute.cli", "job", "list", "--requester", long],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert long in done.stderr
