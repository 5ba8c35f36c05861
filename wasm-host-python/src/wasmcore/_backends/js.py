"""The js backend: a module on the JavaScript engine's WebAssembly, under Pyodide.

Where Python runs in the browser (Pyodide, JupyterLite) there is no wasmtime-py, but there is a
WebAssembly engine: the JavaScript one, reached through Pyodide's ``js`` module. This backend
instantiates the same module there (``WebAssembly.Module`` / ``Instance``) and binds each export
from the manifest like the other backends: the callables come from the same generator
(:func:`wasmcore._abi.convert.build`), with the same checks, messages, classes and errors.

A call is one call from Python into JavaScript: each export gets a small JavaScript function
(:data:`_RUNTIME`'s ``bind``) that converts the 64-bit integer arguments to ``BigInt`` (what
wasm's ``i64`` takes from JavaScript), passes the result pointer, calls the export, checks the
status of a fallible one and reads its result: a scalar from the result slot, an owned buffer
copied out of memory (and freed there, by the module's allocator) as a ``Uint8Array``, a
``str`` decoded to a JavaScript string. Buffer arguments are copied into the scratch area
first (:class:`wasmcore._backends.scratch.ScratchArea`) through views (``Uint8Array``) of the
instance's memory, kept per size and offset; ``memory.grow`` detaches the memory's
``ArrayBuffer`` and with it every view, so a view that fails is made anew from the memory's
current buffer. Floats come back as ``float``, 64-bit integers as ``int``.

A trap (``WebAssembly.RuntimeError``, or the engine's stack overflow, a ``RangeError``) is a
:class:`wasmcore.Trap`; the instance is then made anew, as on the wasm backend. Finalizers
never call into the module: they queue their frees (:class:`wasmcore._abi.objects.Context`).

Compiling: ``load()`` compiles and instantiates the module synchronously (``new
WebAssembly.Module``, ``new WebAssembly.Instance``), which Node and web workers allow for any
size; a browser's main thread refuses both for a large module (Chromium: over 8 MiB), so there
``await wasmcore.prepare()`` (or ``prepare(path)`` for another module) compiles it and makes an
instance of it asynchronously first. The next instantiation of the module (a ``load()``, or the
one after a trap) takes that instance and starts making another in the background.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import js  # type: ignore[import-not-found]  # Pyodide's bridge to JavaScript
from pyodide.code import run_js  # type: ignore[import-not-found]
from pyodide.ffi import JsException, jsnull  # type: ignore[import-not-found]

from .._abi import arrays, binary, convert
from .._abi.manifest import (
    ELEMS,
    FunctionSpec,
    Manifest,
    Param,
    ParamType,
    ReturnType,
    export_specs,
)
from .._abi.objects import Context
from .._errors import Error, ModuleRejected, Trap, status_error
from .scratch import ScratchArea

# The JavaScript half: compiling, instantiating, and the function each export is called through.
_RUNTIME: Any = run_js(r"""
(() => {
  // a fallible scalar's result, read from the result slot at p (little-endian, as wasm's)
  const slot = {
    i32: (dv, p) => dv.getInt32(p, true), u32: (dv, p) => dv.getUint32(p, true),
    bool: (dv, p) => dv.getInt32(p, true) !== 0, handle: (dv, p) => dv.getUint32(p, true),
    i64: (dv, p) => dv.getBigInt64(p, true), u64: (dv, p) => dv.getBigUint64(p, true),
    f32: (dv, p) => dv.getFloat32(p, true), f64: (dv, p) => dv.getFloat64(p, true),
  };
  // an infallible export's own result, as the logical type reads it
  const direct = {
    i32: (r) => r, u32: (r) => r >>> 0, bool: (r) => r !== 0, handle: (r) => r >>> 0,
    i64: (r) => r, u64: (r) => BigInt.asUintN(64, r), f32: (r) => r, f64: (r) => r,
    unit: (r) => r, raw: (r) => r,
  };
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  class Runtime {
    constructor(instance) {
      this.exports = instance.exports;
      this.memory = this.exports.memory;
      this.status = 0;
      this.u8 = null;
      this.dv = null;
    }
    // views of the memory's current buffer (memory.grow replaces it)
    fresh() {
      const b = this.memory.buffer;
      if (this.u8 === null || this.u8.buffer !== b) {
        this.u8 = new Uint8Array(b);
        this.dv = new DataView(b);
      }
      return this;
    }
    view(ptr, n) { return this.fresh().u8.subarray(ptr, ptr + n); }
    size() { return this.memory.buffer.byteLength; }
    lastError() {
      const p = this.exports.wasmcore_last_error_ptr() >>> 0;
      const n = this.exports.wasmcore_last_error_len() >>> 0;
      return new TextDecoder("utf-8").decode(this.view(p, n));
    }
    // The function export `name` is called through: `i64` lists the arguments to pass as
    // BigInt; `outp` is the result pointer (0: none); `ret` the logical result type, or
    // "owned" / "str" / "matrix" for a buffer of `itemsize`-byte elements; a fallible
    // export's non-zero status is kept in this.status and the call returns null.
    bind(name, i64, outp, ret, fallible, itemsize) {
      const f = this.exports[name];
      const free = this.exports.wasmcore_free;
      const rt = this;
      const convert = i64.length === 0 ? null : (args) => {
        for (const i of i64) args[i] = BigInt(args[i]);
      };
      let result;
      if (ret === "owned" || ret === "str" || ret === "matrix") {
        result = () => {
          const dv = rt.fresh().dv;
          const ptr = dv.getUint32(outp, true);
          const n = dv.getUint32(outp + 4, true) * itemsize;
          const rows = dv.getUint32(outp + 8, true), cols = dv.getUint32(outp + 12, true);
          const bytes = ret === "str" ? utf8.decode(rt.u8.subarray(ptr, ptr + n))
            : rt.u8.slice(ptr, ptr + n);
          free(ptr, n, itemsize);
          return ret === "matrix" ? [bytes, rows, cols] : bytes;
        };
      } else if (fallible && ret !== "unit") {
        const read = slot[ret];
        result = () => read(rt.fresh().dv, outp);
      }
      const conv = direct[ret] ?? direct.raw;
      if (fallible || result !== undefined) {
        return (...args) => {
          if (convert !== null) convert(args);
          if (outp) args.push(outp);
          const r = f(...args);
          if (fallible && r !== 0) {
            rt.status = r;
            return null;
          }
          return result === undefined ? undefined : result();
        };
      }
      return (...args) => {
        if (convert !== null) convert(args);
        return conv(f(...args));
      };
    }
  }
  // Instances of import-less modules made ahead, asynchronously (prepare()), by module: the one
  // made (or null) and the promise of the one being made (or null)
  const spares = new WeakMap();
  const makeSpare = (module) => {
    if (WebAssembly.Module.imports(module).length > 0) return Promise.resolve();
    let s = spares.get(module);
    if (s === undefined) spares.set(module, (s = { instance: null, making: null }));
    if (s.instance === null && s.making === null) {
      s.making = WebAssembly.instantiate(module, {}).then(
        (instance) => { s.instance = instance; s.making = null; },
        (e) => { s.making = null; throw e; });
    }
    return s.making ?? Promise.resolve();
  };
  return {
    compile: (bytes) => new WebAssembly.Module(bytes),
    compileAsync: (bytes) => WebAssembly.compile(bytes),
    prepareInstance: makeSpare,
    instantiate: (module, imports) => {
      const s = spares.get(module);
      if (s === undefined || s.instance === null) {
        return new Runtime(new WebAssembly.Instance(module, imports));
      }
      const instance = s.instance;
      s.instance = null;
      makeSpare(module).catch(() => {});  // the next one (a failure shows when it is needed)
      return new Runtime(instance);
    },
  };
})()
""")

# Compiled modules, by the sha256 of their bytes (see prepare()).
_MODULES: dict[str, Any] = {}
# Digests of modules whose exports were checked against their manifest.
_CHECKED: set[str] = set()

# V8's and SpiderMonkey's words for wasm traps -> the trap codes of the wasm backend
_TRAP_CODES = (("unreachable", "unreachable"), ("out of bounds", "memory_out_of_bounds"),
               ("divide by zero", "integer_divide_by_zero"),
               ("remainder by zero", "integer_divide_by_zero"),
               ("divide result unrepresentable", "integer_overflow"),
               ("integer overflow", "integer_overflow"),
               # (V8 says so of NaN too, which wasmtime calls bad_conversion_to_integer)
               ("float unrepresentable", "integer_overflow"),
               ("invalid conversion to integer", "integer_overflow"),
               ("table index", "table_out_of_bounds"),
               ("null function", "indirect_call_to_null"),
               ("signature mismatch", "bad_signature"),
               ("call stack", "stack_overflow"), ("too much recursion", "stack_overflow"))


def to_js_bytes(data: bytes) -> Any:
    """A ``Uint8Array`` copy of ``data``."""
    u8 = js.Uint8Array.new(len(data))
    u8.assign(data)
    return u8


def compile_module(data: bytes, digest: str) -> Any:
    """The ``WebAssembly.Module`` of ``data``: compiled ahead by :func:`prepare`, else now
    (synchronously)."""
    module = _MODULES.get(digest)
    if module is None:
        try:
            module = _RUNTIME.compile(to_js_bytes(data))
        except JsException as e:
            raise ModuleRejected(f"module does not compile: {e.name}: {e.message}") from None
        _MODULES[digest] = module
    return module


async def prepare(data: bytes, digest: str) -> None:
    """Compiles ``data`` and makes an instance of it asynchronously (``WebAssembly.compile``,
    ``WebAssembly.instantiate``), for a browser's main thread, which refuses both synchronously
    for a large module; later loads use the compilation, the next instantiation the instance
    (for a module that imports nothing)."""
    module = _MODULES.get(digest)
    if module is None:
        try:
            module = await _RUNTIME.compileAsync(to_js_bytes(data))
        except JsException as e:
            raise ModuleRejected(f"module does not compile: {e.name}: {e.message}") from None
        _MODULES[digest] = module
    try:
        await _RUNTIME.prepareInstance(module)
    except JsException as e:
        raise ModuleRejected(f"module does not instantiate: {e.name}: {e.message}") from None


def trap(e: JsException, where: str) -> Trap | None:
    """The :class:`Trap` of a JavaScript exception from wasm, or None for another error."""
    name, message = str(e.name), str(e.message)
    if name != "RuntimeError" and not (name in ("RangeError", "InternalError")
                                        and ("call stack" in message
                                             or "recursion" in message)):
        return None
    code = next((c for words, c in _TRAP_CODES if words in message), None)
    return Trap(f"{where}{'()' if where != 'instantiation' else ''} trapped: wasm trap: "
                f"{message}", code)


class JsBytes:
    """Bytes of the instance's memory from ``ptr`` (the scratch area), as slices: assigned from
    ``memoryview``s and read as ``bytes``, through a view (``Uint8Array``) per offset and
    size. A view whose buffer ``memory.grow`` detached fails; it is then made anew."""

    def __init__(self, inst: JsInstance, ptr: int) -> None:
        self.inst, self.ptr = inst, ptr
        self.views: dict[tuple[int, int], Any] = {}

    def view(self, start: int, n: int, fresh: bool = False) -> Any:
        key = (start, n)
        v = None if fresh else self.views.get(key)
        if v is None:
            if len(self.views) >= 256:
                self.views.clear()
            v = self.views[key] = self.inst.rt.view(self.ptr + start, n)
        return v

    def __setitem__(self, part: slice, data: memoryview) -> None:
        n = part.stop - part.start
        if n:
            try:
                self.view(part.start, n).assign(data)
            except JsException:  # detached by memory.grow
                self.views.clear()
                self.view(part.start, n, fresh=True).assign(data)

    def __getitem__(self, part: slice) -> bytes:
        n = part.stop - part.start
        if not n:
            return b""
        try:
            return bytes(self.view(part.start, n).to_bytes())
        except JsException:
            self.views.clear()
            return bytes(self.view(part.start, n, fresh=True).to_bytes())


_U32 = ParamType("scalar", "u32", scalar="u32")
_ALLOC = FunctionSpec("wasmcore_alloc", "", (Param("size", _U32), Param("align", _U32)),
                      ReturnType("u32", "scalar"), False)
_FREE = FunctionSpec("wasmcore_free", "", (Param("ptr", _U32), Param("size", _U32),
                                          Param("align", _U32)), ReturnType(None, "unit"), False)


class JsInstance(ScratchArea):
    """The module's instance in the JavaScript engine, and the functions its exports are
    called through (made anew, with the instance, after a trap)."""

    def __init__(self, backend: JsBackend) -> None:
        self.backend = backend
        self.rebinders: list[Callable[[], None]] = []
        self.ctx = Context(backend.callable, None, self.usable)
        self._instantiate()

    def imports(self) -> Any:
        """The import object (the core imports nothing; see the plugin sandbox's)."""
        return js.Object.new()

    def _instantiate(self) -> None:
        try:
            self.rt = _RUNTIME.instantiate(self.backend.module, self.imports())
        except JsException as e:
            t = trap(e, "instantiation")
            if t is not None:
                raise t from None
            raise ModuleRejected(f"module does not instantiate: {e.name}: {e.message}") \
                from None
        self.live = True
        self.scratch_ptr = self.scratch_cap = 0
        self.scratch = JsBytes(self, 0)
        self.out = 0
        if self.backend.runtime:
            self._alloc = self.shim(_ALLOC)
            self.free = self.shim(_FREE)
            self.out = self.alloc(16, 16)  # the result slot

    def shim(self, spec: FunctionSpec) -> Any:
        """The JavaScript function export ``spec`` is called through (see :data:`_RUNTIME`)."""
        params, _ = spec.signature()
        i64 = [k for k, t in enumerate(params) if t == "i64"]
        ret = spec.returns
        kind = "raw" if ret.kind == "raw" else ret.kind if ret.kind in ("unit", "str", "matrix") \
            else "owned" if ret.kind == "owned" else "handle" if ret.kind == "handle" \
            else str(ret.name)
        itemsize = ELEMS[ret.elem] if ret.elem else 0
        outp = self.out if spec.result_pointer else 0
        return self.rt.bind(spec.name, self.backend.js_list(i64), outp, kind, spec.fallible,
                            itemsize)

    def alloc(self, size: int, align: int) -> int:
        ptr = int(self._alloc(size, align))
        if ptr == 0 and size > 0:
            raise MemoryError(f"wasmcore: the module could not allocate {size} bytes")
        return ptr

    def scratch_at(self, ptr: int, size: int) -> JsBytes:
        return JsBytes(self, ptr)

    def usable(self) -> bool:
        return self.live

    def memory_size(self) -> int:
        return int(self.rt.size())

    def last_error(self) -> str:
        return str(self.rt.lastError())

    def status_error(self, label: str) -> Exception:
        """The exception of a fallible export's error status."""
        return status_error(label, int(self.rt.status), self.last_error())

    def failure(self, e: BaseException, label: str) -> BaseException:
        """The exception for a call that raised ``e``: a trap (or any other failure inside
        wasm) makes the instance anew."""
        self.reset()
        if isinstance(e, JsException):
            return trap(e, label) or Error(f"{label}(): {e.name}: {e.message}")
        return e

    def reset(self) -> None:
        """Replaces the instance (after a trap) and re-binds every callable; objects of the old
        one are orphaned (their context dies)."""
        self.ctx.live = False
        self.live = False
        self.ctx = Context(self.backend.callable, None, self.usable)
        self._instantiate()
        for rebind in self.rebinders:
            rebind()


# Python's conversion of each result, after the JavaScript function's (numbers that are whole
# come from JavaScript as int, BigInts as a subclass of int)
_RESULT = {"f32": "float", "f64": "float", "i64": "int", "u64": "int"}


class JsBackend:
    """A module in the JavaScript engine: its manifest, its instance (Pyodide runs one thread),
    the callables of its exports."""

    instance_class: type[JsInstance] = JsInstance
    runtime = True  # whether the module has the ABI runtime (memory, allocator)

    def __init__(self, wasm: bytes, manifest: Manifest, digest: str | None = None) -> None:
        self.manifest = manifest
        self.digest = digest or hashlib.sha256(wasm).hexdigest()
        if manifest.imports:
            names = ", ".join(f"{i.get('module')}.{i.get('name')}" for i in manifest.imports)
            raise ModuleRejected(f"the core module must not import anything, it imports {names}")
        if self.digest not in _CHECKED:  # the same bytes carry the same manifest and exports
            binary.check_exports(manifest, binary.read(wasm).exports)
            _CHECKED.add(self.digest)
        self.module = compile_module(wasm, self.digest)
        self.specs = export_specs(manifest)
        self._callables: dict[str, Callable[..., Any]] = {}
        self._inst: JsInstance | None = None

    @staticmethod
    def js_list(items: list[int]) -> Any:
        return js.Array.of(*items)

    def instance(self) -> JsInstance:
        if self._inst is None:
            self._inst = self.instance_class(self)
        return self._inst

    def context(self) -> Context:
        return self.instance().ctx

    def callable(self, name: str) -> Callable[..., Any]:
        fn = self._callables.get(name)
        if fn is None:
            fn = self._callables[name] = self.bind(self.instance(), self.specs[name])
        return fn

    def bind(self, inst: JsInstance, spec: FunctionSpec) -> Callable[..., Any]:
        """The callable of export ``spec``: the checks of its arguments, the copies of its
        buffers, one call of its JavaScript function, the conversion of its result."""
        body: list[str] = []
        for k, p in enumerate(spec.params, 1):
            if p.type.kind == "raw" and p.type.name in convert.RAW_INT_RANGES:
                # an int beyond both the signed and the unsigned range (JavaScript would wrap
                # it); within them the engine takes it as wasm does
                lo, hi = convert.RAW_INT_RANGES[p.type.name]
                body.append(f"if not {lo} <= {p.name} <= {hi}: {p.name} = _w_raw_int("
                            f"{p.name}, {p.type.name!r}, {spec.label!r}, {k})")
        buffers = [p for p in spec.params if p.type.kind in ("buffer", "matrix", "bytes", "str")]
        if buffers:
            names = ", ".join(f"_w_p_{p.name}" for p in buffers)
            body.append(f"{names}, = _w_inst.place({', '.join(p.name for p in buffers)})")
        args: list[str] = []
        for p in spec.params:
            if p.type.kind == "matrix":
                args += [f"_w_p_{p.name}", f"{p.name}.shape[0]", f"{p.name}.shape[1]"]
            elif p in buffers:
                args += [f"_w_p_{p.name}", f"len({p.name})"]
            else:
                args.append(p.name)
        body += ["try:", f"    _w_r = _w_fn({', '.join(args)})",
                 "except BaseException as _w_e:",
                 f"    raise _w_inst.failure(_w_e, {spec.label!r}) from None"]
        if spec.fallible:
            body.append(f"if _w_r is _w_null: raise _w_inst.status_error({spec.label!r})")
        body += [f"_w_inst.copy_back({p.name}, _w_p_{p.name})" for p in buffers if p.type.inout]
        ret = spec.returns
        env: dict[str, Any] = {"_w_inst": inst, "_w_null": jsnull}
        if ret.kind == "raw":
            results = spec.signature()[1]
            conv = [_RESULT.get(t, "") for t in results]
            if len(results) == 1:
                body.append(f"return {conv[0]}(_w_r)")
            elif results:
                items = ", ".join(f"{c}(_w_v[{k}])" for k, c in enumerate(conv))
                body += ["_w_v = _w_r.to_py()", f"return ({items},)"]
            else:
                body.append("return None")
        elif ret.kind == "unit":
            body.append("return None")
        elif ret.kind == "str":
            body.append("return _w_r")
        elif ret.kind == "owned" and ret.name == "bytes":
            body.append("return _w_r.to_bytes()")
        elif ret.kind == "owned":
            body.append(f"return _w_result({ret.elem!r}, _w_r.to_bytes())")
            env["_w_result"] = arrays.result
        elif ret.kind == "matrix":
            body += ["_w_data, _w_rows, _w_cols = _w_r",
                     f"return _w_result({ret.elem!r}, _w_data.to_bytes(), (_w_rows, _w_cols))"]
            env["_w_result"] = arrays.result
        else:
            body.append(f"return {_RESULT.get(str(ret.name), '')}(_w_r)")

        def per_instance() -> dict[str, Any]:
            return {"_w_fn": inst.shim(spec)}

        values = per_instance()
        env.update(values)
        fn, rebind = convert.build(spec, body, env, rebind=tuple(values))
        inst.rebinders.append(lambda: rebind(**per_instance()))
        return fn

