"""CLI start-up (issue 16: `--help` <= 1.5 s, `job list` <= 2 s on 2 cores, measured by `make bench-cli`,
not here): what each command imports, and the eth-keyfile stand-in (`polkacompute.cli.lazyimports`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_help_is_fast_to_import() -> None:
    """`polkacompute --help` imports no chain, sandbox, libp2p or web library (the import cost of each
    command is paid by that command only)."""
    code = ("import sys; from polkacompute.cli.app import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = sorted(m for m in ('web3', 'eth_account', 'wasmtime', 'libp2p', 'fastapi', 'sqlalchemy', "
            "'aiohttp', 'trio') if m in sys.modules)\nprint('HEAVY', heavy)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert "HEAVY []" in done.stdout, done.stdout[-500:]


def test_job_list_loads_only_what_it_needs(tmp_path: Path) -> None:
    """The SDK and web3, not the sandbox, libp2p, the indexer or BLS (the call fails: no chain is there)."""
    code = (
        "import sys; from polkacompute.cli.app import main\n"
        "try:\n    main(['job', 'list', '--rpc-url', 'http://127.0.0.1:9'])\nexcept SystemExit:\n    pass\n"
        "print('LOADED', 'web3' in sys.modules, 'polkacompute.sdk.client' in sys.modules)\n"
        "print('HEAVY', sorted(m for m in ('wasmtime', 'libp2p', 'fastapi', 'sqlalchemy', 'py_ecc.bls') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          check=True)  # fmt: skip
    assert "LOADED True True" in done.stdout, done.stdout[-500:]
    assert "HEAVY []" in done.stdout, done.stdout[-500:]


def test_the_keyfile_stand_in_defers_bls_and_still_reads_keystores(tmp_path: Path) -> None:
    code = f"""
import sys
from polkacompute.cli.lazyimports import defer_keyfile
assert defer_keyfile()
import web3, eth_account
from polkacompute.chain.accounts import Keystore
assert not [m for m in sys.modules if m.startswith("py_ecc.bls")], "BLS imported"
store = Keystore(__import__("pathlib").Path({str(tmp_path)!r}))
made = store.create("alice", "pw")
assert store.load("alice", "pw").address == made.address
assert not getattr(sys.modules["eth_keyfile"], "deferred", False)  # the real module, loaded on first use
try:
    store.load("alice", "wrong")
except Exception as exc:
    print("REFUSED", type(exc).__name__)
print("OK")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "REFUSED AccountError" in done.stdout
    assert done.stdout.strip().endswith("OK")
