"""wasmtime-py's internals and wasmtime's C ABI: the one module that touches them.

wasmcore goes past wasmtime-py's public API for six features, each for speed or for a limit
the public API cannot enforce precisely (:data:`FEATURES`):

* ``calls``: a call into wasm is one ``wasmtime_func_call_unchecked`` with prebuilt
  arguments (the fast call path: about one foreign call, against ~20 µs through
  ``Func.__call__``);
* ``host functions``: a plugin's imports are C callbacks defined with
  ``wasmtime_linker_define_func_unchecked`` (instead of ``Linker.define_func``);
* ``fuel``: each plugin call's fuel is set by one bound C call (instead of ``Store.set_fuel``);
* ``interrupts``: every plugin Store has an epoch-deadline callback
  (``wasmtime_store_epoch_deadline_callback``), so one shared engine serves every plugin's
  timeouts and cancel handles, and Ctrl-C stops a call on the main thread;
* ``memory creator``: plugins' linear memories come from wasmcore's own allocator
  (``wasmtime_config_host_memory_creator_set``), so ``max_memory`` counts every memory of an
  instance and a refused growth is known;
* ``component calls``: a component's call is one ``wasmtime_component_func_call`` with the
  values written into wasmtime's value array (:mod:`wasmcore._component.fast`; against ~20 µs
  through ``wasmtime.component.Func.__call__``).

All of them depend on things a wasmtime-py release may change without notice: the C
prototypes in its ``_bindings``, the layouts of C structs, the private attributes of its
classes. wasmtime 51 changed the memory creator's callback from seven arguments to one
``wasmtime_memory_request_t *``; code written for 50 passed the wrong arguments, and the
process aborted. So nothing else in wasmcore reads ``_bindings`` or calls C by address: it
asks here. A feature uses the internals only when

1. the installed wasmtime-py is a verified release (a major in :data:`VERIFIED`), or the user
   asked to trust the checks on any release (``WASMCORE_FAST_PATH=1`` or a named call path);
2. every internal it needs passes its structural check, done once, at first use
   (:func:`decision`): each C function's prototype as wasmtime-py's bindings declare it (its
   argument and result types, spelled by :func:`spell`) equals the one this code declares
   (:data:`PROTOTYPES`); the structs wasmcore fills or reads have the fields declared here;
   the private attributes exist and give objects of the expected types.

Otherwise the feature runs on wasmtime-py's public API (see each user of :func:`usable`), and
one ``RuntimeWarning`` per process names what falls back and why. ``WASMCORE_FAST_PATH=0``
asks for the public API everywhere (silently). The fallback never reaches C: a check reads
Python attributes only, and the one functional check (wrapping a C error in wasmtime-py's
exception) runs only after the prototypes it uses have passed.
"""

from __future__ import annotations

import ctypes
import functools
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The wasmtime-py majors every feature here is verified against: `just test` passes on them on
# every call path (requirements-dev.txt pins the oldest; `just test-latest` runs the newest the
# registry serves). The package's requirement has its upper bound right after the last one.
VERIFIED = range(50, 52)

# feature -> what runs instead on wasmtime-py's public API
FEATURES = {
    "calls": "Func.__call__ (about 20 µs a call instead of well under 1 µs)",
    "host functions": "Linker.define_func",
    "fuel": "Store.set_fuel before each call",
    "interrupts": "epoch deadlines and an engine per plugin instance (Ctrl-C reaches a plugin "
                  "call only when it returns)",
    "memory creator": "Store.set_limits (max_memory per memory; a refused growth is told only "
                      "by a memory at its cap)",
    "component calls": "wasmtime.component's Func.__call__ (about 20 µs a small call)",
}
SWITCH = "WASMCORE_FAST_PATH"
CALL_PATHS = ("speedups", "ctypes", "cffi")  # the named fast paths (see wasm.call_path)
_FUNCTION: Any = ctypes._CFuncPtr  # type: ignore[attr-defined]  # what CFUNCTYPE makes


# -- spelling C types ------------------------------------------------------------------------

