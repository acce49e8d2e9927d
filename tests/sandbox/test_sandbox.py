"""The sandbox on real wasmtime: results, determinism, limits and hostile programs."""

import hashlib
import struct
import time
from pathlib import Path

import pytest

from polkacompute.sandbox import Limits, Mount, NotCanonical, RunResult, Sandbox, Status
from polkacompute.sandbox.runner import MAX_PROGRAM_BYTES
from polkacompute.sandbox.wasi import REALTIME_BASE_NS, JobIO
from polkacompute.store import cid_of, digest_of

from . import wat

SMALL = Limits(fuel=10**7, time_s=10, memory_bytes=4 * 1024 * 1024, output_bytes=1000)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory):
    with Sandbox(tmp_path_factory.mktemp("modules")) as sb:
        yield sb


def test_hello_result_digest_and_cid(sandbox: Sandbox) -> None:
    result = sandbox.run(wat.HELLO)
    assert (result.status, result.exit_code, result.output) == (Status.EXITED, 0, b"hello\n")
    assert result.ok
    assert result.fuel_used > 0
    assert result.digest == hashlib.sha256(result.canonical_bytes()).digest()
    assert digest_of(result.cid) == result.digest
    assert result.cid.startswith("bafyrei")  # dag-cbor CIDv1
    assert RunResult.decode(result.canonical_bytes()) == result


def test_same_program_same_result_every_time(sandbox: Sandbox) -> None:
    digests = {sandbox.run(wat.HELLO).digest for _ in range(20)}
    assert len(digests) == 1


def test_infinite_loop_runs_out_of_fuel_deterministically(sandbox: Sandbox) -> None:
    first, second = (sandbox.run(wat.INFINITE_LOOP, limits=SMALL) for _ in range(2))
    assert first.status is Status.OUT_OF_FUEL
    assert first.fuel_used == SMALL.fuel
    assert first.digest == second.digest


def test_wall_clock_timeout_has_no_canonical_result(sandbox: Sandbox) -> None:
    result = sandbox.run(wat.INFINITE_LOOP, limits=Limits(fuel=10**15, time_s=0.2))
    assert result.status is Status.TIMEOUT
    assert result.wall_ms < 5_000
    with pytest.raises(NotCanonical, match="timeout"):
        _ = result.digest


def test_memory_bomb_stops_at_the_memory_limit(sandbox: Sandbox) -> None:
    result = sandbox.run(wat.MEMORY_BOMB, limits=SMALL)
    # 4 MiB = 64 pages; the module starts with 1, so 63 more pages were granted, then growth failed.
    assert (result.status, result.exit_code) == (Status.EXITED, 63)


def test_output_flood_is_cut_at_the_cap(sandbox: Sandbox) -> None:
    results = [sandbox.run(wat.OUTPUT_FLOOD, limits=SMALL) for _ in range(3)]
    assert results[0].status is Status.OUTPUT_LIMIT
    assert len(results[0].output) == SMALL.output_bytes
    assert len({r.digest for r in results}) == 1  # the same bytes and fuel on every run


def test_clock_and_entropy_are_virtual_and_seeded(sandbox: Sandbox) -> None:
    a, b = sandbox.run(wat.CLOCK_AND_ENTROPY, seed=b"job-1"), sandbox.run(wat.CLOCK_AND_ENTROPY, seed=b"job-1")
    other = sandbox.run(wat.CLOCK_AND_ENTROPY, seed=b"job-2")
    assert a.output == b.output
    realtime, monotonic = struct.unpack("<QQ", a.output[:16])
    assert realtime == REALTIME_BASE_NS + 1_000  # a fixed instant, +1 µs per read
    assert monotonic == 2_000
    assert other.output[:16] == a.output[:16]
    assert other.output[16:] != a.output[16:]  # entropy follows the seed (the job id)


def test_no_filesystem_without_a_mount(sandbox: Sandbox) -> None:
    result = sandbox.run(wat.OPEN_FILE)
    assert (result.status, result.exit_code) == (Status.EXITED, 8)  # EBADF: there is no directory to open from


@pytest.mark.parametrize(
    ("path", "rights", "errno"),
    [("data.txt", wat.FD_READ, 0), ("missing.txt", wat.FD_READ, wat.ENOENT), ("../etc/passwd", wat.FD_READ, wat.EPERM),
     ("/etc/passwd", wat.FD_READ, wat.EPERM), ("data.txt", wat.FD_READ | wat.FD_WRITE, wat.EPERM)],
)  # fmt: skip
def test_opening_a_file_not_given_returns_the_documented_errno(
    sandbox: Sandbox, tmp_path: Path, path: str, rights: int, errno: int
) -> None:
    # docs/sandbox.md, "Hostile input": ENOENT for a name not in the mount, EPERM leaving it or writing.
    (tmp_path / "data.txt").write_text("mounted")
    result = sandbox.run(wat.open_at(path, rights=rights), mounts=[Mount(tmp_path, "/data")], limits=SMALL)
    assert (result.status, result.exit_code, result.detail) == (Status.EXITED, errno, "")


