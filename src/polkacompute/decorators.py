"""`@polkacompute.job`: marks the function a Python job runs (kept import-light on purpose)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def job(fn: F) -> F:
    """Marks the function a Python job calls with its JSON input.

    Inside the sandbox the runtime calls it with the parsed input and prints its return value as
    canonical JSON; on the host it is a no-op marker, so the function stays directly testable.
    """
    fn.__polkacompute_job__ = True  # type: ignore[attr-defined]
    return fn