def spell(t: Any) -> str:
    """A C type as ctypes declares it, spelled for comparison: integers by signedness and
    width (``size_t`` is ``u64`` on the 64-bit platforms wasmtime supports), pointers with a
    ``*``, structs and unions by name, function pointers as ``fn(args) -> result``."""
    if t is None:
        return "void"
    if isinstance(t, type):
        if issubclass(t, ctypes._Pointer):
            return spell(t._type_) + "*"
        if issubclass(t, _FUNCTION):
            fn: Any = t
            return f"fn({', '.join(spell(a) for a in fn._argtypes_)}) -> {spell(fn._restype_)}"
        if issubclass(t, (ctypes.Structure, ctypes.Union)):
            return t.__name__
        if issubclass(t, ctypes.Array):
            return f"{spell(t._type_)}[{t._length_}]"
        code = getattr(t, "_type_", None)
        if isinstance(code, str):
            named = {"?": "bool", "P": "void*", "z": "char*", "c": "char", "f": "f32",
                     "d": "f64"}
            if code in named:
                return named[code]
            return ("i" if code.islower() else "u") + str(8 * ctypes.sizeof(t))  # type: ignore[arg-type]
    return f"<{t!r}>"


def prototype(restype: Any, argtypes: Any) -> str:
    return f"{spell(restype)}({', '.join(spell(a) for a in argtypes or ())})"


def layout(struct: Any) -> list[tuple[str, str]]:
    """A struct's fields, spelled."""
    return [(f[0], spell(f[1])) for f in getattr(struct, "_fields_", ())]


# -- what this code is written for -----------------------------------------------------------

def _opaque(name: str) -> Any:
    return type(name, (ctypes.Structure,), {})


P = ctypes.POINTER
CONTEXT, STORE, FUNC, RAW, TRAP, ERROR, LINKER, FUNCTYPE, CALLER, ENGINE, CONFIG, MEMTYPE = (
    _opaque(n) for n in ("wasmtime_context", "wasmtime_store", "wasmtime_func",
                         "wasmtime_val_raw", "wasm_trap_t", "wasmtime_error",
                         "wasmtime_linker", "wasm_functype_t", "wasmtime_caller",
                         "wasm_engine_t", "wasm_config_t", "wasm_memorytype_t"))
# a component function, a component value, a list of them and a byte vector (a string)
CFUNC, CVAL, VALLIST, BYTEVEC, CLINKER, CFUNCTYPE, VALRECORD, VALTUPLE, VALFLAGS = (
    _opaque(n) for n in (
        "wasmtime_component_func", "wasmtime_component_val", "wasmtime_component_vallist",
        "wasm_byte_vec_t", "wasmtime_component_linker_instance_t",
        "wasmtime_component_func_type_t", "wasmtime_component_valrecord",
        "wasmtime_component_valtuple", "wasmtime_component_valflags"))
# (a union in C; spelled by name, so an opaque struct of that name stands for it)
FINALIZER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
# a host function: (env, caller, args_and_results, nargs) -> wasm_trap_t* (NULL: none)
HOST_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, P(CALLER), P(RAW),
                                 ctypes.c_size_t)
# the epoch-deadline callback: (context, data, *epoch_deadline_delta, *update_kind) -> error*
EPOCH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_size_t, P(CONTEXT), ctypes.c_void_p,
                                  P(ctypes.c_uint64), P(ctypes.c_uint8))
# a component's host function: (env, context, its type, args, nargs, results, nresults) ->
# wasmtime_error_t* (NULL: none)
COMPONENT_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, P(CONTEXT),
                                      P(CFUNCTYPE), P(CVAL), ctypes.c_size_t, P(CVAL),
                                      ctypes.c_size_t)
# (its int form: what wasmcore's callbacks are made with, pointers as ints)
COMPONENT_CALLBACK_INT = ctypes.CFUNCTYPE(ctypes.c_size_t, *[ctypes.c_size_t] * 7)
MEMORY_GET = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, P(ctypes.c_size_t),
                              P(ctypes.c_size_t))
MEMORY_GROW = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t)


class wasmtime_linear_memory(ctypes.Structure):
    """What a memory creator fills in for each memory it makes."""

    _fields_ = [("env", ctypes.c_void_p), ("get_memory", MEMORY_GET),
                ("grow_memory", MEMORY_GROW), ("finalizer", FINALIZER)]


class wasmtime_memory_request(ctypes.Structure):
    """wasmtime 51's argument of the memory creator's callback."""

    _fields_ = [("ty", P(MEMTYPE)), ("minimum", ctypes.c_size_t),
                ("maximum", ctypes.c_size_t), ("reserved_size_in_bytes", ctypes.c_size_t),
                ("guard_size_in_bytes", ctypes.c_size_t), ("kind", ctypes.c_uint8)]


# The memory creator's callback, by the shape wasmtime gives it: "args" (wasmtime 50 and
# before: type, minimum, maximum, reserved, guard, out) or "request" (wasmtime 51)
NEW_MEMORY = {
    "args": ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, P(MEMTYPE), ctypes.c_size_t,
                             ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t,
                             P(wasmtime_linear_memory)),
    "request": ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, P(wasmtime_memory_request),
                                P(wasmtime_linear_memory)),
}


