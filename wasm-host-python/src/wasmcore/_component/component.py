"""The public :class:`Component` class: a WebAssembly component (WIT interfaces) run in the
plugin sandbox, with typed exports (see docs/components.md)."""

from __future__ import annotations

import functools
import inspect
import math
import os
import pickle
import struct
import threading
import types
import weakref
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import wasmtime
from wasmtime import component as cm

from .._backends import internals, reaper, wasm
from .._errors import (
    ComponentError,
    Error,
    MemoryLimitExceeded,
    ModuleRejected,
    Trap,
)
from .._plugin.cancel import CancelHandle, Watch, handle
from .._plugin.common import (
    DEFAULT_MAX_MEMORY,
    check_limit,
    check_sha256,
    host_entries,
    read_source,
    refuses,
)
from .._plugin.instance import limit_failure, reason
from .._plugin.limits import (
    TICK,
    TICKER,
    Limits,
    creator,
    engine,
    engine_config,
    new_engine,
    release_ticking,
)
from .._plugin.wasi import Wasi
from . import fast
from .names import world_types
from .types import Converter, Err, Ok, Types, camel, snake

# wasmtime's words for its traps (its Trap's Display) -> wasmcore's trap codes (a component
# call's error carries the message only)
_TRAPS = (("call stack exhausted", "stack_overflow"),
          ("out of bounds memory access", "memory_out_of_bounds"),
          ("unaligned atomic", "heap_misaligned"),
          ("out of bounds table access", "table_out_of_bounds"),
          ("uninitialized element", "indirect_call_to_null"),
          ("indirect call type mismatch", "bad_signature"),
          ("integer overflow", "integer_overflow"),
          ("integer divide by zero", "integer_divide_by_zero"),
          ("invalid conversion to integer", "bad_conversion_to_integer"),
          ("unreachable", "unreachable"), ("interrupt", "interrupt"),
          ("all fuel consumed", "out_of_fuel"))


def _trap_code(message: str) -> str | None:
    for line in reversed(message.splitlines()):
        if "wasm trap:" in line or "trap" in line:
            for words, code in _TRAPS:
                if words in line:
                    return code
    for words, code in _TRAPS:
        if words in message:
            return code
    return None


def _items(items: Mapping[str, Any]) -> dict[str, Any]:
    """A component type's imports or exports, each as its type (wasmtime-py 50 wraps each in
    a ``ComponentExtern`` whose ``.ty`` it is)."""
    return {name: getattr(x, "ty", x) for name, x in items.items()}


def _hidden(name: str, ty: Any, eng: wasmtime.Engine) -> bool:
    """An export that is the guest toolchain's, not the world's: componentize-py's
    ``exports`` interface (``init``, which sets up its interpreter at build time; called again,
    it would start over)."""
    return name == "exports" and "init" in _items(ty.exports(eng))


def _interface_attr(name: str) -> str:
    """An exported interface's attribute: ``demo:plugin/counters@0.1.0`` -> ``counters``."""
    base = name.split("/")[-1].split("@")[0]
    return snake(base)


class _HostFailed(wasmtime.WasmtimeError):
    pass


# -- resources ------------------------------------------------------------------------------

class Resource:
    """Base of the classes of a component's exported resources. An object owns its handle
    in the instance of the thread that made it: ``close()`` (or a ``with`` block) drops it
    now, running the component's destructor; an object the collector takes is dropped at its
    instance's next call (finalizers only queue)."""

    __slots__ = ("__weakref__", "_gen", "_handle", "_inst")
    _component_name = ""
    _handle: Any  # wasmtime-py's ResourceAny; None once closed or moved
    _inst: ComponentInstance
    _gen: int

    def __init__(self, *args: Any) -> None:  # replaced by the constructor's, when exported
        raise TypeError(f"{type(self).__name__} has no constructor: its objects come from "
                        "the component's functions")

    def close(self) -> None:
        h, self._handle = getattr(self, "_handle", None), None
        if h is None:
            return
        inst = self._inst
        if inst.gen == self._gen and not inst.dead:
            if inst.tid == threading.get_ident() and not inst.host_depth:
                inst.arm()  # (the destructor is the component's code: under the limits)
                inst.drop(h)
            else:  # (another thread's instance, or a call of this one is running)
                inst.drops.append(h)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> Any:
        raise TypeError(f"a {type(self).__name__} (a resource) lives in its instance's Store: "
                        "it does not pickle")

    def __del__(self) -> None:
        h = getattr(self, "_handle", None)
        if h is not None and self._inst.gen == self._gen:
            self._inst.drops.append(h)  # (one list append: safe in a finalizer)

    def __repr__(self) -> str:
        state = "closed" if getattr(self, "_handle", None) is None else "open"
        return f"<{type(self).__name__} resource of {self._component_name}, {state}>"


