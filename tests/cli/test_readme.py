"""The README harness itself (tests/cli/readme.py), without a devnet: what it reads from README.md, and that it
fails on an exit code the README does not state. The README is run for real in test_devnet_flow.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from .readme import README, ROOT, Failed, Step, blocks, fresh_shell, run_walkthrough, sdk_example, walkthrough

TEXT = """# Title

## The CLI

Prose.

```bash
source .venv/bin/activate          # a comment
# a comment line
X=$(echo 41 | python3 -c 'print(int(input()) + 1)')

false                              # fails on purpose: exits 1
echo "$X" \\
    >answer.txt                    # continued
```

## The SDK

```python
print("sdk")
```

```bash
not-in-the-cli-section
```
"""


def test_the_walkthrough_is_read_line_by_line_with_its_expected_exit_codes() -> None:
    steps = walkthrough(TEXT)
    assert [(s.line, s.exits) for s in steps] == [(8, 0), (10, 0), (12, 1), (13, 0)]
    assert steps[3].command == 'echo "$X" \\\n    >answer.txt                    # continued'
    assert sdk_example(TEXT) == 'print("sdk")'
    assert blocks(TEXT, "The SDK", "bash") == [(24, ["not-in-the-cli-section"])]


def test_the_readme_has_a_walkthrough_and_an_sdk_example() -> None:
    text = README.read_text()
    assert len(walkthrough(text)) >= 20
    assert "Client(" in sdk_example(text)


def test_a_session_carries_variables_and_background_jobs(tmp_path: Path) -> None:
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")  # as in a checkout
    steps = walkthrough(TEXT)
    run_walkthrough(steps, tmp_path, fresh_shell(tmp_path / "home"), tmp_path / "logs", timeout=60)
    assert (tmp_path / "answer.txt").read_text() == "42\n"
    # `kill %1` finds the job an earlier line started (without it: "no such job", exit 1)
    background = [Step(1, "sleep 300 &", 0), Step(2, "kill %1", 0)]
    run_walkthrough(background, tmp_path, fresh_shell(tmp_path / "home"), tmp_path / "logs2", timeout=60)


@pytest.mark.parametrize(
    ("steps", "said"),
    [
        (
            [Step(5, "true", 0), Step(9, "sh -c 'echo oops >&2; exit 3'", 0)],
            "line 9: `sh -c 'echo oops >&2; exit 3'` exited 3, the README expects 0",
        ),
        ([Step(4, "true  # exits 6", 6)], "line 4: `true  # exits 6` exited 0, the README expects 6"),
        ([Step(7, "X=$(false | cat)", 0)], "exited 1"),  # a failure inside a pipeline fails its line
        ([Step(2, "polkacompute --help", 0)], "exited 127"),  # a fresh shell: nothing on PATH from the venv
    ],
)
def test_an_unexpected_exit_code_fails_with_the_line_and_its_stderr(tmp_path: Path, steps: list[Step],
                                                                    said: str) -> None:  # fmt: skip
    with pytest.raises(Failed) as failed:
        run_walkthrough(steps, tmp_path, fresh_shell(tmp_path / "home"), tmp_path / "logs", timeout=60)
    assert said in str(failed.value)
    if "oops" in said:
        assert "--- stderr:\noops" in str(failed.value)