def creator_struct(shape: str) -> Any:
    """``wasmtime_memory_creator_t`` with the callback of ``shape`` (see :data:`NEW_MEMORY`)."""
    return type("wasmtime_memory_creator", (ctypes.Structure,), {"_fields_": [
        ("env", ctypes.c_void_p), ("new_memory", NEW_MEMORY[shape]), ("finalizer", FINALIZER)]})


CREATORS = {shape: creator_struct(shape) for shape in NEW_MEMORY}

# Every C function wasmcore calls: name -> (the features that call it, result, parameters),
# as the C header declares them (and wasmtime-py's bindings, generated from it, repeat)
PROTOTYPES: dict[str, tuple[tuple[str, ...], Any, tuple[Any, ...]]] = {
    "wasmtime_func_call_unchecked": (("calls",), P(ERROR), (
        P(CONTEXT), P(FUNC), P(RAW), ctypes.c_size_t, P(P(TRAP)))),
    "wasmtime_linker_define_func_unchecked": (("host functions",), P(ERROR), (
        P(LINKER), P(ctypes.c_char), ctypes.c_size_t, P(ctypes.c_char), ctypes.c_size_t,
        P(FUNCTYPE), HOST_CALLBACK, ctypes.c_void_p, FINALIZER)),
    "wasmtime_trap_new": (("host functions",), P(TRAP), (P(ctypes.c_char), ctypes.c_size_t)),
    "wasmtime_context_set_fuel": (("fuel",), P(ERROR), (P(CONTEXT), ctypes.c_uint64)),
    "wasmtime_store_epoch_deadline_callback": (("interrupts",), None, (
        P(STORE), EPOCH_CALLBACK, ctypes.c_void_p, FINALIZER)),
    "wasmtime_engine_increment_epoch": (("interrupts",), None, (P(ENGINE),)),
    "wasmtime_error_new": (("calls", "interrupts", "memory creator", "component calls"), P(ERROR),
                           (P(ctypes.c_char),)),
    "wasmtime_error_delete": (("interrupts",), None, (P(ERROR),)),
    "wasmtime_config_host_memory_creator_set": (("memory creator",), None, (
        P(CONFIG), P(CREATORS["request"]))),
    "wasmtime_config_memory_init_cow_set": (("memory creator",), None, (
        P(CONFIG), ctypes.c_bool)),
    "wasmtime_component_func_call": (("component calls",), P(ERROR), (
        P(CFUNC), P(CONTEXT), P(CVAL), ctypes.c_size_t, P(CVAL), ctypes.c_size_t)),
    "wasmtime_component_val_delete": (("component calls",), None, (P(CVAL),)),
    "wasmtime_component_vallist_new_uninit": (("component calls",), None, (
        P(VALLIST), ctypes.c_size_t)),
    "wasm_byte_vec_new": (("component calls",), None, (
        P(BYTEVEC), ctypes.c_size_t, P(ctypes.c_uint8))),
    "wasmtime_component_valrecord_new_uninit": (("component calls",), None, (
        P(VALRECORD), ctypes.c_size_t)),
    "wasmtime_component_valtuple_new_uninit": (("component calls",), None, (
        P(VALTUPLE), ctypes.c_size_t)),
    "wasmtime_component_valflags_new_uninit": (("component calls",), None, (
        P(VALFLAGS), ctypes.c_size_t)),
    "wasmtime_component_val_new": (("component calls",), P(CVAL), (P(CVAL),)),
    "wasmtime_component_linker_instance_add_func": (("component calls",), P(ERROR), (
        P(CLINKER), P(ctypes.c_char), ctypes.c_size_t, COMPONENT_CALLBACK, ctypes.c_void_p,
        FINALIZER)),
}
# A component value (wasmtime_component_val_t): COMPONENT_VAL_SIZE bytes, its kind (a u8) at 0
# and its payload at COMPONENT_PAYLOAD, where a number is at offset 0 and a string or a list is
# (size_t size, pointer data); the kinds, by WIT type (wasmtime's WASMTIME_COMPONENT_*)
COMPONENT_VAL_SIZE = 32
COMPONENT_PAYLOAD = 8
COMPONENT_KINDS = {"bool": 0, "s8": 1, "u8": 2, "s16": 3, "u16": 4, "s32": 5, "u32": 6, "s64": 7,
                   "u64": 8, "f32": 9, "f64": 10, "char": 11, "string": 12, "list": 13,
                   "record": 14, "tuple": 15, "variant": 16, "enum": 17, "option": 18,
                   "result": 19, "flags": 20}
