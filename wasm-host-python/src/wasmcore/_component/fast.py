"""The fast call path of components: one ``wasmtime_component_func_call`` with the argument
values written straight into wasmtime's ``wasmtime_component_val_t`` array, where the
``component calls`` feature uses wasmtime-py's internals (:mod:`wasmcore._backends.internals`
checks the layout, kinds and prototypes this relies on first).

wasmtime-py's ``Func.__call__`` reads the function's type over FFI on every call and converts
each value through ctypes attribute by attribute: about 20 µs for ``add(1, 2)``. Here a plan is
made once per function: numbers, ``bool`` and ``char`` are packed with :mod:`struct` into a
buffer kept per instance; strings are one ``wasm_byte_vec_new``; lists of numbers are laid out
in a ``bytearray`` by strided slice assignment (no per-element Python call) and copied in once;
results of those kinds are read back the same ways. Any other type (records, variants, options,
resources...) is converted by wasmtime-py's own ``ValType.convert_to_c`` / ``convert_from_c``
into the same array, so every function is called the same way.

Ownership: the values written here that own memory (strings, lists, what wasmtime-py converted)
are deleted after the call, success or not (``wasmtime_component_val_delete``); a result is
deleted once read (wasmtime-py's ``convert_from_c`` deletes what it reads)."""

from __future__ import annotations

import ctypes
import functools
import struct
from array import array
from collections.abc import Callable
from typing import Any

from wasmtime import component as cm

from .._backends import internals

SIZE = internals.COMPONENT_VAL_SIZE
AT = internals.COMPONENT_PAYLOAD
KINDS = internals.COMPONENT_KINDS

# WIT number type -> (its kind's name, struct format, array typecode)
NUMBERS: dict[type, tuple[str, str, str]] = {
    cm.Bool: ("bool", "?", "B"), cm.S8: ("s8", "b", "b"), cm.U8: ("u8", "B", "B"),
    cm.S16: ("s16", "h", "h"), cm.U16: ("u16", "H", "H"), cm.S32: ("s32", "i", "i"),
    cm.U32: ("u32", "I", "I"), cm.S64: ("s64", "q", "q"), cm.U64: ("u64", "Q", "Q"),
    cm.F32: ("f32", "f", "f"), cm.F64: ("f64", "d", "d"),
}

# (store, the buffer the value is in, its offset there, its address, the value) -> whether the
# value owns memory (to delete after the call)
Writer = Callable[[Any, Any, int, int, Any], bool]


class _C:
    """The C functions (int-form prototypes: pointers as ints), bound at first use."""

    def __init__(self) -> None:
        def fn(name: str, gil: bool = True) -> Any:
            restype, argtypes = internals.int_form(*internals.PROTOTYPES[name][1:])
            return internals.c_function(name, restype, *argtypes, gil=gil)

        # the call releases the GIL: the ticker and other threads run, host functions take it
        self.call = fn("wasmtime_component_func_call", gil=False)
        self.delete = fn("wasmtime_component_val_delete")
        self.list_new = fn("wasmtime_component_vallist_new_uninit")
        # (the bytes' pointer as a char*: ctypes passes a bytes object's buffer)
        self.bytes_new = internals.c_function("wasm_byte_vec_new", None, ctypes.c_size_t,
                                              ctypes.c_size_t, ctypes.c_char_p)
        from wasmtime import _bindings

        self.val_t = _bindings.wasmtime_component_val
        self.add_func = internals.c_function(
            "wasmtime_component_linker_instance_add_func", ctypes.c_size_t, ctypes.c_size_t,
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t,
            ctypes.c_size_t)


_CFUNCS: list[_C] = []


def c() -> _C:
    if not _CFUNCS:
        _CFUNCS.append(_C())
    return _CFUNCS[0]


# -- writers --------------------------------------------------------------------------------

def _number_writer(kind: int, fmt: str) -> Writer:
    layout = struct.Struct(f"<B{AT - 1}x{fmt}")
    pack = layout.pack_into

    def write(store: Any, mv: Any, off: int, addr: int, v: Any) -> bool:
        try:
            pack(mv, off, kind, v)
        except (OverflowError, struct.error):  # an f32 out of range: as a C cast does, +-inf
            pack(mv, off, kind, ctypes.c_float(v).value)
        return False
    return write


