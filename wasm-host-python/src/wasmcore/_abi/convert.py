"""Argument conversion and the code generator for typed callables.

Every backend builds its callables here from a :class:`FunctionSpec`: the same checks, the same
messages, the same ``__doc__`` and ``inspect.signature``. A backend supplies only the body that
performs the call. Callables are compiled from generated source so a call does no per-call
type dispatch: the checks for each parameter are inlined, with fast paths for the common types.
"""

from __future__ import annotations

import functools
import inspect
import keyword
import operator
import struct
from collections.abc import Callable
from typing import Any

from . import arrays
from .arrays import bound
from .manifest import FunctionSpec, ReturnType

# Array arguments: numpy's conversions when numpy is installed (numpy arrays pass as they are),
# else the buffer protocol's (array.array and memoryview pass as they are); see arrays.py.
if arrays.np is not None:
    from .ndarray import (  # (DTYPES: the element types' numpy dtypes)
        DTYPES,  # noqa: F401
        as_array,
        as_bytes,
        as_inout_array,
        as_str,
        copy,
        may_share,
    )
else:
    from .arrays import as_array, as_bytes, as_inout_array, as_str, copy, may_share

INT_RANGES = {
    "i32": (-(2**31), 2**31 - 1),
    "u32": (0, 2**32 - 1),
    "i64": (-(2**63), 2**63 - 1),
    "u64": (0, 2**64 - 1),
}
# the values a raw i32 / i64 (a wasm integer, no sign) may take: signed or unsigned
RAW_INT_RANGES = {"i32": (-(1 << 31), (1 << 32) - 1), "i64": (-(1 << 63), (1 << 64) - 1)}


def _type_name(v: object) -> str:
    return type(v).__name__


def as_int(v: object, func: str, param: str) -> int:
    """An integer argument (anything with ``__index__``; not bool-like floats)."""
    if isinstance(v, bool):
        return int(v)
    try:
        return operator.index(v)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{func}(): parameter '{param}' must be an int, "
                        f"got {_type_name(v)}") from None


def int_range_error(v: int, func: str, param: str, lo: int, hi: int) -> ValueError:
    return ValueError(f"{func}(): parameter '{param}' must be {bound(v, lo, hi)}, got {v}")


def as_float(v: object, func: str, param: str) -> float:
    """A float argument: a real number (int, float, numpy scalar, ``__float__``), not a str."""
    if isinstance(v, (str, bytes, bytearray, complex)) or not hasattr(v, "__float__"):
        raise TypeError(f"{func}(): parameter '{param}' must be a real number, "
                        f"got {_type_name(v)}")
    return float(v)  # type: ignore[arg-type]


def as_bool(v: object, func: str, param: str) -> bool:
    if isinstance(v, arrays.BOOLS):
        return bool(v)
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    raise TypeError(f"{func}(): parameter '{param}' must be a bool, got {_type_name(v)}")


def raw_int(v: object, t: str, func: str, k: int) -> int:
    """Raw argument ``k`` (1-based) of wasm type ``t`` (i32 or i64): an int, not a bool, in
    the signed or the unsigned range; returned as the signed value wasm gets."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{func}(): argument {k} ({t}) must be an int, got {_type_name(v)}")
    lo, hi = RAW_INT_RANGES[t]
    if not lo <= v <= hi:
        raise ValueError(f"{func}(): argument {k} ({t}) is out of range: {v}")
    return signed(v, t)


def signed(v: int, t: str) -> int:
    """An int in the signed or unsigned range of ``t`` (i32 or i64) as the signed value."""
    half = (RAW_INT_RANGES[t][1] + 1) // 2
    return int(v) - 2 * half if v >= half else int(v)


def raw_float(v: object, t: str, func: str, k: int) -> float:
    """Raw argument ``k`` (1-based) of wasm type ``t`` (f32 or f64): an int or a float, not a
    bool."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"{func}(): argument {k} ({t}) must be a number, got {_type_name(v)}")
    try:
        return float(v)
    except OverflowError:
        raise ValueError(f"{func}(): argument {k} ({t}) is out of range: {v}") from None


