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
import math
import operator
import reprlib
from collections.abc import Callable
from typing import Any

import numpy as np

from .manifest import FunctionSpec, ReturnType

INT_RANGES = {
    "i32": (-(2**31), 2**31 - 1),
    "u32": (0, 2**32 - 1),
    "i64": (-(2**63), 2**63 - 1),
    "u64": (0, 2**64 - 1),
}
# the values a raw i32 / i64 (a wasm integer, no sign) may take: signed or unsigned
RAW_INT_RANGES = {"i32": (-(1 << 31), (1 << 32) - 1), "i64": (-(1 << 63), (1 << 64) - 1)}
DTYPES = {"f64": np.dtype(np.float64), "f32": np.dtype(np.float32), "i64": np.dtype(np.int64),
          "u32": np.dtype(np.uint32), "u8": np.dtype(np.uint8)}
# The range of each integer element type of the arrays.
ELEM_RANGES = {e: (int(np.iinfo(d).min), int(np.iinfo(d).max))
               for e, d in DTYPES.items() if d.kind in "iu"}
_NUMERIC_KINDS = frozenset("biuf")


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


def _bound(v: float, lo: int, hi: int) -> str:
    """The bound an out-of-range ``v`` breaks: ``>= lo`` or ``<= hi``."""
    return f">= {lo}" if v < lo else f"<= {hi}"


def int_range_error(v: int, func: str, param: str, lo: int, hi: int) -> ValueError:
    return ValueError(f"{func}(): parameter '{param}' must be {_bound(v, lo, hi)}, got {v}")


def as_float(v: object, func: str, param: str) -> float:
    """A float argument: a real number (int, float, numpy scalar, ``__float__``), not a str."""
    if isinstance(v, (str, bytes, bytearray, complex)) or not hasattr(v, "__float__"):
        raise TypeError(f"{func}(): parameter '{param}' must be a real number, "
                        f"got {_type_name(v)}")
    return float(v)  # type: ignore[arg-type]


def as_bool(v: object, func: str, param: str) -> bool:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    raise TypeError(f"{func}(): parameter '{param}' must be a bool, got {_type_name(v)}")


def as_array(v: object, elem: str, func: str, param: str, ndim: int = 1) -> np.ndarray:
    """A C-contiguous, aligned array of the element type with ``ndim`` dimensions (1 or 2):
    any buffer-protocol object or (nested) sequence of numbers; other dtypes and strides are
    converted (copied). For 1-D, a single number is an array of one element. An integer
    element type takes only integer values in its range (see :func:`_exact_ints`)."""
    dtype = DTYPES[elem]
    if type(v) is np.ndarray and v.dtype == dtype and v.ndim == ndim and v.flags.c_contiguous \
            and v.flags.aligned:
        return v
    what = "a 1-D array or sequence of numbers" if ndim == 1 else "a 2-D array of numbers"
    if isinstance(v, (str, bytes, bytearray, dict, set)) or v is None:
        raise TypeError(f"{func}(): parameter '{param}' must be {what}, got {_type_name(v)}")
    try:
        a = np.asarray(v)
        if a.ndim == 0 and (ndim != 1 or a.dtype.kind not in _NUMERIC_KINDS):
            raise TypeError(f"{func}(): parameter '{param}' must be {what}, "
                            f"got {_type_name(v)}")
        if a.ndim == 0:
            a = a.reshape(1)
        if a.dtype.kind not in _NUMERIC_KINDS:
            if a.dtype.kind != "O":
                raise TypeError(f"dtype {a.dtype} is not numeric")
            if dtype.kind == "f":
                a = np.asarray(v, dtype=dtype)
    except (TypeError, ValueError) as e:
        if str(e).startswith(f"{func}():"):
            raise
        raise TypeError(f"{func}(): parameter '{param}' must be {what} ({e})") from None
    if a.ndim != ndim:
        raise ValueError(f"{func}(): parameter '{param}' must be {ndim}-D, got a {a.ndim}-D "
                         f"array of shape {a.shape}")
    if dtype.kind != "f":
        a = _exact_ints(a, v, elem, func, param)
    if a.dtype != dtype:
        return a.astype(dtype, order="C")  # a new array: contiguous, aligned
    return np.require(a, requirements=("C", "A"))


# float64 holds every integer up to 2**53 exactly; a float array made from Python numbers may
# have rounded larger ones
_FLOAT_EXACT = 2**53


