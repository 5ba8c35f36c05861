"""``wasmcore.Plugin`` under Pyodide: a module run on the JavaScript engine's WebAssembly.

What the sandbox is there: the module gets nothing it was not given (its imports are checked
before it is instantiated and must all be host functions from ``host=``); its memories and
tables are capped by ``max_memory`` (their maxima are lowered in the binary before it is
compiled, so the engine refuses a ``memory.grow`` past the cap: the plugin sees -1, as under
wasmtime); a trap is a :class:`wasmcore.Trap` and the instance is made anew. What it is not:
the JavaScript engine cannot interrupt or meter WebAssembly that runs synchronously, so
``timeout`` and ``fuel`` are refused at construction and ``cancel_handle()`` raises (a plugin
that must be stopped belongs in a Web Worker, which can be terminated), and there is no WASI.
A module in the text format cannot be read there either: convert it with ``wat2wasm`` first.

Calls go through the js backend (:mod:`wasmcore._backends.js`): typed functions from the
manifest, numeric exports by their wasm types (:mod:`.raw`), with the same checks and errors.
A host function's arguments come as ints and floats, its result is checked as under wasmtime
(:func:`.common.result_value`); an exception it raises fails the call with that exception.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import js  # type: ignore[import-not-found]  # Pyodide's bridge to JavaScript
from pyodide.code import run_js  # type: ignore[import-not-found]
from pyodide.ffi import create_proxy  # type: ignore[import-not-found]

from .._abi import binary
from .._abi.manifest import RUNTIME_EXPORTS, Manifest, export_specs
from .._backends import js as backend
from .._errors import Error, MemoryLimitExceeded, ModuleRejected, Trap
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
    result_value,
)
from .raw import NUMERIC, raw_spec_of
from .wasi import Wasi

# The JavaScript side of a host function: its Python function, called with the arguments as
# they come (i64 as BigInt), its result made what the import returns (i64 as BigInt).
_HOST = run_js(r"""
(py, results) => {
  if (results.length === 1 && results[0] === "i64") return (...args) => BigInt(py(...args));
  if (results.length > 1) {
    return (...args) => {
      const p = py(...args);
      const r = p.toJs();
      p.destroy();
      return results.map((t, k) => (t === "i64" ? BigInt(r[k]) : r[k]));
    };
  }
  return (...args) => py(...args);
}
""")


class PluginInstance(backend.JsInstance):
    backend: PluginBackend

    def imports(self) -> Any:
        """The import object: each host function, wrapped."""
        p = self.backend.plugin
        out: dict[str, Any] = {}
        for (mod, name), (fn, (params, results)) in p._host.items():
            out.setdefault(mod, js.Object.new())
            wrapper = create_proxy(_host_function(f"{mod}.{name}", fn, params, results))
            self.proxies.append(wrapper)
            setattr(out[mod], name, _HOST(wrapper, js.Array.of(*results)))
        imports = js.Object.new()
        for mod, functions in out.items():
            setattr(imports, mod, functions)
        return imports

    def _instantiate(self) -> None:
        for proxy in getattr(self, "proxies", ()):  # the previous instance's (after a trap)
            proxy.destroy()
        self.proxies: list[Any] = []  # what the engine holds of Python: freed with the instance
        super()._instantiate()

    def failure(self, e: BaseException, label: str) -> BaseException:
        p = self.backend.plugin
        err = super().failure(e, label)
        if isinstance(err, Trap):
            return Trap(f"{p.name}: {err}", err.code)
        if isinstance(err, Error) and not isinstance(err, ModuleRejected):
            return Error(f"{p.name}: {err}")
        return err


def _host_function(key: str, fn: Callable[..., Any], params: tuple[str, ...],
                   results: tuple[str, ...]) -> Callable[..., Any]:
    """``fn`` called with its arguments as ints (i64 from BigInt) and floats, its result
    checked against the import's types (a wrong one is a ``TypeError``)."""
    kinds = [float if t in ("f32", "f64") else int for t in params]

    def host_function(*args: Any) -> Any:
        out = result_value(key, results, fn(*(k(a) for k, a in zip(kinds, args, strict=True))))
        return list(out) if isinstance(out, tuple) else out
    return host_function


