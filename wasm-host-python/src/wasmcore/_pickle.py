"""Pickling of cores, plugins, their functions and objects: by reference, through a registry
in each process (see docs/dask.md).

What a pickle holds:

* a core (:class:`CoreRef`): its backend, the sha256 of its module (of the library for
  ``native``) and the ``path=`` it was loaded from (``None``: the default lookup, i.e. the
  module of the installed wasmcore). For a ``path=`` core of the ``wasm`` or ``python``
  backend, also the module's bytes, unless they were shipped otherwise (:func:`ship`);
* a plugin (:class:`PluginRef`): the sha256 of its module, the path it was read from, its
  name, limits, WASI settings and host functions (each must pickle itself: a lambda or a
  closure is a ``TypeError`` naming its key), and the module's bytes unless shipped;
* a function of a core or plugin: a bound method whose ``__self__`` is the owner's
  :class:`Anchor`, so it pickles as ``getattr(owner, name)``;
* an object of an exported class with a ``state()`` and a ``from_state()`` (``RunningStats``):
  its owner, its class name and its state (see :mod:`wasmcore._abi.objects`).

On unpickling, a core or plugin is loaded once per process and reused (:data:`_CORES`,
:data:`_PLUGINS`); the module comes from the bytes registered in this process, else from its
path (or the installed wasmcore), and its sha256 must match. Bytes that came with one pickle
serve every later one, so within one pickle stream (a Dask graph sent to the scheduler) they
cross once: pickle's memo writes each owner once. ``wasmcore.dask.register`` ships them once
to every worker of a cluster and marks them shipped here, and pickles leave them out from then
on.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import threading
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import Error, ModuleRejected

if TYPE_CHECKING:
    from . import Core
    from ._plugin import Plugin, Wasi

_LOCK = threading.RLock()
# sha256 -> the bytes of a module, known in this process
_MODULES: dict[str, bytes] = {}
# sha256 -> checks that say whether the receivers of pickles have the module already
_SHIPPED: dict[str, list[Callable[[], bool]]] = {}
_CORES: dict[CoreRef, Core] = {}
_PLUGINS: dict[tuple[Any, ...], Plugin] = {}
# this process's own cores (made by load()) and plugins (once pickled), by registry key:
# unpickled here, a reference gives back the original. _CORES and _PLUGINS keep what was
# loaded to unpickle something for the life of the process.
_ORIGINALS: weakref.WeakValueDictionary[Any, Any] = weakref.WeakValueDictionary()
# what arrived in this process and what it loaded (see stats())
_STATS = {"module_arrivals": 0, "module_bytes_arrived": 0, "modules_new": 0,
          "cores_loaded": 0, "plugins_loaded": 0}


def stats() -> dict[str, int]:
    """Counts for this process: ``module_arrivals`` and ``module_bytes_arrived``, every time
    module bytes arrived (with a pickle, or a registration) and their total size;
    ``modules_new``, the distinct modules among them; ``cores_loaded`` and
    ``plugins_loaded``, the cores and plugins made to unpickle something."""
    with _LOCK:
        return dict(_STATS)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def remember(data: bytes, sha256: str) -> None:
    """Registers module bytes that arrived from elsewhere (checked against ``sha256``)."""
    with _LOCK:
        _STATS["module_arrivals"] += 1
        _STATS["module_bytes_arrived"] += len(data)
        if sha256 in _MODULES:
            return
    if sha256_of(data) != sha256:
        raise ModuleRejected(f"a pickled module's bytes do not have its sha256 {sha256}")
    with _LOCK:
        if sha256 not in _MODULES:
            _MODULES[sha256] = data
            _STATS["modules_new"] += 1


def ship(sha256: str, receivers_have_it: Callable[[], bool]) -> None:
    """From now on pickles of the module ``sha256`` leave its bytes out while
    ``receivers_have_it()`` is true (``wasmcore.dask.register``: while the client is open)."""
    with _LOCK:
        _SHIPPED.setdefault(sha256, []).append(receivers_have_it)


def shipped(sha256: str) -> bool:
    with _LOCK:
        checks = _SHIPPED.get(sha256, [])
        checks[:] = [c for c in checks if c()]
        return bool(checks)


def module_bytes(sha256: str, path: str | None, what: str) -> bytes:
    """The bytes of module ``sha256``: registered in this process, else read from ``path``
    (``None``: the installed wasmcore's module) when that file has this sha256."""
    with _LOCK:
        data = _MODULES.get(sha256)
    if data is not None:
        return data
    if path is None:
        from . import wasm_path

        file = wasm_path()
    else:
        file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as e:
        raise ModuleRejected(
            f"{what}: its module (sha256 {sha256}) is not in this process and {file} cannot "
            f"be read ({e.strerror}). A pickle carries the module's bytes unless "
            "wasmcore.dask.register() shipped them, to that cluster's workers only"
        ) from None
    found = sha256_of(data)
    if found != sha256:
        hint = ("install the same wasmcore everywhere (e.g. the same wheel)" if path is None
                else "the file differs here")
        raise ModuleRejected(f"{what}: {file} has sha256 {found}, the pickled module's is "
                             f"{sha256} ({hint})")
    return data


# -- cores ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class CoreRef:
    """What identifies a loaded core across processes."""

    backend: str
    sha256: str
    path: str | None  # as given to load(), absolute; None: the default lookup

    def __repr__(self) -> str:
        where = "" if self.path is None else f" path={self.path!r}"
        return f"<wasmcore.Core backend={self.backend!r} sha256={self.sha256[:12]}…{where}>"


def core_ref(backend: str, path: str | os.PathLike[str] | None, sha256: str) -> CoreRef:
    return CoreRef(backend, sha256, None if path is None else os.path.abspath(path))


def reduce_core(ref: CoreRef | None) -> tuple[Any, ...]:
    cloudpickle_shim()
    if ref is None:
        raise TypeError("this Core cannot be pickled: it was not made by wasmcore.load()")
    data = None
    if ref.path is not None and ref.backend != "native" and not shipped(ref.sha256):
        data = module_bytes(ref.sha256, ref.path, "pickling a core")
        with _LOCK:  # the same object each time: pickle's memo writes it once per stream
            data = _MODULES.setdefault(ref.sha256, data)
    return restore_core, (ref, data)


def original(key: Any, obj: Any) -> None:
    """Notes ``obj`` (a core, a plugin) as this process's own for ``key``."""
    with _LOCK:
        _ORIGINALS[key] = obj


def restore_core(ref: CoreRef, data: bytes | None = None) -> Core:
    """The core ``ref`` names: this process's own if it has one, else loaded once here."""
    if data is not None:
        remember(data, ref.sha256)
    with _LOCK:
        core = _ORIGINALS.get(ref) or _CORES.get(ref)
        if core is None:
            core = _CORES[ref] = _load_core(ref)
            _STATS["cores_loaded"] += 1
        return core


def _load_core(ref: CoreRef) -> Core:
    from . import _LazyCore, _repo_root
    from ._abi.manifest import read_manifest

    what = f"unpickling a {ref.backend} core"
    if ref.backend == "native":
        from ._backends.native import NativeBackend, find_library

        lib = Path(ref.path) if ref.path is not None else find_library(_repo_root())
        try:
            found = sha256_of(lib.read_bytes())
        except OSError as e:
            raise ModuleRejected(f"{what}: cannot read the native library {lib} "
                                 f"({e.strerror}); it must be installed at the same place on "
                                 "every machine (it is never shipped)") from None
        if found != ref.sha256:
            raise ModuleRejected(f"{what}: {lib} has sha256 {found}, the pickled core's is "
                                 f"{ref.sha256}")
        return _LazyCore("native", NativeBackend(lib), origin=ref)
    data = module_bytes(ref.sha256, ref.path, what)
    manifest = read_manifest(data)
    if ref.backend == "wasm":
        from ._backends.wasm import WasmBackend

        return _LazyCore("wasm", WasmBackend(data, manifest, ref.sha256), origin=ref)
    from ._backends.python import ReferenceBackend

    return _LazyCore("python", ReferenceBackend(manifest), origin=ref)


# -- plugins --------------------------------------------------------------------------------

@dataclass(frozen=True)
class PluginRef:
    """What rebuilds a plugin in another process (its bytes travel beside it)."""

    sha256: str
    path: str | None  # the file it was read from, absolute; None: made from bytes
    name: str
    timeout: float | None
    fuel: int | None
    max_memory: int
    wasi: Wasi | None
    host: tuple[tuple[str, Callable[..., Any]], ...]

    def key(self) -> tuple[Any, ...]:
        """The registry key (a Wasi holds dicts: not hashable itself)."""
        return (self.sha256, self.path, self.name, self.timeout, self.fuel, self.max_memory,
                repr(self.wasi), tuple((k, _host_key(fn)) for k, fn in self.host))


def _host_key(fn: Callable[..., Any]) -> object:
    """What identifies a host function across unpicklings: a function defined in ``__main__``
    is rebuilt by value (cloudpickle) each time, so a function is known by its module,
    qualified name and code."""
    if isinstance(fn, types.FunctionType):
        return fn.__module__, fn.__qualname__, fn.__code__
    return fn


def _check_host_function(plugin: str, key: str, fn: Callable[..., Any]) -> None:
    """A host function must pickle itself: by reference (a module-level function, a builtin)
    or, defined at the top level of a script or notebook (``__main__``), by value, as Dask's
    cloudpickle does. A lambda or a closure is a TypeError naming its key."""
    qualname = getattr(fn, "__qualname__", "")
    if getattr(fn, "__module__", None) == "__main__" and isinstance(fn, types.FunctionType) \
            and "<" not in qualname:
        return
    try:
        pickle.dumps(fn)
    except Exception as e:
        raise TypeError(
            f"{plugin} cannot be pickled: its host function {key!r} ({fn!r}) does not pickle "
            f"({type(e).__name__}: {e}); a function defined at the top level of a module "
            "does, and is imported again where the plugin is unpickled") from None


def plugin_ref(p: Plugin) -> PluginRef:
    if p.closed:
        raise TypeError(f"{p.name}: a closed plugin cannot be pickled")
    host = []
    for (mod, name), (fn, _) in p._host.items():
        key = name if mod == "env" else f"{mod}.{name}"
        _check_host_function(p.name, key, fn)
        host.append((key, fn))
    path = None if isinstance(p._source, bytes) else p._source
    return PluginRef(p.sha256, path, p.name, p.timeout, p.fuel, p.max_memory, p.wasi,
                     tuple(sorted(host, key=lambda kv: kv[0])))


def reduce_plugin(p: Plugin) -> tuple[Any, ...]:
    cloudpickle_shim()
    ref = plugin_ref(p)
    original(ref.key(), p)
    data = None
    if not shipped(ref.sha256):
        with _LOCK:
            data = _MODULES.get(ref.sha256)
        if data is None:
            source = p._source
            data = source if isinstance(source, bytes) \
                else module_bytes(ref.sha256, ref.path, f"pickling {p.name}")
            with _LOCK:
                data = _MODULES.setdefault(ref.sha256, data)
    return restore_plugin, (ref, data)


def restore_plugin(ref: PluginRef, data: bytes | None = None) -> Plugin:
    """The plugin ``ref`` describes: the one pickled, in its own process (unless closed
    since), else made once in this process (with its limits)."""
    if data is not None:
        remember(data, ref.sha256)
    key = ref.key()
    with _LOCK:
        p = _ORIGINALS.get(key)
        if p is None or p.closed:
            p = _PLUGINS.get(key)
        if p is None or p.closed:
            p = _PLUGINS[key] = _load_plugin(ref)
            _STATS["plugins_loaded"] += 1
        return p


def _load_plugin(ref: PluginRef) -> Plugin:
    from ._plugin import Plugin

    with _LOCK:
        data = _MODULES.get(ref.sha256)
    source: bytes | str
    if data is not None:
        source = data
    elif ref.path is not None and os.path.isfile(ref.path):
        source = ref.path  # Plugin checks its sha256
    else:
        raise ModuleRejected(
            f"{ref.name}: cannot unpickle this plugin here: its module (sha256 {ref.sha256}) "
            "is not in this process" + ("" if ref.path is None else f" nor at {ref.path}")
            + ". A pickle carries the module's bytes unless wasmcore.dask.register() "
            "shipped them, to that cluster's workers only")
    p = Plugin(source, timeout=ref.timeout, fuel=ref.fuel, max_memory=ref.max_memory,
               host=dict(ref.host), sha256=ref.sha256,
               wasi=ref.wasi if ref.wasi is not None else False)
    p.name = ref.name  # messages name it as where it came from
    return p


# -- functions and objects ------------------------------------------------------------------

class Anchor:
    """The ``__self__`` of the functions of a plugin (see :func:`bind`; a core's functions
    are methods of the core itself), and the owner of the exported classes of a core or
    plugin. It pickles as its owner, so a function or class pickles as ``getattr(<the owner,
    restored>, name)``. A core's anchor holds the core's :class:`CoreRef`, not the core (a
    class outlives a core dropped right after ``load().RunningStats``); a plugin's holds the
    plugin (the plugin's functions keep it alive anyway)."""

    __slots__ = ("target",)

    def __init__(self, target: CoreRef | Plugin | None) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Any, ...]:
        t = self.target
        return reduce_core(t) if t is None or isinstance(t, CoreRef) else reduce_plugin(t)

    def __dask_tokenize__(self) -> object:
        return token(self.target)

    def __getattr__(self, name: str) -> Any:
        """The owner's attribute (``copy.copy`` of a function or an object reduces it and
        rebuilds it from the anchor itself, not from its pickle)."""
        t = self.target
        if name.startswith("__") or t is None:
            raise AttributeError(name)
        return getattr(restore_core(t) if isinstance(t, CoreRef) else t, name)

    def __repr__(self) -> str:
        return repr(self.target) if self.target is not None else "<wasmcore.Core>"


