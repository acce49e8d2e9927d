"""The command line as a user runs it: real processes, a real devnet on a free port."""

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ANVIL, free_port

CLI = [sys.executable, "-m", "polkacompute.cli"]
DEV1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil dev account 1
ROOT = Path(__file__).resolve().parents[2]


def polkacompute(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "POLKACOMPUTE_ANVIL": str(ANVIL), **(env or {})}
    return subprocess.run([*CLI, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=180,
                          check=False)  # fmt: skip


def test_network_list_json(tmp_path: Path) -> None:
    out = polkacompute("--json", "network", "list", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    names = {n["name"]: n["chain_id"] for n in json.loads(out.stdout)}
    assert names["hub-testnet"] == 420420417


def test_accounts_new_list_and_wrong_password(tmp_path: Path) -> None:
    env = {"POLKACOMPUTE_HOME": str(tmp_path), "POLKACOMPUTE_PASSWORD": "s3cret"}
    created = polkacompute("--json", "account", "new", "alice", cwd=tmp_path, env=env)
    assert created.returncode == 0, created.stderr
    address = json.loads(created.stdout)["address"]
    listed = json.loads(polkacompute("--json", "account", "list", cwd=tmp_path, env=env).stdout)
    assert listed == [{"name": "alice", "address": address}]
    dup = polkacompute("account", "new", "alice", cwd=tmp_path, env=env)
    assert dup.returncode == 4
    assert "already exists" in dup.stderr
    assert len(dup.stderr.strip().splitlines()) == 1  # one readable line


def test_dev_key_refused_on_hub_and_unreachable_rpc_exit_codes(tmp_path: Path) -> None:
    refused = polkacompute("deploy", "--network", "hub-testnet", "--dev", "0", cwd=tmp_path)
    assert refused.returncode == 4
    assert "well-known development key" in refused.stderr
    dead = f"http://127.0.0.1:{free_port()}"
    unreachable = polkacompute("account", "balance", "0x" + "11" * 20, "--rpc-url", dead, cwd=tmp_path)
    assert unreachable.returncode == 3
    assert "cannot reach the RPC endpoint" in unreachable.stderr


def proc_state(pid: int) -> str | None:
    """A process's state letter ("Z": a zombie, dead and not reaped), or None if there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def running(pid: int) -> bool:
    return proc_state(pid) not in (None, "Z")


def devnet_status(cwd: Path, port: str) -> dict[str, Any]:
    out = polkacompute("--json", "devnet", "status", "--port", port, cwd=cwd)
    assert out.returncode == 0, out.stderr
    status: dict[str, Any] = json.loads(out.stdout)
    return status


def devnet_pids(status: dict[str, Any]) -> list[int]:
    """anvil's, the supervisor's and every fleet process's pid."""
    return [status["pid"], status["supervisor"], *(p["pid"] for p in status["processes"])]


def json_stream(text: str) -> list[dict[str, Any]]:
    """The JSON objects a `--json` command printed one after another."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (at := text.find("{", at)) >= 0:
        value, at = decoder.raw_decode(text, at)
        found.append(value)
    return found


def rpc_call(url: str, method: str, *params: Any) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"content-type": "application/json"})  # noqa: S310 (loopback)
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return json.loads(response.read())["result"]


@pytest.fixture(scope="module")
def devnet_cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A detached devnet on a free port with the demo job (job 1) finalized; stopped at the end."""
    cwd = tmp_path_factory.mktemp("devnet")
    port = str(free_port())
    up = polkacompute("--json", "devnet", "up", "--port", port, "--demo", "--detach", cwd=cwd)
    assert up.returncode == 0, up.stderr
    assert '"verified": true' in up.stdout
    assert '"status": "FINALIZED"' in up.stdout
    pids = devnet_pids(devnet_status(cwd, port))
    try:
        yield cwd, {"POLKACOMPUTE_RPC_URL": f"http://127.0.0.1:{port}", "POLKACOMPUTE_DEVNET_PORT": port}
    finally:
        down = polkacompute("--json", "devnet", "down", "--port", port, cwd=cwd)
        assert json.loads(down.stdout) == {"stopped": True}
        assert (cwd / ".polkacompute" / "devnet" / "deployments" / "local.json").exists()
        assert not [pid for pid in pids if running(pid)]  # anvil, the supervisor, the dashboard


def test_devnet_status_and_demo_job(devnet_cli: tuple[Path, dict[str, str]]) -> None:
    cwd, rpc = devnet_cli
    status = devnet_status(cwd, rpc["POLKACOMPUTE_DEVNET_PORT"])
    assert status["running"] is True
    assert running(status["supervisor"])  # `--detach` left the supervisor running, not just anvil
    assert [(p["name"], p["alive"], p["state"]) for p in status["processes"]] == [("dashboard", True, "running")]
    job = polkacompute("--json", "job", "status", "1", cwd=cwd, env=rpc)
    assert job.returncode == 0, job.stderr
    assert json.loads(job.stdout)["status"] == "FINALIZED"


def test_devnet_mines_blocks_with_no_transactions(devnet_cli: tuple[Path, dict[str, str]]) -> None:
    url = devnet_cli[1]["POLKACOMPUTE_RPC_URL"]
    first = int(rpc_call(url, "eth_blockNumber"), 16)
    time.sleep(3.5)
    blocks = [rpc_call(url, "eth_getBlockByNumber", hex(n), False)
              for n in range(first, int(rpc_call(url, "eth_blockNumber"), 16) + 1)]  # fmt: skip
    empty = [b for b in blocks[1:] if not b["transactions"]]
    assert len(empty) >= 2, blocks  # mined on time, with nothing to include
    assert int(blocks[-1]["timestamp"], 16) > int(blocks[0]["timestamp"], 16)  # chain time moves on its own


def test_provider_register_stake_unbond_info(devnet_cli: tuple[Path, dict[str, str]]) -> None:
    cwd, rpc = devnet_cli
    reg = polkacompute("provider", "register", "--stake", "5", "--region", "us-east", "--dev", "6", cwd=cwd, env=rpc)
    assert reg.returncode == 0, reg.stderr
    staked = polkacompute("--json", "provider", "stake", "1.5", "--dev", "6", cwd=cwd, env=rpc)
    assert json.loads(staked.stdout)["stake"] == 65 * 10**17
    unbonding = json.loads(polkacompute("--json", "provider", "unbond", "0.5", "--dev", "6", cwd=cwd, env=rpc).stdout)
    assert (unbonding["stake"], unbonding["unbonding"]) == (6 * 10**18, 5 * 10**17)
    early = polkacompute("provider", "withdraw", "--dev", "6", cwd=cwd, env=rpc)
    assert early.returncode == 6, early.stderr  # the contract's custom error, decoded, on one line
    assert len(early.stderr.strip().splitlines()) == 1
    address = "0x976EA74026E726554dB657fA54763abd0C3a0aa9"  # anvil dev account 6
    info = json.loads(polkacompute("--json", "provider", "info", address, cwd=cwd, env=rpc).stdout)
    assert (info["stake"], info["region"]) == (6 * 10**18, "us-east")
    table = polkacompute("provider", "info", address, cwd=cwd, env=rpc)
    assert "2500 / 10000" in table.stdout
    bad = polkacompute("provider", "stake", "lots", "--dev", "6", cwd=cwd, env=rpc)
    assert bad.returncode == 2
    assert "'lots' is not a number" in bad.stderr


def test_job_submit_list_watch_result_cancel(devnet_cli: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    cwd, rpc = devnet_cli
    program, data = tmp_path / "prog.wasm", tmp_path / "input.bin"
    program.write_bytes(b"\0asm-not-really")
    data.write_bytes(b"input")
    submitted = polkacompute("--json", "job", "submit", "--program", str(program), "--input", str(data), "--max-price",
                             "0.05", "--dev", "1", cwd=cwd, env=rpc)  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    job_id = json.loads(submitted.stdout)["id"]
    listed = json.loads(polkacompute("--json", "job", "list", "--status", "open", cwd=cwd, env=rpc).stdout)
    assert job_id in [j["id"] for j in listed]
    assert all(j["status"] == "OPEN" for j in listed)
    table = polkacompute("job", "list", "--limit", "5", cwd=cwd, env=rpc)
    assert "FINALIZED" in table.stdout  # the demo job
    timeout = polkacompute("job", "watch", str(job_id), "--timeout", "1", cwd=cwd, env=rpc)
    assert timeout.returncode == 7
    assert f"job {job_id} did not finish within 1s" in timeout.stderr
    cancelled = polkacompute("job", "cancel", str(job_id), "--dev", "1", cwd=cwd, env=rpc)
    assert cancelled.returncode == 0, cancelled.stderr
    watched = polkacompute("--json", "job", "watch", str(job_id), cwd=cwd, env=rpc)
    events = [json.loads(line)["event"] for line in watched.stdout.splitlines() if line.startswith("{")]
    assert events == ["JobSubmitted", "Deposited", "JobCancelled", "Refunded"]
    refund = json.loads(polkacompute("--json", "escrow", "balance", DEV1, cwd=cwd, env=rpc).stdout)
    assert refund["balance_wei"] >= 3 * 5 * 10**16
    withdrawn = json.loads(polkacompute("--json", "escrow", "withdraw", "--dev", "1", cwd=cwd, env=rpc).stdout)
    assert withdrawn["withdrawn_wei"] == refund["balance_wei"]


def test_submit_a_job_package(devnet_cli: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    cwd, rpc = devnet_cli
    manifest = tmp_path / "job.json"
    packed = polkacompute("job", "pack", str(ROOT / "templates" / "python-traffic" / "traffic.py"), "-r", "python",
                          "-i", str(ROOT / "templates" / "python-traffic" / "input.json"), "-o", str(manifest),
                          "--store", str(tmp_path / "store"), cwd=cwd)  # fmt: skip
    assert packed.returncode == 0, packed.stderr
    submitted = polkacompute("--json", "job", "submit", "--package", str(manifest), "--dev", "1", cwd=cwd, env=rpc)
    assert submitted.returncode == 0, submitted.stderr
    job_id = json.loads(submitted.stdout)["id"]
    events = polkacompute("--json", "job", "watch", str(job_id), "--timeout", "1", cwd=cwd, env=rpc)
    spec = json.loads(events.stdout.splitlines()[0])["args"]["spec"]
    package = json.loads(manifest.read_text())
    assert spec["runtimeId"] == package["runtime_id"]  # the runtime identity is what went on-chain
    assert (spec["fuelLimit"], spec["timeLimit"]) == (package["fuel"], package["time_s"])
    neither = polkacompute("job", "submit", "--dev", "1", cwd=cwd, env=rpc)
    assert neither.returncode == 2
    assert "give --package, or both --program and --input" in neither.stderr


def test_result_verifies_output_of_the_demo_job(devnet_cli: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    cwd, rpc = devnet_cli
    good, bad = tmp_path / "good.bin", tmp_path / "bad.bin"
    good.write_bytes(hashlib.sha256(b"hello, Polkadot").digest())  # the demo program's output
    bad.write_bytes(b"tampered")
    ok = polkacompute("--json", "job", "result", "1", "--verify", str(good), cwd=cwd, env=rpc)
    assert ok.returncode == 0, ok.stderr
    result = json.loads(ok.stdout)
    assert result["status"] == "FINALIZED"
    assert len(result["paid"]) == 3
    mismatch = polkacompute("job", "result", "1", "--verify", str(bad), cwd=cwd, env=rpc)
    assert mismatch.returncode == 8
    assert "do not use this output" in mismatch.stderr


def test_user_errors_are_one_line_with_exit_codes(devnet_cli: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    cwd, rpc = devnet_cli
    cases = [
        (["job", "status", "999"], 2, "no job 999 on local"),
        (["job", "list", "--status", "running"], 2, "unknown status 'running'"),
        (["job", "submit", "--program", str(tmp_path / "missing"), "--input", str(tmp_path / "missing"), "--dev", "1"],
         2, "cannot read"),
        (["job", "submit", "--program", __file__, "--input", __file__, "--quorum", "1", "--dev", "1"], 2,
         "not a majority"),
        (["job", "cancel", "1", "--dev", "1"], 6, "WrongStatus"),
        (["job", "submit", "--program", __file__, "--input", __file__, "--max-price", "1000000", "--dev", "1"], 6,
         "cannot pay for value plus gas"),
        (["job", "status", "1", "--chain-id", "5"], 2, "network 'local' has chain id 31337, not 5"),
        (["account", "balance", DEV1, "-n", "mine", "--rpc-url", rpc["POLKACOMPUTE_RPC_URL"], "--chain-id", "5"], 3,
         "chain id"),
    ]  # fmt: skip
    for args, code, text in cases:
        out = polkacompute(*args, cwd=cwd, env=rpc)
        assert out.returncode == code, (args, out.stderr)
        assert text in out.stderr, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_devnet_with_workers_runs_the_demo_through_them(tmp_path: Path) -> None:
    port = str(free_port())
    up = polkacompute("--json", "devnet", "up", "--port", port, "--demo", "--workers", "3", "--detach", cwd=tmp_path)
    try:
        assert up.returncode == 0, up.stderr
        assert '"verified": true' in up.stdout
        assert b"HELLO, POLKADOT".hex() in up.stdout  # the output, hex in JSON
        found = re.search(r'"dashboard": "(http://[^"]+)"', up.stdout)
        assert found, up.stdout
        dashboard = found.group(1)
        deadline = time.monotonic() + 30
        while True:  # the indexer catches up with the demo's job
            with urllib.request.urlopen(f"{dashboard}api/stats", timeout=5) as response:  # noqa: S310
                stats = json.loads(response.read())
            if stats["by_status"].get("FINALIZED") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert stats["by_status"] == {"FINALIZED": 1}, stats
        assert stats["active_workers"] == 3
        with urllib.request.urlopen(dashboard, timeout=5) as response:  # noqa: S310 (the web pages, same server)
            assert response.headers["content-type"].startswith("text/html")
            assert "<title>PolkaCompute" in response.read().decode()
        workers = list((tmp_path / ".polkacompute" / "devnet" / "workers").iterdir())
        assert len(workers) == 3
        for worker in workers:  # over libp2p: the demo's announcement reached each of them
            assert "announced by" in (worker / "worker.log").read_text(), (worker / "worker.log").read_text()
        check_supervision(tmp_path, port)
        pids = devnet_pids(devnet_status(tmp_path, port))
    finally:
        down = polkacompute("--json", "devnet", "down", "--port", port, cwd=tmp_path)
    assert json.loads(down.stdout) == {"stopped": True}
    assert not [pid for pid in pids if running(pid)]  # anvil, supervisor, gateway, dashboard, workers
    assert not (tmp_path / ".polkacompute" / "devnet" / "fleet.json").exists()
    check_restart_in_a_background_job(tmp_path, port)


def check_supervision(cwd: Path, port: str) -> None:
    """A worker killed with SIGKILL is reaped, reported and restarted; `restart-worker` restarts one."""
    before = {p["name"]: p for p in devnet_status(cwd, port)["processes"]}
    assert sorted(before) == ["dashboard", "gateway", "worker2", "worker3", "worker4"]
    assert all(p["alive"] for p in before.values()), before
    victim = before["worker3"]
    os.kill(victim["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 120
    while (now := {p["name"]: p for p in devnet_status(cwd, port)["processes"]})["worker3"]["pid"] == victim["pid"] or \
            now["worker3"]["state"] != "running":  # fmt: skip
        assert time.monotonic() < deadline, now["worker3"]
        time.sleep(0.5)
    assert proc_state(victim["pid"]) is None  # reaped by the supervisor (its parent): no zombie
    assert (now["worker3"]["alive"], now["worker3"]["restarts"], now["worker3"]["url"]) == (True, 1, victim["url"])
    with urllib.request.urlopen(f"{victim['url']}/metrics", timeout=5) as response:  # noqa: S310 (loopback)
        assert response.status == 200  # the new process serves at the same address
    log = (cwd / ".polkacompute" / "devnet" / "supervisor.out").read_text()
    reports = [r for r in json_stream(log) if r.get("event") == "exited"]  # which worker died, how, its log
    assert reports == [{"event": "exited", "process": "worker3", "pid": victim["pid"], "returncode": -9,
                        "log": ".polkacompute/devnet/worker3.out", "action": "restart"}], log  # fmt: skip
    restarted = polkacompute("--json", "devnet", "restart-worker", "2", "--port", port, cwd=cwd)
    assert restarted.returncode == 0, restarted.stderr
    entry = json.loads(restarted.stdout)
    assert (entry["name"], entry["state"], entry["url"]) == ("worker2", "running", before["worker2"]["url"])
    assert entry["pid"] != before["worker2"]["pid"]
    assert running(entry["pid"])
    assert proc_state(before["worker2"]["pid"]) is None  # stopped and reaped
    with urllib.request.urlopen(f"{entry['url']}/metrics", timeout=5) as response:  # noqa: S310 (loopback)
        assert response.status == 200
    unknown = polkacompute("devnet", "restart-worker", "9", "--port", port, cwd=cwd)
    assert unknown.returncode == 2
    assert "the devnet has no worker9" in unknown.stderr


def check_restart_in_a_background_job(cwd: Path, port: str) -> None:
    """`devnet up` again, as a shell's background job (SIGINT ignored): it finds its state, starts new
    workers (not the addresses in the previous run's logs), and SIGINT stops it all."""
    out, err = cwd / "up.out", cwd / "up.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        up = subprocess.Popen([*CLI, "--json", "devnet", "up", "--port", port, "--demo", "--workers", "3"], cwd=cwd,
                              env={**os.environ, "POLKACOMPUTE_ANVIL": str(ANVIL)}, stdout=stdout, stderr=stderr,
                              preexec_fn=ignore_sigint)  # fmt: skip
    pid_file = cwd / ".polkacompute" / "devnet" / "supervisor.pid"
    deadline = time.monotonic() + 180
    try:
        while not (pid_file.exists() and pid_file.read_text() == str(up.pid)):
            assert up.poll() is None, err.read_text()
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.2)
        assert '"verified": true' in out.read_text()
        pids = devnet_pids(devnet_status(cwd, port))
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=60) == 0
    finally:
        if up.poll() is None:
            up.kill()
    assert '"stopped": true' in out.read_text()
    assert not [pid for pid in pids if running(pid)]
    assert not pid_file.exists()


def ignore_sigint() -> None:
    """What a shell does for a background job (`cmd &`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