class PluginBackend(backend.JsBackend):
    instance_class = PluginInstance

    def __init__(self, plugin: Plugin, wasm: bytes, manifest: Manifest,
                 module: binary.Module) -> None:
        self.plugin = plugin
        self.manifest = manifest
        self.runtime = plugin._typed
        self.digest = plugin.sha256
        self.module = backend.compile_module(wasm, f"{plugin.sha256}/{plugin.max_memory}")
        typed = export_specs(manifest) if plugin._typed else {}
        self.specs = {name: spec for name, (kind, sig) in module.exports.items()
                      if kind == "func" and sig is not None and name not in typed
                      and (spec := raw_spec_of(name, sig, plugin.name)) is not None}
        self.specs.update(typed)
        self._callables = {}
        self._inst = None
        if plugin._typed:
            try:
                binary.check_exports(manifest, module.exports)
            except ModuleRejected as e:
                raise ModuleRejected(f"{plugin.name}: {e}") from None

    def instance(self) -> backend.JsInstance:
        if self.plugin.closed:
            raise ValueError(f"{self.plugin.name}: the plugin is closed")
        return super().instance()


class Plugin(PluginBase):
    """A third-party wasm module run in a sandbox, under Pyodide (see the module's doc and
    :class:`wasmcore.Plugin`'s, whose interface this is): ``timeout`` and ``fuel`` cannot be
    enforced there and are refused, ``max_memory`` caps memory, imports are denied unless
    ``host`` gives them."""

    def __init__(self, source: str | os.PathLike[str] | bytes | bytearray | memoryview, *,
                 timeout: float | None = None, fuel: int | None = None,
                 max_memory: int = DEFAULT_MAX_MEMORY,
                 host: Mapping[str, Callable[..., Any]] | None = None,
                 sha256: str | None = None, wasi: bool | Wasi = False) -> None:
        self.closed = False
        data, self.name = read_source(source)
        self.timeout = check_limit("timeout", timeout, float)
        self.fuel = check_limit("fuel", fuel, int)
        self.max_memory = int(check_limit("max_memory", max_memory, int))
        for param, value in (("timeout", self.timeout), ("fuel", self.fuel)):
            if value is not None:
                raise NotImplementedError(
                    f"Plugin(): parameter '{param}' cannot be enforced under Pyodide: the "
                    "JavaScript engine cannot interrupt or meter WebAssembly while it runs "
                    "(leave it out; a plugin that may not stop belongs in a Web Worker, which "
                    "can be terminated)")
        if wasi is not False:
            raise NotImplementedError("Plugin(): parameter 'wasi': WASI is not available "
                                      "under Pyodide")
        self.wasi = None
        self.sha256 = check_sha256(data, sha256, self.name)
        if data[:4] != b"\0asm":
            raise ModuleRejected(f"{self.name}: not a WebAssembly binary (under Pyodide the "
                                 "text format cannot be read: convert it with wat2wasm)")
        module = binary.read(data)
        self._module = module
        pages, elements = self.max_memory // binary.PAGE, max(self.max_memory // 8, 1)
        for what, limits, cap, unit in (("memory", module.memories, pages, binary.PAGE),
                                        ("table", module.tables, elements, 1)):
            for lim in limits:
                if lim.min > cap:
                    raise MemoryLimitExceeded(
                        f"{self.name}: the module needs more memory than its max_memory of "
                        f"{self.max_memory} bytes allows: a {what} of {lim.min * unit} "
                        f"{'bytes' if unit > 1 else 'elements'} at the start")
        self.manifest = plugin_manifest(data, self.name)
        self._typed = self.manifest is not None and "memory" in module.exports \
            and all(n in module.exports for n in RUNTIME_EXPORTS)
        self._host = self._resolve_imports(host)
        self._backend = PluginBackend(self, binary.capped(data, module, pages, elements),
                                      self.manifest or Manifest(0, self.name, (), (), ()),
                                      module)
        self.functions: dict[str, Any] = {}
        self._backend.instance()  # instantiate now: a module that cannot start fails here
        expose(self, self._backend)

    def _resolve_imports(self, host: Mapping[str, Callable[..., Any]] | None
                         ) -> dict[tuple[str, str], tuple[Callable[..., Any], binary.Signature]]:
        imports = [(i.module, i.name, i.type, describe(i.kind, i.type))
                   for i in self._module.imports]
        given = resolve_imports(self.name, host, imports, False)
        types = {(i.module, i.name): i.type for i in self._module.imports}
        for key in given:
            sig = types[key]
            assert sig is not None
            if not all(t in NUMERIC for t in (*sig[0], *sig[1])):
                raise ModuleRejected(f"{self.name}: import {'.'.join(key)} has a "
                                     f"{binary._sig(*sig)} type: only numbers cross to a host "
                                     "function")
        return {key: (fn, types[key]) for key, fn in given.items()}  # type: ignore[misc]

    # -- calls ----------------------------------------------------------------------------

    def _export_types(self) -> dict[str, tuple[str, binary.Signature | None]]:
        return self._module.exports

    def _bytes(self, func: str, ptr: int, size: int) -> Any:
        """A view of ``size`` bytes at ``ptr`` of the instance's memory (checked)."""
        inst = self._backend.instance()
        if "memory" not in self._module.exports:
            raise Error(f"{func}(): {self.name} exports no memory named 'memory'")
        check_span(func, ptr, size, inst.memory_size())
        return inst.rt.view(ptr, size)

    def read(self, ptr: int, size: int) -> bytes:
        """``size`` bytes at ``ptr`` in the instance's memory."""
        return bytes(self._bytes("read", ptr, size).to_bytes())

    def write(self, ptr: int, data: bytes) -> None:
        """Writes ``data`` at ``ptr`` in the instance's memory."""
        data = bytes(data)
        if data:
            self._bytes("write", ptr, len(data)).assign(data)

    def read_str(self, ptr: int, size: int) -> str:
        """:meth:`read` decoded as UTF-8 (invalid sequences replaced)."""
        return self.read(ptr, size).decode("utf-8", "replace")

    def cancel_handle(self) -> NoReturn:
        """Not available under Pyodide: raises :class:`wasmcore.Error` (see the module's doc)."""
        raise Error(f"{self.name}: cancel_handle() is not available under Pyodide: the "
                    "JavaScript engine cannot interrupt WebAssembly while it runs (a plugin "
                    "that may need stopping belongs in a Web Worker, which can be terminated)")

    def take_output(self) -> tuple[bytes, bytes]:
        """(stdout, stderr): always empty, there is no WASI under Pyodide."""
        return b"", b""

    @property
    def exports(self) -> dict[str, str]:
        """Export name -> its wasm type, e.g. ``{"run": "func (i32) -> (i32)"}``."""
        return {name: describe(kind, sig) for name, (kind, sig) in self._module.exports.items()}

    @property
    def imports(self) -> list[str]:
        """The module's imports, as ``module.name (type)``."""
        return [f"{i.module}.{i.name} ({describe(i.kind, i.type)})"
                for i in self._module.imports]

    def close(self) -> None:
        """Frees the plugin's instance; later calls raise ``ValueError``."""
        if not self.closed:
            self.closed = True
            inst = self._backend._inst
            if inst is not None:
                inst.ctx.live = inst.live = False
                for proxy in inst.proxies:
                    proxy.destroy()
            self._backend._inst = None



def describe(kind: str, sig: binary.Signature | None) -> str:
    return f"func {binary._sig(*sig)}" if kind == "func" and sig is not None else kind
