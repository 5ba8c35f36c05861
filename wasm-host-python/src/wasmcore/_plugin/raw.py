"""Raw exports: a plugin's functions as their wasm types describe them.

Every export whose parameters and results are all numbers (i32, i64, f32, f64) — of any
plugin, with a manifest or without — is bound like the core's kernels: once per thread, to a
generated callable that writes its arguments into the raw value array and calls through the
fast path (:meth:`wasmcore._backends.wasm.WasmBackend._bind`, parameter kind ``"raw"``). Its
parameters are named ``arg1``, ``arg2``, ...; integers may be given signed or unsigned (wasm's
integers have no sign) and come back signed; floats take ints or floats; several results come
back as a tuple.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._abi.binary import _sig
from .._abi.manifest import FunctionSpec, Param, ParamType, ReturnType

if TYPE_CHECKING:
    import wasmtime

NUMERIC = ("i32", "i64", "f32", "f64")


@dataclass(frozen=True)
class RawSpec(FunctionSpec):
    """An export bound from its wasm type (``wasm``: its parameter and result types)."""

    wasm: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())

    def signature(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return self.wasm


def wasm_types(ty: wasmtime.FuncType) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(str(p) for p in ty.params), tuple(str(r) for r in ty.results)


def func_signature(ty: wasmtime.FuncType) -> str:
    """``(i32, i32) -> (i32)``"""
    return _sig(*wasm_types(ty))


def raw_spec(name: str, ty: wasmtime.FuncType, plugin: str) -> RawSpec | None:
    """The spec of export ``name`` of type ``ty``, or None when a parameter or result is not a
    number (such an export cannot be called from Python)."""
    return raw_spec_of(name, wasm_types(ty), plugin)


def raw_spec_of(name: str, types: tuple[tuple[str, ...], tuple[str, ...]],
                plugin: str) -> RawSpec | None:
    """:func:`raw_spec` from the export's (parameter types, result types)."""
    params, results = types
    if not all(t in NUMERIC for t in (*params, *results)):
        return None
    return RawSpec(
        name, f"Export {name!r} of {plugin}: {_sig(params, results)}.",
        tuple(Param(f"arg{k}", ParamType("raw", t)) for k, t in enumerate(params, 1)),
        ReturnType(None, "raw"), fallible=False, wasm=(params, results))