class Resources:
    """The resource classes of a component (by their static type) and their converters."""

    def __init__(self, comp: Component) -> None:
        self.comp = comp
        self.known: list[tuple[cm.ResourceType, type[Resource]]] = []

    def add(self, ty: cm.ResourceType, name: str) -> type[Resource]:
        cls = type(camel(name), (Resource,), {"__slots__": (), "__module__": "wasmcore.component",
                                              "_component_name": self.comp.name})
        self.known.append((ty, cls))
        return cls

    def class_of(self, ty: cm.ResourceType) -> type[Resource] | None:
        for other, cls in self.known:
            if other == ty:
                return cls
        return None

    def lower(self, ty: Any, func: str, where: str) -> Callable[[Any], Any]:
        cls = self.class_of(ty.ty)
        own = isinstance(ty, cm.OwnType)
        name = cls.__name__ if cls is not None else "resource"

        def lower_resource(v: Any) -> Any:
            if (cls is not None and not isinstance(v, cls)) or not isinstance(v, Resource):
                raise TypeError(f"{func}(): parameter '{where}' must be a {name}, got "
                                f"{type(v).__name__}")
            h = v._handle
            inst = v._inst
            if h is None:
                raise ValueError(f"{func}(): parameter '{where}': the {name} is closed")
            if inst.comp.closed:
                raise ValueError(f"{func}(): {inst.comp.name}: the component is closed")
            if inst.tid != threading.get_ident():
                raise ValueError(f"{func}(): parameter '{where}': the {name} belongs to "
                                 "another thread's instance of the component")
            if inst.gen != v._gen or inst.dead:
                raise ValueError(f"{func}(): parameter '{where}': the {name} was lost when "
                                 "its instance failed and was re-created")
            if own:  # (its ownership moves into the component)
                v._handle = None
            return h
        return lower_resource

    def lift(self, ty: Any) -> Callable[[Any], Any]:
        cls: Any = self.class_of(ty.ty) or type("Resource", (Resource,), {"__slots__": ()})
        comp = self.comp

        def lift_resource(h: Any) -> Any:
            obj = cls.__new__(cls)
            inst = comp._current()
            obj._handle, obj._inst, obj._gen = h, inst, inst.gen
            return obj
        return lift_resource


# -- functions ------------------------------------------------------------------------------

class FuncSpec:
    """One exported function: where it is (its export's names: an instance looks its index
    up), its label and its converters."""

    def __init__(self, path: tuple[str, ...], fty: Any, conv: Converter, label: str) -> None:
        self.path = path
        self.label = label
        params = fty.params
        self.types = [t for _, t in params]
        self.result_type = fty.result
        self.plan: Any = None  # the fast path's (see ComponentInstance.call)
        self.names = [snake(n) for n, _ in params]
        self.lowers = [conv.lower(t, label, snake(n)) for n, t in params]
        self.annotations = [conv.describe(t, given=True) for _, t in params]
        rt = fty.result
        self.result = "None" if rt is None else conv.describe(rt)
        self.lift: Callable[[Any], Any] | None = None
        if isinstance(rt, cm.ResultType):  # ok: returned; err: raised (ComponentError)
            lifted = conv.lift(rt, label)
            assert lifted is not None

            def lift_result(v: Any, lifted: Callable[[Any], Any] = lifted) -> Any:
                out = lifted(v)
                if isinstance(out, Err):
                    raise ComponentError(f"{label}() returned an error: {out.value!r}"[:500],
                                         out.value)
                assert isinstance(out, Ok)
                return out.value
            self.lift = lift_result
            self.result = "None" if rt.ok is None else conv.describe(rt.ok)
        elif rt is not None:
            self.lift = conv.lift(rt, label)

    def signature(self, skip: int = 0) -> inspect.Signature:
        params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=a)
                  for n, a in zip(self.names[skip:], self.annotations[skip:], strict=True)]
        return inspect.Signature(params, return_annotation=self.result)


def _bind_args(spec: FuncSpec, args: tuple[Any, ...], kwargs: dict[str, Any],
               skip: int = 0) -> tuple[Any, ...]:
    n = len(spec.names) - skip
    if kwargs:
        try:
            bound = spec.signature(skip).bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{spec.label}(): {e}") from None
        return tuple(bound.arguments[k] for k in spec.names[skip:])
    if len(args) != n:
        raise TypeError(f"{spec.label}() takes {n} argument{'s' if n != 1 else ''} ("
                        f"{', '.join(spec.names[skip:])}), got {len(args)}")
    return args