def bind(fn: Callable[..., Any], anchor: Anchor) -> Callable[..., Any]:
    """``fn`` (a generated callable) as a method bound to ``anchor``: calls cost about 1 ns
    more, and it pickles by reference to its owner."""
    cloudpickle_shim()
    if getattr(fn, "_w_fallback", None) is not None:  # compiled: it pickles by its owner
        fn._w_owner = anchor  # type: ignore[attr-defined]
        return fn
    return types.MethodType(fn._w_method, anchor)  # type: ignore[attr-defined]


_SHIMMED: list[object] = []  # the cloudpickle module shimmed


def cloudpickle_shim() -> None:
    """Makes cloudpickle (which Dask uses for whatever holds code from ``__main__``) pickle
    the functions and classes of a core or plugin as pickle does. cloudpickle reduces a bound
    method to ``MethodType(func, self)`` and pickles ``func`` by value, and a class it cannot
    import by value: both fail on a core's functions (their closures hold the ctypes call
    machinery). For methods bound to a core or an :class:`Anchor` and the exported classes it
    now uses their own reductions (``getattr(owner, name)``); everything else is left to
    cloudpickle.
    Runs (once per cloudpickle module) from :func:`bind` and from every reduction here, so it
    is in place before cloudpickle meets a core or plugin: Dask tries pickle first."""
    cp = sys.modules.get("cloudpickle.cloudpickle")
    if cp is None or cp in _SHIMMED:
        return
    _SHIMMED.append(cp)
    from ._abi.objects import class_owner

    # the reducers of cloudpickle's Pickler: a class attribute (a module global before 3.0)
    table = getattr(getattr(cp, "Pickler", None), "_dispatch_table", None) \
        or getattr(cp, "_dispatch_table", None)
    method_reduce = table.get(types.MethodType) if isinstance(table, dict) else None
    if method_reduce is not None:
        from . import Core

        def reduce_method(m: types.MethodType) -> Any:
            return m.__reduce__() if isinstance(m.__self__, (Anchor, Core)) \
                else method_reduce(m)

        table[types.MethodType] = reduce_method  # type: ignore[index]
    class_reduce = getattr(cp, "_class_reduce", None)
    if class_reduce is not None:
        def reduce_exported_class(c: type) -> Any:
            owner = class_owner(c)
            return (getattr, (owner, c.__name__)) if owner is not None else class_reduce(c)

        vars(cp)["_class_reduce"] = reduce_exported_class


