"""PolkaCompute: verifiable off-chain compute for Polkadot.

Jobs (a program and its input, by content hash) are run by several staked workers in a deterministic
sandbox; identical sealed results, opened on-chain, finalize the job and pay the workers.
"""

from polkacompute.decorators import job
from polkacompute.errors import (
    ChainIdMismatch,
    ContractError,
    NetworkError,
    PolkaComputeError,
    TransactionError,
    ValidationError,
)

__version__ = "0.1.0"

__all__ = [
    "ChainIdMismatch",
    "ContractError",
    "NetworkError",
    "PolkaComputeError",
    "TransactionError",
    "ValidationError",
    "__version__",
    "job",
]
