"""The `fleet` fixture: a requester gateway and worker processes, stopped after each test."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from polkacompute.chain.deploy import Deployment
from polkacompute.chain.networks import Network

from .fleet import Fleet


@pytest.fixture
def fleet(tmp_path: Path, anvil: Network, deployment: Deployment) -> Iterator[Fleet]:
    fleet = Fleet(tmp_path, anvil, deployment)
    try:
        yield fleet
    finally:
        fleet.stop()