# the payload's fields wasmcore writes and reads, each at offset 0 of the union
COMPONENT_FIELDS = {"boolean": "bool", "s8": "i8", "u8": "u8", "s16": "i16", "u16": "u16",
                    "s32": "i32", "u32": "u32", "s64": "i64", "u64": "u64", "f32": "f32",
                    "f64": "f64", "character": "u32", "string": "wasm_byte_vec_t",
                    "list": "wasmtime_component_vallist", "record": "wasmtime_component_valrecord",
                    "tuple": "wasmtime_component_valtuple",
                    "variant": "wasmtime_component_valvariant",
                    "enumeration": "wasm_byte_vec_t", "option": "wasmtime_component_val*",
                    "result": "wasmtime_component_valresult",
                    "flags": "wasmtime_component_valflags"}
# the payloads' structs: name -> [(field, spelled type, offset)], size
COMPONENT_STRUCTS: dict[str, tuple[list[tuple[str, str, int]], int]] = {
    "wasm_byte_vec_t": ([("size", "u64", 0), ("data", "u8*", 8)], 16),
    "wasmtime_component_vallist": ([("size", "u64", 0),
                                    ("data", "wasmtime_component_val*", 8)], 16),
    "wasmtime_component_valtuple": ([("size", "u64", 0),
                                     ("data", "wasmtime_component_val*", 8)], 16),
    "wasmtime_component_valrecord": ([("size", "u64", 0),
                                      ("data", "wasmtime_component_valrecord_entry*", 8)], 16),
    "wasmtime_component_valrecord_entry": ([("name", "wasm_byte_vec_t", 0),
                                            ("val", "wasmtime_component_val", 16)], 48),
    "wasmtime_component_valvariant": ([("discriminant", "wasm_byte_vec_t", 0),
                                       ("val", "wasmtime_component_val*", 16)], 24),
    "wasmtime_component_valresult": ([("is_ok", "bool", 0),
                                      ("val", "wasmtime_component_val*", 8)], 16),
    "wasmtime_component_valflags": ([("size", "u64", 0), ("data", "wasm_byte_vec_t*", 8)], 16),
}
# the raw value array: 16 bytes a value, each type at offset 0
RAW_FIELDS = {"i32": "i32", "i64": "i64", "f32": "f32", "f64": "f64"}
RAW_SIZE = 16


# -- the checks ------------------------------------------------------------------------------

def _bindings() -> Any:
    from wasmtime import _bindings

    return _bindings


def _check_prototype(b: Any, name: str, argtypes: Any = None) -> str | None:
    """Why C function ``name`` of the bindings is not the one declared here (None: it is);
    ``argtypes``: the parameters to expect instead of :data:`PROTOTYPES`' own."""
    _, restype, declared = PROTOTYPES[name]
    argtypes = declared if argtypes is None else argtypes
    fn = getattr(b, "_" + name, None)
    if fn is None or (not getattr(fn, "argtypes", None) and argtypes):
        return f"{name} is not in wasmtime-py's bindings"
    try:
        got = prototype(fn.restype, fn.argtypes)
    except Exception as e:
        return f"{name}'s prototype cannot be read: {e!r}"
    want = prototype(restype, argtypes)
    if want != got:
        return f"{name} is {got}, written for {want}"
    try:
        if not ctypes.cast(fn, ctypes.c_void_p).value:
            return f"{name} is not in wasmtime-py's library"
    except Exception as e:  # (not a C function of the library)
        return f"{name} is not a function of wasmtime-py's library: {e!r}"
    return None


def _check_layout(b: Any, name: str, ours: Any) -> str | None:
    theirs = getattr(b, name, None)
    if theirs is None:
        return f"{name} is not in wasmtime-py's bindings"
    if layout(theirs) != layout(ours) or ctypes.sizeof(theirs) != ctypes.sizeof(ours):
        return f"{name} has the fields {layout(theirs)}, written for {layout(ours)}"
    return None


def creator_shape(b: Any) -> tuple[str | None, str]:
    """Which memory-creator callback wasmtime-py's library takes (a key of
    :data:`NEW_MEMORY`), or None and why none fits."""
    creator = getattr(b, "wasmtime_memory_creator", None)
    if creator is None:
        return None, "wasmtime_memory_creator is not in wasmtime-py's bindings"
    got = layout(creator)
    for shape, ours in CREATORS.items():
        if got == layout(ours) and ctypes.sizeof(creator) == ctypes.sizeof(ours):
            if shape == "request":
                why = _check_layout(b, "wasmtime_memory_request", wasmtime_memory_request)
                if why:
                    return None, why
            why = _check_layout(b, "wasmtime_linear_memory", wasmtime_linear_memory)
            return (None, why) if why else (shape, "")
    return None, (f"wasmtime_memory_creator has the fields {got}, written for one of "
                  f"{[layout(c) for c in CREATORS.values()]}")