class _Owner:
    """The ``__self__`` of a component's exported functions: it pickles as their owner (the
    component, or one of its interfaces), so that a function pickles as ``getattr(<owner>,
    name)`` (as bound methods do): a task that ships ``c.scaled`` ships the component."""

    __slots__ = ("attr", "comp")

    def __init__(self, comp: Component, attr: str | None) -> None:
        self.comp, self.attr = comp, attr

    def __reduce__(self) -> tuple[Any, ...]:
        return (getattr, (self.comp, self.attr)) if self.attr else (_same, (self.comp,))

    def __repr__(self) -> str:
        return repr(self.comp) + (f".{self.attr}" if self.attr else "")


def _same(value: Any) -> Any:
    return value


def make_function(comp: Component, spec: FuncSpec, name: str,
                  owner: _Owner | None) -> Callable[..., Any]:
    """The callable of an exported function: a method of ``owner`` named ``name`` (so that
    it pickles by reference), or (no owner) a plain function."""
    lowers, lift = spec.lowers, spec.lift

    def call(_owner: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs or len(args) != len(lowers):
            args = _bind_args(spec, args, kwargs)
        vals = [f(a) for f, a in zip(lowers, args)]  # noqa: B905 -- (the lengths are equal)
        out = comp._current().call(spec, vals)
        return out if lift is None else lift(out)

    call.__name__ = name
    call.__qualname__ = spec.label
    call.__doc__ = f"{spec.label}: the component's export (WIT)."
    sig = spec.signature()
    call.__signature__ = sig.replace(parameters=[  # type: ignore[attr-defined]
        inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY),
        *sig.parameters.values()])
    if owner is None:
        return functools.partial(call, None)
    return types.MethodType(call, owner)


def make_method(comp: Component, spec: FuncSpec, kind: str) -> Any:
    lowers, lift = spec.lowers, spec.lift
    if kind == "method":
        def method(self: Resource, *args: Any, **kwargs: Any) -> Any:
            if kwargs or len(args) != len(lowers) - 1:
                args = _bind_args(spec, args, kwargs, skip=1)
            vals = [lowers[0](self)] + [f(a) for f, a in zip(lowers[1:], args, strict=True)]
            out = comp._current().call(spec, vals)
            return out if lift is None else lift(out)
        method.__signature__ = spec.signature(1)  # type: ignore[attr-defined]
        return method
    if kind == "constructor":
        def init(self: Resource, *args: Any, **kwargs: Any) -> None:
            if kwargs or len(args) != len(lowers):
                args = _bind_args(spec, args, kwargs)
            vals = [f(a) for f, a in zip(lowers, args, strict=True)]
            inst = comp._current()
            self._handle = inst.call(spec, vals)
            self._inst, self._gen = inst, inst.gen
        init.__signature__ = spec.signature()  # type: ignore[attr-defined]
        return init
    return staticmethod(make_function(comp, spec, snake(spec.path[-1]), None))


# -- one instance per thread ----------------------------------------------------------------

