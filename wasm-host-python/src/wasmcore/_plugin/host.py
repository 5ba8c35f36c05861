"""Host functions: the Python callables a plugin imports, called from wasm.

Where the ``host functions`` feature uses wasmtime-py's internals (:mod:`wasmcore._backends.
internals`: a verified wasmtime-py whose prototypes pass their checks), each import is defined
through wasmtime's unchecked C API (``wasmtime_linker_define_func_unchecked``) as a cffi or
ctypes callback (:meth:`wasmcore._backends.capi.CApi.callback`) generated for the import's
signature: it reads its arguments straight from the raw value array and writes its results
there, so a callback costs about one foreign callback plus the Python function. Elsewhere
(``WASMCORE_FAST_PATH=0``, an unverified wasmtime-py, a failed check) they are wasmtime-py's
own host functions (``Linker.define_func``).

On both: while a host function runs, the reaper closes no Store
(:data:`wasmcore._backends.reaper.RUNNING`); its result is checked against the import's
result types (a wrong one is a ``TypeError``); an exception it raises makes the call trap, and
waits in the instance's :class:`HostCalls` until the failing call raises it, as itself. It is
never left in wasmtime-py's process-wide ``LAST_EXCEPTION`` (the fast path never sets it; the
public path clears it), so it cannot leak into another plugin's or thread's call.

What wasmtime may call is kept alive by the instance (:func:`define` returns it), not by a
global table: a host function that refers to its own plugin (``lambda ptr, n:
p.read(ptr, n)``) makes a cycle the collector frees, never a leak. wasmtime calls into a Store
only through its instance, which lives while a call runs (and is never replaced during one:
see ``PluginInstance.arm``). Nothing here takes a lock or is reached by a finalizer.
"""

from __future__ import annotations

import ctypes
import functools
import weakref
from collections.abc import Callable
from typing import Any

import wasmtime

from .._abi import convert
from .._abi.convert import RAW_INT_RANGES
from .._backends import capi, internals, reaper, wasm
from .cancel import SignalGuard
from .common import result_value


class HostFailed(Exception):
    """Raised through wasmtime-py (the public-API path) when a host function failed; the
    real exception waits in :class:`HostCalls`."""


class HostCalls:
    """The host functions of one instance: how many run now (on its thread), and the
    exception one of them raised, until the call it failed reports it (:meth:`take`)."""

    __slots__ = ("__weakref__", "depth", "error")

    def __init__(self) -> None:
        self.depth = 0
        self.error: BaseException | None = None

    def take(self) -> BaseException:
        """The exception a host function raised (cleared here, and in wasmtime-py)."""
        e, self.error = self.error, None
        internals.clear_host_exception(HostFailed)  # wasmtime-py's copy (the public API's)
        assert e is not None
        return e


def define(linker: wasmtime.Linker,
           imports: dict[tuple[str, str], tuple[Callable[..., Any], wasmtime.FuncType]],
           calls: HostCalls, signals: SignalGuard | None = None) -> list[Any]:
    """Defines every host function of ``imports`` in ``linker``: as unchecked callbacks
    (:func:`wasmcore._backends.wasm.callback_api`'s) where the ``host functions`` feature uses
    wasmtime-py's internals, else as wasmtime-py host functions. Returns what the instance
    must keep alive while its Store may call them. wasmtime-py's host functions deliver the
    signals ``signals`` held back (on the main thread: see :class:`.cancel.SignalGuard`)."""
    keep: list[Any] = []
    callbacks = wasm.callback_api()  # (cffi's, which catch what ctypes' cannot)
    if callbacks is None:
        for (mod, name), (fn, ty) in imports.items():
            held = _Held(fn)  # wasmtime-py's global table gets a weak reference to it
            keep.append(held)
            linker.define_func(mod, name, ty,
                               _public(f"{mod}.{name}", held, ty, calls, signals))
        return keep
    at = internals.pointer(linker)
    for (mod, name), (fn, ty) in imports.items():
        cb, address = callbacks.callback(_callback(f"{mod}.{name}", fn, ty, calls, callbacks),
                                         functools.partial(_escaped, calls))
        keep.append(cb)
        err = callbacks.define(at, mod, name, internals.pointer(ty), address)
        if err:
            raise internals.error(err)
    return keep


def _escaped(calls: HostCalls, e: BaseException) -> None:
    """An exception raised as a host function started, before its ``try`` (a signal
    handler's: see :mod:`wasmcore._backends.capi`): the failing call raises it."""
    if calls.error is None:
        calls.error = e


class _Held:
    """A host function, held by its instance."""

    __slots__ = ("__weakref__", "fn")

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn


def _types(ty: wasmtime.FuncType) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(str(p) for p in ty.params), tuple(str(r) for r in ty.results)


def _public(key: str, held: _Held, ty: wasmtime.FuncType, calls: HostCalls,
            signals: SignalGuard | None) -> Callable[..., Any]:
    """The host function for wasmtime-py's ``Linker.define_func`` (which keeps it in a
    process-wide table until the Store goes: so it refers to the function weakly). It first
    runs the signal handlers held back during the call (``signals``)."""
    results = _types(ty)[1]
    ref = weakref.ref(held)
    state = weakref.ref(calls)
    running = reaper.RUNNING

    def call(*args: Any) -> Any:
        h, calls = ref(), state()
        if h is None or calls is None:  # its instance is gone: nothing runs in its Store
            raise HostFailed(key)
        try:  # (the counts: see _compile)
            calls.depth += 1
            running.depth += 1
            if signals is not None and signals.pending:
                signals.deliver()
            return result_value(key, results, h.fn(*args))
        except BaseException as e:
            calls.error = e
            raise HostFailed(key) from None
        finally:
            running.depth -= 1
            calls.depth -= 1

    return call