def _check_raw(b: Any) -> str | None:
    raw = getattr(b, "wasmtime_val_raw", None)
    if raw is None:
        return "wasmtime_val_raw is not in wasmtime-py's bindings"
    fields = {f[0]: (spell(f[1]), getattr(raw, f[0]).offset) for f in raw._fields_}
    want = {k: (v, 0) for k, v in RAW_FIELDS.items()}
    if ctypes.sizeof(raw) != RAW_SIZE or any(fields.get(k) != v for k, v in want.items()):
        return f"wasmtime_val_raw is {ctypes.sizeof(raw)} bytes with {fields}, written for " \
               f"{RAW_SIZE} bytes with {want}"
    return None


def _check_component_values(b: Any) -> str | None:
    """The component value's layout, the fields and kinds wasmcore uses (see
    :data:`COMPONENT_KINDS`), and the byte vector and list that strings and lists are."""
    val = getattr(b, "wasmtime_component_val", None)
    union = getattr(b, "wasmtime_component_valunion", None)
    if val is None or union is None:
        return "wasmtime_component_val is not in wasmtime-py's bindings"
    want = [("kind", "u8"), ("of", "wasmtime_component_valunion")]
    if layout(val) != want or ctypes.sizeof(val) != COMPONENT_VAL_SIZE \
            or val.of.offset != COMPONENT_PAYLOAD:
        return f"wasmtime_component_val is {ctypes.sizeof(val)} bytes with {layout(val)}, " \
               f"written for {COMPONENT_VAL_SIZE} bytes with {want}, the payload at 8"
    fields = {f[0]: (spell(f[1]), getattr(union, f[0]).offset) for f in union._fields_}
    for name, t in COMPONENT_FIELDS.items():
        if fields.get(name) != (t, 0):
            return f"wasmtime_component_valunion's {name} is {fields.get(name)}, written for {t}"
    for name, (fields_, size) in COMPONENT_STRUCTS.items():
        struct: Any = getattr(b, name, None)
        try:
            got = [(f[0], spell(f[1]), getattr(struct, f[0]).offset) for f in struct._fields_]
            got_size = ctypes.sizeof(struct)
        except (AttributeError, TypeError) as e:
            return f"{name} cannot be read in wasmtime-py's bindings: {e!r}"
        if (got, got_size) != (fields_, size):
            return f"{name} is {got_size} bytes with {got}, written for {size} bytes with {fields_}"
    try:
        from wasmtime import _ffi

        kinds = {k: int(getattr(_ffi, f"WASMTIME_COMPONENT_{k.upper()}").value)
                 for k in COMPONENT_KINDS}
    except (AttributeError, TypeError, ValueError) as e:
        return f"the component value kinds cannot be read: {e!r}"
    if kinds != COMPONENT_KINDS:
        return f"the component value kinds are {kinds}, written for {COMPONENT_KINDS}"
    return None


def _check_component_func() -> str | None:
    """A component function's ``_func`` (a throwaway component's)."""
    import wasmtime
    from wasmtime import component as cm

    try:
        engine = wasmtime.Engine()
        comp = cm.Component(engine, '(component (core module $m (func (export "f"))) '
                                    '(core instance $i (instantiate $m)) '
                                    '(func (export "f") (canon lift (core func $i "f"))))')
        store = wasmtime.Store(engine)
        try:
            linker = cm.Linker(engine)
            with linker.root() as root:
                li = _spelled(root.ptr())
            func = linker.instantiate(store, comp).get_func(store, "f")
            got = _spelled(getattr(func, "_func", None))
        finally:
            store.close()
    except Exception as e:
        return f"a component function cannot be made: {e!r}"
    if li != "wasmtime_component_linker_instance_t*":
        return f"wasmtime.component.LinkerInstance.ptr() gives {li}, written for " \
               "wasmtime_component_linker_instance_t*"
    return None if got == "wasmtime_component_func" else \
        f"wasmtime.component.Func._func gives {got}, written for wasmtime_component_func"


def _spelled(value: Any) -> str:
    return spell(type(value))