def _char_writer() -> Writer:
    pack = struct.Struct(f"<B{AT - 1}xI").pack_into
    kind = KINDS["char"]

    def write(store: Any, mv: Any, off: int, addr: int, v: Any) -> bool:
        pack(mv, off, kind, ord(v))
        return False
    return write


def _string_writer() -> Writer:
    kind = KINDS["string"]
    cf = c()

    def write(store: Any, mv: Any, off: int, addr: int, v: Any) -> bool:
        data = v.encode("utf-8")
        mv[off] = kind
        cf.bytes_new(addr + AT, len(data), data)
        return True
    return write


def _list_writer(elem: type) -> Writer:
    """A list of numbers: laid out in a ``bytearray`` (the kinds, then the values through a
    strided memoryview), copied into the list wasmtime allocates."""
    name, _, code_ = NUMBERS[elem]
    code: Any = code_  # (a typecode of memoryview.cast's, for mypy: a str here)
    kind, ekind = KINDS["list"], KINDS[name]
    width = array(code).itemsize
    first, step = AT // width, SIZE // width
    cf = c()
    unpack_pointer = struct.Struct("<Q").unpack_from

    def write(store: Any, mv: Any, off: int, addr: int, v: Any) -> bool:
        values = v if isinstance(v, array) and v.typecode == code else array(
            code, bytes(v) if isinstance(v, (bytes, bytearray, memoryview)) else v)
        n = len(values)
        buf = bytearray(n * SIZE)
        buf[0::SIZE] = bytes([ekind]) * n
        if n:
            memoryview(buf).cast(code)[first::step] = values
        mv[off] = kind
        cf.list_new(addr + AT, n)
        if n:
            ctypes.memmove(unpack_pointer(mv, off + AT + 8)[0], bytes(buf), len(buf))
        return True
    return write


def _generic_writer(ty: Any) -> Writer:
    convert = ty.convert_to_c
    val_t = c().val_t

    def write(store: Any, mv: Any, off: int, addr: int, v: Any) -> bool:
        convert(store, v, ctypes.cast(addr, ctypes.POINTER(val_t)))
        return True
    return write


def writer(ty: Any) -> tuple[Writer, bool]:
    """The writer of a value of ``ty`` (wasmtime-py's form, checked), and whether it is the
    generic one (wasmtime-py's converter)."""
    t = type(ty)
    if t in NUMBERS:
        name, fmt, _ = NUMBERS[t]
        return _number_writer(KINDS[name], fmt), False
    if t is cm.Char:
        return _char_writer(), False
    if t is cm.String:
        return _string_writer(), False
    if isinstance(ty, cm.ListType) and type(ty.element) in NUMBERS:
        return _list_writer(type(ty.element)), False
    return _generic_writer(ty), True


# -- readers --------------------------------------------------------------------------------
# A reader takes the bytes of the value (``buf``, from ``off``) and its address; ``owned``: the
# value is ours to delete once read (a result), else wasmtime's (a host function's argument).

Reader = Callable[[Any, int, int], Any]


def _number_reader(fmt: str) -> Reader:
    unpack = struct.Struct(f"<{AT}x{fmt}").unpack_from

    def read(buf: Any, off: int, addr: int) -> Any:
        return unpack(buf, off)[0]
    return read


def _char_reader() -> Reader:
    unpack = struct.Struct(f"<{AT}xI").unpack_from

    def read(buf: Any, off: int, addr: int) -> Any:
        return chr(unpack(buf, off)[0])
    return read


def _string_reader(owned: bool) -> Reader:
    unpack = struct.Struct(f"<{AT}xQQ").unpack_from
    delete = c().delete

    def read(buf: Any, off: int, addr: int) -> Any:
        size, data = unpack(buf, off)
        try:
            return ctypes.string_at(data, size).decode("utf-8") if size else ""
        finally:
            if owned:
                delete(addr)
    return read


