"""wasmcore without numpy, and without wasmtime (issue 14): what Pyodide has.

Without numpy, array arguments are read through the buffer protocol (``array.array``,
``memoryview``, ``bytes``, lists) and array results are ``array.array``s (2-D ones a
``memoryview`` of their shape over one); the values are the same, bit for bit, and the
arguments are checked by the same rules with the same messages (docs/arguments.md).

* The conversions without numpy (``wasmcore._abi.arrays``) against numpy's
  (``wasmcore._abi.ndarray``, the reference: test_int_arrays.py and test_library.py check it
  against exact arithmetic and the oracles) on random arguments of every kind: the same
  elements and shape, or the same exception and message.
* Every kernel and class, called by tests/pyodide/cases.py in a process where numpy cannot
  be imported, against the same calls in this process (with numpy).
* ``import wasmcore`` where wasmtime cannot be imported.
"""

from __future__ import annotations

import array
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import wasmcore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wasmcore._abi import arrays, ndarray

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "pyodide"))
import cases

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# Modules made unimportable in a child process (None in sys.modules: `import x` raises).
BLOCK = "import sys\nfor _m in {mods!r}:\n    sys.modules[_m] = None\n"


def run_without(mods: tuple[str, ...], code: str) -> str:
    """Runs ``code`` in a fresh interpreter in which ``mods`` cannot be imported; its stdout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests" / "pyodide")}
    proc = subprocess.run([sys.executable, "-c", BLOCK.format(mods=mods) + code],
                          capture_output=True, text=True, timeout=300, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# ---- the conversions, with and without numpy -------------------------------------------------

def elements(a: Any) -> tuple[tuple[int, ...], list[Any]]:
    """The shape and the elements (row-major) of a converted argument, as Python numbers."""
    if isinstance(a, np.ndarray):
        return a.shape, a.ravel().tolist()
    if isinstance(a, arrays.Matrix):
        return a.shape, list(a.data.tolist())
    m = memoryview(a)
    return (tuple(m.shape) if m.shape else (len(m),)), m.tolist()


def same_values(x: list[Any], y: list[Any]) -> bool:
    """Equal bit for bit (floats by their bits, NaN payloads aside)."""
    def key(v: Any) -> Any:
        if isinstance(v, float):
            return "nan" if math.isnan(v) else v.hex()
        return v
    return [key(v) for v in x] == [key(v) for v in y]


def outcome(convert: Any, *args: Any) -> Any:
    try:
        return ("ok", *elements(convert(*args)))
    except (TypeError, ValueError, OverflowError) as e:
        return (type(e).__name__, str(e))


numbers = st.one_of(
    st.integers(-(2**70), 2**70), st.integers(-3, 300),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(-1e3, 1e3).map(float.__floor__),
    st.sampled_from([0.5, -0.0, 2.0**63, 2.0**32, 255.0, 256.0, True, False]))
TYPECODES = "bBhHiIlLqQfd"
# numpy's own words in an error (its dtype of strings, a ragged list): said in other words
# without numpy, so only the exception's type is compared
NUMPY_WORDS = ("is not numeric", "inhomogeneous", "setting an array element")


@st.composite
def argument(draw: st.DrawFn, ndim: int) -> Any:
    """An argument for an array parameter: a list (nested for 2-D), an array.array or a
    memoryview (contiguous, strided or 2-D) of any typecode, a scalar, or something wrong."""
    kind = draw(st.sampled_from(["list", "tuple", "array", "memoryview", "strided",
                                 "2-D memoryview", "scalar", "wrong"]))
    if kind == "scalar":
        return draw(numbers)
    if kind == "wrong":
        return draw(st.sampled_from(["abc", b"abc", None, {1: 2}, [1, "a"], [[1, 2], [3]],
                                     [1, None], [[1, 2], 3], [1j], object()]))
    rows = draw(st.integers(0, 4)) if ndim == 2 else 1
    cols = draw(st.integers(0, 6))
    if kind in ("list", "tuple"):
        flat = draw(st.lists(numbers, min_size=rows * cols, max_size=rows * cols))
        nested = [flat[i * cols:(i + 1) * cols] for i in range(rows)] if ndim == 2 else flat
        return nested if kind == "list" else tuple(nested)
    tc = draw(st.sampled_from(TYPECODES))
    info = (np.iinfo(np.dtype(tc)) if tc not in "fd" else None)
    elem = st.integers(int(info.min), int(info.max)) if info else \
        st.floats(allow_nan=True, width=32 if tc == "f" else 64)
    n = rows * cols if kind == "2-D memoryview" else cols * (2 if kind == "strided" else 1)
    a = array.array(tc, draw(st.lists(elem, min_size=n, max_size=n)))
    if kind == "array":
        return a
    if kind == "strided":
        return memoryview(a)[::2]
    if kind == "2-D memoryview" and n:
        return memoryview(a).cast("B").cast(tc, (rows, cols))
    return memoryview(a)


@pytest.mark.parametrize("elem", list(arrays.TYPECODES))
@pytest.mark.parametrize("ndim", [1, 2])
@SETTINGS
@given(data=st.data())
def test_buffer_conversion_matches_numpys(elem: str, ndim: int, data: st.DataObject) -> None:
    v = data.draw(argument(ndim))
    pure = outcome(arrays.as_array, v, elem, "f", "x", ndim)
    with np.errstate(all="ignore"):
        ref = outcome(ndarray.as_array, v, elem, "f", "x", ndim)
    assert pure[0] == ref[0], (v, pure, ref)
    if pure[0] == "ok":
        assert pure[1] == ref[1] and same_values(pure[2], ref[2]), (v, pure, ref)
    elif not any(words in ref[1] for words in NUMPY_WORDS):
        assert pure[1] == ref[1], (v, pure, ref)


@pytest.mark.parametrize("v", [
    b"abc", bytearray(b"ab"), memoryview(b"abcdef")[::2], array.array("d", [1.5]),
    memoryview(array.array("I", [1, 2])).cast("B").cast("I", (1, 2)), "abc", [1, 2], 3,
], ids=repr)
def test_bytes_conversion_matches_numpys(v: object) -> None:
    def outcome(convert: Any) -> Any:
        try:
            return bytes(convert(v, "f", "data"))
        except TypeError as e:
            return str(e)
    assert outcome(arrays.as_bytes) == outcome(ndarray.as_bytes)


@pytest.mark.parametrize("v", [
    [1.0], (1.0,), array.array("f", [1.0]), memoryview(array.array("d", [1.0, 2.0, 3.0]))[::2],
    memoryview(bytes(8)).cast("d"), np.ones(2, np.float32), np.ones(4)[::2], 1.0,
], ids=repr)
def test_inout_refusals_match_numpys(v: object) -> None:
    """What an inout f64[] parameter refuses, and how it says so, with and without numpy."""
    with pytest.raises(TypeError) as pure:
        arrays.as_inout_array(v, "f64", "f", "y")
    with pytest.raises(TypeError) as ref:
        ndarray.as_inout_array(v, "f64", "f", "y")
    assert str(pure.value) == str(ref.value)
    assert str(ref.value).startswith("f(): parameter 'y' is written in place")


# ---- every kernel, with and without numpy ----------------------------------------------------

def test_the_calls_cover_every_kernel_and_class() -> None:
    assert cases.missing(wasmcore.load()) == []


@pytest.mark.parametrize("backend", ["wasm", "python"])
def test_kernels_without_numpy_match_with_numpy(backend: str) -> None:
    code = (f"import json, cases, wasmcore\n"
            f"print(json.dumps(cases.run(wasmcore.load({backend!r}))))\n"
            "assert 'numpy' not in {m.split('.')[0] for m, v in sys.modules.items() if v}\n")
    got = json.loads(run_without(("numpy",), code))
    want = cases.run(wasmcore.load(backend))
    assert cases.compare(got, want) == []


RESULT_TYPES = """
import array, wasmcore
core = wasmcore.load()
s = core.sort([3.0, 1.0, 2.0])
assert type(s) is array.array and s.typecode == "d" and s.tolist() == [1.0, 2.0, 3.0], s
a = core.argsort(array.array("f", [3, 1, 2]))
assert type(a) is array.array and a.typecode == "q" and a.tolist() == [1, 2, 0], a
h = core.histogram(memoryview(array.array("d", [0.5, 1.5, 1.6])), 2, 0.0, 2.0)
assert type(h) is array.array and h.typecode == "q" and h.tolist() == [1, 2], h
m = core.matmul([[1.0, 2.0]], [[3.0], [4.0]])
assert isinstance(m, memoryview) and m.format == "d" and m.shape == (1, 1), m
assert m.tolist() == [[11.0]] and type(m.obj) is array.array
img = core.mandelbrot(3, 2, -2.0, -1.0, 1.0, 1.0, 8)
assert img.shape == (2, 3) and img.format == "I" and type(img.obj) is array.array
flat = core.mandelbrot(3, 0, -2.0, -1.0, 1.0, 1.0, 8)  # no rows: no 2-D memoryview
assert isinstance(flat, memoryview) and flat.shape == (0,) and flat.format == "I", flat
y = array.array("d", [1.0, 2.0])
core.axpy(2.0, [1.0, 1.0], y)
assert y.tolist() == [3.0, 4.0], y
assert core.sha256(b"abc") == __import__("hashlib").sha256(b"abc").digest()
for f in (lambda: core.empty(3), lambda: core.asarray([1.0])):
    try:
        f()
    except ImportError as e:
        assert "numpy" in str(e), e
    else:
        raise AssertionError("core.empty / core.asarray need numpy")
print("ok")
"""


def test_result_types_without_numpy() -> None:
    assert run_without(("numpy",), RESULT_TYPES).strip() == "ok"


WITHOUT_WASMTIME = """
import wasmcore
assert wasmcore.load("python").fib(20) == 6765
try:
    wasmcore.load()
except ImportError as e:
    print(e)
"""


def test_import_without_wasmtime() -> None:
    """The package imports, the python backend runs, and the wasm backend says what it
    needs."""
    out = run_without(("wasmtime", "numpy"), WITHOUT_WASMTIME)
    assert "wasmtime" in out and "pip install wasmtime" in out
