"""Sandboxed plugins: third-party wasm run under limits (see DESIGN.md, "Sandbox model").

A :class:`Plugin` gets nothing it was not given: its imports are checked before it is
instantiated and must all be provided by ``host=`` (or by WASI when ``wasi`` is set); its
memory is capped; a wall-clock timeout (epoch interruption, one shared ticker thread) and
optional fuel bound every call, the start function and instantiation included. Every failure
is its own exception, and after any of them the instance is re-created before the next call.

Memory cap. wasmtime's store limiter makes a refused ``memory.grow`` return -1, which the
plugin cannot tell from any other failure and usually answers with a trap. To report such a
trap as :class:`MemoryLimitExceeded` (not as an ``unreachable`` trap), the plugin engine
gives wasmtime its own linear memories (``wasmtime_config_host_memory_creator_set``): the
same reserved, guarded ``mmap`` layout wasmtime uses, but growth past the cap is refused *and
recorded*. Where that is not available (no POSIX ``mmap``) the store limiter enforces the cap
alone and only an initial size over the cap is reported as such.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import inspect
import itertools
import math
import mmap
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import wasmtime

from . import _reaper, _wasm
from ._errors import (
    Error,
    FuelExhausted,
    MemoryLimitExceeded,
    ModuleRejected,
    Timeout,
    Trap,
)
from ._manifest import RUNTIME_EXPORTS, Manifest, custom_sections, read_manifest
from ._objects import make_class

__all__ = ["Plugin", "Wasi"]

DEFAULT_MAX_MEMORY = 64 << 20
TICK = 0.005  # seconds per epoch tick of the shared ticker thread
_NO_DEADLINE = 1 << 62
_WASI_MODULES = ("wasi_snapshot_preview1", "wasi_unstable")
_INT_RANGES = {"i32": (-(1 << 31), (1 << 32) - 1), "i64": (-(1 << 63), (1 << 64) - 1)}


# -- the epoch ticker -------------------------------------------------------------------------

class _Ticker:
    """One daemon thread that advances the epoch of the plugin engines every :data:`TICK`
    seconds while some plugin with a timeout is alive, and closes the Stores of dropped
    instances (:func:`wasmcore._reaper.reap`) as it goes.

    :meth:`release` is called from ``Plugin.__del__``, so from wherever the garbage collector
    runs: it only queues (lock-free); the queue is counted under the lock by the ticker and by
    :meth:`acquire`, which the finalizer never takes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._released: deque[None] = deque()
        self._engines: list[wasmtime.Engine] = []
        self._thread: threading.Thread | None = None

    def _count_released(self) -> None:  # under self._lock
        while self._released:
            self._released.popleft()
            self._users -= 1

    def acquire(self, eng: wasmtime.Engine) -> None:
        with self._lock:
            self._count_released()
            if all(e is not eng for e in self._engines):
                self._engines.append(eng)
            self._users += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="wasmcore-epoch",
                                                daemon=True)
                self._thread.start()

    def release(self) -> None:
        """One user fewer. Safe in a finalizer: never blocks."""
        self._released.append(None)

    def _run(self) -> None:
        stop = threading.Event()
        while not stop.wait(TICK):
            with self._lock:
                self._count_released()
                if self._users <= 0:
                    self._thread = None
                    return
                engines = list(self._engines)
            for eng in engines:
                eng.increment_epoch()
            if _reaper._GRAVE:
                _reaper.reap()


_TICKER = _Ticker()


# -- linear memories that record a refused growth ---------------------------------------------

class _Limits:
    """The memory budget of one plugin instance: bytes in use, the cap, and the size a refused
    growth asked for (``denied``; 0 when nothing was refused since the last call began)."""

    __slots__ = ("cap", "denied", "used")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.used = 0
        self.denied = 0


class _Mapping:
    """One linear memory: ``span`` bytes of address space it may grow into, then a guard."""

    __slots__ = ("base", "limits", "size", "span", "total")

    def __init__(self, base: int, size: int, span: int, total: int, limits: _Limits) -> None:
        self.base, self.size, self.span, self.total = base, size, span, total
        self.limits = limits


