"""The indexer: every PolkaCompute event in SQL (SQLite by default, PostgreSQL by URL), reorg-safe."""

from polkacompute.indexer.indexer import Indexer
from polkacompute.indexer.store import open_store

__all__ = ["Indexer", "open_store"]
