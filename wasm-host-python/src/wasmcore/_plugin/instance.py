"""One sandboxed instance of a plugin per thread: its Store under the limits, its host
functions, and how each failure becomes its exception."""

from __future__ import annotations

import contextlib
import math
import os
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import wasmtime

from .._abi.manifest import Manifest
from .._backends import reaper, wasm
from .._errors import (
    Error,
    FuelExhausted,
    MemoryLimitExceeded,
    ModuleRejected,
    Timeout,
    Trap,
)
from .limits import CREATOR, NO_DEADLINE, TICK, Limits
from .wasi import Output, Wasi, stdin_file

if TYPE_CHECKING:
    from .plugin import Plugin



# -- one sandboxed instance per thread --------------------------------------------------------

# the values a raw i32 / i64 argument or result may take (signed or unsigned)
RAW_INT_RANGES = {"i32": (-(1 << 31), (1 << 32) - 1), "i64": (-(1 << 63), (1 << 64) - 1)}


class HostFailed(Exception):
    """Raised through wasmtime-py when a host function failed; the real exception waits in
    the instance (wasmtime-py keeps only one, process-wide)."""


def func_signature(ty: wasmtime.FuncType) -> str:
    return wasm._sig(tuple(str(p) for p in ty.params), tuple(str(r) for r in ty.results))


