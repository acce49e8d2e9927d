"""The escrow's ledger from events alone, as PaymentEscrow keeps it: budgets held per token, and what
each owner may withdraw (payments less the job's own fee, fees to the treasury of the time, refunds,
native credits such as slashed stake, slashed token bonds, zeroed by a withdrawal). The budgets held
are also kept block by block (`EscrowSample`) for the dashboard's "value escrowed" series."""

from __future__ import annotations

from sqlalchemy.orm import Session

from polkacompute.chain.events import Event
from polkacompute.indexer.schema import Balance, Escrowed, EscrowSample, Meta
from polkacompute.indexer.store import replay

NATIVE = "0x" + "00" * 20
BPS = 10_000
EVENTS = (
    "Deposited",
    "Paid",
    "Refunded",
    "NativeCredited",
    "Withdrawn",
    "TreasuryUpdated",
    "BondSlashed",
)


def apply(session: Session, event: Event) -> None:
    a = event.args
    name = event.name
    if name == "TreasuryUpdated":
        session.merge(Meta(key="treasury", value=str(a["treasury"])))
    elif name == "Deposited":
        _held(session, event, str(a["token"]), int(a["amount"]))
    elif name == "Paid":
        token, bps = str(a["token"]), int(a["feeBps"])  # the job's own fee, fixed at its submission
        for payee, amount in zip(a["payees"], a["amounts"], strict=True):
            _credit(session, token, str(payee), int(amount) - int(amount) * bps // BPS)
        if int(a["fees"]):
            _credit(session, token, _meta(session, "treasury", NATIVE), int(a["fees"]))
        _held(session, event, token, -sum(int(x) for x in a["amounts"]))
    elif name == "Refunded":
        _credit(session, str(a["token"]), str(a["to"]), int(a["amount"]))
        _held(session, event, str(a["token"]), -int(a["amount"]))
    elif name == "NativeCredited":
        _credit(session, NATIVE, str(a["to"]), int(a["amount"]))
    elif name == "Withdrawn":
        _credit(session, str(a["token"]), str(a["owner"]), -int(a["amount"]))
    elif name == "BondSlashed":  # a provider's token bond (collateral of an ERC-20 job) to the treasury
        _credit(session, str(a["token"]), str(a["treasury"]), int(a["amount"]))


def rebuild(session: Session) -> None:
    replay(session, (Balance, Escrowed, EscrowSample), EVENTS, apply)


def _credit(session: Session, token: str, owner: str, amount: int) -> None:
    row = session.get(Balance, (_addr(token), owner))
    if row is None:
        row = Balance(token=_addr(token), owner=owner, amount="0")
        session.add(row)
    row.amount = str(int(row.amount) + amount)


def _held(session: Session, event: Event, token: str, amount: int) -> None:
    row = session.get(Escrowed, _addr(token))
    if row is None:
        row = Escrowed(token=_addr(token), amount="0")
        session.add(row)
    row.amount = str(int(row.amount) + amount)
    session.merge(EscrowSample(block_number=event.block_number, token=row.token, amount=row.amount))


def _meta(session: Session, key: str, default: str) -> str:
    row = session.get(Meta, key)
    return row.value if row is not None else default


def _addr(token: str) -> str:
    return token.lower() if token.lower() == NATIVE else token