@pytest.mark.parametrize(
    ("program", "detail"),
    [(wat.OPEN_PATH_OUTSIDE_MEMORY, "host_error: EFAULT (path_open)"),
     (wat.OPEN_UNDEFINED_FLAGS, "host_error: EINVAL (path_open)"),
     (wat.OPEN_INDIRECTLY_OUTSIDE_MEMORY, "host_error: EFAULT"),
     (wat.WRITE_IOVECS_OUTSIDE_MEMORY, "host_error: EFAULT (fd_write)"),
     (wat.CLOCK_TO_NEGATIVE_POINTER, "host_error: EFAULT (clock_time_get)"),
     (wat.ENTROPY_PAST_THE_END, "host_error: EFAULT (random_get)"),
     (wat.WRITE_WITHOUT_MEMORY, "host_error: EFAULT (fd_write)")],
)  # fmt: skip
def test_a_refused_wasi_call_traps_with_its_errno(
    sandbox: Sandbox, tmp_path: Path, program: bytes, detail: str
) -> None:
    # wasmtime's own calls (path_open) and the sandbox's (fd_write, clock, entropy) refuse arguments they
    # cannot use by trapping; the result names the errno (docs/sandbox.md, "Refused calls") and is the
    # same every time. Some of these raised out of `run` (no result at all) or wrote at the memory's end.
    (tmp_path / "data.txt").write_text("mounted")
    results = [sandbox.run(program, mounts=[Mount(tmp_path, "/data")], limits=SMALL) for _ in range(2)]
    assert (results[0].status, results[0].detail, results[0].exit_code) == (Status.TRAP, detail, 0)
    assert results[0].digest == results[1].digest
    assert RunResult.decode(results[0].canonical_bytes()) == results[0]


def test_sockets_and_oversized_calls_return_errnos(sandbox: Sandbox) -> None:
    assert sandbox.run(wat.SOCKET_ACCEPT).exit_code == wat.EBADF  # no socket descriptors exist
    assert sandbox.run(wat.SOCKET_SEND_ON_STDOUT).exit_code == wat.ENOTSOCK
    assert sandbox.run(wat.POLL_TOO_MANY).exit_code == wat.EINVAL  # bounded host work per call
    assert sandbox.run(wat.WRITE_TOO_MANY_BUFFERS).exit_code == wat.EINVAL


def test_virtual_clock_saturates_instead_of_failing(sandbox: Sandbox) -> None:
    result = sandbox.run(wat.SLEEP_FOREVER)
    assert result.ok, result.detail
    assert result.output == struct.pack("<Q", 2**64 - 1)


def test_entropy_is_the_seeded_stream_in_linear_time() -> None:
    io = JobIO(b"seed", 0)
    chunks = [io.entropy(n) for n in (0, 5, 27, 32, 33, 100)]
    stream = b"".join(hashlib.sha256(b"seed" + i.to_bytes(8, "little")).digest() for i in range(7))
    assert b"".join(chunks) == stream[:197]
    started = time.perf_counter()
    assert len(io.entropy(8 << 20)) == 8 << 20  # 8 MiB in one call: was quadratic (~1 min)
    assert time.perf_counter() - started < 10


def test_read_only_mount_is_readable_not_writable(sandbox: Sandbox, tmp_path: Path, python_runtime) -> None:
    # Through CPython (a full WASI client): read a mounted file, fail to write next to it.
    from polkacompute.runtimes import job_seed

    (tmp_path / "data.txt").write_text("mounted")
    script = (b"import os\nprint(open('/data/data.txt').read())\n"
              b"try:\n    open('/data/new.txt', 'w')\n"
              b"except OSError as e:\n    print('write refused', e.errno)\n")  # fmt: skip
    mounts = [Mount(python_runtime.bundle.stdlib, "/usr/local/lib/python3.11"), Mount(tmp_path, "/data")]
    result = sandbox.run(python_runtime.bundle.interpreter.read_bytes(), argv=["python", "-S", "-c", script.decode()],
                         env=[("PYTHONHOME", "/usr/local")], mounts=mounts, seed=job_seed(1),
                         limits=Limits(fuel=10**10, memory_bytes=512 << 20))  # fmt: skip
    assert result.ok, result.stderr
    assert result.output.splitlines() == [b"mounted", b"write refused 63"]  # EPERM
    assert not (tmp_path / "new.txt").exists()


@pytest.mark.parametrize(
    ("program", "detail"),
    [(wat.UNREACHABLE, "unreachable"), (wat.DIVIDE_BY_ZERO, "integer_division_by_zero"),
     (wat.STACK_OVERFLOW, "stack_overflow"), (wat.EXIT_200, "invalid_exit")],
)  # fmt: skip
def test_traps_are_results(sandbox: Sandbox, program: bytes, detail: str) -> None:
    result = sandbox.run(program, limits=SMALL)
    assert (result.status, result.detail) == (Status.TRAP, detail)
    assert sandbox.run(program, limits=SMALL).digest == result.digest