class PluginInstance(wasm._Instance):
    """One Store + instance of a plugin, for one thread, under the plugin's limits."""

    backend: PluginBackend

    def __init__(self, backend: PluginBackend) -> None:  # type: ignore[override]
        self.dead = False
        self.host_error: BaseException | None = None
        self.in_host = 0  # host functions of this instance running now (on its thread)
        cap = min(backend.plugin.max_memory, 16 << 20)
        self.stdout, self.stderr = Output(cap), Output(cap)
        super().__init__(backend)
        backend.plugin._instances.add(self)

    def _instantiate(self) -> None:
        p = self.backend.plugin
        # a fresh budget: the old instance's memories are charged to the old one until freed
        self.limits = Limits(p.max_memory)
        store = self._new_store(p._engine)
        cap = p.max_memory
        store.set_limits(table_elements=max(cap // 8, 1), instances=10, tables=100,
                         memories=10, **({} if CREATOR else {"memory_size": cap}))
        linker = wasmtime.Linker(p._engine)
        for (mod, name), (fn, ty) in p._host.items():
            linker.define_func(mod, name, ty, self._host_call(f"{mod}.{name}", fn, ty))
        if p.wasi is not None:
            linker.define_wasi()
            store.set_wasi(self._wasi_config(p.wasi))
        self._arm_limits()
        if CREATOR is not None:
            CREATOR.current.limits = self.limits
        try:
            inst = linker.instantiate(store, p._module)
        except HostFailed:  # a host function called by the start function raised
            raise self._host_failure() from None
        except wasmtime.Trap as e:
            raise self.trap_error(e, "instantiation") from None
        except wasmtime.WasmtimeError as e:
            raise self._instantiate_error(e) from None
        finally:
            if CREATOR is not None:
                CREATOR.current.limits = None
        self._attach(inst, runtime=p._typed)
        # only now: until an instantiation succeeds, every call first tries again (the
        # callables still point at the old store)
        self.dead = False

    def _instantiate_error(self, e: wasmtime.WasmtimeError) -> Error:
        p = self.backend.plugin
        if isinstance(e, wasmtime.ExitTrap):
            return Error(f"{p.name}: the start function exited with status {e.code}")
        text = str(e)
        if self.limits.denied or "exceeds memory limits" in text \
                or "exceeds table limits" in text:
            return MemoryLimitExceeded(f"{p.name}: the module needs more memory than its "
                                       f"max_memory of {p.max_memory} bytes allows: {text}")
        if self.host_error is not None:
            return self._host_failure()
        return ModuleRejected(f"{p.name}: module does not instantiate: {text}")

    def _wasi_config(self, w: Wasi) -> wasmtime.WasiConfig:
        cfg = wasmtime.WasiConfig()
        cfg.argv = [self.backend.plugin.name, *w.args]
        cfg.env = [(k, v) for k, v in w.env.items()]
        self.stdout.attach(lambda path: setattr(cfg, "stdout_file", path))
        self.stderr.attach(lambda path: setattr(cfg, "stderr_file", path))
        if w.stdin:  # wasmtime opens the file at once; it need not outlive this call
            with stdin_file(w.stdin) as path:
                cfg.stdin_file = path
        for guest, host in w.dirs.items():
            cfg.preopen_dir(os.fspath(host), guest, w.writable)
        return cfg

    def _host_call(self, key: str, fn: Callable[..., Any],
                   ty: wasmtime.FuncType) -> Callable[..., Any]:
        results = [str(r) for r in ty.results]
        ref = weakref.ref(self)

        def call(*args: Any) -> Any:
            inst = ref()
            if inst is not None:
                inst.in_host += 1
            reaper.enter_callback()
            try:
                return check_results(key, fn(*args), results)
            except BaseException as e:
                if inst is not None:
                    inst.host_error = e
                raise HostFailed(key) from None
            finally:
                reaper.exit_callback()
                if inst is not None:
                    inst.in_host -= 1

        return call

    # -- limits ---------------------------------------------------------------------------

    def _arm_limits(self) -> None:
        p = self.backend.plugin
        self.limits.denied = 0
        self.host_error = None
        ticks = NO_DEADLINE if p.timeout is None else math.ceil(p.timeout / TICK) + 1
        self.store.set_epoch_deadline(ticks)
        if p.fuel is not None:
            self.store.set_fuel(p.fuel)

    def arm(self) -> None:
        """Before every call: a fresh instance after a failure, then the call's limits."""
        p = self.backend.plugin
        if p.closed:
            raise ValueError(f"{p.name}: the plugin is closed")
        if self.dead:
            if self.in_host:  # its Store is still running the call that made this one
                raise Error(f"{p.name}: the plugin failed during a call that is still running "
                            "(this call comes from one of its host functions); it is "
                            "re-created when that call has returned")
            super().reset()
        elif reaper._GRAVE:
            reaper.reap()
        self._arm_limits()

    def reset(self) -> None:
        """After a failure the instance is replaced at the start of the next call (so a
        failing re-instantiation is reported by that call, not in place of this failure)."""
        self.ctx.live = False
        self.dead = True

    # -- failures -------------------------------------------------------------------------

    def _host_failure(self) -> BaseException:
        e, self.host_error = self.host_error, None
        with contextlib.suppress(AttributeError):  # wasmtime-py's process-wide copy
            from wasmtime import _func

            if isinstance(_func.LAST_EXCEPTION, HostFailed):
                _func.LAST_EXCEPTION = None
        assert e is not None
        return e

    def trap_error(self, trap: wasmtime.Trap, label: str) -> Any:
        p = self.backend.plugin
        if self.host_error is not None:
            return self._host_failure()
        code = trap.trap_code
        name = code.name if code is not None else ""
        where = f"{p.name}: {label}()" if label != "instantiation" else f"{p.name}: instantiation"
        if self.limits.denied:
            return MemoryLimitExceeded(
                f"{where} asked for {self.limits.denied} bytes of memory, over its max_memory "
                f"of {p.max_memory} bytes (then trapped: {reason(trap.message)})")
        if name == "INTERRUPT":
            return Timeout(f"{where} ran past its timeout of {p.timeout} s", "interrupt")
        if name == "OUT_OF_FUEL":
            return FuelExhausted(f"{where} ran out of fuel ({p.fuel} units)", "out_of_fuel")
        t = wasm._trap_error(trap)
        return Trap(f"{where} trapped: {reason(trap.message)}", t.code)

    def raw_call(self, name: str, args: list[Any]) -> Any:
        """A call through wasmtime-py's public API (the numeric ``Plugin.call`` path)."""
        self.arm()  # first: it may re-create the instance
        func = self.exports[name]
        assert isinstance(func, wasmtime.Func)
        try:
            return func(self.store, *args)
        except wasmtime.ExitTrap as e:
            if e.code == 0:
                self.reset()
                return None
            raise self.raised(e, name) from None
        except (HostFailed, wasmtime.Trap, wasmtime.WasmtimeError) as e:
            raise self.raised(e, name) from None

    def raised(self, e: Exception, label: str) -> BaseException:
        if isinstance(e, HostFailed):  # wasmtime-py raises it in place of the call's trap
            self.reset()
            return self._host_failure()
        return super().raised(e, label)

    def call_error(self, e: wasmtime.WasmtimeError, label: str) -> BaseException:
        if self.host_error is not None:
            return self._host_failure()
        if isinstance(e, wasmtime.ExitTrap):
            return Error(f"{self.backend.plugin.name}: {label}() exited with status {e.code}")
        return Error(f"{self.backend.plugin.name}: {label}(): {reason(str(e))}")


def reason(message: str) -> str:
    """The cause line of a wasmtime trap message (``wasm trap: integer divide by zero``)."""
    lines = [ln.strip() for ln in message.strip().splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "wasm trap:" in ln:
            return ln[ln.index("wasm trap:"):]
    return lines[-1] if lines else "trap"


def check_results(key: str, out: Any, results: list[str]) -> Any:
    """A host function's return value checked against the import's result types."""
    def bad() -> TypeError:
        want = "nothing (None)" if not results else ", ".join(results)
        return TypeError(f"host function '{key}' returned {out!r}; the import expects {want}")

    if not results:
        if out is not None:
            raise bad()
        return None
    values = [out] if len(results) == 1 else out
    if not isinstance(values, (list, tuple)) or len(values) != len(results):
        raise bad()
    for v, t in zip(values, results, strict=True):
        if t in RAW_INT_RANGES:
            if isinstance(v, bool) or not isinstance(v, int):
                raise bad()
        elif t in ("f32", "f64"):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise bad()
        else:
            raise bad()
    return out


class PluginBackend(wasm.WasmBackend):
    """A plugin's module behind the core's call machinery (typed callables from its manifest),
    with sandboxed instances."""

    instance_class = PluginInstance

    def __init__(self, plugin: Plugin, manifest: Manifest) -> None:
        self.plugin = plugin
        self.manifest = manifest
        self.module = plugin._module
        self.specs = {wasm._FREE.name: wasm._FREE, **wasm.export_specs(manifest)} \
            if plugin._typed else {}
        self._local = threading.local()
        self.fast = wasm.fast_path()  # the core's switch (WASMCORE_FAST_PATH)
        if plugin._typed:
            try:
                self._check_exports()
            except ModuleRejected as e:
                raise ModuleRejected(f"{plugin.name}: {e}") from None

    def instance(self) -> PluginInstance:
        inst = super().instance()
        assert isinstance(inst, PluginInstance)
        return inst
