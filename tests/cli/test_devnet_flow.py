"""The requester's commands on a devnet with workers, in a shell with nothing exported (no RPC URL, no
deployment, no store: all found from the devnet's state directory, from a subdirectory too): fetch and
verify a result, pack and submit a package whose content the workers then fetch, a worker's status and
logs, withdraw earnings; then the README followed line by line on the same devnet (its walkthrough and its
SDK example, as written)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import wasmtime

from polkacompute.devnet.worker_demo import UPPERCASE_WAT
from tests.conftest import ANVIL, free_port

from .readme import README, fresh_clone, fresh_shell, run_walkthrough, sdk_example, walkthrough

CLI = [sys.executable, "-m", "polkacompute.cli"]
DEMO_OUTPUT = b"HELLO, POLKADOT: VERIFIED OFF-CHAIN COMPUTE\n"


def polkacompute(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLKACOMPUTE_")}  # make exports some
    env["POLKACOMPUTE_ANVIL"] = str(ANVIL)
    return subprocess.run([*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, (done.args, done.stderr)
    return done


def failed(done: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert done.returncode == code, (done.args, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert text in lines[0], lines[0]


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`devnet up --workers 3 --demo` on a free port (not 8545: the CLI must follow it), in a copy of the checkout
    laid out as a fresh clone after `make devnet`; its demo job is 1."""
    cwd = fresh_clone(tmp_path_factory.mktemp("clone"))
    port = str(free_port())
    up = polkacompute("--json", "devnet", "up", "--port", port, "--demo", "--workers", "3", "--detach", cwd=cwd)
    try:
        assert up.returncode == 0, up.stderr
        assert '"verified": true' in up.stdout
        (cwd / "sub").mkdir()
        yield cwd
    finally:
        polkacompute("devnet", "down", "--port", port, cwd=cwd)


def test_fetch_and_verify_the_demo_result(devnet: Path) -> None:
    cwd = devnet / "sub"  # the devnet's directory is one level up
    jobs = json.loads(ok(polkacompute("job", "list", "--json", cwd=cwd)).stdout)
    assert [(j["id"], j["status"]) for j in jobs] == [(1, "FINALIZED")]
    result = json.loads(ok(polkacompute("job", "result", "1", "--output", "out.bin", "--record", "rec.cbor", "--json",
                                        cwd=cwd)).stdout)  # fmt: skip
    assert (cwd / "out.bin").read_bytes() == DEMO_OUTPUT
    assert result["result"] == {"status": "exited", "exit_code": 0, "detail": ""}
    for worker, gross in result["paid"].items():  # what each worker was credited: its pay less the fee
        assert result["received"][worker] == gross - result["fees"] // len(result["paid"])
    assert result["received"] != result["paid"]
    table = ok(polkacompute("job", "result", "1", cwd=cwd)).stdout
    assert "less the protocol fee" in table
    verified = ok(polkacompute("job", "result", "1", "--verify", "out.bin", cwd=cwd)).stdout
    assert "it is the output of the result: the run exited with code 0" in " ".join(verified.split())
    record = json.loads(ok(polkacompute("job", "result", "1", "--verify", "rec.cbor", "--json", cwd=cwd)).stdout)
    assert record["verified"]["matched"] == "record"
    (cwd / "bad.bin").write_bytes(DEMO_OUTPUT.lower())
    failed(polkacompute("job", "result", "1", "--verify", "bad.bin", cwd=cwd), 8, "do not use this output")
    bad = polkacompute("job", "result", "1", "--verify", "bad.bin", "--json", cwd=cwd)
    assert bad.returncode == 8
    assert json.loads(bad.stderr)["type"] == "ResultMismatch"


