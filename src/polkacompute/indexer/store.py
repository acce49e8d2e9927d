"""Opening the indexer's database (SQLite file or PostgreSQL URL), migrated to the current schema,
and the exact JSON form of event arguments."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, delete, event, select
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session

from polkacompute.chain.events import Event
from polkacompute.errors import ConfigError
from polkacompute.indexer.schema import Base, EventRow

MIGRATIONS = Path(__file__).parent / "migrations"


def open_store(url: str) -> Engine:
    """An engine on `url` (`sqlite:///path.db`, `postgresql+psycopg://...`) with the schema at head."""
    try:
        engine = create_engine(url)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise ConfigError(f"not a database URL the indexer can use: {url!r} ({exc})",
                          hint="sqlite:///path/to/index.db or postgresql+psycopg://user@host/db") from None  # fmt: skip
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    migrate(engine)
    return engine


def migrate(engine: Engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _sqlite_pragmas(connection: Any, _: object) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # the API reads while the indexer writes
    cursor.execute("PRAGMA foreign_keys=ON")  # event_jobs rows go with their event
    cursor.close()


def to_json(value: Any) -> Any:
    """Event arguments as JSON that decodes back to the same values: bytes as {"hex": ...}, integers
    beyond 2^53 as {"int": "..."} (JSON readers round them)."""
    if isinstance(value, bytes):
        return {"hex": value.hex()}
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return value if -(2**53) < value < 2**53 else {"int": str(value)}
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    raise TypeError(f"cannot store {type(value).__name__} in an event")


def from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if value.keys() == {"hex"}:
            return bytes.fromhex(value["hex"])
        if value.keys() == {"int"}:
            return int(value["int"])
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def event_of(row: EventRow) -> Event:
    """A stored event as the chain layer's `Event` (what `JobView` and the ledgers apply)."""
    return Event(row.contract, row.name, from_json(row.args), row.block_number, "", row.tx_hash, row.log_index)


def stored_events(session: Session, names: Iterable[str]) -> Iterator[Event]:
    """Every stored event of these names, in chain order (to rebuild a ledger from scratch)."""
    query = select(EventRow).where(EventRow.name.in_(list(names))).order_by(EventRow.block_number, EventRow.log_index)
    for row in session.scalars(query).all():  # read first: the caller writes while it iterates
        yield event_of(row)


def replay(session: Session, tables: Iterable[type[Base]], names: Iterable[str],
           apply: Callable[[Session, Event], None]) -> None:  # fmt: skip
    """A ledger rebuilt from scratch: `tables` emptied, then every stored event of `names` applied in
    chain order (after a reorg, or for a database indexed before the ledger was kept)."""
    for table in tables:
        session.execute(delete(table))
    session.flush()
    for stored in stored_events(session, names):
        apply(session, stored)
        session.flush()