# wasm value type -> (view format, elements per 16-byte slot) of the raw value array
_VIEWS = {"i32": ("i", 4), "i64": ("q", 2), "f32": ("f", 4), "f64": ("d", 2)}
_CACHED = 64  # raw arrays (one per stack depth a callback is called at) whose views are kept


def _callback(key: str, fn: Callable[..., Any], ty: wasmtime.FuncType, calls: HostCalls,
              api: capi.CApi) -> capi.Handler:
    """The unchecked callback of one host function: generated for its signature, with its
    views of the raw value array cached by the array's address (wasmtime passes an array on
    its stack, at the same address for calls from the same depth)."""
    params, results = _types(ty)
    used = _used(params, results)
    size = 16 * max(len(params), len(results), 1)
    cache: dict[int, Any] = {}

    def views(raw: int) -> Any:
        m = memoryview((ctypes.c_uint8 * size).from_address(raw)).cast("B")
        v = m.cast(used[0]) if len(used) == 1 else tuple(m.cast(f) for f in used)
        if len(cache) >= _CACHED:
            cache.clear()
        cache[raw] = v
        return v

    make = _compile(params, results, tuple(used))
    return make(_w_fn=fn, _w_calls=calls, _w_running=reaper.RUNNING,  # type: ignore[no-any-return]
                _w_cache=cache, _w_views=views,
                _w_trap=functools.partial(api.trap, f"host function '{key}' failed".encode()),
                _w_result=functools.partial(result_value, key, results))


def _used(params: tuple[str, ...], results: tuple[str, ...]) -> list[str]:
    """The views a callback of this signature uses ('I' with 'f': an f32 NaN's bits)."""
    used = {_VIEWS[t][0] for t in (*params, *results)}
    return sorted(used | {"I"} if "f" in used else used)


@functools.lru_cache(maxsize=256)
def _compile(params: tuple[str, ...], results: tuple[str, ...],
             used: tuple[str, ...]) -> Callable[..., Any]:
    """The maker of a callback for one signature (the source names only closure variables,
    so every host function of that signature shares one compilation)."""
    def at(t: str, k: int) -> str:
        fmt, per = _VIEWS[t]
        return f"_w_{fmt}[{k * per}]"

    def arg(t: str, k: int) -> str:
        return convert.f32_read("_w_f", "_w_I", k * 4, f"_w_v{k}") if t == "f32" else at(t, k)

    def store(t: str, k: int, value: str) -> list[str]:
        if t == "f32":
            return convert.f32_write("_w_f", "_w_I", k * 4, value)
        return [f"{at(t, k)} = {value}"]

    body = []
    if used:
        # one view, or a tuple of them (see _callback's views())
        body += ["v = _w_cache.get(raw)", "if v is None:", "    v = _w_views(raw)",
                 f"{', '.join(f'_w_{f}' for f in used)} = v"]
    body.append(f"out = _w_fn({', '.join(arg(t, k) for k, t in enumerate(params))})")
    if not results:
        body.append("if out is not None: _w_result(out)")
    elif len(results) == 1:
        t, slot = results[0], at(results[0], 0)
        cls = "int" if t in RAW_INT_RANGES else "float"
        body.append(f"if out.__class__ is not {cls}: out = _w_result(out)")
        if t in RAW_INT_RANGES:  # an unsigned value the view refuses: wrapped by _w_result
            body += ["try:", f"    {slot} = out", "except ValueError:",
                     f"    {slot} = _w_result(out)"]
        else:  # (a float beyond f32's range: the view stores the infinity it rounds to)
            body += store(t, 0, "out")
    else:
        body.append("out = _w_result(out)")
        body += [line for k, t in enumerate(results) for line in store(t, k, f"out[{k}]")]
    body.append("return 0")
    names = ("_w_fn", "_w_calls", "_w_running", "_w_cache", "_w_views", "_w_trap", "_w_result")
    # The counts of host functions running (the instance's, the reaper's) go up first thing
    # in the try and down first thing in the finally, by attribute arithmetic alone: Python
    # may run a signal handler, which may raise (Ctrl-C), at any call, but not there. So
    # whatever raises, and wherever, they stay balanced.
    src = "\n".join([
        f"def _w_make(*, {', '.join(names)}):",
        "    def host_function(env, caller, raw, n):",
        "        try:",
        "            _w_calls.depth += 1",
        "            _w_running.depth += 1",
        *(f"            {line}" for line in body),
        "        except BaseException as e:",
        "            _w_calls.error = e",
        "            return _w_trap()",
        "        finally:",
        "            _w_running.depth -= 1",
        "            _w_calls.depth -= 1",
        "    return host_function",
    ])
    ns: dict[str, Any] = {"_w_f32_nan": convert.f32_nan, "_w_f32_nan_bits": convert.f32_nan_bits}
    exec(compile(src, f"<wasmcore host function {params} -> {results}>", "exec"), ns)
    return ns["_w_make"]  # type: ignore[no-any-return]