# f32 values carry their bits. A Python float holds every f32 exactly (an f32 NaN as the f64
# NaN of the same sign with the f32's payload in its top bits), but C's float <-> double casts,
# which a typed memoryview ('f') makes, set the quiet bit of a signalling NaN. So the generated
# code reads and writes f32 through the view and, for a NaN only, the bits through these two.
_F64, _U64 = struct.Struct("<d"), struct.Struct("<Q")


def f32_nan_bits(x: float) -> int:
    """The f32 bits of NaN ``x``: its sign and the top 23 bits of its payload (as they are: a
    signalling NaN stays one). A payload with none of them set, which no f32 NaN has, gives the
    quiet bit alone, as a cast would."""
    b = int(_U64.unpack(_F64.pack(float(x)))[0])
    return (b >> 32 & 0x8000_0000) | 0x7F80_0000 | ((b >> 29) & 0x7F_FFFF or 0x40_0000)


def f32_nan(bits: int) -> float:
    """The float of f32 NaN ``bits``: the same sign and payload (a signalling NaN stays one)."""
    return float(_F64.unpack(_U64.pack((bits & 0x8000_0000) << 32 | 0x7FF << 52
                                       | (bits & 0x7F_FFFF) << 29))[0])


def f32_read(view: str, bits: str, at: int, tmp: str) -> str:
    """Source of an expression: the f32 at element ``at`` of the typed memoryview named
    ``view`` ('f'), read from ``bits``, the same memory as 'I', when it is a NaN. ``tmp``: a
    local name the expression may assign."""
    return f"({tmp} if ({tmp} := {view}[{at}]) == {tmp} else _w_f32_nan({bits}[{at}]))"


def f32_write(view: str, bits: str, at: int, value: str) -> list[str]:
    """Source lines storing the number named ``value`` as the f32 at element ``at`` of
    ``view`` ('f'; a NaN's bits through ``bits``, the same memory as 'I')."""
    return [f"{view}[{at}] = {value}",
            f"if {value} != {value}: {bits}[{at}] = _w_f32_nan_bits({value})"]


def arg_list(spec: FunctionSpec) -> str:
    """The parameter names of a callable, comma-separated (its forwarding calls)."""
    return ", ".join(p.name for p in spec.params)


def def_list(spec: FunctionSpec) -> str:
    """The parameters of a callable's def line, defaults included (as ``_w_default_<name>``
    closure variables, see :func:`build`)."""
    return ", ".join(f"{p.name}=_w_default_{p.name}" if p.has_default else p.name
                     for p in spec.params)


def owned_result(ret: ReturnType) -> Callable[[Any, Any], Any]:
    """The maker of an owned result (a buffer in the module's memory) from its bytes and, for
    a matrix, its shape: bytes for ``bytes``, str for ``str``, else an array
    (:func:`wasmcore._abi.arrays.result`). It copies the bytes once, before the buffer is
    freed."""
    if ret.kind == "str":
        return _decode
    if ret.name == "bytes":
        return _bytes
    assert ret.elem is not None
    return functools.partial(arrays.result, ret.elem)


def _decode(data: Any, shape: Any) -> str:
    return str(data, "utf-8")


def _bytes(data: Any, shape: Any) -> bytes:
    return bytes(data)


def check_int(v: object, scalar: str, func: str, param: str) -> int:
    """The full check of an integer argument: a TypeError or ValueError naming the parameter."""
    v = as_int(v, func, param)
    lo, hi = INT_RANGES[scalar]
    if not lo <= v <= hi:
        raise int_range_error(v, func, param, lo, hi)
    return v


