"""Defaults that follow the devnet and the checkout, found from the working directory upwards with nothing
exported (README, "The CLI"): runtimes, the content store, worker directories, the devnet's RPC URL and
deployment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from polkacompute.chain.deploy import Deployment, save_deployment
from polkacompute.chain.networks import NETWORKS, Network
from polkacompute.cli.common import network_of
from polkacompute.cli.defaults import content_sources
from polkacompute.runtimes.python_bundle import default_directory
from polkacompute.worker.state import WorkerState

from .conftest import Ran

Cli = Callable[..., Ran]
ROOT = Path(__file__).resolve().parents[2]
DEV2 = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # anvil dev account 2
ISOLATED = ("POLKACOMPUTE_RUNTIMES", "POLKACOMPUTE_STORE", "POLKACOMPUTE_RPC_URL", "POLKACOMPUTE_DEPLOYMENTS",
            "POLKACOMPUTE_DEVNET_DIR")  # fmt: skip


@pytest.fixture
def fresh_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No PolkaCompute variables (as in a new shell), an empty home; returns a project directory."""
    for name in ISOLATED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POLKACOMPUTE_HOME", str(tmp_path / "home"))
    project = tmp_path / "project"
    (project / "deep" / "sub").mkdir(parents=True)
    return project


def test_runtimes_are_found_from_the_working_directory_upwards(fresh_shell: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.chdir(fresh_shell / "deep" / "sub")
    assert default_directory() == fresh_shell.parent / "home" / "runtimes"  # none here: the user's
    (fresh_shell / ".polkacompute" / "runtimes").mkdir(parents=True)
    assert default_directory() == fresh_shell / ".polkacompute" / "runtimes"  # as git finds .git
    monkeypatch.setenv("POLKACOMPUTE_RUNTIMES", "/elsewhere")
    assert default_directory() == Path("/elsewhere")  # the variable first


def test_the_python_runtime_make_installed_is_listed_in_a_fresh_shell(tmp_path: Path) -> None:
    """`runtime list` in a subdirectory of the checkout, nothing exported: python is ready."""
    env = {k: v for k, v in os.environ.items() if k not in ISOLATED}
    env["POLKACOMPUTE_HOME"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-m", "polkacompute.cli", "--json", "runtime", "list"],
                          cwd=ROOT / "templates", env=env, capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    python = next(r for r in json.loads(done.stdout) if r["runtime"] == "python")
    assert python["ready"], python


def test_job_pack_stores_in_the_devnet_store(cli: Cli, fresh_shell: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    program = fresh_shell / "prog.wasm"
    program.write_bytes(b"\0asm\1\0\0\0")
    monkeypatch.chdir(fresh_shell / "deep")
    alone = cli("--json", "job", "pack", str(program), "-r", "wasi")
    assert alone.json()["store"] == str(fresh_shell.parent / "home" / "store")
    (fresh_shell / ".polkacompute" / "devnet").mkdir(parents=True)
    packed = cli("--json", "job", "pack", str(program), "-r", "wasi")
    store = fresh_shell / ".polkacompute" / "devnet" / "store"
    assert packed.json()["store"] == str(store)  # which the devnet's gateway serves to its workers
    assert list(store.rglob(packed.json()["program_cid"]))


def test_worker_status_and_logs_find_the_devnets_worker(cli: Cli, fresh_shell: Path, anvil: Network,
                                                        deployment: Deployment,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.chdir(fresh_shell / "deep" / "sub")
    missing = cli("worker", "logs", "--dev", "2")
    assert missing.code == 2
    assert len(missing.stderr.strip().splitlines()) == 1
    assert f"no worker worker.log at {fresh_shell.parent / 'home' / 'workers' / DEV2 / 'worker.log'}" in missing.stderr
    worker = fresh_shell / ".polkacompute" / "devnet" / "workers" / "worker2"
    worker.mkdir(parents=True)
    (worker / "worker.log").write_text("".join(f"line {i}\n" for i in range(10)))
    logs = cli("worker", "logs", "--dev", "2", "-n", "2")
    assert (logs.code, logs.stdout) == (0, "line 8\nline 9\n")
    WorkerState(worker / "state.db")  # an empty worker state
    save_deployment(deployment, fresh_shell / ".polkacompute" / "devnet" / "deployments")
    monkeypatch.setenv("POLKACOMPUTE_RPC_URL", anvil.rpc_url)
    status = cli("--json", "worker", "status", "--dev", "2")
    assert status.code == 0, status.stderr
    assert (status.json()["address"], status.json()["in_flight"]) == (DEV2, [])


@pytest.fixture
def running_devnet(fresh_shell: Path, anvil: Network, deployment: Deployment) -> Iterator[Path]:
    """A devnet's state directory as `devnet up` leaves it while it runs (its anvil: the session's, on another
    port than 8545; a stand-in process holds the pid file)."""
    directory = fresh_shell / ".polkacompute" / "devnet"
    save_deployment(deployment, directory / "deployments")
    (directory / "fleet.json").write_text(json.dumps({"rpc_url": anvil.rpc_url, "gateway_url": "", "processes": {}}))
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", "anvil"])
    (directory / "anvil.pid").write_text(str(stand_in.pid))
    try:
        yield directory
    finally:
        stand_in.kill()
        stand_in.wait()


def test_the_local_network_follows_a_running_devnet(cli: Cli, running_devnet: Path, fresh_shell: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.chdir(fresh_shell / "deep" / "sub")  # its deployment and RPC URL found from below
    listed = cli("--json", "job", "list")
    assert listed.code == 0, listed.stderr
    assert listed.json() == []
    assert network_of("local", None, None).rpc_url == running_devnet_url(running_devnet)
    (running_devnet / "fleet.json").unlink()  # stopped: the network's own URL again
    assert network_of("local", None, None).rpc_url == NETWORKS["local"].rpc_url
    assert network_of("local", "http://127.0.0.1:9", None).rpc_url == "http://127.0.0.1:9"  # --rpc-url first


def test_a_worker_fetches_content_from_the_running_devnets_gateway(running_devnet: Path, fresh_shell: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.chdir(fresh_shell / "deep")
    fleet = json.loads((running_devnet / "fleet.json").read_text())
    (running_devnet / "fleet.json").write_text(json.dumps({**fleet, "gateway_url": "http://127.0.0.1:9"}))
    devnet = network_of("local", None, None)
    assert content_sources(None, devnet) == ("http://127.0.0.1:9",)  # where `job submit` publishes
    assert content_sources(["http://10.0.0.7:8080"], devnet) == ("http://10.0.0.7:8080",)  # --content first
    assert content_sources(None, network_of("local", "http://127.0.0.1:1", None)) == ()  # another chain's worker


def running_devnet_url(directory: Path) -> str:
    url: str = json.loads((directory / "fleet.json").read_text())["rpc_url"]
    return url