def test_a_package_is_published_where_the_workers_fetch(devnet: Path, tmp_path: Path) -> None:
    cwd = devnet / "sub"
    (cwd / "upper.wasm").write_bytes(wasmtime.wat2wasm(UPPERCASE_WAT))
    (cwd / "in.txt").write_bytes(b"published by job submit\n")
    packed = json.loads(ok(polkacompute("job", "pack", "upper.wasm", "-r", "wasi", "-i", "in.txt", "-o", "job.json",
                                        "--fuel", "100000000", "--time", "30", "--json", cwd=cwd)).stdout)  # fmt: skip
    assert packed["store"] == str(devnet / ".polkacompute" / "devnet" / "store")  # served by the devnet's gateway
    submitted = json.loads(ok(polkacompute("job", "submit", "--package", "job.json", "--max-price", "0.01",
                                           "--dev", "1", "--json", cwd=cwd)).stdout)  # fmt: skip
    assert len(submitted["published_to"]) == 1  # the devnet's gateway
    job = str(submitted["id"])
    ok(polkacompute("job", "watch", job, "--timeout", "180", cwd=cwd))
    assert json.loads(ok(polkacompute("job", "status", job, "--json", cwd=cwd)).stdout)["status"] == "FINALIZED"
    ok(polkacompute("job", "run", "job.json", "--job-id", job, "--output", "mine.bin", cwd=cwd))
    assert (cwd / "mine.bin").read_bytes() == b"PUBLISHED BY JOB SUBMIT\n"
    ok(polkacompute("job", "result", job, "--verify", "mine.bin", cwd=cwd))  # a local run verifies too

    # Content packed elsewhere is uploaded to the gateway; content found nowhere fails before submitting.
    store = tmp_path / "elsewhere"
    (cwd / "in2.txt").write_bytes(b"uploaded\n")
    ok(polkacompute("job", "pack", "upper.wasm", "-r", "wasi", "-i", "in2.txt", "-o", "job2.json", "--store",
                    str(store), cwd=cwd))  # fmt: skip
    uploaded = json.loads(ok(polkacompute("job", "submit", "--package", "job2.json", "--store", str(store),
                                          "--max-price", "0.01", "--dev", "1", "--json", cwd=cwd)).stdout)  # fmt: skip
    assert uploaded["published_to"] == submitted["published_to"]
    input_cid = json.loads((cwd / "job2.json").read_text())["input"]
    assert list((devnet / ".polkacompute" / "devnet" / "store").rglob(input_cid))  # the gateway has it now
    ok(polkacompute("job", "watch", str(uploaded["id"]), "--timeout", "180", cwd=cwd))  # the workers fetched it
    (cwd / "in3.txt").write_bytes(b"nowhere\n")
    ok(polkacompute("job", "pack", "upper.wasm", "-r", "wasi", "-i", "in3.txt", "-o", "job3.json", "--store",
                    str(tmp_path / "lost"), cwd=cwd))  # fmt: skip
    before = json.loads(ok(polkacompute("job", "list", "--json", cwd=cwd)).stdout)[0]["id"]
    failed(polkacompute("job", "submit", "--package", "job3.json", "--dev", "1", cwd=cwd), 9, "is neither at")
    assert json.loads(ok(polkacompute("job", "list", "--json", cwd=cwd)).stdout)[0]["id"] == before  # not submitted


def test_worker_status_logs_and_earnings(devnet: Path) -> None:
    status = json.loads(ok(polkacompute("worker", "status", "--dev", "2", "--json", cwd=devnet)).stdout)
    assert status["phases"].get("done", 0) >= 1
    assert status["earnings_wei"] > 0
    logs = ok(polkacompute("worker", "logs", "--dev", "2", "-n", "5", cwd=devnet))
    assert len(logs.stdout.splitlines()) == 5
    withdrawn = json.loads(ok(polkacompute("escrow", "withdraw", "--dev", "2", "--json", cwd=devnet)).stdout)
    assert withdrawn["withdrawn_wei"] == status["earnings_wei"]
    failed(polkacompute("escrow", "withdraw", "--dev", "2", cwd=devnet), 6, "nothing to withdraw")


# Last: the README's walkthrough on the same devnet (a second one would cost CI minutes), after the tests above
# (they count its jobs and earnings).
@pytest.mark.timeout(900)
def test_the_readme_runs_as_written(devnet: Path, tmp_path: Path) -> None:
    """The CLI walkthrough, line by line in one bash session from the checkout in a fresh shell (nothing
    exported, an empty home), fails on any exit code the README does not state; then the SDK example. The one
    difference from a newcomer's devnet: it is not at 127.0.0.1:8545, which the SDK's `local` network
    assumes, so its example gets POLKACOMPUTE_RPC_URL (the CLI follows the devnet by itself)."""
    text = README.read_text()
    steps = walkthrough(text)
    commands = [s.command for s in steps]  # the block, found whole:
    assert commands[0].startswith("source .venv/bin/activate "), commands
    assert any(c.startswith("kill %1 ") for c in commands), commands
    env = fresh_shell(tmp_path / "home")
    run_walkthrough(steps, devnet, env, tmp_path / "walkthrough", timeout=600)

    fleet = json.loads((devnet / ".polkacompute" / "devnet" / "fleet.json").read_text())
    (tmp_path / "sdk.py").write_text(sdk_example(text))
    sdk = subprocess.run(["bash", "-c", f"source .venv/bin/activate && python {tmp_path / 'sdk.py'}"], cwd=devnet,
                         env={**env, "POLKACOMPUTE_RPC_URL": fleet["rpc_url"]}, capture_output=True, text=True,
                         timeout=300, check=False)  # fmt: skip
    assert sdk.returncode == 0, sdk.stderr
    printed = sdk.stdout.splitlines()
    assert "FINALIZED" in printed, sdk.stdout  # the job it submitted, watched to its end
    assert any(line.endswith(" JobFinalized") for line in printed), sdk.stdout  # its events, from the async client
