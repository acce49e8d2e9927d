"""The wheel `pip install` users get carries the dashboard's built pages: no Node needed to serve them."""

import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_ships_the_dashboard_pages_and_every_asset_they_load(tmp_path: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                            "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("polkacompute-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        page = archive.read("polkacompute/dashboard/static/index.html").decode()
    loaded = re.findall(r'(?:src|href)="\./(assets/[^"]+)"', page)
    assert any(a.endswith(".js") for a in loaded)
    assert any(a.endswith(".css") for a in loaded)
    for asset in loaded:
        assert f"polkacompute/dashboard/static/{asset}" in names
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page)  # nothing from elsewhere: it works offline
    assert "polkacompute/indexer/migrations/versions/0006_gas_times_escrow_history.py" in names
