"""wasmcore: Rust compute kernels from one portable WebAssembly artefact.

>>> import wasmcore
>>> core = wasmcore.load()        # "wasm" (default), "native" or "python"
>>> core.fib(20)
6765

Callables are built from the module's manifest: their names, docs and signatures, and the
argument checks (a wrong type is a ``TypeError``, a bad value a ``ValueError``; messages name
the function and the parameter) are the same on every backend.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from ._errors import (
    Error,
    FuelExhausted,
    KernelPanic,
    MemoryLimitExceeded,
    ModuleRejected,
    Timeout,
    Trap,
)
from ._manifest import ABI_VERSION, Manifest, read_manifest

__all__ = ["ABI_VERSION", "Core", "Error", "FuelExhausted", "KernelPanic",
           "MemoryLimitExceeded", "ModuleRejected", "Timeout", "Trap", "load", "wasm_path"]
__version__ = "0.1.0"

Backend = Literal["wasm", "native", "python"]


def _repo_root() -> Path | None:
    """The repository root when running from a source checkout (for dev builds)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "Cargo.toml").is_file() and (parent / "wasm-host-python").is_dir():
            return parent
    return None


def wasm_path() -> Path:
    """The core module: ``$WASMCORE_WASM``, the copy shipped in the package, or (in a source
    checkout) ``target/dist/wasmcore.wasm``."""
    if env := os.environ.get("WASMCORE_WASM"):
        return Path(env)
    packaged = resources.files(__name__) / "wasmcore.wasm"
    if packaged.is_file():
        return Path(str(packaged))
    repo = _repo_root()
    if repo is not None and (repo / "target" / "dist" / "wasmcore.wasm").is_file():
        return repo / "target" / "dist" / "wasmcore.wasm"
    raise Error("wasmcore.wasm not found: install the wheel, run `just build` in a checkout, "
                "or set WASMCORE_WASM")


class Core:
    """The kernels of one backend, as attributes (``core.fib``, ``core.sum``, ...)."""

    def __init__(self, backend: str, manifest: Manifest,
                 make: Callable[[str], Callable[..., Any]]) -> None:
        self.backend = backend
        self.manifest = manifest
        self.functions = tuple(f.name for f in manifest.functions)
        for name in self.functions:
            setattr(self, name, make(name))

    def __repr__(self) -> str:
        return f"<wasmcore.Core backend={self.backend!r} functions={len(self.functions)}>"

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.functions))


def load(backend: Backend = "wasm", *, path: str | os.PathLike[str] | None = None) -> Core:
    """Loads the kernels on a backend.

    * ``"wasm"`` — the bundled WebAssembly module under wasmtime (the default; ``path``
      overrides the module file). Compiled code is cached on disk.
    * ``"native"`` — the cdylib built from the same source, through ctypes (``path`` or
      ``$WASMCORE_NATIVE_LIB``, else ``target/release/`` of a source checkout).
    * ``"python"`` — the pure-Python reference implementation.
    """
    if backend == "wasm":
        from ._wasm import WasmBackend

        wasm = Path(path) if path is not None else wasm_path()
        data = wasm.read_bytes()
        wb = WasmBackend(data, read_manifest(data))
        return Core("wasm", wb.manifest, wb.callable)
    if backend == "native":
        from ._native import NativeBackend, find_library

        nb = NativeBackend(Path(path) if path is not None else find_library(_repo_root()))
        return Core("native", nb.manifest, nb.callable)
    if backend == "python":
        from ._pyref import ReferenceBackend

        wasm = Path(path) if path is not None else wasm_path()
        rb = ReferenceBackend(read_manifest(wasm.read_bytes()))
        return Core("python", rb.manifest, rb.callable)
    raise ValueError(f"load(): parameter 'backend' must be 'wasm', 'native' or 'python', "
                     f"got {backend!r}")
