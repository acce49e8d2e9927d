"""The web dashboard (`polkacompute dashboard`, `devnet up`): the indexer's API and its pages."""

from polkacompute.dashboard.app import create_dashboard

__all__ = ["create_dashboard"]
