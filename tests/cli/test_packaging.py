"""`job pack`, `job run --local` and `runtime list` as a user runs them (real processes)."""

import json
from pathlib import Path

from .test_cli import polkacompute

ROOT = Path(__file__).resolve().parents[2]
AGGREGATE = ROOT / "templates" / "python-aggregate"


def test_pack_then_run_locally_gives_the_pinned_digest(tmp_path: Path) -> None:
    store, manifest = tmp_path / "store", tmp_path / "job.json"
    args = ["job", "pack", str(AGGREGATE / "aggregate.py"), "-r", "python", "-i", str(AGGREGATE / "input.json")]
    packed = polkacompute("--json", *args, "-o", str(manifest), "--store", str(store), cwd=tmp_path)
    assert packed.returncode == 0, packed.stderr
    package = json.loads(packed.stdout)
    assert package["program_cid"].startswith("bafkrei")
    runtimes = {r["runtime"]: r for r in json.loads(polkacompute("--json", "runtime", "list", cwd=tmp_path).stdout)}
    assert package["runtime_id"] == runtimes["python"]["identity"]
    ran = polkacompute("--json", "job", "run", str(manifest), "--job-id", "1", "--store", str(store), cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    expected = json.loads((AGGREGATE / "template.json").read_text())["expected_result_digest"]
    assert (result["status"], result["result_digest"]) == ("exited", expected)
    assert json.loads(result["output"])["eu-west"]["n"] > 0


def test_packaging_errors_are_clear(tmp_path: Path) -> None:
    store, manifest = tmp_path / "store", tmp_path / "job.json"
    missing = polkacompute("job", "pack", str(tmp_path / "nope.wasm"), "-r", "wasi", cwd=tmp_path)
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr
    unknown = polkacompute("job", "pack", str(AGGREGATE / "aggregate.py"), "-r", "cobol", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "unknown runtime 'cobol'" in unknown.stderr
    (tmp_path / "bad.json").write_text("{}")
    bad = polkacompute("job", "run", str(tmp_path / "bad.json"), cwd=tmp_path)
    assert bad.returncode == 2
    assert "not a job package manifest" in bad.stderr
    packed = polkacompute("--json", "job", "pack", str(AGGREGATE / "aggregate.py"), "-r", "python", "-o", str(manifest),
                          "--store", str(store), cwd=tmp_path)  # fmt: skip
    program_cid = json.loads(packed.stdout)["program_cid"]
    next(store.rglob(program_cid)).write_bytes(b"print('tampered')")
    tampered = polkacompute("job", "run", str(manifest), "--store", str(store), cwd=tmp_path)
    assert tampered.returncode == 9
    assert f"content does not match {program_cid}" in tampered.stderr
    for result in (missing, unknown, bad, tampered):
        assert len(result.stderr.strip().splitlines()) == 1
