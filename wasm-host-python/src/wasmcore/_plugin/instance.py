"""One sandboxed instance of a plugin per thread: its Store under the limits, its host
functions, and how each failure becomes its exception."""

from __future__ import annotations

import ctypes
import functools
import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import wasmtime

from .._abi.manifest import Manifest
from .._backends import internals, reaper, wasm
from .._errors import (
    Error,
    FuelExhausted,
    MemoryLimitExceeded,
    ModuleRejected,
    Timeout,
    Trap,
)
from . import host, waits
from .cancel import SignalGuard, Watch
from .limits import TICK, TICKER, Limits, new_engine
from .raw import raw_spec
from .wasi import Output, Wasi, stdin_file

if TYPE_CHECKING:
    from .plugin import Plugin


class PluginInstance(wasm._Instance):
    """One Store + instance of a plugin, for one thread, under the plugin's limits.

    Every call arms the limits first (:meth:`arm`): fuel, one C call bound once per Store (on
    the public API, wasmtime-py's setter); the timeout and the cancel handle are read by the
    Store's epoch-deadline callback (:class:`.cancel.Watch`). Without that callback (the
    ``interrupts`` feature on the public API) the instance has an engine of its own, so that
    its deadlines and cancels reach its calls alone, and each call sets its deadline."""

    backend: PluginBackend
    trusted = False  # (an untrusted module's "gil": "hold" could keep other threads waiting)

    def __init__(self, backend: PluginBackend) -> None:  # type: ignore[override]
        self.dead = False
        self.host = host.HostCalls()  # its host functions running now, and their failure
        p = backend.plugin
        w = p.wasi
        cap = min(p.max_memory, 16 << 20) if w is None or w.output_limit is None \
            else w.output_limit
        self.stdout = Output(cap, w.stdout if w is not None else None)
        self.stderr = Output(cap, w.stderr if w is not None else None)
        self.imports = p._host
        if p._interrupts:
            self.engine, self.module = p._engine, p._module
        else:  # (an engine: ~20 µs; the module, deserialized from the plugin's: ~0.5 ms)
            self.engine = new_engine(p.fuel is not None, p._creator, p._stack)
            self.module = p._module_for(self.engine)
            # types belong to an engine too (wasmtime aborts on a host function of another's)
            types: dict[tuple[str, str], Any] = {(i.module, i.name or ""): i.type
                                                 for i in self.module.imports}
            self.imports = {key: (fn, types[key]) for key, (fn, _) in p._host.items()}
        self.watch = Watch(self.engine, backend.ticks, p._interrupts)
        super().__init__(backend)
        backend.plugin._instances.add(self)

    def _instantiate(self) -> None:
        p = self.backend.plugin
        # the scratch areas of calls made from host functions, and their depths (see _nest):
        # the old instance's went with it
        self._outer: list[tuple[int, tuple[int, int, Any]]] = []
        self._area_depth = 0
        # a fresh budget: the old instance's memories are charged to the old one until freed
        self.limits = Limits(p.max_memory, self.watch)
        self._fuel: Callable[[], Any] | None = None
        self._deadline: Callable[[], Any] | None = None
        store = self._new_store(self.engine)
        cap = p.max_memory
        made = p._creator
        store.set_limits(table_elements=max(cap // 8, 1), instances=10, tables=100,
                         memories=10, **({} if made else {"memory_size": cap}))
        linker = wasmtime.Linker(self.engine)
        # wasmtime-py's own host functions on the main thread: SIGINT is held back during
        # calls (see SignalGuard)
        self.signals = SignalGuard() if (self.imports or p.wasi is not None) \
            and wasm.callback_api() is None \
            and threading.current_thread() is threading.main_thread() else None
        self.host_functions = host.define(linker, self.imports, self.host, self.signals)
        if p.wasi is not None:
            linker.define_wasi()
            store.set_wasi(self._wasi_config(p.wasi))
            # its waiting calls are wasmcore's, which the limits reach (see .waits)
            linker.allow_shadowing = True
            mine = waits.define(self, p._imported - set(self.imports))  # (not given by host=)
            self.host_functions += host.define(linker, mine, self.host, self.signals)
        # the start function runs under the limits too
        self.hook = self.watch.attach(store)
        if p.fuel is not None:
            store.set_fuel(p.fuel)
        if made is not None:
            made.current.limits = self.limits
        try:
            inst = linker.instantiate(store, self.module)
        except host.HostFailed:  # a host function called by the start function raised
            raise self.host.take() from None
        except wasmtime.Trap as e:
            raise self.trap_error(e, "instantiation") from None
        except wasmtime.WasmtimeError as e:
            raise self._instantiate_error(e) from None
        finally:
            if made is not None:
                made.current.limits = None
        self._attach(inst, runtime=p._typed)
        self._bind_limits()
        # only now: until an instantiation succeeds, every call first tries again (the
        # callables still point at the old store)
        self.dead = False

    def _bind_limits(self) -> None:
        """The per-call setters: of fuel, when metered (a bound C call, whose result is an
        error pointer or None; else wasmtime-py's setter), and of the deadline, where each
        call needs its own (see :class:`.cancel.Watch`)."""
        p, b = self.backend.plugin, self.backend
        self._deadline = self.watch.deadline_setter(self.store)
        if p.fuel is None:
            return
        if b.api is None or not internals.usable("fuel"):
            self._fuel = functools.partial(self.store.set_fuel, p.fuel)
        else:
            self._fuel = b.api.bind("wasmtime_context_set_fuel", ("ptr", self.ctx_addr),
                                    ("u64", p.fuel))

    def _instantiate_error(self, e: wasmtime.WasmtimeError) -> BaseException:
        p = self.backend.plugin
        stopped = self.watch.stopped(f"{p.name}: instantiation", p.timeout)
        if stopped is not None:
            return stopped
        if isinstance(e, wasmtime.ExitTrap):
            return Error(f"{p.name}: the start function exited with status {e.code}")
        text = str(e)
        if self.refused() or "exceeds memory limits" in text \
                or "exceeds table limits" in text:
            return MemoryLimitExceeded(f"{p.name}: the module needs more memory than its "
                                       f"max_memory of {p.max_memory} bytes allows: {text}")
        if self.host.error is not None:
            return self.host.take()  # type: ignore[return-value]
        return ModuleRejected(f"{p.name}: module does not instantiate: {text}")

    def _wasi_config(self, w: Wasi) -> wasmtime.WasiConfig:
        cfg = wasmtime.WasiConfig()
        cfg.argv = [self.backend.plugin.name if w.argv0 is None else w.argv0, *w.args]
        cfg.env = [(k, v) for k, v in w.env.items()]
        self.stdout.attach(lambda path: setattr(cfg, "stdout_file", path))
        self.stderr.attach(lambda path: setattr(cfg, "stderr_file", path))
        if w.stdin:  # wasmtime opens the file at once; it need not outlive this call
            with stdin_file(w.stdin) as path:
                cfg.stdin_file = path
        for guest, host_dir, writable in w.mounts():
            cfg.preopen_dir(host_dir, guest, writable)
        return cfg

    # -- limits ---------------------------------------------------------------------------

    def arm(self) -> None:
        """Before every call: a fresh instance after a failure (or a closed plugin's error),
        then the call's limits."""
        if self.dead or reaper._GRAVE:
            self._recover()
        if self.host.depth != self._area_depth:
            self._nest(self.host.depth)
        self.limits.denied = 0
        self.host.error = None
        if not self.host.depth:  # (a call from a host function is part of the running call)
            w = self.watch
            if w.pending is not None:  # a signal's exception the last call ended without
                e, w.pending = w.pending, None
                raise e
            w.seen = w.cancels.count
            if w.ticks is not None:
                w.expires = TICKER.count + w.ticks
            if self._deadline is not None:
                self._deadline()
        if self._fuel is not None and self._fuel():
            raise Error(f"{self.backend.plugin.name}: cannot set the fuel of a call")

    def _nest(self, depth: int) -> None:
        """Gives the calls made from host functions at ``depth`` a scratch area of their own:
        the call that is running further out, and made this one through a host function,
        still reads its arguments in its area. The areas of deeper calls, which have all
        returned, are freed."""
        while self._outer and depth < self._area_depth:
            if self.scratch_ptr:
                self.free(self.scratch_ptr, self.scratch_cap, 16)
            self._area_depth, (self.scratch_ptr, self.scratch_cap, self.scratch) = \
                self._outer.pop()
            if self.shared is not None:  # (the compiled kernels' view of it)
                self.shared.set(self.scratch_ptr, self.scratch_cap)
        if depth > self._area_depth:
            self._outer.append((self._area_depth,
                                (self.scratch_ptr, self.scratch_cap, self.scratch)))
            self._area_depth = depth
            self.scratch_ptr = self.scratch_cap = 0  # (the next place() makes one)
            self.scratch = memoryview(bytearray())
            if self.shared is not None:
                self.shared.set(0, 0)

    def _recover(self) -> None:
        p = self.backend.plugin
        if p.closed:
            raise ValueError(f"{p.name}: the plugin is closed")
        if self.dead:
            if self.host.depth:  # its Store is still running the call that made this one
                raise Error(f"{p.name}: the plugin failed during a call that is still running "
                            "(this call comes from one of its host functions); it is "
                            "re-created when that call has returned")
            super().reset()
        else:
            reaper.reap()

    def reset(self) -> None:
        """After a failure the instance is replaced at the start of the next call (so a
        failing re-instantiation is reported by that call, not in place of this failure)."""
        self.ctx.live = False
        self.dead = True

    def guard(self, call: Callable[[], Any]) -> Callable[[], Any]:
        """The call through which each call of this instance goes into wasm (see
        :attr:`signals`)."""
        signals = self.signals
        if signals is None:
            return call

        def guarded() -> Any:
            with signals:
                return call()

        return guarded

    # -- failures -------------------------------------------------------------------------

    def refused(self) -> bool:
        """Whether a memory growth was refused since the call began: known from the memory
        creator. Without it ``Store.set_limits`` refuses silently (``memory.grow`` gives -1),
        so the one sign the public API shows is taken: an exported memory grown past half
        the cap (a growth that could not have been refused leaves it smaller; one that was
        refused, of at most the memory's size, as allocators grow, leaves it there)."""
        if self.limits.denied:
            return True
        if self.backend.plugin._creator is not None:
            return False
        cap = self.backend.plugin.max_memory
        try:
            return any(isinstance(m, wasmtime.Memory) and 2 * m.data_len(self.store) > cap
                       for m in self.exports.values())
        except Exception:  # (no exports yet: instantiation; a closed Store)
            return False

    def trap_error(self, trap: wasmtime.Trap, label: str) -> Any:
        p = self.backend.plugin
        where = f"{p.name}: {label}()" if label != "instantiation" else f"{p.name}: instantiation"
        code = trap.trap_code
        name = code.name if code is not None else ""
        stopped = self.watch.stopped(where, p.timeout, name == "INTERRUPT")
        if stopped is not None:
            self._forget_host_error()
            return stopped
        if self.host.error is not None:
            return self.host.take()
        t = wasm._trap_error(trap)
        limit = limit_failure(where, t.code, p, self.limits.denied, self.refused(),
                              reason(trap.message))
        return limit if limit is not None else \
            Trap(f"{where} trapped: {reason(trap.message)}", t.code)

    def _forget_host_error(self) -> None:
        """A limit stopped the call (in a host-side wait too: :class:`.waits.Stopped`, which
        is no error of the plugin's)."""
        if self.host.error is not None:
            self.host.take()

    def failed(self, err: Any, holder: ctypes.c_void_p, label: str) -> None:
        """A raw export's call failed: raises its exception, except for a WASI program's
        exit with status 0, a normal end (the call returns None)."""
        e = self.failure(err, holder, 0, label, lambda status: AssertionError(status))
        if getattr(e, "exit_status", None) != 0:
            raise e

    def raised(self, e: Exception, label: str) -> BaseException:
        if isinstance(e, host.HostFailed):  # wasmtime-py raises it in place of the call's trap
            self.reset()
            p = self.backend.plugin
            stopped = self.watch.stopped(f"{p.name}: {label}()", p.timeout)
            error = self.host.take()
            return stopped if stopped is not None else error
        return super().raised(e, label)

    def call_error(self, e: wasmtime.WasmtimeError, label: str) -> BaseException:
        p = self.backend.plugin
        stopped = self.watch.stopped(f"{p.name}: {label}()", p.timeout)
        if stopped is not None:
            self._forget_host_error()
            return stopped
        if self.host.error is not None:
            return self.host.take()
        if isinstance(e, wasmtime.ExitTrap):
            err = Error(f"{p.name}: {label}() exited with status {e.code}")
            if e.code and self.limits.denied:  # (as C programs do when malloc fails)
                err = MemoryLimitExceeded(
                    f"{p.name}: {label}() exited with status {e.code} after a growth of its "
                    f"memory past max_memory ({p.max_memory} bytes) was refused")
            err.exit_status = e.code  # type: ignore[attr-defined]  # see failed()
            return err
        return Error(f"{self.backend.plugin.name}: {label}(): {reason(str(e))}")


def limit_failure(where: str, code: str | None, limits: Any, denied: int, refused: bool,
                  cause: str) -> BaseException | None:
    """The exception of a trap that a limit caused (None: the guest's own trap): a refused
    memory growth (``denied`` bytes asked for, or ``refused`` as :meth:`PluginInstance.refused`
    tells), the timeout (``code`` "interrupt") or fuel; ``limits`` has the ``timeout``,
    ``fuel`` and ``max_memory`` (a plugin or a component); ``cause``: the trap's reason."""
    if refused:
        asked = f"asked for {denied} bytes of memory" if denied else "reached its memory limit"
        return MemoryLimitExceeded(f"{where} {asked}, over its max_memory of "
                                   f"{limits.max_memory} bytes (then trapped: {cause})")
    if code == "interrupt":
        return Timeout(f"{where} ran past its timeout of {limits.timeout} s", "interrupt")
    if code == "out_of_fuel":
        return FuelExhausted(f"{where} ran out of fuel ({limits.fuel} units)", "out_of_fuel")
    return None


def reason(message: str) -> str:
    """The cause line of a wasmtime trap message (``wasm trap: integer divide by zero``)."""
    lines = [ln.strip() for ln in message.strip().splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "wasm trap:" in ln:
            return ln[ln.index("wasm trap:"):]
    return lines[-1] if lines else "trap"


class PluginBackend(wasm.WasmBackend):
    """A plugin's module behind the core's call machinery: typed callables from its manifest,
    raw ones from the wasm types of its other numeric exports (:mod:`.raw`), sandboxed
    instances."""

    instance_class = PluginInstance

    def __init__(self, plugin: Plugin, manifest: Manifest) -> None:
        self.plugin = plugin
        self.manifest = manifest
        self.module = plugin._module
        # (wasmcore_free is bound for the instance's own use; called by a user, it is raw)
        typed = wasm.export_specs(manifest) if plugin._typed else {}
        self.specs = {name: spec for name, ty in plugin._exports.items()
                      if isinstance(ty, wasmtime.FuncType) and name not in typed
                      and (spec := raw_spec(name, ty, plugin.name)) is not None}
        self.specs.update(typed)
        # the timeout of every call, in ticks of the shared ticker
        self.ticks: int | None = \
            None if plugin.timeout is None else math.ceil(plugin.timeout / TICK) + 1
        self._local = threading.local()
        self.use_path(wasm.call_path())  # the core's switch (WASMCORE_FAST_PATH)
        if plugin._typed:
            try:
                self._check_exports()
            except ModuleRejected as e:
                raise ModuleRejected(f"{plugin.name}: {e}") from None

    def instance(self) -> PluginInstance:
        """The calling thread's instance; none for a closed plugin (its callables forward
        other threads' calls here, where a new one would otherwise be made)."""
        if self.plugin.closed:
            raise ValueError(f"{self.plugin.name}: the plugin is closed")
        inst = super().instance()
        assert isinstance(inst, PluginInstance)
        return inst