class _MemoryCreator:
    """Gives wasmtime linear memories from ``mmap``: ``reserved + guard`` bytes of address
    space mapped ``PROT_NONE`` (so out-of-bounds accesses fault into wasmtime's trap handler,
    exactly as with its own memories), the accessible prefix made read-write as it grows.
    Growth beyond the instance's :class:`_Limits` is refused and recorded. The limits come from
    the instance being instantiated on this thread (memories are created during
    instantiation)."""

    def __init__(self) -> None:
        from wasmtime import _bindings as B

        libc = ctypes.CDLL(None, use_errno=True)
        self._mmap = libc.mmap
        self._mmap.restype = ctypes.c_void_p
        self._mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                               ctypes.c_int, ctypes.c_long]
        self._mprotect = libc.mprotect
        self._mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        self._munmap = libc.munmap
        self._munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        self._flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_NORESERVE", 0)
        self._rw = mmap.PROT_READ | mmap.PROT_WRITE
        self._new_error = B.wasmtime_error_new
        self.current = threading.local()  # .limits while this thread instantiates a plugin
        # No lock: the callbacks run inside wasmtime, where the garbage collector may run a
        # finalizer at any allocation; every step here is one dict operation or next(),
        # which the GIL makes atomic (as wasmtime-py's own Slab does).
        self._maps: dict[int, _Mapping] = {}
        self._keys = itertools.count(1)
        fin = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
        # the callbacks must outlive every memory: they are kept on this (immortal) object
        self._get = B.wasmtime_memory_get_callback_t(self._get_memory)
        self._grow = B.wasmtime_memory_grow_callback_t(self._grow_memory)
        self._fin = fin(self._finalize)
        self._new = B.wasmtime_new_memory_callback_t(self._new_memory)
        self._nofin = fin(lambda env: None)
        self.struct = B.wasmtime_memory_creator(None, self._new, self._nofin)
        self._linear_memory = B.wasmtime_linear_memory_t

    def _error(self, message: str) -> int:
        return ctypes.cast(self._new_error(message.encode()), ctypes.c_void_p).value or 0

    def _new_memory(self, env: int, ty: Any, minimum: int, maximum: int, reserved: int,
                    guard: int, out: Any) -> int:
        try:
            limits: _Limits | None = getattr(self.current, "limits", None)
            if limits is None:  # a memory made outside instantiation: no plugin to charge
                limits = _Limits(1 << 64)
            if limits.used + minimum > limits.cap:
                limits.denied = max(limits.denied, minimum)
                return self._error(f"memory minimum size of {minimum} bytes exceeds the "
                                   f"plugin's max_memory of {limits.cap} bytes")
            span = max(reserved, minimum, min(maximum, limits.cap))
            total = span + guard
            base = self._mmap(None, total, 0, self._flags, -1, 0)
            if base is None or base == ctypes.c_void_p(-1).value:
                return self._error(f"cannot reserve {total} bytes of address space")
            if minimum and self._mprotect(base, minimum, self._rw) != 0:
                self._munmap(base, total)
                return self._error("cannot make linear memory accessible")
            key = next(self._keys)
            self._maps[key] = _Mapping(base, minimum, span, total, limits)
            limits.used += minimum
            mem = out[0]
            mem.env = key
            mem.get_memory = self._get
            mem.grow_memory = self._grow
            mem.finalizer = self._fin
            return 0
        except BaseException as e:  # never unwind into wasmtime
            return self._error(f"wasmcore memory creator failed: {e!r}")

    def _get_memory(self, env: int, size: Any, max_size: Any) -> int:
        m = self._maps[env]
        size[0] = m.size
        max_size[0] = m.span
        return m.base

    def _grow_memory(self, env: int, new_size: int) -> int:
        try:
            m = self._maps[env]
            lim = m.limits
            if new_size <= m.size:
                return 0
            if lim.used - m.size + new_size > lim.cap or new_size > m.span:
                lim.denied = max(lim.denied, new_size)
                return self._error(f"growing memory to {new_size} bytes exceeds the plugin's "
                                   f"max_memory of {lim.cap} bytes")
            if self._mprotect(m.base, new_size, self._rw) != 0:
                return self._error("cannot make linear memory accessible")
            lim.used += new_size - m.size
            m.size = new_size
            return 0
        except BaseException as e:
            return self._error(f"wasmcore memory creator failed: {e!r}")

    def _finalize(self, env: int) -> None:
        m = self._maps.pop(env, None)
        if m is not None:
            m.limits.used -= m.size
            self._munmap(m.base, m.total)


