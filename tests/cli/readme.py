"""The README as a test: its walkthrough (the ```bash block of "The CLI") and its SDK example (the ```python
block of "The SDK"), read from README.md and run as written, in a copy of the checkout laid out as a fresh
clone after `make devnet`, from a shell with nothing exported (see test_devnet_flow.py)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
EXITS = re.compile(r"#.*\bexits (\d+)\s*$")  # a line's comment ending with `exits N`: the exit code it expects


@dataclass(frozen=True)
class Step:
    line: int  # where it starts in README.md (1-based)
    command: str  # as written (a continued command keeps its backslash-newlines)
    exits: int  # the exit code the README expects


def blocks(text: str, heading: str, language: str) -> list[tuple[int, list[str]]]:
    """The ```language blocks of the `## heading` section: (the README line of each block's first line, lines)."""
    lines = text.splitlines()
    start = lines.index(f"## {heading}")
    found: list[tuple[int, list[str]]] = []
    block: list[str] | None = None
    for number, line in enumerate(lines[start + 1 :], start + 2):
        if block is None and line.startswith("## "):
            break
        if block is None and line == f"```{language}":
            block, first = [], number + 1
        elif block is not None and line == "```":
            found.append((first, block))
            block = None
        elif block is not None:
            block.append(line)
    return found


def walkthrough(text: str) -> list[Step]:
    """The commands of The CLI's bash block, one per logical line (comment lines and blank lines skipped)."""
    steps: list[Step] = []
    for first, lines in blocks(text, "The CLI", "bash"):
        pending: tuple[int, list[str]] | None = None
        for number, line in enumerate(lines, first):
            if pending is None and (not line.strip() or line.lstrip().startswith("#")):
                continue
            start, parts = pending or (number, [])
            parts.append(line)
            if line.rstrip().endswith("\\"):
                pending = (start, parts)
                continue
            pending = None
            expected = EXITS.search(line)
            steps.append(Step(start, "\n".join(parts), int(expected.group(1)) if expected else 0))
    return steps


def sdk_example(text: str) -> str:
    """The SDK section's python code (its blocks, joined)."""
    return "\n\n".join("\n".join(lines) for _, lines in blocks(text, "The SDK", "python"))


def fresh_clone(directory: Path) -> Path:
    """`directory` laid out as a clone of this checkout after `make devnet`: the repository's files (tracked, and
    new ones not ignored), its venv (`.venv`) and the runtimes make installs (`.polkacompute/runtimes`)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout  # fmt: skip
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():  # listed, but deleted in the work tree: not in a clone of it either
            target = directory / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            target.chmod(source.stat().st_mode)
    (directory / ".venv").symlink_to(ROOT / ".venv")
    runtimes = Path(os.environ.get("POLKACOMPUTE_RUNTIMES") or ROOT / ".polkacompute" / "runtimes")
    assert (runtimes / "python-3.11" / "bundle.json").exists(), f"no python runtime at {runtimes}: run `make devnet`"
    (directory / ".polkacompute").mkdir()
    (directory / ".polkacompute" / "runtimes").symlink_to(runtimes.resolve())
    return directory


def fresh_shell(home: Path) -> dict[str, str]:
    """The environment of a new login shell: no PolkaCompute variable, nothing make exports (its PATH entries
    into the checkout: the venv, forge and anvil), no virtualenv active; `home` as HOME."""
    dropped = ("POLKACOMPUTE_", "MAKE", "MFLAGS", "VIRTUAL_ENV", "PYTEST_", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    inside = (ROOT, Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")).resolve())
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and not
            any(Path(p).resolve().is_relative_to(d) for d in inside)]  # fmt: skip
    env["PATH"] = os.pathsep.join(path or ["/usr/local/bin", "/usr/bin", "/bin"])
    env["HOME"] = str(home)
    return env


class Failed(AssertionError):
    pass


def run_walkthrough(steps: list[Step], cwd: Path, env: dict[str, str], logs: Path, timeout: float) -> None:
    """Runs the steps in order in one bash session (variables and background jobs carry over), each with its
    output in `logs`; raises Failed, naming the README line, the command, its exit code and its stderr, at
    the first exit code the README does not expect. Whatever the session left running is then stopped."""
    logs.mkdir(parents=True, exist_ok=True)
    lines = ["set -o pipefail"]  # a failing polkacompute in `X=$(polkacompute ... | python3 ...)` fails its line
    for i, step in enumerate(steps):
        lines += [f"echo {i} $(date +%s.%N) >>'{logs}/started'",  # where the time goes, for the curious
                  f"{{ {step.command}\n}} >'{logs}/{i}.out' 2>'{logs}/{i}.err'",
                  f"rc=$?; [ $rc = {step.exits} ] || {{ echo \"{i} $rc\" >'{logs}/failed'; exit 1; }}"]  # fmt: skip
    lines.append(f"echo >'{logs}/done'")
    (logs / "walkthrough.sh").write_text("\n".join(lines) + "\n")
    session = subprocess.Popen(["bash", str(logs / "walkthrough.sh")], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    try:
        _, stderr = session.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        session.kill()
        _, stderr = session.communicate()
        ran = max((int(p.stem) for p in logs.glob("*.out")), default=0)
        raise Failed(report(steps[ran], logs, ran, f"still running after {timeout:g}s")) from None
    finally:
        with contextlib.suppress(ProcessLookupError):  # a background job the README starts (`worker run ... &`)
            os.killpg(session.pid, signal.SIGTERM)
    if (logs / "failed").exists():
        index, code = map(int, (logs / "failed").read_text().split())
        raise Failed(report(steps[index], logs, index, f"exited {code}, the README expects {steps[index].exits}"))
    if not (logs / "done").exists():
        raise Failed(f"the walkthrough's shell stopped early (exit {session.returncode}): {stderr.decode()}")


def report(step: Step, logs: Path, index: int, what: str) -> str:
    out = (logs / f"{index}.out").read_text(errors="replace") if (logs / f"{index}.out").exists() else ""
    err = (logs / f"{index}.err").read_text(errors="replace") if (logs / f"{index}.err").exists() else ""
    tail = "\n".join(out.splitlines()[-20:])
    return f"README.md line {step.line}: `{step.command}` {what}\n--- stderr:\n{err}\n--- stdout (end):\n{tail}"
