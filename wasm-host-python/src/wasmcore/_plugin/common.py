"""What both sandboxes share (wasmtime's, :mod:`.plugin`, and the JavaScript engine's under
Pyodide, :mod:`.js`): the checks of the constructor's arguments and of host functions, the
module's manifest, and the plugin's exports as attributes. Nothing here needs an engine."""

from __future__ import annotations

import hashlib
import inspect
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .._abi.binary import Signature, _sig
from .._abi.convert import RAW_INT_RANGES, signed
from .._abi.manifest import (
    KEEPS_RESULTS,
    RUNTIME_EXPORTS,
    Manifest,
    custom_sections,
    read_manifest,
)
from .._abi.objects import make_class
from .._errors import ModuleRejected
from .raw import NUMERIC, RawSpec

# bytes of linear memory a plugin may use unless told otherwise (max_memory)
DEFAULT_MAX_MEMORY = 64 << 20


def read_source(source: object, who: str = "Plugin") -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), who.lower()
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            return path.read_bytes(), path.name
        except OSError as e:
            raise ModuleRejected(f"{who}(): cannot read {str(path)!r}: {e.strerror}") from None
    raise TypeError(f"{who}(): parameter 'source' must be a path or bytes, got "
                    f"{type(source).__name__}")


def check_limit(param: str, value: object, kind: type, who: str = "Plugin") -> Any:
    if value is None:
        if param == "max_memory":
            raise TypeError(f"{who}(): parameter 'max_memory' must be an int, got None")
        return None
    ok = isinstance(value, int) if kind is int else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok:
        want = "an int" if kind is int else "a number of seconds"
        raise TypeError(f"{who}(): parameter '{param}' must be {want} or None, got "
                        f"{type(value).__name__}")
    assert isinstance(value, (int, float))
    if not value > 0 or (kind is float and not math.isfinite(value)):
        raise ValueError(f"{who}(): parameter '{param}' must be positive, got {value!r}")
    return value


def plugin_manifest(data: bytes, name: str) -> Manifest | None:
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


def result_value(key: str, results: tuple[str, ...], out: Any) -> Any:
    """A host function's return value checked against the import's result types: the value
    to hand to wasm (integers signed, floats as float), a tuple of them for several results,
    None for none. Anything else is a ``TypeError`` naming the function."""
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
    checked: list[Any] = []
    for v, t in zip(values, results, strict=True):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise bad()
        if t in RAW_INT_RANGES:
            lo, hi = RAW_INT_RANGES[t]
            if not isinstance(v, int) or not lo <= v <= hi:
                raise bad()
            checked.append(signed(v, t))
        else:
            checked.append(float(v))
    return checked[0] if len(results) == 1 else tuple(checked)


def check_sha256(data: bytes, sha256: object, name: str, who: str = "Plugin") -> str:
    """The module's sha256 (hex), which must be ``sha256`` when that is given."""
    digest = hashlib.sha256(data).hexdigest()
    if sha256 is not None:
        if not isinstance(sha256, str):
            raise TypeError(f"{who}(): parameter 'sha256' must be a hex string, got "
                            f"{type(sha256).__name__}")
        if sha256.lower() != digest:
            raise ModuleRejected(f"{name}: sha256 mismatch: expected {sha256.lower()}, "
                                 f"the module's is {digest}")
    return digest


def resolve_imports(plugin: str, host: Mapping[str, Callable[..., Any]] | None,
                    imports: list[tuple[str, str, Signature | None, str]], wasi: bool,
                    unknown: Callable[[str, str], Callable[..., Any]] | None = None,
                    ) -> dict[tuple[str, str], Callable[..., Any]]:
    """The host function of each import ((module, name, a function's types or None, its
    description)): every import must be provided, by ``host`` or (``wasi``) by WASI, and
    each host function must fit the import's arity; with ``unknown``, an import of a function
    that nothing provides is ``unknown(module, name)`` instead."""
    from .wasi import WASI_MODULES

    given: dict[tuple[str, str], Callable[..., Any]] = {}
    if host is not None:
        for key, fn in host_entries(host, "Plugin"):
            if not callable(fn):
                raise TypeError(f"Plugin(): parameter 'host': {key!r} is not callable")
            mod, _, name = key.rpartition(".")
            given[(mod or "env", name)] = fn
    out = {}
    missing = []
    for mod, name, sig, what in imports:
        fn = given.get((mod, name))
        if sig is not None and fn is not None:
            check_arity(f"{mod}.{name}", fn, sig)
            out[(mod, name)] = fn
        elif wasi and mod in WASI_MODULES:
            continue
        elif sig is not None and unknown is not None:
            out[(mod, name)] = unknown(mod, name)
        else:
            missing.append(f"{mod}.{name} ({what})")
    if missing:
        hint = "provide functions with host={...}"
        if any(m.split(".")[0] in WASI_MODULES for m in missing):
            hint += " or pass wasi=True for WASI"
        raise ModuleRejected(f"{plugin}: the module imports what it was not given: "
                             f"{', '.join(missing)} ({hint})")
    return out


