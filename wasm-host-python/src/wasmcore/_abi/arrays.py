"""Arrays over the buffer protocol, with or without numpy.

Every backend moves arrays through here: an argument's bytes go into the module's memory as a
``memoryview`` (:func:`byte_view`), and a result comes out of it as one copy (:func:`result`):
a numpy array when numpy is installed, else an ``array.array`` of the element's typecode (a 2-D
result: a ``memoryview`` of shape ``(rows, columns)`` over one). So one marshalling path serves
both, and numpy is optional: where it cannot be had (Pyodide without its numpy package) the
conversions of this module take its place (:func:`as_array` and friends); with numpy, those of
:mod:`wasmcore._abi.ndarray` (numpy arrays as they are, numpy's conversions). Both keep one
rule for integer arrays (:func:`exact_ints`, docs/arguments.md) and word its errors alike
(:func:`elem_error`).
"""

from __future__ import annotations

import array
import math
import operator
import reprlib
from collections.abc import Iterable, Sequence
from typing import Any

from .manifest import ELEMS

try:
    import numpy as np
except ImportError:  # Pyodide without numpy: array.array in, array.array out
    np = None

# element type -> array.array typecode (also the struct format of its buffers)
TYPECODES = {"f64": "d", "f32": "f", "i64": "q", "u32": "I", "u8": "B"}
# element type -> numpy dtype name
DTYPE_NAMES = {"f64": "float64", "f32": "float32", "i64": "int64", "u32": "uint32",
               "u8": "uint8"}
# The range of each integer element type of the arrays.
ELEM_RANGES = {"i64": (-(2**63), 2**63 - 1), "u32": (0, 2**32 - 1), "u8": (0, 2**8 - 1)}
assert all(array.array(TYPECODES[e]).itemsize == size for e, size in ELEMS.items())

FLOATS: tuple[type, ...] = (float, np.floating) if np is not None else (float,)
BOOLS: tuple[type, ...] = (bool, np.bool_) if np is not None else (bool,)


def _type_name(v: object) -> str:
    return type(v).__name__


# -- the integer rule, shared with the numpy conversions ------------------------------------

def bound(v: float, lo: int, hi: int) -> str:
    """The bound an out-of-range ``v`` breaks: ``>= lo`` or ``<= hi``."""
    return f">= {lo}" if v < lo else f"<= {hi}"


def elem_error(exc: type[Exception], x: object, at: int | tuple[int, ...], func: str,
               param: str, lo: int, hi: int) -> Exception:
    """The error for element ``x`` at index ``at`` of an integer array: TypeError 'must hold
    integers' or ValueError 'must hold integers >= lo' (or '<= hi'), with its index and value."""
    value: float | None = None
    if isinstance(x, FLOATS):
        value = float(x)  # type: ignore[arg-type]
        text = repr(value)
    else:
        try:
            value = operator.index(x)  # type: ignore[arg-type]
            text = str(value)
        except TypeError:
            text = f"{reprlib.repr(x)} ({_type_name(x)})"
    need = "" if value is None or exc is TypeError else " " + bound(value, lo, hi)
    if isinstance(at, tuple) and len(at) == 1:
        at = at[0]
    return exc(f"{func}(): parameter '{param}' must hold integers{need}, got {text} "
               f"at index {at}")


def unravel(i: int, shape: Sequence[int]) -> tuple[int, ...]:
    """The index of flat (row-major) element ``i`` in an array of ``shape``."""
    out = []
    for n in reversed(shape):
        i, r = divmod(i, n) if n else (i, 0)
        out.append(r)
    return tuple(reversed(out))


