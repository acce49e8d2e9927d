"""What every benchmark ends with: the result as JSON, written to its file and printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def publish(result: dict[str, Any], out: str | Path) -> int:
    """Writes and prints `result`; the exit status says whether its targets were met."""
    text = json.dumps(result, indent=2)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(text + "\n")
    print(text)
    return 0 if result.get("targets_met", True) else 1
