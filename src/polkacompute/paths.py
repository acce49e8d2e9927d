"""Where PolkaCompute keeps its files on this machine (imports nothing heavy: the CLI reads it at start).

- the user's home: `$POLKACOMPUTE_HOME`, default `~/.polkacompute` (keystores, deployments, caches);
- a project's `.polkacompute/` (a checkout where `make` installed runtimes, a devnet's state), found from
  the working directory upwards, as git finds `.git`.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR = ".polkacompute"


def home() -> Path:
    return Path(os.environ.get("POLKACOMPUTE_HOME") or Path.home() / ".polkacompute")


def find_upward(relative: str | Path, start: Path | None = None) -> Path | None:
    """The nearest existing directory `<d>/<relative>`, for d the working directory (or `start`) and then
    each of its parents; None if there is none up to the root."""
    here = (start or Path.cwd()).absolute()
    for base in (here, *here.parents):
        candidate = base / relative
        if candidate.is_dir():
            return candidate
    return None
