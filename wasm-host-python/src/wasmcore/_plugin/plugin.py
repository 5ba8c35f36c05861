"""The public :class:`Plugin` class and the checks of its arguments."""

from __future__ import annotations

import functools
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import wasmtime

from .. import _pickle
from .._abi.manifest import RUNTIME_EXPORTS, Manifest
from .._backends import internals, reaper, wasm
from .._errors import (
    Error,
    Trap,
)
from .cancel import CancelHandle, handle
from .common import (
    DEFAULT_MAX_MEMORY,
    PluginBase,
    check_limit,
    check_sha256,
    check_span,
    expose,
    plugin_manifest,
    read_source,
    resolve_imports,
)
from .instance import PluginBackend, PluginInstance
from .limits import TICKER, creator, engine, engine_config, release_ticking
from .raw import func_signature, wasm_types
from .wasi import Wasi, noted, take

# -- the public class -------------------------------------------------------------------------

class Plugin(PluginBase):
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

    ``p.call(name, *args)`` calls any export whose parameters and results are numbers, and
    each such export is also an attribute (``p.add(1, 2)``; unless the name is taken), with
    the signature of its wasm type. A plugin built with ``wasmcore-abi`` carries a manifest,
    and its functions are attributes with typed arguments (``p.count_words(b"...")``),
    listed in ``p.functions``.

    A plugin and its functions pickle (module bytes or path, sha256, limits, WASI, host
    functions that pickle themselves), and are made once per process where they are
    unpickled: see docs/dask.md.
    """

    def __init__(self, source: str | os.PathLike[str] | bytes | bytearray | memoryview, *,
                 timeout: float | None = None, fuel: int | None = None,
                 max_memory: int = DEFAULT_MAX_MEMORY,
                 host: Mapping[str, Callable[..., Any]] | None = None,
                 sha256: str | None = None, wasi: bool | Wasi = False) -> None:
        self._load(source, timeout, fuel, max_memory, host, sha256, wasi)

    def _load(self, source: str | os.PathLike[str] | bytes | bytearray | memoryview,
              timeout: float | None, fuel: int | None, max_memory: int,
              host: Mapping[str, Callable[..., Any]] | None, sha256: str | None,
              wasi: bool | Wasi, trap_unknown: bool = False, stack: int | None = None) -> None:
        """The constructor's work; for :class:`wasmcore.Program`: ``trap_unknown``, the
        imports of functions nothing provides are functions that trap when called (as with
        wasmtime's CLI's ``--trap-unknown-imports``); ``stack``, the wasm stack's size."""
        self._limits(timeout, fuel, max_memory, wasi)
        data, self.name = read_source(source)
        # what a pickle ships: the absolute path, or the bytes (see wasmcore._pickle)
        self._source: bytes | str = \
            os.path.abspath(source) if isinstance(source, (str, os.PathLike)) else data
        self.sha256 = check_sha256(data, sha256, self.name)
        # the ways of wasmtime-py's this plugin uses, for good (see wasmcore._backends.internals)
        self._interrupts = internals.usable("interrupts")
        self._creator = creator()
        self._stack = stack
        self._engine = engine(self.fuel is not None, self._creator, stack)
        config = engine_config(self.fuel is not None, self._creator, stack)
        self._module = wasm.compile_module(bytes(data), self.sha256, self._engine, config)
        # the export types, read once (wasmtime-py builds them anew on every access)
        self._exports: dict[str, Any] = {e.name: e.type for e in self._module.exports}
        self.manifest = plugin_manifest(data, self.name)
        self._typed = self.manifest is not None and self._has_runtime()
        self._host = self._resolve_imports(host, trap_unknown)
        self._start()

    def _limits(self, timeout: float | None, fuel: int | None, max_memory: int,
                wasi: bool | Wasi) -> None:
        """The settings a plugin derived from another (:meth:`_derive`) may change."""
        self.closed = False
        self._ticking: int | None = None  # the ticker's key of the engine it advances for us
        self._serialized: bytes | bytearray | None = None
        self._instances: weakref.WeakSet[PluginInstance] = weakref.WeakSet()
        self.timeout = check_limit("timeout", timeout, float)
        self.fuel = check_limit("fuel", fuel, int)
        checked = check_limit("max_memory", max_memory, int)
        assert checked is not None
        self.max_memory = int(checked)
        if isinstance(wasi, bool):
            self.wasi: Wasi | None = Wasi() if wasi else None
        elif isinstance(wasi, Wasi):
            self.wasi = wasi
        else:
            raise TypeError(f"Plugin(): parameter 'wasi' must be a bool or a wasmcore.Wasi, "
                            f"got {type(wasi).__name__}")

    def _start(self, expose_exports: bool = True) -> None:
        """From the loaded module: the backend, the ticker, the first instance, the
        callables (unless not ``expose_exports``: a derived plugin, called by wasmcore)."""
        self._anchor = _pickle.Anchor(self)
        self._backend = PluginBackend(self, self.manifest or Manifest(0, self.name, (), (), ()))
        if self.timeout is not None and self._interrupts:
            # (without the deadline callback, each instance's engine is advanced instead)
            self._ticking = TICKER.acquire(self._engine)
        self.functions: dict[str, Callable[..., Any]] = {}
        self._backend.instance()  # instantiate now: a module that cannot start fails here
        if expose_exports:
            expose(self, self._backend, self._anchor)

    def _derive(self, *, timeout: float | None, fuel: int | None, max_memory: int,
                wasi: Wasi) -> Plugin:
        """A plugin of the same loaded module (not read, hashed nor compiled again) with
        other limits and WASI; its fuel metering must be this one's (the engine's)."""
        if (fuel is None) != (self.fuel is None):
            raise ValueError(f"{self.name}: fuel metering is compiled in or not")
        p = object.__new__(Plugin)
        for name in ("name", "_source", "sha256", "_interrupts", "_creator", "_stack",
                     "_engine", "_module", "_exports", "manifest", "_typed", "_host",
                     "_imported"):
            setattr(p, name, getattr(self, name))
        p._limits(timeout, fuel, max_memory, wasi)
        p._serialized = self._serialized
        p._start(expose_exports=False)
        return p

    # -- set-up ---------------------------------------------------------------------------

    def _module_for(self, eng: wasmtime.Engine) -> wasmtime.Module:
        """The module for another engine of the same configuration: deserialized from this
        process's own compilation (never from a file)."""
        serialized = self._serialized
        if serialized is None:
            serialized = self._serialized = self._module.serialize()
        return wasmtime.Module.deserialize(eng, serialized)

    def _has_runtime(self) -> bool:
        return "memory" in self._exports and all(n in self._exports for n in RUNTIME_EXPORTS)

    def _resolve_imports(self, host: Mapping[str, Callable[..., Any]] | None,
                         trap_unknown: bool = False
                         ) -> dict[tuple[str, str], tuple[Callable[..., Any], wasmtime.FuncType]]:
        """Every import must be provided; host functions must fit the import's arity."""
        types = {(i.module, i.name or ""): i.type for i in self._module.imports}
        self._imported = set(types)
        given = resolve_imports(self.name, host, [
            (mod, name, wasm_types(ty) if isinstance(ty, wasmtime.FuncType) else None,
             describe(ty)) for (mod, name), ty in types.items()], self.wasi is not None,
            functools.partial(_unknown, self.name) if trap_unknown else None)
        return {key: (fn, types[key]) for key, fn in given.items()}

    # -- calls ----------------------------------------------------------------------------

    def _export_types(self) -> dict[str, tuple[str, Any]]:
        return {n: ("func", wasm_types(t)) if isinstance(t, wasmtime.FuncType) else ("", None)
                for n, t in self._exports.items()}

    def _instance(self) -> PluginInstance:
        if self.closed:
            raise ValueError(f"{self.name}: the plugin is closed")
        return self._backend.instance()

    def _memory(self, func: str, ptr: int, size: int) -> tuple[PluginInstance, wasmtime.Memory]:
        inst = self._instance()
        if inst.dead:
            inst.arm()
        mem = inst.exports["memory"] \
            if isinstance(self._exports.get("memory"), wasmtime.MemoryType) else None
        if not isinstance(mem, wasmtime.Memory):
            raise Error(f"{func}(): {self.name} exports no memory named 'memory'")
        check_span(func, ptr, size, mem.data_len(inst.store))
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

    def cancel_handle(self) -> CancelHandle:
        """A handle whose ``cancel()``, from any thread, stops the call this thread is running
        in the plugin: that call raises :class:`wasmcore.Cancelled` (see docs/plugins.md,
        "Stopping a call")."""
        return handle(self._instance().watch, self.name)

    def take_output(self) -> tuple[bytes, bytes]:
        """The (stdout, stderr) a WASI plugin wrote on this thread since the last call of
        this method."""
        inst = self._instance()
        out, err = take(inst.stdout, inst.stderr)
        return noted(*out), noted(*err)

    @property
    def exports(self) -> dict[str, str]:
        """Export name -> its wasm type, e.g. ``{"run": "func (i32) -> (i32)", "memory":
        "memory"}``."""
        return {name: describe(ty) for name, ty in self._exports.items()}

    @property
    def imports(self) -> list[str]:
        """The module's imports, as ``module.name (type)``."""
        return [f"{i.module}.{i.name} ({describe(i.type)})" for i in self._module.imports]

    def close(self) -> None:
        """Frees the plugin's instances; later calls raise ``ValueError``."""
        if self.closed:
            return
        self.closed = True
        release_ticking(self)
        for inst in list(self._instances):
            inst.ctx.live = False
            inst.dead = True
            inst.watch.retire()
        # the calling thread's instance is freed now (unless one of its calls is running:
        # close() from a host function); other threads' may be running calls, so theirs go
        # when they are collected
        mine = getattr(self._backend._local, "inst", None)
        self._backend._local = threading.local()
        if mine is not None and not mine.host.depth:
            mine.store_owner = None  # type: ignore[assignment]  # its last owner: queued
            reaper.reap()

    def __del__(self) -> None:
        release_ticking(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return _pickle.reduce_plugin(self)

    def __dask_tokenize__(self) -> object:
        return _pickle.token(self)


def _unknown(plugin: str, mod: str, name: str) -> Callable[..., Any]:
    def unknown_import(*args: Any) -> Any:
        raise Trap(f"{plugin}: called {mod}.{name}, an import nothing provides "
                   "(--trap-unknown-imports)", "unknown_import")

    return unknown_import


def describe(ty: object) -> str:
    if isinstance(ty, wasmtime.FuncType):
        return "func " + func_signature(ty)
    if isinstance(ty, wasmtime.MemoryType):
        return "memory"
    if isinstance(ty, wasmtime.TableType):
        return "table"
    if isinstance(ty, wasmtime.GlobalType):
        return "global"
    return type(ty).__name__
