"""The fast call path of components: one ``wasmtime_component_func_call`` with the argument
values written straight into wasmtime's ``wasmtime_component_val_t`` array, where the
``component calls`` feature uses wasmtime-py's internals (:mod:`wasmcore._backends.internals`
checks the layout, kinds and prototypes this relies on first).

wasmtime-py's ``Func.__call__`` reads the function's type over FFI on every call and converts
each value through ctypes attribute by attribute: about 20 µs for ``add(1, 2)``. Here a plan is
made once per function, and the call is bound once per function and Store (a
``wasmcore_speedups.BoundCall`` where installed):

* numbers, ``bool`` and ``char`` are packed with :mod:`struct` (all of a function's numbers in
  one generated call);
* strings (and enum cases, flag names, field names) are one ``wasm_byte_vec_new`` each;
* lists of numbers are laid out in a ``bytearray`` through a strided ``memoryview`` and copied
  in at once, and read back the same way (no Python call per element);
* lists of other values, tuples, records, flags, variants, options and results are laid out in
  wasmtime's own structs (arrays from the ``*_new_uninit`` functions, zeroed first; payloads
  boxed with ``wasmtime_component_val_new``);
* resources (and futures, streams) are converted by wasmtime-py's own ``ValType.convert_to_c``
  / ``convert_from_c``, into the same array.

Ownership: the arguments written here that own memory are deleted after the call, success or
not (``wasmtime_component_val_delete``), and their slots zeroed; a result is deleted once read
and its slot zeroed too, since wasmtime drops what a result slot holds before it writes the
next result there. A host function's arguments are wasmtime's: read, never deleted.
"""

from __future__ import annotations

import ctypes
import functools
import struct
from array import array
from collections.abc import Callable
from typing import Any

from wasmtime import component as cm

from .._backends import internals
from .types import payload_classes, variant_cases

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
        self.record_new = fn("wasmtime_component_valrecord_new_uninit")
        self.tuple_new = fn("wasmtime_component_valtuple_new_uninit")
        self.flags_new = fn("wasmtime_component_valflags_new_uninit")
        self.val_new = fn("wasmtime_component_val_new")
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


def _text_writer(kind: int) -> Writer:
    """A string, or an enum's case (its name)."""
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


def capable(ty: Any) -> bool:
    """Whether values of ``ty`` are written and read here, nested ones included (else
    wasmtime-py's converters do the whole value: resources, futures, streams...)."""
    t = type(ty)
    if t in NUMBERS or t in (cm.Char, cm.String, cm.EnumType, cm.FlagsType):
        return True
    if isinstance(ty, cm.ListType):
        return capable(ty.element)
    if isinstance(ty, cm.TupleType):
        return all(capable(e) for e in ty.elements)
    if isinstance(ty, cm.RecordType):
        return all(capable(f) for _, f in ty.fields)
    if isinstance(ty, (cm.VariantType, cm.OptionType, cm.ResultType)):
        return all(p is None or capable(p) for _, p in variant_cases(ty)[0])
    return False


def _view(addr: int, size: int) -> memoryview:
    """``size`` bytes of C memory at ``addr``, writable."""
    return memoryview((ctypes.c_ubyte * size).from_address(addr)).cast("B")


def _name_writer() -> Callable[[int, str], None]:
    new = c().bytes_new

    def write_name(addr: int, name: str) -> None:
        data = name.encode("utf-8")
        new(addr, len(data), data)
    return write_name


def _allocate(mv: Any, off: int, addr: int, kind: int, new: Any, n: int,
              width: int) -> tuple[int, memoryview | None]:
    """The value at ``addr`` becomes a ``kind`` whose array of ``n`` items of ``width`` bytes
    wasmtime allocates (``new``), zeroed (so that one filled in part deletes cleanly): its
    address and a view of it (None when empty)."""
    mv[off] = kind
    new(addr + AT, n)
    if not n:
        return 0, None
    data = _unpack_pointer(mv, off + AT + 8)[0]
    ctypes.memset(data, 0, n * width)
    return data, _view(data, n * width)


def _slots_writer(ty: Any) -> Writer:
    """A list (of values other than numbers) or a tuple: wasmtime's array of values, each
    written into its slot (the array zeroed first: one written in part deletes cleanly)."""
    tuple_ = isinstance(ty, cm.TupleType)
    kind = KINDS["tuple" if tuple_ else "list"]
    new = c().tuple_new if tuple_ else c().list_new
    each = [writer(e)[0] for e in ty.elements] if tuple_ else []
    one = None if tuple_ else writer(ty.element)[0]

    def write(store: Any, mv: Any, off: int, addr: int, v: Any) -> bool:
        values = list(v)
        data, view = _allocate(mv, off, addr, kind, new, len(values), SIZE)
        for i, x in enumerate(values):
            (one or each[i])(store, view, i * SIZE, data + i * SIZE, x)
        return True
    return write


ENTRY = 48  # a record entry: its name (a byte vector), then its value
NAME = 16  # a byte vector: size, data


