"""The databases the indexer is tested on: a SQLite file, and a real PostgreSQL server (Debian's
`postgresql` package, which `make setup` installs) started for the session in a scratch directory."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import free_port


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its tools as the `postgres` system user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a fresh PostgreSQL server's admin database, on 127.0.0.1 at a free port."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not binaries:
        pytest.fail("PostgreSQL is missing: `apt-get install postgresql` (make setup installs it)")
    bin_dir = Path(binaries[-1]).parent
    scratch = Path(tempfile.mkdtemp(prefix="pc-postgres-"))
    scratch.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(scratch, "postgres", "postgres")
    data, port = scratch / "data", free_port()
    subprocess.run(_as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                 "-E", "UTF8"]), check=True, capture_output=True, timeout=120)  # fmt: skip
    options = f"-p {port} -k {scratch} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                                 str(scratch / "log"), "-w", "start"]), check=True, capture_output=True,
                   timeout=120)  # fmt: skip
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind the indexer supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'index.db'}"
    server = request.getfixturevalue("postgres_server")
    name = f"index_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return f"{server}/{name}"
