"""The native backend: the same kernels built as a cdylib, called through ctypes.

Used for speed comparisons. The library is ``$WASMCORE_NATIVE_LIB`` or, inside the repository,
``target/release/libwasmcore.so``; its manifest is the ``wasmcore.abi.json`` beside it (written
by ``cargo xtask dist``). Every export catches unwinding, so a panicking kernel is an exception
here, never an aborted interpreter.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._abi import convert
from .._abi.manifest import ELEMS, FunctionSpec, Manifest, export_specs, parse_manifest
from .._abi.objects import Context
from .._errors import Error, ModuleRejected, status_error

_C = {"i32": ctypes.c_int32, "u32": ctypes.c_uint32, "i64": ctypes.c_int64,
      "u64": ctypes.c_uint64, "f32": ctypes.c_float, "f64": ctypes.c_double,
      "bool": ctypes.c_int32, "handle": ctypes.c_uint32}
_LIBNAME = {"darwin": "libwasmcore.dylib", "win32": "wasmcore.dll"}.get(sys.platform,
                                                                        "libwasmcore.so")


def find_library(repo: Path | None) -> Path:
    if env := os.environ.get("WASMCORE_NATIVE_LIB"):
        return Path(env)
    if repo is not None:
        return repo / "target" / "release" / _LIBNAME
    raise Error("native backend: set WASMCORE_NATIVE_LIB to the path of libwasmcore "
                "(the native library is not part of the wheel; build it with `just build`)")


class NativeBackend:
    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise Error(f"native backend: no library at {path} (run `just build`, or set "
                        "WASMCORE_NATIVE_LIB)")
        man = path.with_name("wasmcore.abi.json")
        try:
            self.manifest: Manifest = parse_manifest(man.read_text())
        except OSError as e:
            raise ModuleRejected(f"native backend: cannot read the manifest {man}: {e}") from None
        self.lib = ctypes.CDLL(str(path))
        self.specs = export_specs(self.manifest)
        missing = [name for name in self.specs if not hasattr(self.lib, name)]
        if missing:
            raise ModuleRejected(f"native library {path} lacks exports named in its manifest: "
                                 + ", ".join(missing))
        lib = self.lib
        lib.wasmcore_last_error_ptr.restype = ctypes.c_void_p
        lib.wasmcore_last_error_len.restype = ctypes.c_size_t
        lib.wasmcore_take_panic.restype = ctypes.c_int32
        lib.wasmcore_free.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t]
        lib.wasmcore_free.restype = None
        self._callables: dict[str, Callable[..., Any]] = {}
        self._context = Context(self.callable)  # the library's objects: any thread

    def last_error(self) -> str:
        n = self.lib.wasmcore_last_error_len()
        return ctypes.string_at(self.lib.wasmcore_last_error_ptr(), n).decode("utf-8", "replace")

    def context(self) -> Context:
        return self._context

    def callable(self, name: str) -> Callable[..., Any]:
        fn = self._callables.get(name)
        if fn is None:
            fn = self._callables[name] = self._bind(self.specs[name])
        return fn

    def _bind(self, spec: FunctionSpec) -> Callable[..., Any]:
        fn = getattr(self.lib, spec.name)
        argtypes: list[Any] = []
        args: list[str] = []
        for p in spec.params:
            if p.type.kind == "scalar":
                argtypes.append(_C[str(p.type.scalar)])
                args.append(p.name)
            elif p.type.kind == "handle":
                argtypes.append(_C["handle"])
                args.append(p.name)
            elif p.type.kind == "matrix":
                argtypes += [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t]
                args += [f"{p.name}.ctypes.data", f"{p.name}.shape[0]", f"{p.name}.shape[1]"]
            else:
                argtypes += [ctypes.c_void_p, ctypes.c_size_t]
                args += [f"{p.name}.ctypes.data", f"len({p.name})"]
        ret = spec.returns
        body: list[str] = []
        if ret.kind in ("scalar", "handle") and spec.fallible:
            argtypes.append(ctypes.c_void_p)
            body.append(f"_w_o = _w_{ret.name if ret.kind == 'scalar' else 'handle'}()")
            args.append("_w_addressof(_w_o)")
        elif ret.result_pointer:
            argtypes.append(ctypes.c_void_p)
            body.append("_w_o = (_w_size_t * 4)()")
            args.append("_w_addressof(_w_o)")
        fn.argtypes = argtypes
        if spec.fallible:
            fn.restype = ctypes.c_int32
        elif ret.kind in ("scalar", "handle"):
            fn.restype = _C[str(ret.name)]
        else:
            fn.restype = None
        body.append(f"_w_r = _w_fn({', '.join(args)})")
        if spec.fallible:
            body.append("if _w_r: raise _w_error(_w_r)")
        else:
            body.append("if _w_take_panic(): raise _w_error(3)")
        if ret.kind == "unit":
            body.append("return None")
        elif ret.result_pointer:
            assert ret.elem is not None
            body.append(f"return _w_take_owned(_w_o, _w_make, {ELEMS[ret.elem]}, "
                        f"{ret.kind == 'matrix'})")
        elif spec.fallible:
            body.append("return _w_o.value" + (" != 0" if ret.name == "bool" else ""))
        else:
            body.append("return _w_r" + (" != 0" if ret.name == "bool" else ""))
        env = {f"_w_{k}": v for k, v in _C.items()}
        env.update(_w_fn=fn, _w_addressof=ctypes.addressof, _w_size_t=ctypes.c_size_t,
                   _w_take_panic=self.lib.wasmcore_take_panic, _w_take_owned=self._take_owned,
                   _w_error=lambda st: status_error(spec.label, st, self.last_error()))
        if ret.result_pointer:
            env["_w_make"] = convert.owned_result(ret)
        return convert.build(spec, body, env)[0]

    def _take_owned(self, slot: Any, make: Callable[[Any, Any], Any], itemsize: int,
                    matrix: bool) -> Any:
        ptr, n, rows, cols = slot
        size = n * itemsize
        out = make((ctypes.c_char * size).from_address(ptr) if n else b"",
                   (rows, cols) if matrix else None)
        self.lib.wasmcore_free(ptr, size, itemsize)
        return out