def test_exit_code_is_part_of_the_result(sandbox: Sandbox) -> None:
    result = sandbox.run(wat.EXIT_42)
    assert (result.status, result.exit_code, result.ok) == (Status.EXITED, 42, False)


@pytest.mark.parametrize(
    ("program", "detail"),
    [(b"\x00asm garbage", "invalid_module"), (b"", "invalid_module"),
     (wat.NO_START, "no_entrypoint: the module exports no _start function"),
     (wat.UNKNOWN_IMPORT, "unknown_import: env.steal_keys"),
     (wat.HUGE_INITIAL_MEMORY, "memory_limit: the module's initial memory is over the limit")],
)  # fmt: skip
def test_unrunnable_programs_are_rejected(sandbox: Sandbox, program: bytes, detail: str) -> None:
    result = sandbox.run(program, limits=SMALL)
    assert (result.status, result.detail, result.fuel_used) == (Status.REJECTED, detail, 0)
    assert result.digest  # a rejection is a canonical result too


def test_oversized_program_is_rejected_before_compiling(sandbox: Sandbox) -> None:
    result = sandbox.run(b"\x00" * (MAX_PROGRAM_BYTES + 1))
    assert result.status is Status.REJECTED
    assert result.detail.startswith("program_too_large")


def test_nan_is_canonical(sandbox: Sandbox) -> None:
    assert sandbox.run(wat.NAN_BITS).output == struct.pack("<I", 0x7FC00000)


def test_precompiled_cache_is_used_and_survives_corruption(tmp_path: Path) -> None:
    with Sandbox(tmp_path) as first:
        expected = first.run(wat.HELLO).digest
    files = list(tmp_path.rglob("*.cwasm"))
    assert len(files) == 1
    assert files[0].name == hashlib.sha256(wat.HELLO).hexdigest() + ".cwasm"
    with Sandbox(tmp_path) as warm:
        assert warm.run(wat.HELLO).digest == expected
    files[0].write_bytes(b"truncated")
    with Sandbox(tmp_path) as recovering:
        assert recovering.run(wat.HELLO).digest == expected  # recompiled, not trusted
    assert files[0].stat().st_size > 100


def test_decode_refuses_non_canonical_bytes() -> None:
    good = RunResult(Status.EXITED, b"x").canonical_bytes()
    with pytest.raises(ValueError, match="not a canonical PolkaCompute result"):
        RunResult.decode(good[:-1])
    with pytest.raises(ValueError, match="not a canonical"):
        RunResult.decode(b"\xa1av\x02")  # {"v": 2}
    assert cid_of(good, "dag-cbor") == RunResult.decode(good).cid


def test_pool_runs_in_spawned_pinned_processes(tmp_path: Path) -> None:
    from polkacompute.sandbox import SandboxPool

    with SandboxPool(2, cache_dir=tmp_path) as pool:
        results = pool.map([wat.HELLO, wat.EXIT_42, wat.HELLO, wat.CLOCK_AND_ENTROPY], seed=b"job-9")
        same_elsewhere = pool.submit(wat.CLOCK_AND_ENTROPY, seed=b"job-9").result()
    with Sandbox() as here:
        local = here.run(wat.CLOCK_AND_ENTROPY, seed=b"job-9")
    assert [r.exit_code for r in results] == [0, 42, 0, 0]
    assert results[0].output == b"hello\n"
    assert results[3].digest == same_elsewhere.digest == local.digest


def test_fuel_is_reported_but_not_attested() -> None:
    a = RunResult(Status.EXITED, b"same output", fuel_used=230_063_939)
    b = RunResult(Status.EXITED, b"same output", fuel_used=230_124_196)  # two hosts, one Python job
    assert a.digest == b.digest
    assert a.digest != RunResult(Status.EXITED, b"other output", fuel_used=230_063_939).digest


POOL_PARENT = """
import sys
from polkacompute.sandbox import SandboxPool
from tests.sandbox import wat
pool = SandboxPool(1)
print(pool.submit(wat.HELLO).result().output.decode(), end="", flush=True)
import os, time
print(os.getpid(), flush=True)
time.sleep(60)
"""


def _running(pid: str) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def test_pool_processes_do_not_outlive_a_killed_parent() -> None:
    import signal
    import subprocess
    import sys
    import time

    root = Path(__file__).resolve().parents[2]
    parent = subprocess.Popen([sys.executable, "-c", POOL_PARENT], cwd=root, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    assert parent.stdout.readline() == "hello\n"
    children = subprocess.run(["pgrep", "-P", str(parent.pid)], capture_output=True, text=True).stdout.split()
    assert children
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in children):
        assert time.monotonic() < deadline, f"pool processes {children} outlived their parent"
        time.sleep(0.2)
