"""The command line as a user runs it: real processes, a real devnet on a free port."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ANVIL, free_port

CLI = [sys.executable, "-m", "polkacompute.cli"]


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


def test_devnet_up_demo_status_and_down(tmp_path: Path) -> None:
    port = str(free_port())
    up = polkacompute("--json", "devnet", "up", "--port", port, "--demo", "--detach", cwd=tmp_path)
    try:
        assert up.returncode == 0, up.stderr
        assert '"verified": true' in up.stdout
        assert '"status": "FINALIZED"' in up.stdout
        status = json.loads(polkacompute("--json", "devnet", "status", "--port", port, cwd=tmp_path).stdout)
        assert status["running"] is True
        job = polkacompute("--json", "job", "status", "1", cwd=tmp_path,
                           env={"POLKACOMPUTE_RPC_URL": f"http://127.0.0.1:{port}"})  # fmt: skip
        assert job.returncode == 0, job.stderr
        assert json.loads(job.stdout)["status"] == "FINALIZED"
        rpc = {"POLKACOMPUTE_RPC_URL": f"http://127.0.0.1:{port}"}
        reg = polkacompute("provider", "register", "--stake", "5", "--region", "us-east", "--dev", "6", cwd=tmp_path,
                           env=rpc)  # fmt: skip
        assert reg.returncode == 0, reg.stderr
        address = "0x976EA74026E726554dB657fA54763abd0C3a0aa9"  # anvil dev account 6
        info = json.loads(polkacompute("--json", "provider", "info", address, cwd=tmp_path, env=rpc).stdout)
        assert info["stake"] == 5 * 10**18
        assert info["region"] == "us-east"
    finally:
        down = polkacompute("--json", "devnet", "down", "--port", port, cwd=tmp_path)
    assert json.loads(down.stdout) == {"stopped": True}
    assert (tmp_path / ".polkacompute" / "devnet" / "deployments" / "local.json").exists()