def _memory_creator() -> _MemoryCreator | None:
    if os.name != "posix" or not hasattr(mmap, "MAP_ANONYMOUS"):
        return None
    try:
        return _MemoryCreator()
    except (AttributeError, OSError):  # pragma: no cover - depends on the platform
        return None


_CREATOR = _memory_creator()
_ENGINES: dict[bool, wasmtime.Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine_config(fuel: bool) -> str:
    return f"plugin;epoch;fuel={int(fuel)};creator={int(_CREATOR is not None)};opt=speed"


def _engine(fuel: bool) -> wasmtime.Engine:
    """The engine for plugins (epoch interruption; fuel metering when ``fuel``), shared."""
    with _ENGINES_LOCK:
        eng = _ENGINES.get(fuel)
        if eng is None:
            cfg = wasmtime.Config()
            cfg.epoch_interruption = True
            cfg.consume_fuel = fuel
            cfg.cranelift_opt_level = "speed"
            if _CREATOR is not None:
                from wasmtime import _bindings as B

                B.wasmtime_config_host_memory_creator_set(cfg.ptr(), ctypes.byref(_CREATOR.struct))
                # copy-on-write initialisation needs wasmtime's own mmap memories
                B.wasmtime_config_memory_init_cow_set(cfg.ptr(), False)
            else:  # pragma: no cover - non-POSIX
                cfg.memory_may_move = False
            eng = _ENGINES[fuel] = wasmtime.Engine(cfg)
        return eng


# -- WASI -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Wasi:
    """What a WASI plugin is given (``Plugin(..., wasi=Wasi(...))``; ``wasi=True`` is
    ``Wasi()``: nothing at all). ``dirs`` maps a guest path to a host directory to preopen,
    read-only unless ``writable``. ``stdin`` is what the plugin reads. Its stdout and stderr are
    captured, never inherited: :meth:`Plugin.take_output` returns them."""

    args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    dirs: Mapping[str, str | os.PathLike[str]] = field(default_factory=dict)
    writable: bool = False
    stdin: bytes = b""


class _Output:
    """Captured stdout or stderr of one thread's instances, bounded (a plugin cannot exhaust
    the host's memory by printing).

    WASI writes into an unlinked temporary file (not through a Python callback: wasmtime may
    drop its output streams on a runtime thread, which must never need the GIL while the
    interpreter shuts down); the file is read back when the output is taken."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data = bytearray()
        self.dropped = 0
        self.fd = -1  # a plain descriptor: closing it in the finalizer takes no lock

    def attach(self, set_path: Callable[[str], None]) -> None:
        """A fresh file for a new instance (what the previous one wrote is kept)."""
        import tempfile

        self.collect()
        self.close()
        fd, path = tempfile.mkstemp(prefix="wasmcore-out-")
        try:
            set_path(path)  # wasmtime opens it now
        finally:
            with contextlib.suppress(OSError):  # POSIX: the open files live on unlinked
                os.unlink(path)
        self.fd = fd

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def collect(self) -> None:
        if self.fd < 0:
            return
        while chunk := os.read(self.fd, 1 << 16):
            room = max(self.cap - len(self.data), 0)
            self.data += chunk[:room]
            self.dropped += max(len(chunk) - room, 0)

    def take(self) -> bytes:
        self.collect()
        out = bytes(self.data)
        if self.dropped:
            out += f"\n[wasmcore: {self.dropped} more bytes dropped]\n".encode()
        self.data.clear()
        self.dropped = 0
        return out


# -- one sandboxed instance per thread --------------------------------------------------------

class _HostFailed(Exception):
    """Raised through wasmtime-py when a host function failed; the real exception waits in
    the instance (wasmtime-py keeps only one, process-wide)."""


def _sig(ty: wasmtime.FuncType) -> str:
    return _wasm._sig(tuple(str(p) for p in ty.params), tuple(str(r) for r in ty.results))


class _PluginInstance(_wasm._Instance):
    """One Store + instance of a plugin, for one thread, under the plugin's limits."""

    backend: _PluginBackend

    def __init__(self, backend: _PluginBackend) -> None:  # type: ignore[override]
        self.dead = False
        self.host_error: BaseException | None = None
        self.in_host = 0  # host functions of this instance running now (on its thread)
        cap = min(backend.plugin.max_memory, 16 << 20)
        self.stdout, self.stderr = _Output(cap), _Output(cap)
        super().__init__(backend)
        backend.plugin._instances.add(self)

    def _instantiate(self) -> None:
        p = self.backend.plugin
        # a fresh budget: the old instance's memories are charged to the old one until freed
        self.limits = _Limits(p.max_memory)
        store = self._new_store(p._engine)
        cap = p.max_memory
        store.set_limits(table_elements=max(cap // 8, 1), instances=10, tables=100,
                         memories=10, **({} if _CREATOR else {"memory_size": cap}))
        linker = wasmtime.Linker(p._engine)
        for (mod, name), (fn, ty) in p._host.items():
            linker.define_func(mod, name, ty, self._host_call(f"{mod}.{name}", fn, ty))
        if p.wasi is not None:
            linker.define_wasi()
            store.set_wasi(self._wasi_config(p.wasi))
        self._arm_limits()
        if _CREATOR is not None:
            _CREATOR.current.limits = self.limits
        try:
            inst = linker.instantiate(store, p._module)
        except _HostFailed:  # a host function called by the start function raised
            raise self._host_failure() from None
        except wasmtime.Trap as e:
            raise self.trap_error(e, "instantiation") from None
        except wasmtime.WasmtimeError as e:
            raise self._instantiate_error(e) from None
        finally:
            if _CREATOR is not None:
                _CREATOR.current.limits = None
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
            with _stdin_file(w.stdin) as path:
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
            _reaper.enter_callback()
            try:
                return _check_results(key, fn(*args), results)
            except BaseException as e:
                if inst is not None:
                    inst.host_error = e
                raise _HostFailed(key) from None
            finally:
                _reaper.exit_callback()
                if inst is not None:
                    inst.in_host -= 1

        return call

    # -- limits ---------------------------------------------------------------------------

    def _arm_limits(self) -> None:
        p = self.backend.plugin
        self.limits.denied = 0
        self.host_error = None
        ticks = _NO_DEADLINE if p.timeout is None else math.ceil(p.timeout / TICK) + 1
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
        elif _reaper._GRAVE:
            _reaper.reap()
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

            if isinstance(_func.LAST_EXCEPTION, _HostFailed):
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
                f"of {p.max_memory} bytes (then trapped: {_reason(trap.message)})")
        if name == "INTERRUPT":
            return Timeout(f"{where} ran past its timeout of {p.timeout} s", "interrupt")
        if name == "OUT_OF_FUEL":
            return FuelExhausted(f"{where} ran out of fuel ({p.fuel} units)", "out_of_fuel")
        t = _wasm._trap_error(trap)
        return Trap(f"{where} trapped: {_reason(trap.message)}", t.code)

    def raw_call(self, name: str, args: list[Any]) -> Any:
        """A call through wasmtime-py's public API (the numeric ``Plugin.call`` path)."""
        self.arm()  # first: it may re-create the instance
        func = self.exports[name]
        assert isinstance(func, wasmtime.Func)
        try:
            return func(self.store, *args)
        except _HostFailed:
            self.reset()
            raise self._host_failure() from None
        except wasmtime.Trap as e:
            self.reset()
            raise self.trap_error(e, name) from None
        except wasmtime.ExitTrap as e:
            self.reset()
            if e.code == 0:
                return None
            raise self.call_error(e, name) from None
        except wasmtime.WasmtimeError as e:
            self.reset()
            raise self.call_error(e, name) from None

    def call_error(self, e: wasmtime.WasmtimeError, label: str) -> BaseException:
        if self.host_error is not None:
            return self._host_failure()
        if isinstance(e, wasmtime.ExitTrap):
            return Error(f"{self.backend.plugin.name}: {label}() exited with status {e.code}")
        return Error(f"{self.backend.plugin.name}: {label}(): {_reason(str(e))}")


def _reason(message: str) -> str:
    """The cause line of a wasmtime trap message (``wasm trap: integer divide by zero``)."""
    lines = [ln.strip() for ln in message.strip().splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "wasm trap:" in ln:
            return ln[ln.index("wasm trap:"):]
    return lines[-1] if lines else "trap"


@contextlib.contextmanager
def _stdin_file(data: bytes) -> Iterator[str]:
    import tempfile

    fd, path = tempfile.mkstemp(prefix="wasmcore-stdin-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        yield path
    finally:
        os.unlink(path)


def _check_results(key: str, out: Any, results: list[str]) -> Any:
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
        if t in _INT_RANGES:
            if isinstance(v, bool) or not isinstance(v, int):
                raise bad()
        elif t in ("f32", "f64"):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise bad()
        else:
            raise bad()
    return out


class _PluginBackend(_wasm.WasmBackend):
    """A plugin's module behind the core's call machinery (typed callables from its manifest),
    with sandboxed instances."""

    instance_class = _PluginInstance

    def __init__(self, plugin: Plugin, manifest: Manifest) -> None:
        self.plugin = plugin
        self.manifest = manifest
        self.module = plugin._module
        self.specs = {_wasm._FREE.name: _wasm._FREE, **_wasm.export_specs(manifest)} \
            if plugin._typed else {}
        self._local = threading.local()
        self.fast = _wasm._FAST_PATH
        if plugin._typed:
            try:
                self._check_exports()
            except ModuleRejected as e:
                raise ModuleRejected(f"{plugin.name}: {e}") from None

    def instance(self) -> _PluginInstance:
        inst = super().instance()
        assert isinstance(inst, _PluginInstance)
        return inst


# -- the public class -------------------------------------------------------------------------

class Plugin:
    """A third-party wasm module run in a sandbox.

    ``source`` is a path or the module's bytes (binary or text format). Limits hold for
    everything the plugin executes, its start function and instantiation included:

    * ``timeout`` — wall-clock seconds per call (``Timeout``);
    * ``fuel`` — wasm instructions (roughly) per call (``FuelExhausted``);
    * ``max_memory`` — bytes of linear memory, and ``max_memory // 8`` table elements
      (``MemoryLimitExceeded``; an initial size over it refuses the module).

    Imports are denied by default: each must be given in ``host`` (``{"name": callable}`` for
    module ``env``, ``{"module.name": callable}`` for others) or by WASI (``wasi=True`` or a
    :class:`Wasi`), else the module is refused before it runs. ``sha256`` pins the module's
    bytes. A trap is a :class:`wasmcore.Trap` (``.code`` names it); after any failure the
    instance is re-created, so the next call works. Each thread gets its own instance.

    ``p.call(name, *args)`` calls any export with numeric parameters. A plugin built with
    ``wasmcore-abi`` carries a manifest, and its functions are also attributes with typed
    arguments (``p.count_words(b"...")``) and are listed in ``p.functions``.
    """

    def __init__(self, source: str | os.PathLike[str] | bytes | bytearray | memoryview, *,
                 timeout: float | None = None, fuel: int | None = None,
                 max_memory: int = DEFAULT_MAX_MEMORY,
                 host: Mapping[str, Callable[..., Any]] | None = None,
                 sha256: str | None = None, wasi: bool | Wasi = False) -> None:
        self.closed = False
        self._ticking = False
        self._instances: weakref.WeakSet[_PluginInstance] = weakref.WeakSet()
        data, self.name = _read_source(source)
        self.timeout = _check_limit("timeout", timeout, float)
        self.fuel = _check_limit("fuel", fuel, int)
        checked = _check_limit("max_memory", max_memory, int)
        assert checked is not None
        self.max_memory = int(checked)
        if isinstance(wasi, bool):
            self.wasi: Wasi | None = Wasi() if wasi else None
        elif isinstance(wasi, Wasi):
            self.wasi = wasi
        else:
            raise TypeError(f"Plugin(): parameter 'wasi' must be a bool or a wasmcore.Wasi, "
                            f"got {type(wasi).__name__}")
        self.sha256 = hashlib.sha256(data).hexdigest()
        if sha256 is not None:
            if not isinstance(sha256, str):
                raise TypeError("Plugin(): parameter 'sha256' must be a hex string, got "
                                f"{type(sha256).__name__}")
            if sha256.lower() != self.sha256:
                raise ModuleRejected(f"{self.name}: sha256 mismatch: expected {sha256.lower()}, "
                                     f"the module's is {self.sha256}")
        self._engine = _engine(self.fuel is not None)
        config = _engine_config(self.fuel is not None)
        self._module = _wasm.compile_module(bytes(data), self.sha256, self._engine, config)
        # the export types, read once (wasmtime-py builds them anew on every access)
        self._exports: dict[str, Any] = {e.name: e.type for e in self._module.exports}
        self.manifest = _plugin_manifest(data, self.name)
        self._typed = self.manifest is not None and self._has_runtime()
        self._host = self._resolve_imports(host)
        self._backend = _PluginBackend(self, self.manifest or Manifest(0, self.name, (), (), ()))
        if self.timeout is not None:
            _TICKER.acquire(self._engine)
            self._ticking = True
        self.functions: dict[str, Callable[..., Any]] = {}
        self._backend.instance()  # instantiate now: a module that cannot start fails here
        if self._typed:
            assert self.manifest is not None
            taken = set(dir(type(self))) | set(vars(self))
            for f in self.manifest.functions:
                fn = self._backend.callable(f.name)
                self.functions[f.name] = fn
                if f.name not in taken:
                    setattr(self, f.name, fn)
            for c in self.manifest.classes:
                cls = make_class(c, self._backend.context)
                self.functions[c.name] = cls
                if c.name not in taken:
                    setattr(self, c.name, cls)

    # -- set-up ---------------------------------------------------------------------------

    def _has_runtime(self) -> bool:
        return "memory" in self._exports and all(n in self._exports for n in RUNTIME_EXPORTS)

    def _resolve_imports(self, host: Mapping[str, Callable[..., Any]] | None
                         ) -> dict[tuple[str, str], tuple[Callable[..., Any], wasmtime.FuncType]]:
        """Every import must be provided; host functions must fit the import's arity."""
        given: dict[tuple[str, str], Callable[..., Any]] = {}
        if host is not None:
            if not isinstance(host, Mapping):
                raise TypeError("Plugin(): parameter 'host' must be a dict of name -> callable, "
                                f"got {type(host).__name__}")
            for key, fn in host.items():
                if not isinstance(key, str) or not key:
                    raise TypeError(f"Plugin(): parameter 'host': keys must be non-empty "
                                    f"strings, got {key!r}")
                if not callable(fn):
                    raise TypeError(f"Plugin(): parameter 'host': {key!r} is not callable")
                mod, _, name = key.rpartition(".")
                given[(mod or "env", name)] = fn
        out = {}
        missing = []
        for imp in self._module.imports:
            mod, name, ty = imp.module, imp.name or "", imp.type
            fn = given.get((mod, name))
            if isinstance(ty, wasmtime.FuncType) and fn is not None:
                _check_arity(f"{mod}.{name}", fn, ty)
                out[(mod, name)] = (fn, ty)
            elif self.wasi is not None and mod in _WASI_MODULES:
                continue
            else:
                missing.append(f"{mod}.{name} ({_describe(ty)})")
        if missing:
            hint = "provide functions with host={...}"
            if any(m.split(".")[0] in _WASI_MODULES for m in missing):
                hint += " or pass wasi=True for WASI"
            raise ModuleRejected(f"{self.name}: the module imports what it was not given: "
                                 f"{', '.join(missing)} ({hint})")
        return out

    # -- calls ----------------------------------------------------------------------------

    def call(self, name: str, *args: Any) -> Any:
        """Calls export ``name``: with typed arguments when the manifest describes it, else
        with numbers (ints for i32/i64, numbers for f32/f64; checked against the export's
        type). Returns ``None``, a number, or a tuple for several results."""
        if not isinstance(name, str):
            raise TypeError(f"call(): parameter 'name' must be a str, got {type(name).__name__}")
        if name in self.functions and not isinstance(self.functions[name], type):
            return self.functions[name](*args)
        inst = self._instance()
        ty = self._exports.get(name)
        if not isinstance(ty, wasmtime.FuncType):
            funcs = [n for n, t in self._exports.items() if isinstance(t, wasmtime.FuncType)]
            raise ValueError(f"call(): parameter 'name': {self.name} exports no function "
                             f"{name!r} (its functions: {', '.join(sorted(funcs)) or 'none'})")
        return inst.raw_call(name, _check_args(name, ty, args))

    def _instance(self) -> _PluginInstance:
        if self.closed:
            raise ValueError(f"{self.name}: the plugin is closed")
        return self._backend.instance()

    def _memory(self, func: str, ptr: int, size: int) -> tuple[_PluginInstance, wasmtime.Memory]:
        inst = self._instance()
        if inst.dead:
            inst.arm()
        mem = inst.exports["memory"] \
            if isinstance(self._exports.get("memory"), wasmtime.MemoryType) else None
        if not isinstance(mem, wasmtime.Memory):
            raise Error(f"{func}(): {self.name} exports no memory named 'memory'")
        n = mem.data_len(inst.store)
        for param, v in (("ptr", ptr), ("size", size)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"{func}(): parameter '{param}' must be an int, got "
                                f"{type(v).__name__}")
        if not (ptr >= 0 and size >= 0 and ptr + size <= n):
            raise ValueError(f"{func}(): bytes {ptr}..{ptr + size} are outside the plugin's "
                             f"memory of {n} bytes")
        return inst, mem

    def read(self, ptr: int, size: int) -> bytes:
        """``size`` bytes at ``ptr`` in the calling thread's instance memory (for host
        functions that receive a pointer and a length); out of bounds is a ``ValueError``."""
        inst, mem = self._memory("read", ptr, size)
        return bytes(mem.read(inst.store, ptr, ptr + size))

    def write(self, ptr: int, data: bytes) -> None:
        """Writes ``data`` at ``ptr`` in the calling thread's instance memory."""
        data = bytes(data)
        inst, mem = self._memory("write", ptr, len(data))
        mem.write(inst.store, data, ptr)

    def read_str(self, ptr: int, size: int) -> str:
        """:meth:`read` decoded as UTF-8 (invalid sequences replaced)."""
        return self.read(ptr, size).decode("utf-8", "replace")

    def take_output(self) -> tuple[bytes, bytes]:
        """The (stdout, stderr) a WASI plugin wrote on this thread since the last call of
        this method."""
        inst = self._instance()
        return inst.stdout.take(), inst.stderr.take()

    @property
    def exports(self) -> dict[str, str]:
        """Export name -> its wasm type, e.g. ``{"run": "(i32) -> (i32)"}``."""
        return {name: _describe(ty) for name, ty in self._exports.items()}

    @property
    def imports(self) -> list[str]:
        """The module's imports, as ``module.name (type)``."""
        return [f"{i.module}.{i.name} ({_describe(i.type)})" for i in self._module.imports]

    def close(self) -> None:
        """Frees the plugin's instances; later calls raise ``ValueError``."""
        if self.closed:
            return
        self.closed = True
        if self._ticking:
            _TICKER.release()
            self._ticking = False
        for inst in list(self._instances):
            inst.ctx.live = False
            inst.dead = True
        # the calling thread's instance is freed now (unless one of its calls is running:
        # close() from a host function); other threads' may be running calls, so theirs go
        # when they are collected
        mine = getattr(self._backend._local, "inst", None)
        self._backend._local = threading.local()
        if mine is not None and not mine.in_host:
            mine.store_owner = None  # type: ignore[assignment]  # its last owner: queued
            _reaper.reap()

    def __enter__(self) -> Plugin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            if getattr(self, "_ticking", False):
                _TICKER.release()
                self._ticking = False

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{len(self.functions)} typed functions"
        return f"<wasmcore.Plugin {self.name!r} {state}>"

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.functions))


# -- argument checks --------------------------------------------------------------------------

def _read_source(source: object) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "plugin"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            return path.read_bytes(), path.name
        except OSError as e:
            raise ModuleRejected(f"Plugin(): cannot read {str(path)!r}: {e.strerror}") from None
    raise TypeError(f"Plugin(): parameter 'source' must be a path or bytes, got "
                    f"{type(source).__name__}")


def _check_limit(param: str, value: object, kind: type) -> Any:
    if value is None:
        if param == "max_memory":
            raise TypeError("Plugin(): parameter 'max_memory' must be an int, got None")
        return None
    ok = isinstance(value, int) if kind is int else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok:
        want = "an int" if kind is int else "a number of seconds"
        raise TypeError(f"Plugin(): parameter '{param}' must be {want} or None, got "
                        f"{type(value).__name__}")
    assert isinstance(value, (int, float))
    if not value > 0 or (kind is float and not math.isfinite(value)):
        raise ValueError(f"Plugin(): parameter '{param}' must be positive, got {value!r}")
    return value


def _plugin_manifest(data: bytes, name: str) -> Manifest | None:
    """The plugin's manifest, if it carries one (a malformed one refuses the module)."""
    try:
        has = "wasmcore.abi" in custom_sections(data)
    except Exception:  # not a binary module (e.g. text format): no manifest
        return None
    if not has:
        return None
    try:
        return read_manifest(data)
    except ModuleRejected as e:
        raise ModuleRejected(f"{name}: {e}") from None


def _describe(ty: object) -> str:
    if isinstance(ty, wasmtime.FuncType):
        return "func " + _sig(ty)
    if isinstance(ty, wasmtime.MemoryType):
        return "memory"
    if isinstance(ty, wasmtime.TableType):
        return "table"
    if isinstance(ty, wasmtime.GlobalType):
        return "global"
    return type(ty).__name__


def _check_arity(key: str, fn: Callable[..., Any], ty: wasmtime.FuncType) -> None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # builtins without a signature: checked when called
    n = len(ty.params)
    try:
        sig.bind(*range(n))
    except TypeError:
        raise TypeError(f"Plugin(): host function {key!r} must take {n} positional "
                        f"argument{'s' if n != 1 else ''}: the module imports it as "
                        f"{_sig(ty)}, got {fn!r} with signature {sig}") from None


def _check_args(name: str, ty: wasmtime.FuncType, args: tuple[Any, ...]) -> list[Any]:
    params = [str(p) for p in ty.params]
    if len(args) != len(params):
        raise TypeError(f"call(): {name}() takes {len(params)} argument"
                        f"{'s' if len(params) != 1 else ''} ({_sig(ty)}), got {len(args)}")
    out: list[Any] = []
    for k, (v, t) in enumerate(zip(args, params, strict=True)):
        where = f"call(): {name}() argument {k + 1} ({t})"
        if t in _INT_RANGES:
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"{where} must be an int, got {type(v).__name__}")
            lo, hi = _INT_RANGES[t]
            if not lo <= v <= hi:
                raise ValueError(f"{where} is out of range: {v}")
            bits = 32 if t == "i32" else 64
            out.append(v - (1 << bits) if v >= 1 << (bits - 1) else v)
        elif t in ("f32", "f64"):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TypeError(f"{where} must be a number, got {type(v).__name__}")
            out.append(float(v))
        else:
            raise TypeError(f"call(): {name}() takes a {t} parameter; only numeric "
                            "parameters can be passed")
    return out
