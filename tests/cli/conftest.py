"""The CLI run in this process (fast: no interpreter start-up), as `polkacompute` runs: `main(argv)`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from polkacompute.cli.app import main


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def error(self) -> dict[str, Any]:
        """The error a `--json` run printed: one JSON object on one line of stderr."""
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1, self.stderr
        record: dict[str, Any] = json.loads(lines[0])
        return record


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    def run(*args: str) -> Ran:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            main(list(args))
        out = capsys.readouterr()
        code = exited.value.code
        return Ran(code if isinstance(code, int) else (0 if code is None else 1), out.out, out.err)

    return run