def exact_ints(items: Iterable[object], elem: str, func: str, param: str,
               shape: Sequence[int]) -> list[int]:
    """The elements (flat, row-major, of an array of ``shape``) as ``elem`` integers, each
    checked exactly: a bool, anything with ``__index__``, or a whole finite float. The first
    non-integer is a TypeError; else the first integer out of range a ValueError."""
    lo, hi = ELEM_RANGES[elem]
    out: list[int] = []
    out_of_range = None
    for i, x in enumerate(items):
        n: int | None
        if isinstance(x, FLOATS):
            f = float(x)  # type: ignore[arg-type]
            n = int(f) if math.isfinite(f) and f.is_integer() else None
        elif isinstance(x, BOOLS):
            n = int(x)  # type: ignore[call-overload]
        else:
            try:
                n = operator.index(x)  # type: ignore[arg-type]
            except TypeError:
                n = None
        if n is None:
            raise elem_error(TypeError, x, unravel(i, shape), func, param, lo, hi)
        if out_of_range is None and not lo <= n <= hi:
            out_of_range = (i, x)
        out.append(n)
    if out_of_range is not None:
        i, x = out_of_range
        raise elem_error(ValueError, x, unravel(i, shape), func, param, lo, hi)
    return out


# -- the marshalling: arguments in, results out (numpy or not) ------------------------------

class Matrix:
    """A 2-D array argument converted without numpy: its elements (a 1-D ``array.array`` or
    ``memoryview``, row-major) and its shape (a ``memoryview`` of that shape cannot have a
    dimension of 0)."""

    __slots__ = ("data", "shape")

    def __init__(self, data: Any, shape: tuple[int, int]) -> None:
        self.data = data
        self.shape = shape

    def tolist(self) -> list[list[Any]]:
        """The rows, as lists."""
        flat, n = self.data.tolist(), self.shape[1]
        return [flat[i * n:(i + 1) * n] for i in range(self.shape[0])]


def byte_view(a: Any) -> memoryview:
    """The bytes of a converted argument (a C-contiguous numpy array, ``array.array``,
    ``memoryview``, ``bytes`` or :class:`Matrix`), as a 1-D unsigned-byte view."""
    m = memoryview(a.data if a.__class__ is Matrix else a)
    # (a view with a dimension of 0 cannot be cast)
    return m.cast("B") if m.nbytes else memoryview(bytearray())


if np is not None:
    _DTYPES = {e: np.dtype(name) for e, name in DTYPE_NAMES.items()}

    def result(elem: str, data: Any, shape: tuple[int, int] | None = None) -> Any:
        """An array result from its bytes (``data``, any buffer; copied once): a numpy array
        of the element's dtype, of ``shape`` when given."""
        out = np.frombuffer(data, _DTYPES[elem]).copy()  # (dtype positional: faster)
        return out if shape is None else out.reshape(shape)

    def from_values(elem: str, values: Iterable[Any], shape: tuple[int, int] | None = None
                    ) -> Any:
        """An array result from Python numbers (the reference kernels')."""
        out = np.array(values if isinstance(values, list) else list(values), dtype=_DTYPES[elem])
        return out if shape is None else out.reshape(shape)
else:
    def result(elem: str, data: Any, shape: tuple[int, int] | None = None) -> Any:
        """An array result from its bytes (``data``, any buffer; copied once): an
        ``array.array`` of the element's typecode; for ``shape``, a ``memoryview`` of that
        shape over one (an empty 1-D one when a dimension is 0)."""
        out = array.array(TYPECODES[elem])
        out.frombytes(data)
        return out if shape is None else _shaped(out, shape)

    def from_values(elem: str, values: Iterable[Any], shape: tuple[int, int] | None = None
                    ) -> Any:
        """An array result from Python numbers (the reference kernels')."""
        out = array.array(TYPECODES[elem], values)
        return out if shape is None else _shaped(out, shape)


def _shaped(a: array.array[Any], shape: tuple[int, int]) -> memoryview:
    m = memoryview(a)
    return m.cast("B").cast(a.typecode, shape) if len(a) else m


# -- conversions without numpy ----------------------------------------------------------------

# what numpy would take as one more dimension of a nested argument
_NESTED = (list, tuple, range, array.array, memoryview)


def expected(ndim: int) -> str:
    """What an array parameter of ``ndim`` dimensions takes, in words."""
    return "a 1-D array or sequence of numbers" if ndim == 1 else "a 2-D array of numbers"


