"""wasmtime-py as a later release might be: its bindings changed where wasmcore looks
(:data:`BREAKAGES`), or its version unknown. Used by test_internals.py in child processes,
and as a pytest plugin (``-p wasmtime_changes``) that applies what ``$WASMCORE_SIMULATE``
says before any test runs: ``broken`` (every breakage at once) or a version (``52.0.0``).

A breakage leaves wasmtime-py working: a C function is replaced by a stand-in that declares
another prototype (what wasmcore checks) and calls the real one with wasmtime-py's own
arguments; a struct wasmtime-py does not use itself is replaced by one of other fields. So
what a test sees is what wasmcore does when the bindings it checks have changed."""

from __future__ import annotations

import ctypes
import importlib.metadata
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import pytest

P = ctypes.POINTER


class Declared:
    """A C function of the bindings as a later release declares it (``restype`` and
    ``argtypes``); calls go to the real one."""

    def __init__(self, real: Any, restype: Any, argtypes: list[Any]) -> None:
        self._real, self.restype, self.argtypes = real, restype, argtypes

    def __call__(self, *args: Any) -> Any:
        return self._real(*args)


def _b() -> Any:
    from wasmtime import _bindings

    return _bindings


def redeclare(name: str, restype: Any = ..., argtypes: Callable[[list[Any]], list[Any]]
              | None = None) -> None:
    b = _b()
    real = getattr(b, "_" + name)
    real = getattr(real, "_real", real)
    setattr(b, "_" + name, Declared(real, real.restype if restype is ... else restype,
                                    argtypes(list(real.argtypes)) if argtypes else
                                    list(real.argtypes)))


def restruct(name: str, fields: list[tuple[str, Any]]) -> None:
    setattr(_b(), name, type(name, (ctypes.Structure,), {"_fields_": fields}))


def _more(extra: Any) -> Callable[[list[Any]], list[Any]]:
    return lambda args: [*args, extra]


def _nth(n: int, t: Any) -> Callable[[list[Any]], list[Any]]:
    return lambda args: [*args[:n], t, *args[n + 1:]]


CALLBACK = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                            ctypes.c_size_t, ctypes.c_size_t)  # one argument more
FIN = ctypes.CFUNCTYPE(None, ctypes.c_void_p)

# name -> (the features that must fall back, what changes)
BREAKAGES: dict[str, tuple[set[str], Callable[[], None]]] = {
    "call_unchecked takes one argument more": ({"calls"}, lambda: redeclare(
        "wasmtime_func_call_unchecked", argtypes=_more(ctypes.c_size_t))),
    "val_raw is 32 bytes": ({"calls", "host functions"}, lambda: setattr(
        _b(), "wasmtime_val_raw", type("wasmtime_val_raw", (ctypes.Union,), {"_fields_": [
            ("i32", ctypes.c_int32), ("i64", ctypes.c_int64), ("f32", ctypes.c_float),
            ("f64", ctypes.c_double), ("v256", ctypes.c_uint8 * 32)]}))),
    "host callback takes one argument more": ({"host functions"}, lambda: redeclare(
        "wasmtime_linker_define_func_unchecked", argtypes=_nth(6, CALLBACK))),
    "trap_new returns a handle": ({"host functions"}, lambda: redeclare(
        "wasmtime_trap_new", restype=ctypes.c_uint32)),
    "set_fuel takes a u32": ({"fuel"}, lambda: redeclare(
        "wasmtime_context_set_fuel", argtypes=_nth(1, ctypes.c_uint32))),
    "epoch callback without the update kind": ({"interrupts"}, lambda: redeclare(
        "wasmtime_store_epoch_deadline_callback", argtypes=_nth(1, ctypes.CFUNCTYPE(
            ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p, P(ctypes.c_uint64))))),
    "increment_epoch takes a count": ({"interrupts"}, lambda: redeclare(
        "wasmtime_engine_increment_epoch", argtypes=_more(ctypes.c_uint64))),
    "error_delete returns a status": ({"interrupts"}, lambda: redeclare(
        "wasmtime_error_delete", restype=ctypes.c_int)),
    "error_new takes a length": ({"calls", "interrupts", "memory creator", "component calls"},
                                 lambda: redeclare(
        "wasmtime_error_new", argtypes=_more(ctypes.c_size_t))),
    "memory creator callback of a third shape": ({"memory creator"}, lambda: restruct(
        "wasmtime_memory_creator", [
            ("env", ctypes.c_void_p),
            ("new_memory", ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p)),
            ("finalizer", FIN)])),
    "linear memory has a field more": ({"memory creator"}, lambda: restruct(
        "wasmtime_linear_memory", [
            ("env", ctypes.c_void_p), ("get_memory", ctypes.c_void_p),
            ("grow_memory", ctypes.c_void_p), ("finalizer", FIN), ("flags", ctypes.c_uint32)])),
    "memory_creator_set takes an engine too": ({"memory creator"}, lambda: redeclare(
        "wasmtime_config_host_memory_creator_set", argtypes=_more(ctypes.c_void_p))),
    "memory_init_cow_set takes an int": ({"memory creator"}, lambda: redeclare(
        "wasmtime_config_memory_init_cow_set", argtypes=_nth(1, ctypes.c_int))),
    "component func_call takes one argument more": ({"component calls"}, lambda: redeclare(
        "wasmtime_component_func_call", argtypes=_more(ctypes.c_size_t))),
    "component values are 40 bytes": ({"component calls"}, lambda: restruct(
        "wasmtime_component_val", [("kind", ctypes.c_uint8), ("of", ctypes.c_uint8 * 32)])),
    "component val_delete returns a status": ({"component calls"}, lambda: redeclare(
        "wasmtime_component_val_delete", restype=ctypes.c_int)),
}


def break_all() -> None:
    for _, apply in BREAKAGES.values():
        apply()


def report_version(version: str) -> None:
    """wasmtime-py says it is ``version`` (to everyone who asks importlib.metadata)."""
    real = importlib.metadata.version

    def fake(name: str) -> str:
        return version if name == "wasmtime" else real(name)

    importlib.metadata.version = fake


def simulate(what: str) -> str:
    """Applies ``what`` (``broken``: every breakage; a key of :data:`BREAKAGES`: that one; or
    a version), decides, and returns the warning given (empty: none)."""
    if what == "broken":
        break_all()
    elif what in BREAKAGES:
        BREAKAGES[what][1]()
    else:
        report_version(what)
    from wasmcore._backends import internals

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        internals.decision()
    return "\n".join(str(w.message) for w in caught)


@pytest.hookimpl(trylast=True)  # after pytest's faulthandler: wasmtime's trap handlers,
def pytest_configure(config: Any) -> None:  # installed by the first engine, must come later
    what = os.environ.get("WASMCORE_SIMULATE", "")
    if what:
        warning = simulate(what)
        sys.stdout.write(f"wasmcore simulates {what}; it warned: {warning or 'nothing'}\n")
        sys.stdout.flush()