def _list_reader(elem: type, owned: bool) -> Reader:
    """A list of numbers: the values, every :data:`SIZE` bytes from :data:`AT`, read through a
    strided memoryview of wasmtime's array (one C-level copy, no Python call per element)."""
    code: Any = NUMBERS[elem][2]  # (a typecode of memoryview.cast's: a str, for mypy)
    width = array(code).itemsize
    unpack = struct.Struct(f"<{AT}xQQ").unpack_from
    delete = c().delete
    as_bytes = elem is cm.U8
    first, step = AT // width, SIZE // width

    def read(buf: Any, off: int, addr: int) -> Any:
        n, data = unpack(buf, off)
        try:
            if not n:
                return b"" if as_bytes else []
            view = memoryview((ctypes.c_ubyte * (n * SIZE)).from_address(data)).cast("B")
            if as_bytes:
                return bytes(view[AT::SIZE])
            values = view.cast(code)[first::step].tolist()
            return [bool(x) for x in values] if elem is cm.Bool else values
        finally:
            if owned:
                delete(addr)
    return read


def _generic_reader(ty: Any) -> Reader:
    convert = ty.convert_from_c
    val_t = c().val_t

    def read(buf: Any, off: int, addr: int) -> Any:
        return convert(val_t.from_address(addr))  # (which deletes what it reads, as wasmtime-py)
    return read


def reader(ty: Any, owned: bool = True) -> Reader:
    """The reader of a value of ``ty`` into wasmtime-py's form."""
    t = type(ty)
    if t in NUMBERS:
        return _number_reader(NUMBERS[t][1])
    if t is cm.Char:
        return _char_reader()
    if t is cm.String:
        return _string_reader(owned)
    if isinstance(ty, cm.ListType) and type(ty.element) in NUMBERS:
        return _list_reader(type(ty.element), owned)
    return _generic_reader(ty)


# -- one function's calls ---------------------------------------------------------------------

class Plan:
    """How one function is called on the fast path: its writers and its result's reader. A
    function whose parameters are all numbers (or ``bool``) has one :class:`struct.Struct`
    for all of them (``pack``): their kinds are written into its buffers once (wasmtime only
    reads the arguments), and a call packs the values alone, in one C-level call."""

    def __init__(self, params: list[Any], result: Any | None) -> None:
        self.writers = [writer(t)[0] for t in params]
        self.n = len(params)
        self.nres = 0 if result is None else 1
        self.read = None if result is None else reader(result)
        self.result_at = self.n * SIZE
        self.pack: Callable[..., None] | None = None
        if all(type(t) in NUMBERS for t in params):
            self.pack = _packer([NUMBERS[type(t)] for t in params])


def _packer(numbers: list[tuple[str, str, str]]) -> Callable[..., None]:
    """``pack(mv, *values)``: every value with its kind, in one ``Struct.pack_into`` (whose
    pad bytes are written too, so the kinds are part of it: constants of generated code)."""
    fmt = "<" + "".join(f"B{AT - 1}x{f}{SIZE - AT - struct.calcsize(f)}x" for _, f, _ in numbers)
    names = [f"v{i}" for i in range(len(numbers))]
    pairs = ", ".join(f"{KINDS[kind]}, {v}" for (kind, _, _), v in zip(numbers, names,
                                                                          strict=True))
    src = f"def pack(mv, {', '.join(names)}):\n    _pack_into(mv, 0, {pairs})\n"
    space: dict[str, Any] = {"_pack_into": struct.Struct(fmt).pack_into}
    exec(compile(src, "<wasmcore component packer>", "exec"), space)
    return space["pack"]  # type: ignore[no-any-return]


class Buffers:
    """The argument and result values of one function's calls on one instance (reused; a call
    made while one is running, from a host function, gets its own), and its call: the C
    function with every argument bound (``call()``; see :func:`bound`)."""

    __slots__ = ("addr", "busy", "call", "mv", "raddr", "vals")

    def __init__(self, plan: Plan, func_addr: int, ctx_addr: int) -> None:
        n = plan.n
        val_t = c().val_t
        self.vals = (val_t * (n + 1))()  # (the last one: the result)
        self.addr = ctypes.addressof(self.vals)
        self.mv = memoryview(self.vals).cast("B")
        self.raddr = self.addr + n * SIZE
        self.busy = False
        self.call = bound(func_addr, ctx_addr, self.addr, n, self.raddr, plan.nres)