def _record_writer(ty: cm.RecordType) -> Writer:
    kind = KINDS["record"]
    fields = [(name, writer(t)[0]) for name, t in ty.fields]
    n = len(fields)
    new = c().record_new
    name_at = _name_writer()

    def write(store: Any, mv: Any, off: int, addr: int, v: Any) -> bool:
        data, view = _allocate(mv, off, addr, kind, new, n, ENTRY)
        for i, (name, w) in enumerate(fields):
            at = data + i * ENTRY
            name_at(at, name)
            w(store, view, i * ENTRY + NAME, at + NAME, getattr(v, name))
        return True
    return write


def _flags_writer() -> Writer:
    kind = KINDS["flags"]
    new = c().flags_new
    name_at = _name_writer()

    def write(store: Any, mv: Any, off: int, addr: int, v: Any) -> bool:
        names = sorted(v)
        data, _ = _allocate(mv, off, addr, kind, new, len(names), NAME)
        for i, name in enumerate(names):
            name_at(data + i * NAME, name)
        return True
    return write


def _boxed(w: Writer, store: Any, v: Any) -> int:
    """A value written into a new heap value of wasmtime's (``wasmtime_component_val_new``
    moves it there): its address."""
    tmp = c().val_t()
    w(store, memoryview(tmp).cast("B"), 0, ctypes.addressof(tmp), v)
    return int(c().val_new(ctypes.addressof(tmp)))


def _variant_writer(ty: Any) -> Writer:
    """A variant, option or result from wasmtime-py's form (tagged or the payload alone)."""
    cases, tagged = variant_cases(ty)
    writers = [(name, None if t is None else writer(t)[0], payload_classes(t))
               for name, t in cases]
    pack_pointer = struct.Struct("<Q").pack_into
    name_at = _name_writer()
    if isinstance(ty, cm.OptionType):
        kind = KINDS["option"]
    elif isinstance(ty, cm.ResultType):
        kind = KINDS["result"]
    else:
        kind = KINDS["variant"]

    def case_of(v: Any) -> tuple[int, Any]:
        for i, (name, _, classes) in enumerate(writers):
            if tagged:
                if v.tag == name:
                    return i, v.payload
            elif classes == (object,):
                if v is None:
                    return i, None
            elif isinstance(v, classes):
                return i, v
        raise ValueError(f"a value of no case: {v!r}")  # (checked before: not reached)

    def write(store: Any, mv: Any, off: int, addr: int, v: Any) -> bool:
        i, payload = case_of(v)
        _, w, _ = writers[i]
        boxed = 0 if w is None else _boxed(w, store, payload)
        mv[off] = kind
        if kind == KINDS["option"]:
            pack_pointer(mv, off + AT, boxed if i == 1 else 0)
        elif kind == KINDS["result"]:
            mv[off + AT] = 1 if i == 0 else 0
            pack_pointer(mv, off + AT + 8, boxed)
        else:
            name_at(addr + AT, writers[i][0])
            pack_pointer(mv, off + AT + NAME, boxed)
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
        return _text_writer(KINDS["string"]), False
    if isinstance(ty, cm.ListType) and type(ty.element) in NUMBERS:
        return _list_writer(type(ty.element)), False
    if not capable(ty):
        return _generic_writer(ty), True
    if isinstance(ty, (cm.ListType, cm.TupleType)):
        return _slots_writer(ty), False
    if isinstance(ty, cm.RecordType):
        return _record_writer(ty), False
    if isinstance(ty, cm.EnumType):
        return _text_writer(KINDS["enum"]), False
    if isinstance(ty, cm.FlagsType):
        return _flags_writer(), False
    return _variant_writer(ty), False


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


def _string_reader() -> Reader:
    unpack = struct.Struct(f"<{AT}xQQ").unpack_from

    def read(buf: Any, off: int, addr: int) -> Any:
        size, data = unpack(buf, off)
        return ctypes.string_at(data, size).decode("utf-8") if size else ""
    return read


def _list_reader(elem: type) -> Reader:
    """A list of numbers: the values, every :data:`SIZE` bytes from :data:`AT`, read through a
    strided memoryview of wasmtime's array (one C-level copy, no Python call per element)."""
    code: Any = NUMBERS[elem][2]  # (a typecode of memoryview.cast's: a str, for mypy)
    width = array(code).itemsize
    unpack = struct.Struct(f"<{AT}xQQ").unpack_from
    as_bytes = elem is cm.U8
    first, step = AT // width, SIZE // width

    def read(buf: Any, off: int, addr: int) -> Any:
        n, data = unpack(buf, off)
        if not n:
            return b"" if as_bytes else []
        view = _view(data, n * SIZE)
        if as_bytes:
            return bytes(view[AT::SIZE])
        values = view.cast(code)[first::step].tolist()
        return [bool(x) for x in values] if elem is cm.Bool else values
    return read


def _generic_reader(ty: Any) -> Reader:
    convert = ty.convert_from_c
    val_t = c().val_t

    def read(buf: Any, off: int, addr: int) -> Any:
        return convert(val_t.from_address(addr))  # (which deletes what it reads, as wasmtime-py)
    return read