def _walk(v: Any, func: str, param: str, what: str) -> tuple[list[Any], tuple[int, ...]]:
    """A nested sequence's elements (row-major) and its shape, as numpy reads it (the shape
    from the first element at each depth; rows of another length are refused)."""
    shape: list[int] = []
    x = v
    while isinstance(x, _NESTED):
        if isinstance(x, memoryview) and x.ndim != 1:
            x = x.tolist()
        shape.append(len(x))
        if not len(x):
            break
        x = x[0]
    leaves: list[Any] = []

    def flatten(x: Any, depth: int) -> None:
        if not isinstance(x, _NESTED) or len(x) != shape[depth]:
            raise TypeError(f"{func}(): parameter '{param}' must be {what} (its rows have "
                            "different lengths)")
        if isinstance(x, memoryview) and x.ndim != 1:
            x = x.tolist()
        if depth + 1 == len(shape):
            leaves.extend(x)  # a nested one among them is refused as an element
        else:
            for y in x:
                flatten(y, depth + 1)

    if shape:
        flatten(v, 0)
    return leaves, tuple(shape)


def _strings(leaves: list[Any], func: str, param: str, what: str) -> None:
    """Refuses strings or complex numbers among numbers before anything else, as numpy does
    (it reads them as an array of strings or of complex numbers; another kind of object among
    them makes it an array of objects, checked element by element)."""
    if any(isinstance(x, (str, bytes, complex)) for x in leaves) \
            and all(isinstance(x, (str, bytes, int, float, complex)) for x in leaves):
        raise TypeError(f"{func}(): parameter '{param}' must be {what} (it holds strings or "
                        "complex numbers)")


def as_array(v: object, elem: str, func: str, param: str, ndim: int = 1) -> Any:
    """A C-contiguous array of the element type with ``ndim`` dimensions, without numpy:
    ``v`` itself when it is an ``array.array`` (or C-contiguous ``memoryview``) of the element's
    typecode, else a new ``array.array`` (for 2-D a :class:`Matrix`) converted from any buffer
    or (nested) sequence of numbers. For 1-D, a single number is an array of one element. An
    integer element type takes only integer values in its range (:func:`exact_ints`)."""
    tc = TYPECODES[elem]
    if v.__class__ is array.array and ndim == 1 and v.typecode == tc:  # type: ignore[attr-defined]
        return v
    what = expected(ndim)
    if isinstance(v, (str, bytes, bytearray, dict, set)) or v is None:
        raise TypeError(f"{func}(): parameter '{param}' must be {what}, got {_type_name(v)}")
    if not isinstance(v, _NESTED):
        try:
            v = memoryview(v)  # type: ignore[arg-type]
        except TypeError:
            # (numpy reads a number as an array of none of its kinds when no 64-bit
            # integer type holds it)
            if ndim != 1 or not isinstance(v, (int, float)) \
                    or (isinstance(v, int) and not -(2**63) <= v < 2**64):
                raise TypeError(f"{func}(): parameter '{param}' must be {what}, "
                                f"got {_type_name(v)}") from None
            v = [v]
    if isinstance(v, memoryview):
        if v.format == tc and v.ndim == ndim and v.c_contiguous and (ndim == 1 or v.nbytes):
            return v if ndim == 1 else Matrix(v.cast("B").cast(tc),
                                              v.shape)  # type: ignore[arg-type]
        try:
            items = v.tolist()
        except NotImplementedError:
            raise TypeError(f"{func}(): parameter '{param}' must be {what} (a buffer of "
                            f"format {v.format!r} is not supported)") from None
        if v.ndim == 0:
            if ndim != 1:
                raise TypeError(f"{func}(): parameter '{param}' must be {what}, "
                                f"got {_type_name(items)}")
            items = [items]
        v = items
    leaves, shape = _walk(v, func, param, what)
    if len(shape) != ndim:
        _strings(leaves, func, param, what)
        raise ValueError(f"{func}(): parameter '{param}' must be {ndim}-D, got a {len(shape)}-D "
                         f"array of shape {shape}")
    try:
        out = array.array(tc, leaves)
    except (TypeError, OverflowError) as e:
        if elem not in ELEM_RANGES:
            raise TypeError(f"{func}(): parameter '{param}' must be {what} ({e})") from None
        _strings(leaves, func, param, what)
        out = array.array(tc, exact_ints(leaves, elem, func, param, shape))
    return out if ndim == 1 else Matrix(out, shape)  # type: ignore[arg-type]