def prologue(spec: FunctionSpec, ints: bool = True, copies: bool = False) -> list[str]:
    """Source lines that check and convert each parameter in place. With ``ints=False``
    integer parameters are left to the caller's body (the wasm backend writes them through
    a memoryview, whose own checks accept and refuse exactly what :func:`check_int` does, and
    calls :func:`check_int` only to word the error). With ``copies`` (a backend that copies
    buffer arguments into the module's memory, :meth:`~wasmcore._backends.scratch.ScratchArea.
    place`), a ``bytes`` argument stays as it is and a ``str`` becomes its UTF-8 ``bytes``:
    no array is made around them."""
    f = spec.label
    lines = []
    for k, p in enumerate(spec.params, 1):
        n, t = p.name, p.type
        if t.kind == "raw":  # a wasm value type as it is (a plugin export without a manifest)
            cls, check = ("int", "_w_raw_int") if t.name in RAW_INT_RANGES \
                else ("float", "_w_raw_float")
            lines.append(f"if {n}.__class__ is not {cls}: {n} = {check}({n}, {t.name!r}, "
                         f"{f!r}, {k})")
            continue
        if t.kind == "scalar" and t.scalar in INT_RANGES and not ints:
            continue
        if t.kind == "scalar" and t.scalar in INT_RANGES:
            lo, hi = INT_RANGES[t.scalar]
            lines += [f"if {n}.__class__ is not int: {n} = _w_as_int({n}, {f!r}, {n!r})",
                      f"if not {lo} <= {n} <= {hi}: "
                      f"raise _w_int_range_error({n}, {f!r}, {n!r}, {lo}, {hi})"]
        elif t.kind == "scalar" and t.scalar in ("f32", "f64"):
            lines.append(f"if {n}.__class__ is not float: {n} = _w_as_float({n}, {f!r}, {n!r})")
        elif t.kind == "scalar":
            lines.append(f"{n} = _w_as_bool({n}, {f!r}, {n!r})")
        elif t.kind == "buffer" and t.inout:
            lines.append(f"{n} = _w_as_inout_array({n}, {t.elem!r}, {f!r}, {n!r})")
        elif t.kind == "buffer":
            lines.append(f"{n} = _w_as_array({n}, {t.elem!r}, {f!r}, {n!r})")
        elif t.kind == "matrix":
            lines.append(f"{n} = _w_as_array({n}, {t.elem!r}, {f!r}, {n!r}, 2)")
        elif t.kind == "handle":
            pass  # passed by the class wrappers, never by users
        elif t.kind == "bytes":
            lines.append(("" if not copies else f"if {n}.__class__ is not bytes: ")
                         + f"{n} = _w_as_bytes({n}, {f!r}, {n!r})")
        elif t.kind == "str":
            lines.append(f"{n} = {'_w_utf8' if copies else '_w_as_str'}({n}, {f!r}, {n!r})")
        else:
            raise NotImplementedError(f"{f}(): parameter type {t.name} is not supported yet")
    # A buffer written in place must not overlap another buffer argument (Rust's &mut
    # aliasing rule, and zero-copy arrays go to the kernel as they are): copy the other one.
    buffers = [p.name for p in spec.params if p.type.kind in ("buffer", "matrix", "bytes")]
    for p in spec.params:
        if p.type.kind == "buffer" and p.type.inout:
            lines += [f"if _w_may_share({q}, {p.name}): {q} = _w_copy({q})"
                      for q in buffers if q != p.name]
    return lines


_HELPERS = {"_w_may_share": may_share, "_w_copy": copy, "_w_check_int": check_int,
            "_w_as_int": as_int,
            "_w_int_range_error": int_range_error, "_w_as_float": as_float,
            "_w_as_bool": as_bool, "_w_as_array": as_array,
            "_w_as_inout_array": as_inout_array, "_w_as_bytes": as_bytes, "_w_as_str": as_str,
            "_w_utf8": arrays.as_str,
            "_w_raw_int": raw_int, "_w_raw_float": raw_float,
            "_w_f32_nan": f32_nan, "_w_f32_nan_bits": f32_nan_bits}