def _check_objects(b: Any) -> dict[str, str]:
    """The private attributes and pointer types of wasmtime-py's classes, on throwaway
    objects: failures by feature."""
    import wasmtime

    failed: dict[str, str] = {}
    needs = {  # attribute -> (features, the spelled type it must give)
        "Store._context()": (("calls", "fuel", "component calls"), "wasmtime_context*"),
        "Store.ptr()": (("interrupts",), "wasmtime_store*"),
        "Engine.ptr()": (("interrupts",), "wasm_engine_t*"),
        "Config.ptr()": (("memory creator",), "wasm_config_t*"),
        "Linker.ptr()": (("host functions",), "wasmtime_linker*"),
        "FuncType.ptr()": (("host functions",), "wasm_functype_t*"),
        "Func._func": (("calls",), "wasmtime_func"),
    }
    got: dict[str, str] = {}
    try:
        engine = wasmtime.Engine()
        store = wasmtime.Store(engine)
        try:
            ty = wasmtime.FuncType([], [])
            makers: dict[str, Callable[[], Any]] = {
                "Store._context()": lambda: store._context(),
                "Store.ptr()": lambda: store.ptr(),
                "Engine.ptr()": lambda: engine.ptr(),
                "Config.ptr()": lambda: wasmtime.Config().ptr(),
                "Linker.ptr()": lambda: wasmtime.Linker(engine).ptr(),
                "FuncType.ptr()": lambda: ty.ptr(),
                "Func._func": lambda: wasmtime.Func(store, ty, lambda: None)._func,
            }
            for what, make in makers.items():
                try:
                    got[what] = _spelled(make())
                except Exception as e:  # (an attribute gone, a changed signature, ...)
                    got[what] = f"an error ({e!r})"
        finally:
            store.close()
    except Exception as e:  # pragma: no cover - wasmtime-py unusable altogether
        return dict.fromkeys(FEATURES, f"wasmtime-py's objects cannot be made: {e!r}")
    for what, (features, want) in needs.items():
        if got[what] != want:
            for f in features:
                failed.setdefault(f, f"{what} gives {got[what]}, written for {want}")
    for cls, name in ((wasmtime.WasmtimeError, "_from_ptr"), (wasmtime.Trap, "_from_ptr")):
        if not callable(getattr(cls, name, None)):
            for f in ("calls", "host functions", "component calls"):
                failed.setdefault(f, f"{cls.__name__}.{name} is not in wasmtime-py")
    for name in ("wasmtime_error_t", "wasm_trap_t"):
        if getattr(b, name, None) is None:
            for f in ("calls", "host functions"):
                failed.setdefault(f, f"{name} is not in wasmtime-py's bindings")
    return failed


def _wraps_errors(b: Any) -> str | None:
    """Whether wasmtime-py's wrapper takes a C error made here (after the prototypes passed)."""
    import wasmtime

    try:
        err = _c_function("wasmtime_error_new")(b"wasmcore check")
        e = wasmtime.WasmtimeError._from_ptr(ctypes.cast(err, P(b.wasmtime_error_t)))
        if "wasmcore check" not in str(e):
            return f"WasmtimeError._from_ptr gives {str(e)!r}"
    except Exception as e:
        return f"WasmtimeError._from_ptr fails: {e!r}"
    return None


def structural_failures() -> dict[str, str]:
    """Every feature whose internals fail their checks, with the first reason (empty: all
    pass). Reads Python attributes, makes throwaway wasmtime-py objects; calls C only through
    prototypes that passed."""
    try:
        b = _bindings()
    except Exception as e:
        return dict.fromkeys(FEATURES, f"wasmtime-py's bindings cannot be imported: {e!r}")
    failed: dict[str, str] = {}
    shape, wrong = creator_shape(b)
    if shape is None:
        failed["memory creator"] = wrong
    why: str | None
    for name, (features, _, _) in PROTOTYPES.items():
        if name == "wasmtime_config_host_memory_creator_set":
            # (its argument is the creator struct of the shape the library has)
            why = _check_prototype(b, name, (P(CONFIG), P(CREATORS[shape or "request"])))
        else:
            why = _check_prototype(b, name)
        if why:
            for f in features:
                failed.setdefault(f, why)
    if why := _check_raw(b):
        for f in ("calls", "host functions"):
            failed.setdefault(f, why)
    for f, reason in _check_objects(b).items():
        failed.setdefault(f, reason)
    if "component calls" not in failed and (
            why := _check_component_values(b) or _check_component_func()):
        failed["component calls"] = why
    if "calls" not in failed and (why := _wraps_errors(b)):
        for f in ("calls", "host functions", "component calls"):
            failed.setdefault(f, why)
    return failed


