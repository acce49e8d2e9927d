"""Every exception PolkaCompute raises, in one place (as httpx does).

Each carries a message that says what went wrong and, where it helps, a `hint` that says what to
change. The CLI prints `str(error)` on one line (with `--json`, `to_dict()` as one JSON object) on
stderr and exits with `exit_code`: 2 bad input, 3 network, 4 account, 5 deployment, 6 transaction,
7 timeout, 8 result mismatch, 9 content (missing, unavailable, or not matching its CID).
"""

from __future__ import annotations

from typing import Any


class PolkaComputeError(Exception):
    """Base class: catch this to handle any PolkaCompute failure."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def to_dict(self) -> dict[str, Any]:
        """What the CLI prints under `--json`: {"error", "hint", "exit_code", "type"}."""
        return {"error": self.message, "hint": self.hint, "exit_code": self.exit_code, "type": type(self).__name__}


class ConfigError(PolkaComputeError):
    """A setting, file or argument is missing or malformed."""

    exit_code = 2


class ValidationError(PolkaComputeError):
    """Input that the contracts would reject, caught before anything is sent."""

    exit_code = 2

    def __init__(self, field: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{field}: {message}", hint=hint)
        self.field = field


class NetworkError(PolkaComputeError):
    """The RPC endpoint cannot be reached or answered badly."""

    exit_code = 3


class SourceUnavailable(NetworkError):
    """A remote named by the chain, a peer or a requester (a gateway, an assignee, a worker) did not serve.

    The message is generic on purpose: what the remote answered, or whether anything listens there, is
    logged and never passed on (a server that echoed it would be a port scanner; docs/security.md)."""

    def __init__(self, message: str = "source unavailable", *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)


class OutboundRefused(SourceUnavailable):
    """The outbound policy refuses the address: loopback, private, link-local, CGNAT, multicast, unspecified
    or a cloud metadata address, or a malformed source URL (docs/security.md, "Outbound requests")."""

    def __init__(self, message: str = "refused by the outbound policy", *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint or "private and loopback addresses are reached only on a local devnet "
                                              "or with --allow-net CIDR (docs/security.md)")  # fmt: skip


class ChainIdMismatch(NetworkError):
    """The endpoint serves another chain than the network expects."""

    def __init__(self, network: str, expected: int, actual: int) -> None:
        super().__init__(
            f"network {network!r} expects chain id {expected}, but the RPC endpoint reports {actual}",
            hint="check the RPC URL, or pass the matching --network",
        )
        self.expected = expected
        self.actual = actual


class AccountError(PolkaComputeError):
    """A key or keystore cannot be used."""

    exit_code = 4


class DevKeyRefused(AccountError):
    """Well-known development keys are only allowed on local networks."""


class DeploymentError(PolkaComputeError):
    """No usable deployment for the network, or a deployment that does not match the chain."""

    exit_code = 5


class TransactionError(PolkaComputeError):
    """A transaction could not be sent, reverted, or was not mined in time."""

    exit_code = 6

    def __init__(self, message: str, *, tx_hash: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.tx_hash = tx_hash


class NothingToWithdraw(TransactionError):
    """The escrow holds nothing for the account: the contract would revert `NothingToWithdraw`, so nothing
    is sent (and no gas spent)."""


class InsufficientFunds(TransactionError):
    """The sender cannot pay for the value and gas of a transaction."""


class ReceiptTimeout(TransactionError):
    """The transaction was sent but no receipt arrived in time (it may still be mined)."""


class ContractError(TransactionError):
    """A contract reverted with a custom error, decoded: `name` and `args` as in the Solidity source."""

    def __init__(
        self,
        name: str,
        args: dict[str, Any],
        *,
        contract: str | None = None,
        tx_hash: str | None = None,
        hint: str | None = None,
    ) -> None:
        shown = ", ".join(f"{k}={_short(v)}" for k, v in args.items())
        where = f"{contract}: " if contract else ""
        super().__init__(f"{where}{name}({shown})", tx_hash=tx_hash, hint=hint)
        self.name = name
        self.args_by_name = args
        self.contract = contract


class JobTimeout(PolkaComputeError):
    """A job did not reach the awaited state in time."""

    exit_code = 7


def _short(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


class ResultMismatch(PolkaComputeError):
    """Output bytes whose digest is not the job's finalized result digest: do not trust them."""

    exit_code = 8


class ContentError(PolkaComputeError):
    """Content that is missing, or whose bytes do not match their content address."""

    exit_code = 9