def build(spec: FunctionSpec, body: list[str], env: dict[str, Any],
          rebind: tuple[str, ...] = (), ints: bool = True, head: list[str] | None = None,
          copies: bool = False) -> tuple[Callable[..., Any], Callable[..., None]]:
    """Compiles ``def name(params): <head> <checks> <body>`` as a closure over ``env``.

    Names in ``rebind`` can later be replaced with the returned ``rebind(**values)`` function
    (the wasm backend swaps its instance this way after a trap); reading them costs no more
    than reading any other closure variable. ``ints`` and ``copies``: see :func:`prologue`.
    """
    env = {**_HELPERS, **env}
    env.update({f"_w_default_{p.name}": p.default for p in spec.params if p.has_default})
    names = sorted(env)
    lines = ["    " + line for line in (head or []) + prologue(spec, ints, copies) + body]
    params = def_list(spec)
    # an export's name, unless it is no Python name (a plugin's exports may be called anything)
    name = spec.name if spec.name.isidentifier() and not keyword.iskeyword(spec.name) \
        else "_w_export"
    inner = [f"def {name}({params}):", *lines]
    # the same function with a leading positional-only parameter, which it ignores: the
    # function of a bound method (wasmcore._pickle.bind), over the same closure (a rebind
    # changes both). Not for the methods of exported classes (their objects call them).
    twin = not any(p.type.kind == "handle" for p in spec.params)
    if twin:
        inner += [f"def _w_method(_w_self, /{', ' if params else ''}{params}):", *lines]
    inner += ["def _w_rebind(**_w_new):"]
    if rebind:
        inner += [f"    nonlocal {', '.join(rebind)}"]
        inner += [f"    {r} = _w_new.pop({r!r}, {r})" for r in rebind]
    inner += ["    assert not _w_new, _w_new"]
    src = "\n".join([f"def _w_make({', '.join(names)}):"] + ["    " + line for line in inner]
                    + [f"    return {name}, {'_w_method' if twin else 'None'}, _w_rebind"])
    ns: dict[str, Any] = {}
    exec(_compile(src, name), ns)
    fn, method, rb = ns["_w_make"](**{k: env[k] for k in names})
    sig = signature(spec)
    for f in (fn, method) if twin else (fn,):
        f.__doc__ = spec.doc or None
        f.__module__ = "wasmcore"
        f.__qualname__ = spec.label
        f.__name__ = spec.label.rpartition(".")[2]
        f.__signature__ = sig
    if twin:
        method.__signature__ = sig.replace(parameters=[
            inspect.Parameter("_w_self", inspect.Parameter.POSITIONAL_ONLY),
            *sig.parameters.values()])
        fn._w_method = method  # type: ignore[attr-defined]
    return fn, rb


@functools.lru_cache(maxsize=1024)
def _compile(src: str, name: str) -> Any:
    """The code of a generated callable's source. The source names only closure variables, so
    every instance, thread and load of the same function reuses one compilation."""
    return compile(src, f"<wasmcore {name}>", "exec")


def signature(spec: FunctionSpec) -> inspect.Signature:
    """``inspect.signature`` of a callable: parameter names and Python types, the annotations
    of the ``.pyi`` stubs (as strings, as under ``from __future__ import annotations``)."""
    from .annotations import param_annotation, return_annotation  # (it imports this module)

    params = [inspect.Parameter(p.name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                default=p.default if p.has_default else inspect.Parameter.empty,
                                annotation=_raw_annotation((p.type.name,)) if p.type.kind == "raw"
                                else param_annotation(p.type))
              for p in spec.params if p.type.kind != "handle"]
    if spec.returns.kind == "raw":
        returns = _raw_annotation(spec.signature()[1])
    else:
        owner = spec.label.rpartition(".")[0] or None  # the class of a method
        returns = return_annotation(spec.returns, owner)
    return inspect.Signature(params, return_annotation=returns)


def _raw_annotation(types: tuple[str, ...]) -> str:
    """The annotation of raw wasm values: None, int or float, or a tuple of them."""
    names = ["int" if t in RAW_INT_RANGES else "float" for t in types]
    if not names:
        return "None"
    return names[0] if len(names) == 1 else f"tuple[{', '.join(names)}]"