# -- the decision ----------------------------------------------------------------------------

@functools.cache
def version() -> str:
    """The installed wasmtime-py's version."""
    from importlib.metadata import version

    return version("wasmtime")


def verified(v: str) -> bool:
    major = v.partition(".")[0]
    return major.isdigit() and int(major) in VERIFIED


def span() -> str:
    return ", ".join(f"{m}.x" for m in VERIFIED)


def decide(switch: str, v: str, failures: Callable[[], dict[str, str]]
           ) -> tuple[dict[str, str], str]:
    """Which features fall back to the public API, each with why (the others use the
    internals), and the warning to give (empty: none), from ``$WASMCORE_FAST_PATH``
    (``switch``), the wasmtime-py version ``v`` and the structural checks (``failures()``,
    run only when the internals may be used)."""
    if switch == "0":
        return dict.fromkeys(FEATURES, f"{SWITCH}=0"), ""  # asked for: no warning
    if switch not in ("", "1", *CALL_PATHS):
        raise ValueError(f"{SWITCH} must be {', '.join(CALL_PATHS)}, 1 or 0 (or unset), got "
                         f"{switch!r}")
    if not switch and not verified(v):
        return (dict.fromkeys(FEATURES, f"wasmtime-py {v} is not a verified release"),
                f"wasmcore: wasmtime-py {v} is not among the releases wasmcore is verified "
                f"against ({span()}): {_listing(FEATURES)} use wasmtime-py's public API "
                f"(slower calls; Ctrl-C reaches a plugin call only when it returns; see "
                f"docs/compatibility.md). {SWITCH}=1 uses wasmtime-py's internals where they "
                f"pass wasmcore's structural checks; {SWITCH}=0 silences this")
    failed = failures()
    if not failed:
        return {}, ""
    reasons = "; ".join(f"{f}: {why}" for f, why in failed.items())
    return failed, (f"wasmcore: wasmtime-py {v} differs from what wasmcore was written for, "
                    f"so {_listing(failed)} use wasmtime-py's public API ({reasons}). "
                    f"{SWITCH}=0 silences this")


def _listing(features: Any) -> str:
    names = [str(f) for f in features]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


@dataclass(frozen=True)
class Decision:
    """What this process uses: the features on the public API (with why), the rest on the
    internals; and the memory creator's callback shape where it is used."""

    public: dict[str, str]
    shape: str | None


_WARNED: set[str] = set()  # (a decision taken again gives no second warning)


@functools.cache
def decision() -> Decision:
    """Decided once per process, at first use (one ``RuntimeWarning`` for what falls back
    unasked)."""
    public, warning = decide(os.environ.get(SWITCH, ""), version(), structural_failures)
    if warning and warning not in _WARNED:
        _WARNED.add(warning)
        warnings.warn(warning, RuntimeWarning, stacklevel=5)
    shape = None
    if "memory creator" not in public:
        shape = creator_shape(_bindings())[0]
    return Decision(public, shape)


def usable(feature: str) -> bool:
    """Whether ``feature`` (a key of :data:`FEATURES`) uses wasmtime-py's internals."""
    assert feature in FEATURES, feature
    return feature not in decision().public


def report() -> dict[str, str]:
    """Per feature, what it runs on (for ``wasmcore info``)."""
    d, v = decision(), version()
    used = "verified fast path" if verified(v) else \
        f"fast path (its internals checked; wasmtime-py {v} is not a verified release)"
    return {f: f"public API ({d.public[f]})" if f in d.public else used for f in FEATURES}


# -- the internals, for the features that passed ---------------------------------------------

def _c_function(name: str, restype: Any = ..., *argtypes: Any, gil: bool = True) -> Any:
    """C function ``name`` of wasmtime-py's library, through a prototype of this module's
    (default: :data:`PROTOTYPES`' own; or with ``restype`` and ``argtypes`` of the same
    ABI, e.g. pointers as plain integers), called with the GIL held (``gil``: for the short
    calls here, cheaper than releasing it) or released."""
    address = ctypes.cast(getattr(_bindings(), "_" + name), ctypes.c_void_p).value
    if not address:
        raise AttributeError(f"{name} is not in wasmtime-py's library")
    if restype is ...:
        _, restype, argtypes = PROTOTYPES[name]
    factory = ctypes.PYFUNCTYPE if gil else ctypes.CFUNCTYPE
    return factory(restype, *argtypes)(address)


