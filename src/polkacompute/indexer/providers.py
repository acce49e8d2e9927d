"""Providers from events alone: the registry's events carry running totals (stake, locked,
unbonding, reputations), so each is applied in chain order; `Paid` adds to what a provider earned."""

from __future__ import annotations

from sqlalchemy.orm import Session

from polkacompute.chain.events import Event
from polkacompute.indexer.schema import ProviderRow, ReputationChange
from polkacompute.indexer.store import replay

NATIVE = "0x" + "00" * 20
EVENTS = ("ProviderRegistered", "ProviderUpdated", "ProviderDeregistered", "StakeAdded", "UnbondRequested",
          "UnbondedWithdrawn", "CollateralLocked", "CollateralReleased", "Slashed", "ReputationChanged",
          "Paid")  # fmt: skip


def apply(session: Session, event: Event) -> None:
    """Moves the providers `event` is about to their state after it."""
    a = event.args
    name = event.name
    if name == "ProviderRegistered":
        p = _row(session, str(a["provider"]))
        p.status, p.stake = 1, str(a["stake"])
        _profile(p, a)
    elif name == "ProviderUpdated":
        _profile(_row(session, str(a["provider"])), a)
    elif name == "ProviderDeregistered":  # all stake starts unbonding (an UnbondRequested follows)
        p = _row(session, str(a["provider"]))
        p.status, p.stake = 2, "0"
    elif name == "StakeAdded":
        _row(session, str(a["provider"])).stake = str(a["stake"])
    elif name == "UnbondRequested":
        p = _row(session, str(a["provider"]))
        p.stake = str(max(int(p.stake) - int(a["amount"]), 0))  # 0 already after a deregistration
        p.unbonding = str(a["unbonding"])
    elif name == "UnbondedWithdrawn":
        _row(session, str(a["provider"])).unbonding = "0"
    elif name == "CollateralLocked":
        _row(session, str(a["provider"])).locked = str(a["locked"])
    elif name == "CollateralReleased":  # an ERC-20 job's collateral is a token bond in the escrow
        native = str(a["token"]).lower() == NATIVE
        for provider, reputation in zip(a["providers"], a["reputations"], strict=True):
            p = _row(session, str(provider))
            if native:
                p.locked = str(max(int(p.locked) - int(a["amount"]), 0))
            if int(reputation) != p.reputation:
                _history(session, event, str(provider), int(reputation), a["reason"])
            p.reputation = int(reputation)
    elif name == "Slashed" and str(a["token"]).lower() == NATIVE:  # bonded stake first, then unbonding
        p = _row(session, str(a["provider"]))
        taken, stake = int(a["amount"]), int(p.stake)
        from_stake = min(taken, stake)
        p.stake = str(stake - from_stake)
        p.unbonding = str(int(p.unbonding) - (taken - from_stake))
        p.locked = str(min(int(p.locked), int(p.stake)))
        p.slashed = str(int(p.slashed) + taken)
    elif name == "ReputationChanged":
        _row(session, str(a["provider"])).reputation = int(a["current"])
        _history(session, event, str(a["provider"]), int(a["current"]), a["reason"])
    elif name == "Paid" and str(a["token"]).lower() == NATIVE:
        for payee, amount in zip(a["payees"], a["amounts"], strict=True):
            if (paid := session.get(ProviderRow, str(payee))) is not None:
                paid.earned = str(int(paid.earned) + int(amount))


def rebuild(session: Session) -> None:
    """Every provider again from the stored events (after a reorg, or a schema that lacked them)."""
    replay(session, (ProviderRow, ReputationChange), EVENTS, apply)


def _row(session: Session, address: str) -> ProviderRow:
    row = session.get(ProviderRow, address)
    if row is None:
        row = ProviderRow(address=address, status=0, stake="0", locked="0", unbonding="0", reputation=0,
                          capabilities=0, region="", peer_id="", earned="0", slashed="0")  # fmt: skip
        session.add(row)
    return row


def _history(session: Session, event: Event, provider: str, reputation: int, reason: object) -> None:
    text = bytes(reason).rstrip(b"\x00").decode(errors="replace") if isinstance(reason, bytes) else str(reason)
    job_id = int(event.args.get("jobId", 0))
    session.add(ReputationChange(provider=provider, block_number=event.block_number, job_id=job_id,
                                 reputation=reputation, reason=text[:32]))  # fmt: skip


def _profile(p: ProviderRow, a: dict[str, object]) -> None:
    p.capabilities = int(a["capabilities"])  # type: ignore[call-overload]
    p.region = bytes(a["region"]).rstrip(b"\x00").decode(errors="replace")  # type: ignore[call-overload]
    p.peer_id = bytes(a["peerId"]).decode(errors="replace")[:256]  # type: ignore[call-overload]