def host_entries(host: object, who: str) -> list[tuple[str, Any]]:
    """The items of a ``host=`` argument, checked to be a mapping with non-empty str keys."""
    if not isinstance(host, Mapping):
        raise TypeError(f"{who}(): parameter 'host' must be a dict of name -> callable, "
                        f"got {type(host).__name__}")
    for key in host:
        if not isinstance(key, str) or not key:
            raise TypeError(f"{who}(): parameter 'host': keys must be non-empty strings, "
                            f"got {key!r}")
    return list(host.items())


def check_arity(key: str, fn: Callable[..., Any], types: Signature) -> None:
    n = len(types[0])
    sig = refuses(fn, n)
    if sig is not None:
        raise TypeError(f"Plugin(): host function {key!r} must take {n} positional "
                        f"argument{'s' if n != 1 else ''}: the module imports it as "
                        f"{_sig(*types)}, got {fn!r} with signature {sig}")


def refuses(fn: Callable[..., Any], n: int) -> inspect.Signature | None:
    """The signature of ``fn`` if it cannot take ``n`` positional arguments, else None (and
    None for builtins without a signature: they are checked when called)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    try:
        sig.bind(*range(n))
    except TypeError:
        return sig
    return None


def expose(plugin: Any, backend: Any, anchor: Any = None) -> None:
    """The plugin's exports as its attributes (unless the name is taken): every numeric
    export the manifest does not describe, bound from its wasm type (with its arity; the
    runtime's own exports only in ``_raw``), and the manifest's functions and classes (also
    in ``plugin.functions``). With an ``anchor`` (:class:`wasmcore._pickle.Anchor`), the
    functions and classes pickle as references to the plugin."""
    from .. import _pickle

    def bind(fn: Callable[..., Any]) -> Callable[..., Any]:
        return fn if anchor is None else _pickle.bind(fn, anchor)

    taken = set(dir(type(plugin))) | set(vars(plugin)) | {"_raw"}
    plugin._raw = {name: (backend.callable(name), len(spec.params))
                   for name, spec in backend.specs.items() if isinstance(spec, RawSpec)}
    for name, (fn, _) in plugin._raw.items():
        if name not in taken and not (plugin._typed and (name in RUNTIME_EXPORTS
                                                         or name == KEEPS_RESULTS)):
            setattr(plugin, name, bind(fn))
    if plugin._typed:
        manifest = plugin.manifest
        for f in manifest.functions:
            fn = bind(backend.callable(f.name))
            plugin.functions[f.name] = fn
            if f.name not in taken:
                setattr(plugin, f.name, fn)
        for c in manifest.classes:
            cls = make_class(c, backend.context, anchor)
            plugin.functions[c.name] = cls
            if c.name not in taken:
                setattr(plugin, c.name, cls)


def check_span(func: str, ptr: int, size: int, n: int) -> None:
    """``size`` bytes at ``ptr`` must be inside a memory of ``n`` bytes (for read/write)."""
    for param, v in (("ptr", ptr), ("size", size)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{func}(): parameter '{param}' must be an int, got "
                            f"{type(v).__name__}")
    if not (ptr >= 0 and size >= 0 and ptr + size <= n):
        raise ValueError(f"{func}(): bytes {ptr}..{ptr + size} are outside the plugin's "
                         f"memory of {n} bytes")


class PluginBase:
    """What ``wasmcore.Plugin`` does the same on both engines: :meth:`call`, ``with``, repr.
    A subclass has ``name``, ``closed``, ``functions``, ``_raw`` (see :func:`expose`), and
    the wasm types of its exports (:meth:`_export_types`)."""

    name: str
    closed: bool
    functions: dict[str, Any]
    _raw: dict[str, tuple[Callable[..., Any], int]]

    def _export_types(self) -> Mapping[str, tuple[str, Signature | None]]:
        """Export name -> ("func", its wasm types), or (another kind, None)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def call(self, name: str, *args: Any) -> Any:
        """Calls export ``name``: with typed arguments when the manifest describes it, else
        with numbers (ints for i32/i64, given signed or unsigned; ints or floats for f32/f64;
        checked against the export's type). Returns ``None``, a number, or a tuple for several
        results."""
        if name.__class__ is not str and not isinstance(name, str):
            raise TypeError(f"call(): parameter 'name' must be a str, got {type(name).__name__}")
        raw = self._raw.get(name)
        if raw is not None:
            if len(args) != raw[1]:
                sig = self._export_types()[name][1]
                assert sig is not None
                raise TypeError(f"call(): {name}() takes {raw[1]} argument"
                                f"{'s' if raw[1] != 1 else ''} ({_sig(*sig)}), "
                                f"got {len(args)}")
            return raw[0](*args)
        typed = self.functions.get(name)
        if typed is not None and not isinstance(typed, type):
            return typed(*args)
        types = self._export_types()
        kind, sig = types.get(name, ("", None))
        if kind != "func" or sig is None:
            funcs = [n for n, (k, _) in types.items() if k == "func"]
            raise ValueError(f"call(): parameter 'name': {self.name} exports no function "
                             f"{name!r} (its functions: {', '.join(sorted(funcs)) or 'none'})")
        other = next(t for t in (*sig[0], *sig[1]) if t not in NUMERIC)
        raise TypeError(f"call(): {name}() has a {other} parameter or result; only exports of "
                        f"numbers ({', '.join(NUMERIC)}) can be called")

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{len(self.functions)} typed functions"
        return f"<wasmcore.Plugin {self.name!r} {state}>"

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.functions))