_unpack_sized = struct.Struct(f"<{AT}xQQ").unpack_from  # (a list's, tuple's ... size, data)
_unpack_pointer = struct.Struct("<Q").unpack_from


def _name(buf: Any, off: int) -> str:
    """The byte vector at ``off`` of ``buf``, as text."""
    size, data = struct.unpack_from("<QQ", buf, off)
    return ctypes.string_at(data, size).decode("utf-8") if size else ""


def _composite_reader(ty: Any) -> Reader:
    """A list (of other than numbers), tuple, record, enum, flags, variant, option or result,
    read without deleting anything (its owner deletes the whole value: see :func:`reader`)."""
    if isinstance(ty, (cm.ListType, cm.TupleType)):
        elems = ty.elements if isinstance(ty, cm.TupleType) else None
        one = reader(ty.element, owned=False) if isinstance(ty, cm.ListType) else None
        each = [reader(e, owned=False) for e in elems] if elems is not None else []

        def read_elements(buf: Any, off: int, addr: int) -> Any:
            n, data = _unpack_sized(buf, off)
            view = _view(data, n * SIZE) if n else b""
            got = [(one or each[i])(view, i * SIZE, data + i * SIZE) for i in range(n)]
            return got if elems is None else tuple(got)
        return read_elements
    if isinstance(ty, cm.RecordType):
        fields = [(name, reader(t, owned=False)) for name, t in ty.fields]

        def read_record(buf: Any, off: int, addr: int) -> Any:
            n, data = _unpack_sized(buf, off)
            view = _view(data, n * ENTRY) if n else b""
            out = cm.Record()
            for i, (name, r) in enumerate(fields):
                setattr(out, name, r(view, i * ENTRY + NAME, data + i * ENTRY + NAME))
            return out
        return read_record
    if isinstance(ty, cm.EnumType):
        return lambda buf, off, addr: _name(buf, off + AT)
    if isinstance(ty, cm.FlagsType):
        def read_flags(buf: Any, off: int, addr: int) -> Any:
            n, data = _unpack_sized(buf, off)
            view = _view(data, n * NAME) if n else b""
            return {_name(view, i * NAME) for i in range(n)}
        return read_flags
    cases, tagged = variant_cases(ty)
    readers = [(name, None if t is None else reader(t, owned=False)) for name, t in cases]
    option, result = isinstance(ty, cm.OptionType), isinstance(ty, cm.ResultType)

    def read_variant(buf: Any, off: int, addr: int) -> Any:
        if option:
            ptr = _unpack_pointer(buf, off + AT)[0]
            i = 1 if ptr else 0
        elif result:
            i = 0 if buf[off + AT] else 1
            ptr = _unpack_pointer(buf, off + AT + 8)[0]
        else:
            tag = _name(buf, off + AT)
            i = next(k for k, (name, _) in enumerate(readers) if name == tag)
            ptr = _unpack_pointer(buf, off + AT + NAME)[0]
        name, r = readers[i]
        payload = r(_view(ptr, SIZE), 0, ptr) if r is not None and ptr else None
        return cm.Variant(name, payload) if tagged else payload
    return read_variant


def reader(ty: Any, owned: bool = True) -> Reader:
    """The reader of a value of ``ty`` into wasmtime-py's form; ``owned``: the value is ours
    once read (a result; not a host function's argument, nor a nested value): it is deleted
    and its slot zeroed (a ``bool`` again), for wasmtime drops what a result slot holds
    before it writes the next result there."""
    t = type(ty)
    if t in NUMBERS:
        return _number_reader(NUMBERS[t][1])
    if t is cm.Char:
        return _char_reader()
    if t is cm.String:
        read = _string_reader()
    elif isinstance(ty, cm.ListType) and type(ty.element) in NUMBERS:
        read = _list_reader(type(ty.element))
    elif not capable(ty):
        generic = _generic_reader(ty)
        if not owned:
            return generic

        def read_generic(buf: Any, off: int, addr: int) -> Any:
            try:  # (wasmtime-py's converter deletes what it read, and leaves the slot as is)
                return generic(buf, off, addr)
            finally:
                ctypes.memset(addr, 0, SIZE)
        return read_generic
    else:
        read = _composite_reader(ty)
    if not owned:
        return read
    delete = c().delete

    def read_owned(buf: Any, off: int, addr: int) -> Any:
        try:
            return read(buf, off, addr)
        finally:
            delete(addr)
            ctypes.memset(addr, 0, SIZE)
    return read_owned


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
    """The argument and result values of one function's calls on one instance (reused: an
    instance runs one call at a time), and its call: the C function with every argument bound
    (``call()``; see :func:`bound`)."""

    __slots__ = ("addr", "call", "mv", "raddr", "vals")

    def __init__(self, plan: Plan, func_addr: int, ctx_addr: int) -> None:
        n = plan.n
        val_t = c().val_t
        self.vals = (val_t * (n + 1))()  # (the last one: the result)
        self.addr = ctypes.addressof(self.vals)
        self.mv = memoryview(self.vals).cast("B")
        self.raddr = self.addr + n * SIZE
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
            ctypes.memset(addr, 0, SIZE)
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