def _exact_ints(a: np.ndarray, v: object, elem: str, func: str, param: str) -> np.ndarray:
    """``a`` (``v`` made an array) once every element is known to be an integer in the range
    of the integer element type ``elem``, so that the cast to it changes no value.

    Integer and bool arrays are range-checked; float arrays must hold whole finite numbers in
    range; object arrays (Python ints beyond 64 bits, objects with ``__index__``, mixed
    lists) are checked element by element, exactly. A non-integer element is a TypeError, an
    integer out of range a ValueError (type errors first, as for scalars); each names the
    first offending index and value."""
    lo, hi = ELEM_RANGES[elem]
    kind = a.dtype.kind
    if kind in "iu":
        fits = _fits(a.dtype, elem)
        if fits is not None and a.size and not fits(a):
            raise _elem_error(ValueError, a, (a < lo) | (a > hi), func, param, lo, hi)
    elif kind == "f":
        whole = np.isfinite(a) & (np.trunc(a) == a)
        # lo and hi + 1 are 0 or powers of two: exact in every float type
        in_range = (a >= np.float64(lo)) & (a < np.float64(hi + 1))
        ok = bool((whole & in_range).all())
        if isinstance(v, (list, tuple)) and (hi > _FLOAT_EXACT or not ok):
            # numpy made floats of Python numbers: check them as they were given (it may
            # have rounded large ints, and a message shows the value given)
            return _object_ints(np.asarray(v, dtype=object).reshape(a.shape), elem, func, param)
        if not ok:
            bad, exc = (~whole, TypeError) if not whole.all() else (~in_range, ValueError)
            raise _elem_error(exc, a, bad, func, param, lo, hi)
    elif kind == "O":
        return _object_ints(a, elem, func, param)
    return a


@functools.cache
def _fits(src: np.dtype, elem: str) -> Callable[[np.ndarray], bool] | None:
    """For integer dtype ``src``: None when every value of it fits ``elem``, else a check that
    all of an array's values do, with one reduction."""
    lo, hi = ELEM_RANGES[elem]
    info = np.iinfo(src)
    low, high = info.min < lo, info.max > hi
    # (reducing a.ravel() and comparing Python ints is quicker on small arrays than axis=None
    # and numpy scalars)
    if low and high:
        # a signed type wider than the unsigned elem: seen as unsigned, negatives are too large
        unsigned = np.dtype(src.str.replace("i", "u"))
        assert lo == 0 and np.iinfo(unsigned).max // 2 > hi
        return lambda a: int(_MAX(a.ravel().view(unsigned))) <= hi
    if low:
        return lambda a: int(_MIN(a.ravel())) >= lo
    if high:
        return lambda a: int(_MAX(a.ravel())) <= hi
    return None


_MAX, _MIN = np.maximum.reduce, np.minimum.reduce


def _object_ints(a: np.ndarray, elem: str, func: str, param: str) -> np.ndarray:
    """An object array's elements as ``elem`` integers, each checked exactly: a bool, anything
    with ``__index__``, or a whole finite float."""
    lo, hi = ELEM_RANGES[elem]
    out = np.empty(a.shape, dtype=DTYPES[elem])
    out_of_range = None
    for i, x in np.ndenumerate(a):
        if isinstance(x, (float, np.floating)):
            n = int(x) if math.isfinite(x) and float(x).is_integer() else None
        elif isinstance(x, (bool, np.bool_)):
            n = int(x)
        else:
            try:
                n = operator.index(x)
            except TypeError:
                n = None
        if n is None:
            raise _elem_error(TypeError, a, i, func, param, lo, hi)
        if lo <= n <= hi:
            out[i] = n
        elif out_of_range is None:
            out_of_range = i
    if out_of_range is not None:
        raise _elem_error(ValueError, a, out_of_range, func, param, lo, hi)
    return out


def _elem_error(exc: type[Exception], a: np.ndarray, where: np.ndarray | tuple[int, ...],
                func: str, param: str, lo: int, hi: int) -> Exception:
    """The error for the first element of ``a`` that ``where`` marks (a bool mask, or the
    index itself): TypeError 'must hold integers' or ValueError 'must hold integers >= lo'
    (or '<= hi'), with the element's index and value."""
    if isinstance(where, np.ndarray):
        where = tuple(int(i) for i in np.unravel_index(np.flatnonzero(where)[0], a.shape))
    x = a[where]
    value: float | None = None
    if isinstance(x, (float, np.floating)):
        value = float(x)
        text = repr(value)
    else:
        try:
            value = operator.index(x)
            text = str(value)
        except TypeError:
            text = f"{reprlib.repr(x)} ({_type_name(x)})"
    need = "" if value is None or exc is TypeError else " " + _bound(value, lo, hi)
    at = where[0] if len(where) == 1 else where
    return exc(f"{func}(): parameter '{param}' must hold integers{need}, got {text} "
               f"at index {at}")


def as_inout_array(v: object, elem: str, func: str, param: str) -> np.ndarray:
    """An array the kernel writes in place: must already be a writable C-contiguous 1-D
    ndarray of the exact element type (a converted copy would silently lose the writes; and
    an array of the exact type can only hold values of that type)."""
    dtype = DTYPES[elem]
    if not isinstance(v, np.ndarray) or v.dtype != dtype or not v.flags.c_contiguous \
            or not v.flags.writeable or not v.flags.aligned:
        raise TypeError(f"{func}(): parameter '{param}' is written in place and must be a "
                        f"writable C-contiguous numpy array of dtype {dtype}, got "
                        + (f"array of dtype {v.dtype}" + ("" if v.flags.c_contiguous
                                                            else ", non-contiguous")
                           + ("" if v.flags.writeable else ", read-only")
                           if isinstance(v, np.ndarray) else _type_name(v)))
    if v.ndim != 1:
        raise ValueError(f"{func}(): parameter '{param}' must be 1-D, got a {v.ndim}-D array")
    return v