def _usable_for(name: str) -> None:
    features = PROTOTYPES[name][0]
    if not any(usable(f) for f in features):
        raise RuntimeError(f"wasmcore: {name} is for {_listing(features)}, which use "
                           "wasmtime-py's public API here")


def c_function(name: str, restype: Any = ..., *argtypes: Any, gil: bool = True) -> Any:
    """C function ``name``, for a feature that uses the internals (see :func:`_c_function`)."""
    _usable_for(name)
    return _c_function(name, restype, *argtypes, gil=gil)


def address(name: str) -> int:
    """The address of C function ``name``, for a feature that uses the internals."""
    _usable_for(name)
    return ctypes.cast(getattr(_bindings(), "_" + name), ctypes.c_void_p).value or 0


def _is_pointer(t: Any) -> bool:
    return isinstance(t, type) and (issubclass(t, (ctypes._Pointer, _FUNCTION))
                                    or getattr(t, "_type_", None) in ("P", "z"))


def int_form(restype: Any, argtypes: Any) -> tuple[Any, tuple[Any, ...]]:
    """A prototype of the same ABI with every pointer (function pointers too) as a
    ``size_t``: what wasmcore calls C functions and receives callbacks with, so that pointers
    are plain ints in Python."""
    def one(t: Any) -> Any:
        return ctypes.c_size_t if _is_pointer(t) else t

    return (None if restype is None else one(restype)), tuple(one(t) for t in argtypes)


def cffi_declaration(name: str) -> str:
    """C function ``name`` declared for cffi: a pointer result as an integer, pointer
    parameters as ``void *`` (``const char *`` for strings: cffi passes bytes there)."""
    _, restype, argtypes = PROTOTYPES[name]

    def c(t: Any, arg: bool) -> str:
        if t is None:
            return "void"
        s = spell(t)
        if arg and s == "char*":
            return "const char *"
        if _is_pointer(t):
            return "void *" if arg else "size_t"
        return {"u64": "uint64_t", "u32": "uint32_t", "i32": "int32_t", "u8": "uint8_t",
                "bool": "_Bool"}[s]

    return f"{c(restype, False)} {name}({', '.join(c(t, True) for t in argtypes)});"


def cffi_signature(cfunctype: Any) -> str:
    """A callback prototype for cffi, in its :func:`int_form`."""
    restype, argtypes = int_form(cfunctype._restype_, cfunctype._argtypes_)
    names = {ctypes.c_size_t: "size_t", None: "void"}
    return f"{names[restype]}({', '.join(names[t] for t in argtypes)})"


def library_path() -> str:
    """The file of the library wasmtime-py loaded (cffi opens the same one)."""
    from wasmtime import _ffi

    return str(_ffi.filename)


def _address_of(ptr: Any) -> int:
    return ctypes.cast(ptr, ctypes.c_void_p).value or 0


def context_address(store: Any) -> int:
    """The ``wasmtime_context_t *`` of a Store."""
    return _address_of(store._context())


def store_address(store: Any) -> int:
    return _address_of(store.ptr())


def engine_address(engine: Any) -> int:
    return _address_of(engine.ptr())


def pointer(obj: Any) -> int:
    """The C pointer of a wasmtime-py Linker, FuncType or Config (``obj.ptr()``)."""
    return _address_of(obj.ptr())


def component_func_address(func: Any) -> int:
    """The address of a component Func's ``wasmtime_component_func_t``."""
    return ctypes.addressof(func._func)


def func_address(func: Any) -> int:
    """The address of a Func's ``wasmtime_func_t``."""
    return ctypes.addressof(func._func)


def error(address: int) -> Any:
    """wasmtime-py's ``WasmtimeError`` taking ownership of the ``wasmtime_error_t *`` at
    ``address``."""
    import wasmtime

    return wasmtime.WasmtimeError._from_ptr(ctypes.cast(address, P(_bindings().wasmtime_error_t)))


def trap(address: int) -> Any:
    """wasmtime-py's ``Trap`` taking ownership of the ``wasm_trap_t *`` at ``address``."""
    import wasmtime

    return wasmtime.Trap._from_ptr(ctypes.cast(address, P(_bindings().wasm_trap_t)))


def clear_host_exception(cls: type[BaseException]) -> None:
    """Clears wasmtime-py's process-wide copy of the exception a host function raised through
    its public API, when it is of class ``cls`` (a Python attribute: where it is gone, there
    is nothing to clear)."""
    try:
        from wasmtime import _func

        if isinstance(getattr(_func, "LAST_EXCEPTION", None), cls):
            _func.LAST_EXCEPTION = None
    except ImportError:  # pragma: no cover - wasmtime-py's internals
        pass