class ComponentInstance:
    """One Store + component instance, for one thread, under the component's limits. After a
    trap the Store is poisoned ("cannot enter component instance"): the next call makes a new
    one (and the resources of the old one are gone: ``gen`` counts the instances)."""

    def __init__(self, comp: Component) -> None:
        self.comp = comp
        self.tid = threading.get_ident()
        self.gen = 0
        self.dead = True
        self.drops: list[Any] = []  # resources to drop at the next call (see Resource)
        self.host_error: BaseException | None = None
        self.host_depth = 0
        self.host_functions: dict[tuple[str, str], Any] = {}  # (the fast path's callbacks)
        if comp._interrupts:
            self.engine, self.component = comp._engine, comp._component
        else:
            self.engine = new_engine(comp.fuel is not None, comp._creator)
            self.component = cm.Component.deserialize(self.engine, comp._serialized())
        self.watch = Watch(self.engine, comp._ticks, comp._interrupts)
        self.indexes: dict[tuple[str, ...], Any] = {}
        self._instantiate()

    def _instantiate(self) -> None:
        c = self.comp
        self.gen += 1
        self.drops = []
        self.limits = Limits(c.max_memory, self.watch)
        reaper.reap()
        self.store = store = wasmtime.Store(self.engine)
        made = c._creator
        cap = c.max_memory
        store.set_limits(table_elements=max(cap // 8, 1), instances=1000, tables=1000,
                         memories=1000, **({} if made else {"memory_size": cap}))
        linker = cm.Linker(self.engine)
        if c.wasi is not None:
            linker.add_wasip2()
            store.set_wasi(self._wasi_config(c.wasi))
        with linker.root() as root:
            for iface, funcs in c._host.items():
                if iface:
                    with root.add_instance(iface) as li:
                        for name, (fn, fspec) in funcs.items():
                            self._define(li, iface, name, fn, fspec)
                else:
                    for name, (fn, fspec) in funcs.items():
                        self._define(root, iface, name, fn, fspec)
        self.hook = self.watch.attach(store)
        self._deadline = self.watch.deadline_setter(store)
        if c.fuel is not None:
            store.set_fuel(c.fuel)
        if made is not None:
            made.current.limits = self.limits
        try:
            self.instance = linker.instantiate(store, self.component)
        except wasmtime.WasmtimeError as e:
            raise self._error(e, "instantiation") from None
        finally:
            if made is not None:
                made.current.limits = None
        self.funcs: dict[tuple[str, ...], tuple[Any, int]] = {}
        self.runners: dict[tuple[str, ...], Callable[[list[Any]], Any]] = {}
        self.ctx_addr = internals.context_address(store) if c._fast else 0
        self._fuel = fast.fuel_setter(store, self.ctx_addr, c.fuel)
        self.dead = False

    def _wasi_config(self, w: Wasi) -> wasmtime.WasiConfig:
        cfg = wasmtime.WasiConfig()
        cfg.argv = [self.comp.name if w.argv0 is None else w.argv0, *w.args]
        cfg.env = [(k, v) for k, v in w.env.items()]
        for guest, host_dir, writable in w.mounts():
            cfg.preopen_dir(host_dir, guest, writable)
        return cfg

    def _define(self, li: Any, iface: str, name: str, fn: Callable[..., Any],
                spec: HostSpec) -> None:
        """Defines host function ``fn`` as ``name`` in linker instance ``li``: a C callback of
        wasmcore's on the fast path (made once per instance: the Stores it makes after a
        failure call the same), else wasmtime-py's ``add_func``. Either way an exception it
        raises waits in :attr:`host_error` until the failed call raises it, as itself (never
        in wasmtime-py's process-wide slot)."""
        lifts, lower = spec.lifts, spec.lower
        me = weakref.ref(self)

        def call(*args: Any) -> Any:
            inst = me()
            if inst is not None:
                inst.host_depth += 1
            try:
                out = fn(*[a if f is None else f(a) for f, a in zip(lifts, args, strict=True)])
            finally:
                if inst is not None:
                    inst.host_depth -= 1
            return None if lower is None else lower(out)

        def failed(e: BaseException) -> None:
            inst = me()
            if inst is not None:
                inst.host_error = e

        if self.comp._fast:
            hf = self.host_functions.get((iface, name))
            if hf is None:
                hf = self.host_functions[(iface, name)] = fast.HostFunction(
                    spec.types, spec.result_type, call, failed, lambda: me().store)  # type: ignore[union-attr]
            hf.define(li, name)
            return

        def host(_store: Any, *args: Any) -> Any:
            try:
                return call(*args)
            except BaseException as e:
                failed(e)
                raise _HostFailed(f"host function {spec.label} raised") from None
        li.add_func(name, host)

    def arm(self) -> None:
        """Before every call: a fresh instance after a failure, the call's limits, then the
        drops the finalizers queued (the component's destructors run under the limits
        too)."""
        if self.dead or reaper._GRAVE:
            if self.comp.closed:
                raise ValueError(f"{self.comp.name}: the component is closed")
            if self.dead:
                self._instantiate()
            else:
                reaper.reap()
        self._limit()
        while self.drops:
            self.drop(self.drops.pop())
            self._limit()

    def _limit(self) -> None:
        """The limits of the call that begins (Watch.begin's work inlined: every call)."""
        self.limits.denied = 0
        self.host_error = None
        w = self.watch
        if w.pending is not None:
            e, w.pending = w.pending, None
            raise e
        w.seen = w.cancels.count
        if w.ticks is not None:
            w.expires = TICKER.count + w.ticks
        if self._deadline is not None:
            self._deadline()
        if self._fuel is not None and self._fuel():
            raise Error(f"{self.comp.name}: cannot set the fuel of a call")

    def func(self, key: tuple[str, ...]) -> tuple[Any, int]:
        """The function ``key`` of this instance, and its address (fast path)."""
        got = self.funcs.get(key)
        if got is None:
            index = self.indexes.get(key)
            if index is None:  # (of this instance's component: its own engine's, maybe)
                parent = None if len(key) == 1 else self.component.get_export_index(key[0])
                index = self.indexes[key] = self.component.get_export_index(key[-1], parent)
            f = self.instance.get_func(self.store, index)
            assert f is not None, key
            got = self.funcs[key] = \
                (f, internals.component_func_address(f) if self.comp._fast else 0)
        return got

    def call(self, spec: FuncSpec, vals: list[Any]) -> Any:
        """Calls ``spec``'s function with ``vals`` (checked, in wasmtime-py's forms)."""
        if self.host_depth:
            raise Error(f"{self.comp.name}: {spec.label}() was called from one of the "
                        "component's host functions while a call of this thread's instance "
                        "runs: a component instance cannot be re-entered (the component "
                        "model forbids it)")
        if self.dead or reaper._GRAVE or self.drops:
            self.arm()
        else:
            self._limit()
        run = self.runners.get(spec.path)
        if run is None:
            run = self.runners[spec.path] = self._runner(spec)
        return run(vals)

    def _runner(self, spec: FuncSpec) -> Callable[[list[Any]], Any]:
        """The calls of one function on this Store: on the fast path with its plan, buffers
        and bound C call made once (no call of this instance can begin while one runs: see
        :meth:`call`), else through wasmtime-py's ``Func.__call__``."""
        f, addr = self.func(spec.path)
        store, label = self.store, spec.label
        if not addr:
            def public(vals: list[Any]) -> Any:
                try:
                    return f(store, *vals)
                except wasmtime.WasmtimeError as e:
                    self.dead = True
                    raise self._error(e, f"{label}()") from None
                except (TypeError, ValueError) as e:  # wasmtime-py refused a value
                    self.dead = True
                    raise Error(f"{self.comp.name}: {label}(): {e}") from None
            return public
        plan = spec.plan
        if plan is None:
            plan = spec.plan = fast.Plan(spec.types, spec.result_type)
        mine = fast.Buffers(plan, addr, self.ctx_addr)
        call = fast.call
        if plan.pack is not None:  # (numbers only: nothing owned, nothing to clean up)
            pack, bound, read = plan.pack, mine.call, plan.read
            mv, at, raddr = mine.mv, plan.result_at, mine.raddr

            def run_numbers(vals: list[Any]) -> Any:
                try:
                    pack(mv, *vals)
                except (OverflowError, struct.error):  # (an f32 out of range: the general way)
                    return run(vals)
                err = bound()
                if err:
                    self.dead = True
                    raise self._error(internals.error(err), f"{label}()") from None
                return None if read is None else read(mv, at, raddr)

        def run(vals: list[Any]) -> Any:
            try:
                err, out = call(plan, mine, store, vals)
            except (TypeError, ValueError) as e:  # wasmtime-py refused a value
                raise Error(f"{self.comp.name}: {label}(): {e}") from None
            if err:
                self.dead = True
                raise self._error(internals.error(err), f"{label}()") from None
            return out
        return run if plan.pack is None else run_numbers

    def drop(self, h: Any) -> None:
        try:
            h.drop(self.store)
        except ValueError:  # (wasmtime-py's handle went first, in the same garbage cycle)
            pass
        except wasmtime.WasmtimeError as e:
            self.dead = True
            raise self._error(e, "a resource's destructor") from None

    def _error(self, e: wasmtime.WasmtimeError, label: str) -> BaseException:
        c = self.comp
        where = f"{c.name}: {label}"
        text = str(e)
        code = _trap_code(text)
        stopped = self.watch.stopped(where, c.timeout, code == "interrupt")
        if stopped is not None:
            self.host_error = None
            return stopped
        if self.host_error is not None:
            err, self.host_error = self.host_error, None
            return err
        limit = limit_failure(where, code, c, self.limits.denied, bool(self.limits.denied),
                              reason(text))
        if limit is not None:
            return limit
        if label == "instantiation":
            if "exceeds memory limits" in text or ("memory" in text and "limit" in text):
                return MemoryLimitExceeded(f"{where}: the component needs more memory than its "
                                           f"max_memory of {c.max_memory} bytes allows: {text}")
            if code is None:
                return ModuleRejected(f"{where}: the component does not instantiate: {text}")
        return Trap(f"{where} trapped: {reason(text)}", code)

    def close(self) -> None:
        self.dead = True
        self.watch.retire()


class HostSpec:
    """One imported function: the host's callable and its converters."""

    def __init__(self, label: str, fty: Any, conv: Converter) -> None:
        self.label = label
        params = fty.params
        self.types = [t for _, t in params]
        self.result_type = fty.result
        self.lifts = [conv.lift(t, f"{label}:{snake(n)}") for n, t in params]
        self.names = [snake(n) for n, _ in params]
        rt = fty.result
        self.lower = None if rt is None else conv.lower(rt, label, "return value")


# -- the public class -----------------------------------------------------------------------

class Component:
    """A WebAssembly component (WIT interfaces) run in the plugin sandbox.

    ``source`` is a path or the component's bytes. Limits as :class:`wasmcore.Plugin`'s:
    ``timeout`` (seconds per call), ``fuel``, ``max_memory`` (bytes of every linear memory
    together... per memory, as wasmtime counts). Imports are denied by default: each imported
    function must be given in ``host``, keyed as the component's WIT names its imports
    (nested ``{"demo:plugin/host@0.1.0": {"log": fn}}`` or flat
    ``"demo:plugin/host@0.1.0#log"``; function names in kebab- or snake_case), and WASI
    (p2) only with ``wasi=True`` or a :class:`wasmcore.Wasi` (preopening nothing unless
    it mounts), else the component is refused (:class:`wasmcore.ModuleRejected`).

    The world's exported functions are attributes (snake_case); an exported interface is an
    attribute holding its functions; a resource is a class there (``c.counters.Counter(5)``).
    Values are typed: see docs/components.md. A ``result`` error raises
    :class:`wasmcore.ComponentError` (``.value``: the error payload); a trap, the timeout,
    fuel, memory and cancellation raise the same exceptions as a plugin's, and the next call
    runs in a fresh instance. Each thread gets its own instance.
    """

    def __init__(self, source: str | os.PathLike[str] | bytes | bytearray | memoryview, *,
                 host: Mapping[str, Any] | None = None, wasi: bool | Wasi | None = None,
                 timeout: float | None = None, fuel: int | None = None,
                 max_memory: int = DEFAULT_MAX_MEMORY, sha256: str | None = None) -> None:
        self.closed = False
        self.timeout = check_limit("timeout", timeout, float, "Component")
        self.fuel = check_limit("fuel", fuel, int, "Component")
        self.max_memory = int(check_limit("max_memory", max_memory, int, "Component"))
        if wasi is None or wasi is False:
            self.wasi: Wasi | None = None
        elif wasi is True:
            self.wasi = Wasi()
        elif isinstance(wasi, Wasi):
            self.wasi = wasi
        else:
            raise TypeError(f"Component(): parameter 'wasi' must be a bool or a wasmcore.Wasi, "
                            f"got {type(wasi).__name__}")
        data, self.name = read_source(source, "Component")
        self._source: bytes | str = \
            os.path.abspath(source) if isinstance(source, (str, os.PathLike)) else data
        self.sha256 = check_sha256(data, sha256, self.name, "Component")
        self._host_given = dict(host) if host is not None else None
        self._interrupts = internals.usable("interrupts")
        self._fast = internals.usable("component calls")
        self._creator = creator()
        self._engine = engine(self.fuel is not None, self._creator)
        config = engine_config(self.fuel is not None, self._creator)
        self._component = wasm.compile_module(data, self.sha256, self._engine, config,
                                              kind=cm.Component)
        self._ser: bytes | bytearray | None = None
        self._ticks = None if self.timeout is None else math.ceil(self.timeout / TICK) + 1
        self._ticking = TICKER.acquire(self._engine) \
            if self.timeout is not None and self._interrupts else None
        ctype = self._component.type
        imports = _items(ctype.imports(self._engine))
        exports = _items(ctype.exports(self._engine))
        self._types = Types(self._named_types(imports, exports), world_types(data))
        self._resources = Resources(self)
        self._conv = Converter(self._types, self._resources, arrays=self._fast)
        self._host = self._resolve_imports(imports, host)
        self.functions: dict[str, Callable[..., Any]] = {}
        self._local = threading.local()
        self._instances: weakref.WeakSet[ComponentInstance] = weakref.WeakSet()
        self._owner = _Owner(self, None)
        self._expose(exports)
        self._current()  # instantiate now: a component that cannot start fails here

    # -- loading ----------------------------------------------------------------------------

    def _named_types(self, imports: Mapping[str, Any], exports: Mapping[str, Any]
                     ) -> list[tuple[str, Any]]:
        named = []
        for items in (exports, imports):
            for name, ty in items.items():
                if isinstance(ty, cm.ComponentInstanceType):
                    named += [(n, t) for n, t in _items(ty.exports(self._engine)).items()
                              if isinstance(t, cm.ValType)]
                elif isinstance(ty, cm.ValType):
                    named.append((name, ty))
        return named

    def _resolve_imports(self, imports: Mapping[str, Any], host: Mapping[str, Any] | None
                         ) -> dict[str, dict[str, tuple[Callable[..., Any], HostSpec]]]:
        given: dict[tuple[str, str], Callable[..., Any]] = {}
        if host is not None:
            for key, value in host_entries(host, "Component"):
                if isinstance(value, Mapping):
                    for name, fn in value.items():
                        given[(key, str(name).replace("_", "-"))] = fn
                else:
                    iface, _, name = key.rpartition("#")
                    given[(iface, name.replace("_", "-"))] = value
        for (iface, name), fn in given.items():
            if not callable(fn):
                raise TypeError(f"Component(): parameter 'host': "
                                f"{iface + '#' if iface else ''}{name} is not callable")
        out: dict[str, dict[str, tuple[Callable[..., Any], HostSpec]]] = {}
        missing: list[str] = []
        used: set[tuple[str, str]] = set()
        for iname, ty in imports.items():
            if isinstance(ty, cm.ComponentInstanceType):
                members = _items(ty.exports(self._engine))
                if iname.startswith("wasi:") and self.wasi is not None \
                        and not any((iname, n) in given for n in members):
                    continue  # (WASI p2, from wasmtime's linker)
                funcs = {}
                for n, t in members.items():
                    if isinstance(t, cm.FuncType):
                        fn = given.get((iname, n))
                        if fn is None:
                            missing.append(f"{iname}#{n}")
                            continue
                        used.add((iname, n))
                        funcs[n] = (fn, self._host_spec(f"{iname}#{n}", fn, t))
                    elif isinstance(t, cm.ResourceType):
                        missing.append(f"{iname}#{n} (a resource type: not supported yet)")
                out[iname] = funcs
            elif isinstance(ty, cm.FuncType):
                fn = given.get(("", iname))
                if fn is None:
                    missing.append(iname)
                    continue
                used.add(("", iname))
                out.setdefault("", {})[iname] = (fn, self._host_spec(iname, fn, ty))
            elif isinstance(ty, cm.ValType):
                continue  # (an imported type)
            else:
                missing.append(f"{iname} ({type(ty).__name__})")
        if missing:
            hint = "provide functions with host={...}"
            if any(m.startswith("wasi:") for m in missing):
                hint += " or pass wasi=True for WASI (p2)"
            raise ModuleRejected(f"{self.name}: the component imports what it was not given: "
                                 f"{', '.join(missing)} ({hint})")
        unused = sorted(f"{i}#{n}" if i else n for i, n in set(given) - used)
        if unused:
            raise TypeError(f"Component(): parameter 'host': the component imports no "
                            f"{', '.join(unused)} (its imports: {', '.join(imports) or 'none'})")
        return out

    def _host_spec(self, label: str, fn: Callable[..., Any], fty: Any) -> HostSpec:
        spec = HostSpec(label, fty, self._conv)
        n = len(spec.names)
        sig = refuses(fn, n)
        if sig is not None:
            raise TypeError(f"Component(): host function {label!r} must take {n} positional "
                            f"argument{'s' if n != 1 else ''} ({', '.join(spec.names)}), got "
                            f"{fn!r} with signature {sig}")
        return spec

    def _expose(self, exports: Mapping[str, Any]) -> None:
        """The world's functions and the classes of the types they use as attributes, then
        each exported interface as an attribute holding its own."""
        for name, ty in exports.items():
            if isinstance(ty, cm.FuncType):
                spec = FuncSpec((name,), ty, self._conv, snake(name))
                fn = make_function(self, spec, snake(name), self._owner)
                self._set(self, snake(name), fn, name)
                self.functions[snake(name)] = fn
        for cname, cls in self._types.classes.items():
            self._set(self, cname, cls, cname)
        for name, ty in exports.items():
            if isinstance(ty, cm.ComponentInstanceType) and not _hidden(name, ty, self._engine):
                attr = _interface_attr(name)
                ns = SimpleNamespace()
                self._interface(ns, name, attr, _items(ty.exports(self._engine)))
                self._set(self, attr, ns, name)

    def _interface(self, ns: SimpleNamespace, iname: str, attr: str,
                   members: Mapping[str, Any]) -> None:
        before = set(self._types.classes)
        owner = _Owner(self, attr)
        classes: dict[str, type[Resource]] = {}
        for n, t in members.items():
            if isinstance(t, cm.ResourceType):
                classes[n] = self._resources.add(t, n)
                setattr(ns, camel(n), classes[n])
        for n, t in members.items():
            if not isinstance(t, cm.FuncType):
                continue
            kind, _, rest = n.partition("]")
            if n.startswith("[") and rest:
                res, _, meth = rest.partition(".")
                kind = kind[1:]
                cls = classes[res]
                label = f"{attr}.{camel(res)}" + (f".{snake(meth)}" if meth else "")
                spec = FuncSpec((iname, n), t, self._conv, label)
                target = "__init__" if kind == "constructor" else snake(meth)
                setattr(cls, target, make_method(self, spec, kind))
            else:
                spec = FuncSpec((iname, n), t, self._conv, f"{attr}.{snake(n)}")
                fn = make_function(self, spec, snake(n), owner)
                setattr(ns, snake(n), fn)
                self.functions[f"{attr}.{snake(n)}"] = fn
        for cname, cls in self._types.classes.items():
            if cname not in before:
                setattr(ns, cname, cls)

    def _set(self, target: Any, attr: str, value: Any, wit: str) -> None:
        if attr in vars(type(target)) or attr.startswith("_"):
            raise ModuleRejected(f"{self.name}: export {wit!r} would hide Component.{attr}")
        setattr(target, attr, value)

    # -- instances --------------------------------------------------------------------------

    def _current(self) -> ComponentInstance:
        inst: ComponentInstance | None = getattr(self._local, "inst", None)
        if inst is None:
            if self.closed:
                raise ValueError(f"{self.name}: the component is closed")
            inst = ComponentInstance(self)
            self._local.inst = inst
            self._instances.add(inst)
        return inst

    def _serialized(self) -> bytes | bytearray:
        if self._ser is None:
            self._ser = self._component.serialize()
        return self._ser

    def cancel_handle(self) -> CancelHandle:
        """A handle that cancels the call this thread's instance is running (or its next
        one), from any thread: that call raises :class:`wasmcore.Cancelled`."""
        return handle(self._current().watch, self.name)

    def close(self) -> None:
        """Releases every instance (each thread's); later calls raise ``ValueError``."""
        if self.closed:
            return
        self.closed = True
        for inst in list(self._instances):
            inst.close()
        self._local = threading.local()
        release_ticking(self)

    def __del__(self) -> None:
        release_ticking(self)  # (a component never closed: the ticker stops advancing for it)

    def __enter__(self) -> Component:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> tuple[Any, ...]:
        for iface, funcs in self._host.items():
            for name, (fn, _) in funcs.items():
                try:
                    pickle.dumps(fn)
                except Exception as e:
                    key = f"{iface}#{name}" if iface else name
                    raise TypeError(f"{self.name}: host function {key!r} does not pickle "
                                    f"({e}); a function defined at a module's top level "
                                    "does") from None
        return (_rebuild, (self._source, self.sha256, self._host_given, self.wasi,
                           self.timeout, self.fuel, self.max_memory))

    def __repr__(self) -> str:
        return f"<wasmcore.Component {self.name} ({len(self.functions)} functions)>"

    if not TYPE_CHECKING:  # (type checkers see the attributes `wasmcore stubs` declares)
        def __getattr__(self, name: str) -> Any:
            """A name the component does not export (its exports are attributes)."""
            if name.startswith("_"):
                raise AttributeError(name)
            funcs = ", ".join(sorted(vars(self).get("functions", {}))) or "none"
            raise AttributeError(f"{vars(self).get('name', 'the component')} exports no "
                                 f"{name!r} (its functions: {funcs})")


# unpickled components, by what they were pickled with: each is made once per process (a Dask
# worker runs many tasks of one component), and kept for the life of the process
_LOADED: dict[bytes, Component] = {}
_LOADED_LOCK = threading.Lock()


def _rebuild(source: bytes | str, sha256: str, host: Any, wasi: Any, timeout: Any, fuel: Any,
             max_memory: int) -> Component:
    key = pickle.dumps((sha256, source if isinstance(source, str) else None, host, wasi,
                        timeout, fuel, max_memory))
    with _LOADED_LOCK:
        comp = _LOADED.get(key)
        if comp is None or comp.closed:
            comp = _LOADED[key] = Component(source, host=host, wasi=wasi, timeout=timeout,
                                            fuel=fuel, max_memory=max_memory, sha256=sha256)
        return comp


__all__ = ["Component", "ComponentInstance", "Resource"]