def fuel_setter(store: Any, ctx_addr: int, fuel: int | None) -> Callable[[], Any] | None:
    """What sets a Store's fuel before each call (None without fuel): one bound C call where
    the ``fuel`` feature and a fast call path are used (a result other than 0 or None is an
    error), else wasmtime-py's ``Store.set_fuel``."""
    if fuel is None:
        return None
    from .._backends import wasm

    path = wasm.call_path()
    api = wasm.api(path) if path in wasm.FAST_PATHS and ctx_addr else None
    if api is None or not internals.usable("fuel"):
        return functools.partial(store.set_fuel, fuel)
    return api.bind("wasmtime_context_set_fuel", ("ptr", ctx_addr), ("u64", fuel))


def bound(func_addr: int, ctx_addr: int, args: int, n: int, results: int,
          nres: int) -> Callable[[], int]:
    """``wasmtime_component_func_call`` with its arguments bound, through the process's fast
    call path (a ``wasmcore_speedups.BoundCall`` where it is installed: about the cost of a
    built-in's call, against ~0.5 µs more through ctypes); the GIL is released."""
    from .._backends import wasm

    path = wasm.call_path()
    api = wasm.api(path) if path in wasm.FAST_PATHS else None
    if api is not None:
        return api.bind("wasmtime_component_func_call", ("ptr", func_addr), ("ptr", ctx_addr),
                        ("ptr", args), ("u64", n), ("ptr", results), ("u64", nres))
    return functools.partial(c().call, func_addr, ctx_addr, args, n, results, nres)


def call(plan: Plan, bufs: Buffers, store: Any, args: list[Any]) -> tuple[int, Any]:
    """Makes the call: (0, the result in wasmtime-py's form), or (the error's address, None)."""
    cf = c()
    mv, base = bufs.mv, bufs.addr
    if plan.pack is not None:
        try:
            plan.pack(mv, *args)
        except (OverflowError, struct.error):  # (an f32 out of range: one at a time)
            for i, (w, v) in enumerate(zip(plan.writers, args, strict=True)):
                w(store, mv, i * SIZE, base + i * SIZE, v)
        err = bufs.call()
        if err:
            return err, None
        return 0, None if plan.read is None else plan.read(mv, plan.result_at, bufs.raddr)
    owned: list[int] = []
    try:
        for i, (w, v) in enumerate(zip(plan.writers, args, strict=True)):
            addr = base + i * SIZE
            if w(store, mv, i * SIZE, addr, v):
                owned.append(addr)
        err = bufs.call()
    finally:
        for addr in owned:
            cf.delete(addr)
    if err:
        return err, None
    return 0, None if plan.read is None else plan.read(mv, plan.result_at, bufs.raddr)


# -- host functions ---------------------------------------------------------------------------

class HostFunction:
    """A host function defined through ``wasmtime_component_linker_instance_add_func``: a C
    callback that reads its arguments from wasmtime's value array, calls ``call`` with them
    (in wasmtime-py's form) and writes its result (wasmtime-py's form, checked) back. What
    ``call`` raises is handed to ``failed``, and the call into wasm gets an error. The
    instance keeps this object while its Store may call it."""

    def __init__(self, params: list[Any], result: Any | None,
                 call: Callable[..., Any], failed: Callable[[BaseException], None],
                 store: Callable[[], Any]) -> None:
        readers = [reader(t, owned=False) for t in params]
        n = len(params)
        write = None if result is None else writer(result)[0]
        cf = c()
        error_new = internals.c_function("wasmtime_error_new", ctypes.c_size_t, ctypes.c_char_p)
        message = b"wasmcore: a host function raised (the call raises its exception)"
        frame = ctypes.c_ubyte * SIZE

        def callback(env: int, ctx: int, fty: int, args: int, nargs: int, results: int,
                     nresults: int) -> int:
            try:
                buf = ctypes.string_at(args, n * SIZE) if n else b""
                out = call(*[r(buf, i * SIZE, args + i * SIZE) for i, r in enumerate(readers)])
                if write is not None:  # (the struct itself as the buffer: no memoryview)
                    write(store(), frame.from_address(results), 0, results, out)
                return 0
            except BaseException as e:  # (nothing may unwind into wasmtime)
                failed(e)
                return int(error_new(message))

        self.c_callback = internals.COMPONENT_CALLBACK_INT(callback)
        self.address = ctypes.cast(self.c_callback, ctypes.c_void_p).value
        self._add = cf.add_func

    def define(self, linker_instance: Any, name: str) -> None:
        data = name.encode()
        err = self._add(internals.pointer(linker_instance), data, len(data), self.address, 0, 0)
        if err:
            raise internals.error(err)