def as_bytes(v: object, func: str, param: str) -> np.ndarray:
    """A bytes-like argument (any buffer-protocol object), as a uint8 array (no copy when the
    buffer is contiguous). ``str`` is refused, as hashlib does."""
    if type(v) is bytes:
        return np.frombuffer(v, dtype=np.uint8)
    if isinstance(v, str):
        raise TypeError(f"{func}(): parameter '{param}' must be bytes-like, got str "
                        "(encode it first)")
    try:
        m = memoryview(v)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{func}(): parameter '{param}' must be bytes-like, "
                        f"got {_type_name(v)}") from None
    if not m.c_contiguous:
        return np.frombuffer(m.tobytes(), dtype=np.uint8)
    return np.frombuffer(m.cast("B") if m.format != "B" or m.ndim != 1 else m, dtype=np.uint8)


def as_str(v: object, func: str, param: str) -> np.ndarray:
    if not isinstance(v, str):
        raise TypeError(f"{func}(): parameter '{param}' must be a str, got {_type_name(v)}")
    return np.frombuffer(v.encode("utf-8"), dtype=np.uint8)


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


def arg_list(spec: FunctionSpec) -> str:
    """The parameter names of a callable, comma-separated (its forwarding calls)."""
    return ", ".join(p.name for p in spec.params)


def def_list(spec: FunctionSpec) -> str:
    """The parameters of a callable's def line, defaults included (as ``_w_default_<name>``
    closure variables, see :func:`build`)."""
    return ", ".join(f"{p.name}=_w_default_{p.name}" if p.has_default else p.name
                     for p in spec.params)


def owned_result(ret: ReturnType, array: str) -> str:
    """Source turning ``array`` (an owned buffer copied out of the module) into the Python
    result: bytes for ``bytes``, str for ``str``, else the numpy array itself (matrices come
    back already shaped)."""
    if ret.kind == "str":
        return f"{array}.tobytes().decode()"
    return f"{array}.tobytes()" if ret.name == "bytes" else array


def check_int(v: object, scalar: str, func: str, param: str) -> int:
    """The full check of an integer argument: a TypeError or ValueError naming the parameter."""
    v = as_int(v, func, param)
    lo, hi = INT_RANGES[scalar]
    if not lo <= v <= hi:
        raise int_range_error(v, func, param, lo, hi)
    return v


def prologue(spec: FunctionSpec, ints: bool = True) -> list[str]:
    """Source lines that check and convert each parameter in place. With ``ints=False``
    integer parameters are left to the caller's body (the wasm backend writes them through
    a memoryview, whose own checks accept and refuse exactly what :func:`check_int` does, and
    calls :func:`check_int` only to word the error)."""
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
            lines.append(f"{n} = _w_as_bytes({n}, {f!r}, {n!r})")
        elif t.kind == "str":
            lines.append(f"{n} = _w_as_str({n}, {f!r}, {n!r})")
        else:
            raise NotImplementedError(f"{f}(): parameter type {t.name} is not supported yet")
    # A buffer written in place must not overlap another buffer argument (Rust's &mut
    # aliasing rule, and zero-copy arrays go to the kernel as they are): copy the other one.
    arrays = [p.name for p in spec.params if p.type.kind in ("buffer", "matrix", "bytes")]
    for p in spec.params:
        if p.type.kind == "buffer" and p.type.inout:
            lines += [f"if _w_may_share({q}, {p.name}): {q} = {q}.copy()"
                      for q in arrays if q != p.name]
    return lines


_HELPERS = {"_w_may_share": np.may_share_memory, "_w_check_int": check_int, "_w_as_int": as_int,
            "_w_int_range_error": int_range_error, "_w_as_float": as_float,
            "_w_as_bool": as_bool, "_w_as_array": as_array,
            "_w_as_inout_array": as_inout_array, "_w_as_bytes": as_bytes, "_w_as_str": as_str,
            "_w_raw_int": raw_int, "_w_raw_float": raw_float}


def build(spec: FunctionSpec, body: list[str], env: dict[str, Any],
          rebind: tuple[str, ...] = (), ints: bool = True, head: list[str] | None = None,
          ) -> tuple[Callable[..., Any], Callable[..., None]]:
    """Compiles ``def name(params): <head> <checks> <body>`` as a closure over ``env``.

    Names in ``rebind`` can later be replaced with the returned ``rebind(**values)`` function
    (the wasm backend swaps its instance this way after a trap); reading them costs no more
    than reading any other closure variable.
    """
    env = {**_HELPERS, **env}
    env.update({f"_w_default_{p.name}": p.default for p in spec.params if p.has_default})
    names = sorted(env)
    lines = ["    " + line for line in (head or []) + prologue(spec, ints) + body]
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
    # imported on first use: wasmcore.build is the author toolchain, not loaded by `import wasmcore`
    from ..build.stubs import param_annotation, return_annotation

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
