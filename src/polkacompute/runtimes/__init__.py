"""Job runtimes (`wasi`, `python`, `onnx`) and job packages.

runtime = get_runtime("python")
package = pack(store, runtime, script, input_json, fuel=10**10, time_s=60)
result = run_package(package, runtime, store, sandbox)
"""

from __future__ import annotations

from polkacompute.errors import ValidationError
from polkacompute.runtimes.base import Profile, Runtime, job_seed
from polkacompute.runtimes.package import JobPackage, load_package, pack, run_package
from polkacompute.runtimes.python import PythonRuntime, job
from polkacompute.runtimes.wasi import WasiRuntime

NAMES = ("wasi", "python", "onnx")


def get_runtime(name: str) -> Runtime:
    """The runtime called `name` on this machine."""
    if name == "wasi":
        return WasiRuntime()
    if name == "python":
        return PythonRuntime()
    if name == "onnx":
        from polkacompute.runtimes.onnx import OnnxRuntime  # needs the optional onnxruntime

        return OnnxRuntime()
    raise ValidationError("runtime", f"unknown runtime {name!r}", hint=f"one of {', '.join(NAMES)}")


__all__ = [
    "NAMES",
    "JobPackage",
    "Profile",
    "PythonRuntime",
    "Runtime",
    "WasiRuntime",
    "get_runtime",
    "job",
    "job_seed",
    "load_package",
    "pack",
    "run_package",
]