def writable(v: object, elem: str, func: str, param: str) -> memoryview | None:
    """``v`` as a view when it is an ``array.array`` of the element's typecode or a writable
    C-contiguous ``memoryview`` of that format (an argument written in place), else None."""
    tc = TYPECODES[elem]
    if isinstance(v, array.array):
        return memoryview(v) if v.typecode == tc else None
    if isinstance(v, memoryview) and v.format == tc and v.c_contiguous and not v.readonly:
        if v.ndim != 1:
            raise ValueError(f"{func}(): parameter '{param}' must be 1-D, got a {v.ndim}-D "
                             "array")
        return v
    return None


def inout_error(v: Any, elem: str, func: str, param: str) -> TypeError:
    """The error for an argument that cannot be written in place (a converted copy would
    silently lose the writes)."""
    if isinstance(v, array.array):
        got = f"array.array of typecode {v.typecode!r}"
    elif isinstance(v, memoryview) or (hasattr(v, "dtype") and hasattr(v, "flags")):
        contiguous, readonly = (v.c_contiguous, v.readonly) if isinstance(v, memoryview) \
            else (v.flags.c_contiguous, not v.flags.writeable)
        got = (f"memoryview of format {v.format!r}" if isinstance(v, memoryview)
               else f"array of dtype {v.dtype}") \
            + ("" if contiguous else ", non-contiguous") + (", read-only" if readonly else "")
    else:
        got = _type_name(v)
    tc = TYPECODES[elem]
    return TypeError(f"{func}(): parameter '{param}' is written in place and must be a "
                     f"writable C-contiguous array of {DTYPE_NAMES[elem]} (a numpy array, an "
                     f"array.array('{tc}') or a memoryview of format '{tc}'), got {got}")


def as_inout_array(v: object, elem: str, func: str, param: str) -> Any:
    """An array the kernel writes in place, without numpy: an ``array.array`` of the element's
    typecode, or a writable C-contiguous 1-D ``memoryview`` of that format (see
    :func:`writable`)."""
    if v.__class__ is array.array and v.typecode == TYPECODES[elem]:  # type: ignore[attr-defined]
        return v
    if writable(v, elem, func, param) is None:
        raise inout_error(v, elem, func, param)
    return v


def as_bytes(v: object, func: str, param: str) -> Any:
    """A bytes-like argument (any buffer-protocol object) as its raw bytes: ``v`` itself for
    ``bytes``, else a 1-D unsigned-byte view (a copy when not contiguous). ``str`` is refused,
    as hashlib does."""
    if type(v) is bytes:
        return v
    if isinstance(v, str):
        raise TypeError(f"{func}(): parameter '{param}' must be bytes-like, got str "
                        "(encode it first)")
    try:
        m = memoryview(v)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{func}(): parameter '{param}' must be bytes-like, "
                        f"got {_type_name(v)}") from None
    if not m.c_contiguous:
        return m.tobytes()
    return m.cast("B") if m.format != "B" or m.ndim != 1 else m


def as_str(v: object, func: str, param: str) -> bytes:
    """A str argument, as UTF-8."""
    if not isinstance(v, str):
        raise TypeError(f"{func}(): parameter '{param}' must be a str, got {_type_name(v)}")
    return v.encode("utf-8")


def _base(a: Any) -> Any:
    """The object whose memory a converted argument is (its buffer's exporter)."""
    if isinstance(a, memoryview):
        return _base(a.obj)
    return a.data if isinstance(a, Matrix) else a


def may_share(a: Any, b: Any) -> bool:
    """Whether two converted arguments may be the same memory (conservatively: the same
    exporting object)."""
    return _base(a) is _base(b)


def copy(a: Any) -> Any:
    """A copy of a converted argument, in memory of its own."""
    if isinstance(a, Matrix):
        return Matrix(copy(a.data), a.shape)
    if isinstance(a, memoryview):
        return memoryview(a.tobytes()).cast(a.format)
    return array.array(a.typecode, a) if isinstance(a, array.array) else bytes(a)
