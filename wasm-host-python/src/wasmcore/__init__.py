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

import operator
import os
import threading
from importlib import metadata, resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ._abi.manifest import ABI_VERSION, Manifest, read_module
from ._abi.objects import make_class
from ._errors import (
    Error,
    FuelExhausted,
    KernelPanic,
    MemoryLimitExceeded,
    ModuleRejected,
    Timeout,
    Trap,
)
from ._plugin import Plugin, Wasi

__all__ = ["ABI_VERSION", "Core", "Error", "FuelExhausted", "KernelPanic",
           "MemoryLimitExceeded", "ModuleRejected", "Plugin", "Timeout", "Trap", "Wasi", "load",
           "wasm_path"]

try:  # the installed distribution's, built from the Cargo workspace version
    __version__ = metadata.version("wasmcore")
except metadata.PackageNotFoundError:  # these sources imported without being installed
    __version__ = "0+unknown"

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


_DTYPES = {np.dtype(t) for t in ("float64", "float32", "int64", "uint32", "uint8")}


def _dtype(dtype: object, func: str) -> np.dtype:
    try:
        dt = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        dt = None
    if dt not in _DTYPES:
        raise TypeError(f"{func}(): parameter 'dtype' must be one of float64, float32, int64, "
                        f"uint32, uint8, got {dtype!r}")
    return dt


def _shape(shape: object) -> tuple[int, ...]:
    dims = (shape,) if not isinstance(shape, (tuple, list)) else tuple(shape)
    out = []
    for d in dims:
        try:
            d = operator.index(d)  # type: ignore[arg-type]
        except TypeError:
            raise TypeError(f"empty(): parameter 'shape' must be an int or a tuple of ints, "
                            f"got {shape!r}") from None
        if d < 0:
            raise ValueError(f"empty(): parameter 'shape' must not be negative, got {shape!r}")
        out.append(d)
    return tuple(out)


class Core:
    """The kernels and classes of one backend, as attributes (``core.fib``, ``core.sum``,
    ``core.Sha256``, ...), plus the zero-copy helpers :meth:`empty` and :meth:`asarray`."""

    def __init__(self, backend: str, impl: Any) -> None:
        self.backend = backend
        self._impl = impl
        self.manifest: Manifest = impl.manifest
        self.functions = tuple(f.name for f in self.manifest.functions)
        self.classes = tuple(c.name for c in self.manifest.classes)
        taken = set(dir(type(self))) | {"backend", "manifest", "functions", "classes"}
        for name in self.functions + self.classes:
            if name in taken:
                raise ModuleRejected(f"manifest: {name!r} would hide Core.{name}")
        if not isinstance(self, _LazyCore):
            self._bind_all()

    def _bind_all(self) -> None:
        for name in self.functions:
            setattr(self, name, self._impl.callable(name))
        for c in self.manifest.classes:
            if c.name not in self.__dict__:
                setattr(self, c.name, make_class(c, self._impl.context))

    def empty(self, shape: int | tuple[int, ...], dtype: Any = "float64") -> np.ndarray:
        """An uninitialised C-contiguous array. On the wasm backend its memory lives inside
        the calling thread's instance, so passing it (or a contiguous slice of it) to a kernel
        copies nothing, and a kernel's in-place writes land in it directly.

        Lifetime: the memory is freed when the last array using it is garbage-collected. If
        a trap makes wasmcore re-create the instance, the array stays valid (it keeps the old
        instance's memory alive) but is no longer inside the new one: calls then copy it."""
        dt, shp = _dtype(dtype, "empty"), _shape(shape)
        if self.backend == "wasm":
            return self._impl.instance().empty(shp, dt)  # type: ignore[no-any-return]
        return np.empty(shp, dt)

    def asarray(self, x: Any, dtype: Any = None) -> np.ndarray:
        """``x`` as a C-contiguous array in this backend's memory (see :meth:`empty`): ``x``
        itself when it already is one of the right dtype, else a copy."""
        a = np.asarray(x) if dtype is None else np.asarray(x, dtype=_dtype(dtype, "asarray"))
        dt = _dtype(a.dtype, "asarray") if dtype is None else a.dtype
        if self.backend == "wasm":
            inst = self._impl.instance()
            if a.flags.c_contiguous and inst.address(a):
                return a
            out = inst.empty(a.shape, dt)
        else:
            if a.flags.c_contiguous and a.flags.aligned:
                return a
            out = np.empty(a.shape, dt)
        out[...] = a
        return out

    def memory_size(self) -> int:
        """Bytes of linear memory of the calling thread's wasm instance (0 on the other
        backends)."""
        return self._impl.instance().memory_size() if self.backend == "wasm" else 0

    @property
    def bytes_copied(self) -> int:
        """Bytes the calling thread's calls have copied from host memory into its wasm
        instance so far (always 0 on the other backends, which read host memory directly)."""
        return self._impl.instance().bytes_copied if self.backend == "wasm" else 0

    def __repr__(self) -> str:
        return (f"<wasmcore.Core backend={self.backend!r} functions={len(self.functions)} "
                f"classes={len(self.classes)}>")

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.functions) | set(self.classes))


class _LazyCore(Core):
    """What :func:`load` returns: a :class:`Core` whose kernels and classes are bound on first
    use, so loading binds nothing. The first kernel or class the loading thread looks up binds
    them all, as an eager ``Core`` binds them in ``__init__``, and makes the object a plain
    ``Core`` (a class without ``__getattr__``, whose attribute reads CPython specializes:
    ``core.fib`` costs what any attribute read costs). Other threads get their own callables
    meanwhile, without keeping them on the object, which holds the loading thread's."""

    def __init__(self, backend: str, impl: Any) -> None:
        super().__init__(backend, impl)
        self._owner = threading.get_ident()

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        if "_impl" not in d or (name not in d["functions"] and name not in d["classes"]):
            raise AttributeError(f"'Core' object has no attribute {name!r}")
        if threading.get_ident() != d["_owner"]:
            if name in d["functions"]:
                return d["_impl"].callable(name)
            spec = next(c for c in self.manifest.classes if c.name == name)
            d[name] = make_class(spec, self._impl.context)  # classes serve every thread
            return d[name]
        self._bind_all()
        self.__class__ = Core
        return getattr(self, name)


def load(backend: Backend = "wasm", *, path: str | os.PathLike[str] | None = None) -> Core:
    """Loads the kernels on a backend.

    * ``"wasm"`` — the bundled WebAssembly module under wasmtime (the default; ``path``
      overrides the module file). Compiled code is cached on disk.
    * ``"native"`` — the cdylib built from the same source, through ctypes (``path`` or
      ``$WASMCORE_NATIVE_LIB``, else ``target/release/`` of a source checkout).
    * ``"python"`` — the pure-Python reference implementation.
    """
    if backend == "wasm":
        from ._backends.wasm import WasmBackend

        data, digest, manifest = read_module(Path(path) if path is not None else wasm_path())
        return _LazyCore("wasm", WasmBackend(data, manifest, digest))
    if backend == "native":
        from ._backends.native import NativeBackend, find_library

        return _LazyCore("native", NativeBackend(Path(path) if path is not None
                                                 else find_library(_repo_root())))
    if backend == "python":
        from ._backends.python import ReferenceBackend

        _, _, manifest = read_module(Path(path) if path is not None else wasm_path())
        return _LazyCore("python", ReferenceBackend(manifest))
    raise ValueError(f"load(): parameter 'backend' must be 'wasm', 'native' or 'python', "
                     f"got {backend!r}")