def token(target: CoreRef | Plugin | None) -> object:
    """A deterministic Dask token (``__dask_tokenize__``) for a core or a plugin, without
    pickling it."""
    if target is None or isinstance(target, CoreRef):
        return ("wasmcore.Core", target)
    ref = plugin_ref(target)
    return ("wasmcore.Plugin", ref.key()[:-1],
            tuple((k, getattr(fn, "__module__", None), getattr(fn, "__qualname__", repr(fn)))
                  for k, fn in ref.host))


def restore_object(owner: Any, name: str | None, state: tuple[float, ...]) -> Any:
    """An object of class ``name`` of ``owner`` (a restored core or plugin; or, when ``name``
    is None, the class itself) with ``state``. It is made in the first thread that uses it
    (on the wasm backend an object belongs to one thread's instance)."""
    cls = owner if name is None else getattr(owner, name)
    return cls._w_pending(state)


# -- wasmtime's exceptions ------------------------------------------------------------------

def engine_error(kind: str, message: str) -> Error:
    """A wasmtime exception, unpickled: its message as a :class:`wasmcore.Error`."""
    return Error(f"{kind}: {message}")


def _reduce_engine_error(e: BaseException) -> tuple[Any, ...]:
    return engine_error, (type(e).__name__, str(e))


def reduce_engine_errors(wasmtime: Any) -> None:
    """Gives wasmtime's exceptions a reduction (called where wasmtime is imported: under
    Pyodide there is none). A wasmcore exception raised while handling one of them keeps it
    as its (suppressed) __context__, which Dask pickles with the exception (tblib):
    wasmtime's exceptions hold ctypes pointers, so without a reduction of their own the
    exception would reach the client as a plain Exception. (A __reduce__, not a copyreg
    entry: tblib registers its own copyreg reducer for every class in the chain, which calls
    __reduce__.)"""
    for cls in (wasmtime.Trap, wasmtime.WasmtimeError, wasmtime.ExitTrap):
        cls.__reduce__ = _reduce_engine_error
