"""Array arguments with numpy (imported only when numpy is installed; without it,
:mod:`wasmcore._abi.arrays` converts arguments).

A numpy array of the exact dtype, dimensions, C-contiguous and aligned, is passed as it is;
anything else numpy can read is converted to one (one copy), under the integer rule of
:func:`wasmcore._abi.arrays.exact_ints` (docs/arguments.md).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from . import arrays
from .arrays import DTYPE_NAMES, ELEM_RANGES, elem_error

DTYPES = {e: np.dtype(name) for e, name in DTYPE_NAMES.items()}
_NUMERIC_KINDS = frozenset("biuf")


def as_array(v: object, elem: str, func: str, param: str, ndim: int = 1) -> np.ndarray:
    """A C-contiguous, aligned array of the element type with ``ndim`` dimensions (1 or 2):
    any buffer-protocol object or (nested) sequence of numbers; other dtypes and strides are
    converted (copied). For 1-D, a single number is an array of one element. An integer
    element type takes only integer values in its range (see :func:`_exact_ints`)."""
    dtype = DTYPES[elem]
    if type(v) is np.ndarray and v.dtype == dtype and v.ndim == ndim and v.flags.c_contiguous \
            and v.flags.aligned:
        return v
    what = arrays.expected(ndim)
    if isinstance(v, (str, bytes, bytearray, dict, set)) or v is None:
        raise TypeError(f"{func}(): parameter '{param}' must be {what}, got {type(v).__name__}")
    try:
        a = np.asarray(v)
        if a.ndim == 0 and (ndim != 1 or a.dtype.kind not in _NUMERIC_KINDS):
            raise TypeError(f"{func}(): parameter '{param}' must be {what}, "
                            f"got {type(v).__name__}")
        if a.ndim == 0:
            a = a.reshape(1)
        if a.dtype.kind not in _NUMERIC_KINDS:
            if a.dtype.kind != "O":
                raise TypeError(f"dtype {a.dtype} is not numeric")
            if dtype.kind == "f":  # Python numbers of several kinds (not None, not str)
                return _own(arrays.as_array(v, elem, func, param, ndim), dtype)
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


def _own(a: Any, dtype: np.dtype) -> np.ndarray:
    """A numpy array over an argument converted without numpy."""
    if isinstance(a, arrays.Matrix):
        return np.frombuffer(a.data, dtype).reshape(a.shape)
    return np.frombuffer(a, dtype)


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
    """An object array's elements as ``elem`` integers, each checked exactly
    (:func:`wasmcore._abi.arrays.exact_ints`)."""
    ints = arrays.exact_ints(a.ravel().tolist(), elem, func, param, a.shape)
    return np.array(ints, dtype=DTYPES[elem]).reshape(a.shape)


def _elem_error(exc: type[Exception], a: np.ndarray, bad: np.ndarray, func: str, param: str,
                lo: int, hi: int) -> Exception:
    """The error for the first element of ``a`` that the mask ``bad`` marks."""
    where = tuple(int(i) for i in np.unravel_index(np.flatnonzero(bad)[0], a.shape))
    return elem_error(exc, a[where], where, func, param, lo, hi)


def as_inout_array(v: object, elem: str, func: str, param: str) -> np.ndarray:
    """An array the kernel writes in place: a writable C-contiguous aligned 1-D ndarray of
    the exact element type, or a numpy view of an ``array.array`` or ``memoryview`` of its
    typecode (:func:`wasmcore._abi.arrays.writable`); a converted copy would silently lose
    the writes, and an array of the exact type can only hold values of that type."""
    dtype = DTYPES[elem]
    if not isinstance(v, np.ndarray):
        m = arrays.writable(v, elem, func, param)
        if m is None:
            raise arrays.inout_error(v, elem, func, param)
        return np.frombuffer(m, dtype)
    if v.dtype != dtype or not v.flags.c_contiguous or not v.flags.writeable \
            or not v.flags.aligned:
        raise arrays.inout_error(v, elem, func, param)
    if v.ndim != 1:
        raise ValueError(f"{func}(): parameter '{param}' must be 1-D, got a {v.ndim}-D array")
    return v


def as_bytes(v: object, func: str, param: str) -> np.ndarray:
    """A bytes-like argument (:func:`wasmcore._abi.arrays.as_bytes`) as a uint8 array (no
    copy when the buffer is contiguous)."""
    return np.frombuffer(arrays.as_bytes(v, func, param), np.uint8)


def as_str(v: object, func: str, param: str) -> np.ndarray:
    return np.frombuffer(arrays.as_str(v, func, param), np.uint8)


def copy(a: np.ndarray) -> np.ndarray:
    """A copy of a converted argument, in memory of its own."""
    return a.copy()


may_share = np.may_share_memory
