"""The compiled call path (wasmcore-speedups' ``Kernel``) against the Python path it stands for.

A kernel whose parameters and result are numbers is compiled when wasmcore-speedups is the
call path: the same random arguments, good and bad (out of range, of other types, numpy
scalars, keywords), go through the compiled kernel and through its Python callable, which
must give equal results, or exceptions of the same type with the same message. The shapes
come from a hand-written module (every number type as parameter and result, fallible
kernels, a trap, no result) and from the core's own kernels.

Elsewhere (ctypes, cffi, the public API) nothing is compiled, and these tests are skipped:
``just test`` runs the whole suite on each path, this module on the speedups one.
"""

from __future__ import annotations

import gc
import math
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import wasmcore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_host import RUNTIME, fn, load_bytes, module_with, toy_manifest
from test_spec import f32_float, f64_float
from wasmcore._backends import capi, wasm

pytestmark = pytest.mark.skipif(
    wasm.call_path() != "speedups" or os.environ.get("WASMCORE_COMPILED") == "0",
    reason="the compiled call path is wasmcore-speedups' (not this run's call path)")

SHAPES = """(module
  (global $kept (mut i32) (i32.const 0))
  (func (export "add_i32") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "add_u32") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "add_i64") (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1)))
  (func (export "add_u64") (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1)))
  (func (export "mul_f32") (param f32 f32) (result f32) (f32.mul (local.get 0) (local.get 1)))
  (func (export "add_f64") (param f64 f64) (result f64) (f64.add (local.get 0) (local.get 1)))
  (func (export "negate") (param i32) (result i32) (i32.eqz (local.get 0)))
  (func (export "mixed") (param i32 i64 f64 i32 f32) (result f64)
    (f64.add (f64.add (f64.convert_i32_s (local.get 0)) (f64.convert_i64_u (local.get 1)))
             (f64.add (f64.add (local.get 2) (f64.convert_i32_u (local.get 3)))
                      (f64.promote_f32 (local.get 4)))))
  (func (export "keep") (param i32) (global.set $kept (local.get 0)))
  (func (export "kept") (result i32) (global.get $kept))
  (func (export "checked_div") (param i32 i32 i32) (result i32)
    (if (result i32) (i32.eqz (local.get 1))
      (then (i32.const 1))
      (else (i32.store (local.get 2) (i32.div_u (local.get 0) (local.get 1))) (i32.const 0))))
  (func (export "status") (param i32) (result i32) (local.get 0))
  (func (export "half") (param f64 i32) (result i32)
    (if (result i32) (f64.lt (local.get 0) (f64.const 0))
      (then (i32.const 2))
      (else (f64.store (local.get 1) (f64.mul (local.get 0) (f64.const 0.5))) (i32.const 0))))
  (func (export "trap_if") (param i32) (result i32)
    (if (local.get 0) (then unreachable)) (i32.const 7))
  (func $weigh (param $p i32) (param $n i32) (result i64)
    (local $s i64) (local $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $s (i64.add (local.get $s) (i64.mul (i64.extend_i32_u (i32.add (local.get $i)
        (i32.const 1))) (i64.load8_u (i32.add (local.get $p) (local.get $i))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $s))
  (func (export "wait_for") (param i32) (result i32)
    (i32.store (i32.add (local.get 0) (i32.const 4)) (i32.const 1))
    (loop $spin (br_if $spin (i32.eqz (i32.load (local.get 0)))))
    (i32.load (local.get 0)))
  (func (export "hold_for") (param i32 i32) (result i32)
    (i32.store (i32.add (local.get 0) (i32.const 4)) (i32.const 1))
    (block $done (loop $spin
      (br_if $done (i32.load (local.get 0)))
      (local.set 1 (i32.sub (local.get 1) (i32.const 1)))
      (br_if $spin (local.get 1))))
    (i32.load (local.get 0)))
  (func (export "blen") (param i32 i32) (result i32) (local.get 1))
  (func (export "weigh") (param i32 i32) (result i64) (call $weigh (local.get 0) (local.get 1)))
  (func (export "checksum") (param i32 i32 i32 i32 i32 i64) (result i64)
    (i64.add (i64.mul (call $weigh (local.get 0) (local.get 1)) (i64.extend_i32_u (local.get 2)))
             (i64.mul (call $weigh (local.get 3) (local.get 4)) (local.get 5))))
  (func (export "first") (param i32 i32 i32) (result i32)
    (if (result i32) (i32.eqz (local.get 1))
      (then (i32.const 1))
      (else (i32.store (local.get 2) (i32.load8_u (local.get 0))) (i32.const 0))))
""" + RUNTIME + ")"

SHAPE_FUNCTIONS = [
    fn("add_i32", [("a", "i32"), ("b", "i32")], "i32"),
    fn("add_u32", [("a", "u32"), ("b", "u32")], "u32"),
    fn("add_i64", [("a", "i64"), ("b", "i64")], "i64"),
    fn("add_u64", [("a", "u64"), ("b", "u64")], "u64"),
    fn("mul_f32", [("a", "f32"), ("b", "f32")], "f32"),
    fn("add_f64", [("a", "f64"), ("b", "f64")], "f64"),
    fn("negate", [("b", "bool")], "bool"),
    fn("mixed", [("a", "i32"), ("b", "u64"), ("c", "f64"), ("d", "bool"), ("e", "f32")], "f64"),
    fn("keep", [("x", "u32")], None),
    fn("kept", [], "u32"),
    fn("checked_div", [("a", "u32"), ("b", "u32")], "u32", fallible=True),
    fn("status", [("code", "i32")], None, fallible=True),
    fn("half", [("x", "f64")], "f64", fallible=True),
    fn("trap_if", [("t", "bool")], "u32"),
    fn("blen", [("data", "bytes")], "u32"),
    fn("weigh", [("s", "str")], "u64"),
    fn("checksum", [("a", "str"), ("k", "u32"), ("b", "bytes"), ("m", "i64")], "i64"),
    fn("first", [("data", "bytes")], "u32", fallible=True),
]

# wait_for(at): says "in" at memory[at + 4], then waits for memory[at] to be set (another
# thread's write); not in the random tests
WAIT = fn("wait_for", [("at", "u32")], "u32")
# hold_for(at, n): wait_for, but for n turns at most, and with "gil": "hold"
HOLD = {**fn("hold_for", [("at", "u32"), ("n", "u32")], "u32"), "gil": "hold"}
MANIFEST = toy_manifest(functions=[*SHAPE_FUNCTIONS, WAIT, HOLD])

INT_RANGES = {"i32": (-(2**31), 2**31 - 1), "u32": (0, 2**32 - 1),
              "i64": (-(2**63), 2**63 - 1), "u64": (0, 2**64 - 1)}
# arguments no parameter takes as they are: the Python path converts or refuses them
# NaNs with payloads, signalling and quiet, as f32s and f64s (both paths carry their bits)
NANS = [*map(f32_float, (0x7FA0_0000, 0xFF80_0001, 0x7FC0_0001)),
        *map(f64_float, (0x7FF4_0000_0000_0000, 0xFFF0_0000_0000_0001))]
ODD = [None, "1", b"1", 1.5, True, False, np.int32(3), np.uint64(2**64 - 1), np.float32(2.5),
       np.bool_(True), np.float64(-1.0), 1j, [1], 2**64, -(2**63) - 1, 2**1024, float("nan")]


def values(t: str) -> st.SearchStrategy[Any]:
    """Arguments for a parameter of type ``t``: in its range, at and past its ends, and of
    every other kind."""
    odd = st.sampled_from(ODD)
    if t in INT_RANGES:
        lo, hi = INT_RANGES[t]
        good: st.SearchStrategy[Any] = st.one_of(
            st.integers(lo, hi), st.sampled_from([lo - 1, lo, 0, 1, hi, hi + 1]),
            st.integers(-(2**70), 2**70))
    elif t in ("f32", "f64"):
        good = st.one_of(st.floats(), st.floats(width=32), st.integers(-(2**80), 2**80),
                         st.sampled_from([3.5e38, -3.5e38, 1e-46, -0.0, float("inf")]),
                         st.sampled_from(NANS))
    elif t == "bytes":
        good = st.one_of(st.binary(max_size=300), st.binary(min_size=60_000, max_size=70_000),
                         st.sampled_from([b"QUJD", b"QUJ", b"=A=="]))  # (base64 too)
        odd = st.one_of(odd, st.sampled_from([bytearray(b"ab"), memoryview(b"cd"),
                                              np.arange(3, dtype=np.uint8), "ab"]))
    elif t == "str":
        good = st.one_of(st.text(max_size=100), st.sampled_from(["\ud800", "é" * 40_000]))
        odd = st.one_of(odd, st.sampled_from([b"ab", np.str_("np")]))
    else:
        good = st.booleans()
    return st.one_of(good, good, odd)


def cast(a: Any, dtype: Any) -> Any:
    """``a`` as ``dtype``, NaNs and infinities as finite numbers (numpy's casts warn)."""
    with np.errstate(all="ignore"):
        return np.nan_to_num(a, posinf=7, neginf=-7).clip(-1e6, 1e6).astype(dtype)


def arrays(elem: str, core: wasmcore.Core | None = None) -> st.SearchStrategy[Any]:
    """Arguments for an array parameter of element type ``elem``: arrays the compiled call
    takes as they are (and, for ``core``, arrays in its memory), and every other kind: views,
    strides, other dtypes, byte orders, 2-D, lists, scalars, None."""
    dt = np.dtype({"f64": "float64", "f32": "float32", "i64": "int64", "u32": "uint32",
                   "u8": "uint8"}[elem])
    if dt.kind == "f":
        values = st.floats(width=dt.itemsize * 8)
    else:
        values = st.integers(int(np.iinfo(dt).min), min(int(np.iinfo(dt).max), 40))
    exact = st.lists(values, max_size=40).map(lambda v: np.array(v, dtype=dt))
    other = st.one_of(
        exact.map(lambda a: np.concatenate([a, a])[1:]),  # a view
        exact.map(lambda a: np.repeat(a, 2)[::2]),  # strided
        exact.map(lambda a: a.astype(dt.newbyteorder(">"))),
        exact.map(lambda a: cast(a, np.float32 if dt != np.float32 else np.float64)),
        exact.map(lambda a: cast(a, np.int64) if dt.kind == "f" else a - 3),
        exact.map(lambda a: a.reshape(1, -1)),
        exact.map(lambda a: a.tolist()),
        st.sampled_from([None, "ab", b"ab", 3, 2.5, [[1.0]], np.float64(1.0)]))
    if core is not None:
        other = st.one_of(other, exact.map(core.asarray))  # zero-copy: the Python path's
    return st.one_of(exact, exact, other)


def outcome(f: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> object:
    """What a call gives: its result (NaNs by their bits; an array by its dtype, shape and
    bytes), or its exception's type and message."""
    try:
        r = f(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - the exception is the outcome
        return type(e), str(e)
    return norm(r)


def norm(r: Any) -> object:
    """A result as a comparable value: NaNs by their bits, arrays by their dtype, shape and
    bytes, tuples item by item."""
    if isinstance(r, float) and math.isnan(r):
        return "nan", np.float64(r).view(np.uint64).item()
    if isinstance(r, np.ndarray):
        return np.ndarray, r.dtype.str, r.shape, r.flags.writeable, r.tobytes()
    if isinstance(r, tuple):
        return tuple, tuple(norm(x) for x in r)
    return type(r), r


def same(k: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    compiled, python = outcome(k, args, kwargs), outcome(k._w_fallback, args, kwargs)
    assert compiled == python, (k.__name__, args, kwargs)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> wasmcore.Core:
    return load_bytes(tmp_path_factory.mktemp("shapes"),
                      module_with(MANIFEST, SHAPES))


def test_every_kernel_but_2d_and_in_out_ones_is_compiled(shapes: wasmcore.Core) -> None:
    api = wasm.api("speedups")
    assert isinstance(api, capi.SpeedupsApi) and api.kernels  # (of the interface it knows)
    compiled = {name for name in shapes.functions if hasattr(getattr(shapes, name), "_w_fallback")}
    assert compiled == set(shapes.functions)
    core = wasmcore.load()
    left = {f.name for f in core.manifest.functions
            if f.returns.kind == "matrix" or any(p.type.kind == "matrix" or p.type.inout
                                                 for p in f.params)}
    assert left == {"axpy", "mandelbrot", "matmul"}
    assert {n for n in core.functions if hasattr(getattr(core, n), "_w_fallback")} == \
        set(core.functions) - left
    stats = core.RunningStats()  # an exported class's methods: through compiled kernels
    stats.push(np.arange(4.0))
    assert stats.count == 4 and all(hasattr(f, "_w_fallback") for f in stats._ctx.cache.values())


@pytest.mark.parametrize("name", [f["name"] for f in SHAPE_FUNCTIONS])
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_compiled_equals_python_path(shapes: wasmcore.Core, name: str, data: st.DataObject
                                     ) -> None:
    k = getattr(shapes, name)
    spec = next(f for f in SHAPE_FUNCTIONS if f["name"] == name)
    params = [(p["name"], p["type"]) for p in spec["params"]]  # type: ignore[index,union-attr]
    args = tuple(data.draw(values(t), label=n) for n, t in params)
    same(k, args, {})
    # by keyword, with too few and too many arguments: the Python path's own errors
    cut = data.draw(st.integers(0, len(params)), label="positional")
    same(k, args[:cut], {n: a for (n, _), a in zip(params[cut:], args[cut:], strict=True)})
    same(k, (*args, 1), {})
    if args:
        same(k, args[:-1], {})


@settings(max_examples=100, deadline=None)
@given(n=st.one_of(st.integers(0, 25), st.integers(-5, 2**40), st.sampled_from(ODD)))
def test_the_cores_kernels_equal_the_python_path(n: Any) -> None:
    core = wasmcore.load()
    same(core.fib, (n if not isinstance(n, int) or n <= 25 or n > 93 else 25,), {})
    same(core.count_primes, (n if not isinstance(n, int) or n <= 10**5 else 10**5,), {})


# the core's kernels' integer parameters, in a range they answer quickly in (and all out of
# range: their errors)
SMALL = {"fib": 25, "count_primes": 10**5, "histogram": 1000, "partitions": 60}


@pytest.mark.parametrize("name", [f.name for f in wasmcore.load().manifest.functions
                                  if hasattr(getattr(wasmcore.load(), f.name), "_w_fallback")])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_the_cores_compiled_kernels_equal_the_python_path(name: str, data: st.DataObject
                                                          ) -> None:
    core = wasmcore.load()
    k = getattr(core, name)
    spec = next(f for f in core.manifest.functions if f.name == name)
    args = []
    for p in spec.params:
        t = p.type
        if t.kind == "buffer":
            small = t.elem == "u32" and name in SMALL
            v = data.draw(arrays(t.elem, core) if not small else st.lists(
                st.integers(0, 12), max_size=6).map(lambda x: np.array(x, np.uint32)), label=p.name)
        elif t.kind == "scalar" and t.scalar in INT_RANGES and name in SMALL:
            v = data.draw(st.one_of(st.integers(0, SMALL[name]), st.sampled_from(ODD)),
                          label=p.name)
        else:
            v = data.draw(values(t.name), label=p.name)
        args.append(v)
    same(k, tuple(args), {})
    if spec.params and spec.params[-1].has_default:
        same(k, tuple(args[:-1]), {})  # the default


def test_a_trap_or_an_error_status_then_a_good_call(shapes: wasmcore.Core) -> None:
    with pytest.raises(wasmcore.Trap) as e:
        shapes.trap_if(True)
    assert e.value.code == "unreachable"
    assert shapes.trap_if(False) == 7 and shapes.add_i32(2, 3) == 5  # re-bound after the trap
    with pytest.raises(ValueError, match=r"^checked_div\(\): parameter 'n' bad!$"):
        shapes.checked_div(1, 0)
    assert shapes.checked_div(7, 2) == 3
    for code, exc in [(1, ValueError), (2, TypeError), (3, wasmcore.KernelPanic)]:
        with pytest.raises(exc, match=r"^status\(\): "):
            shapes.status(code)
    assert shapes.status(0) is None and shapes.half(5.0) == 2.5
    shapes.keep(2**32 - 1)
    assert shapes.kept() == 2**32 - 1


def test_results_as_the_python_path_makes_them(shapes: wasmcore.Core) -> None:
    assert shapes.add_i32(2**31 - 1, 1) == -(2**31)  # wasm wraps
    assert shapes.add_u64(2**64 - 1, 2) == 1 and shapes.add_i64(-1, 0) == -1
    assert shapes.negate(False) is True and shapes.negate(True) is False
    assert shapes.mul_f32(1.5, 2.0) == 3.0 and math.isinf(shapes.mul_f32(3e38, 10.0))
    assert shapes.mul_f32(0.1, 1.0) == float(np.float32(0.1))
    assert shapes.mixed(-1, 2**64 - 1, 0.5, True, 0.25) == -1 + 2.0**64 + 0.5 + 1 + 0.25
    assert type(shapes.add_f64(1, 2)) is float and shapes.add_f64(1, 2) == 3.0


def test_other_threads_call_their_own_instance(shapes: wasmcore.Core) -> None:
    shapes.keep(1)
    seen: list[int] = []

    def other() -> None:
        shapes.keep(2)
        seen.append(shapes.kept())

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen == [2] and shapes.kept() == 1


def test_a_compiled_kernel_is_a_function_to_look_at() -> None:
    core = wasmcore.load()
    import inspect

    assert core.fib.__name__ == "fib" and core.fib.__module__ == "wasmcore"
    assert str(inspect.signature(core.fib)) == "(n: 'SupportsIndex') -> 'int'"
    assert core.fib.__doc__ and "fib" in repr(core.fib)


def test_a_compiled_kernel_pickles_as_its_core(tmp_path: Path) -> None:
    core = wasmcore.load()
    f = pickle.loads(pickle.dumps(core.fib))
    assert f(20) == 6765 and hasattr(f, "_w_fallback")
    cloudpickle = pytest.importorskip("cloudpickle")
    g = cloudpickle.loads(cloudpickle.dumps(core.count_primes))
    assert g(100) == 25


def test_a_modules_compiled_function_pickles_by_name(tmp_path: Path) -> None:
    import hashlib
    import types

    from wasmcore._abi.manifest import read_manifest
    from wasmcore._extension import _bind_module

    data = module_with(MANIFEST, SHAPES)
    mod = types.ModuleType("wasmcore_test_shapes")  # as an author's package binds its module
    sys.modules[mod.__name__] = mod
    try:
        _bind_module(vars(mod), mod.__name__, data, hashlib.sha256(data).hexdigest(),
                     read_manifest(data))
        assert hasattr(mod.add_i32, "_w_fallback")
        assert pickle.loads(pickle.dumps(mod.add_i32)) is mod.add_i32
    finally:
        del sys.modules[mod.__name__]


def test_a_dropped_core_frees_its_compiled_kernels(tmp_path: Path) -> None:
    def make() -> weakref.ref[Any]:
        core = load_bytes(tmp_path, module_with(MANIFEST, SHAPES))
        assert core.add_i32(1, 2) == 3
        return weakref.ref(core.add_i32)

    ref = make()
    for _ in range(3):
        gc.collect()
    assert ref() is None


def test_good_arguments_never_reach_the_python_path(tmp_path: Path) -> None:
    core = load_bytes(tmp_path, module_with(MANIFEST, SHAPES))
    assert core.blen(b"x") == 1  # (the first copy makes the scratch area, on the Python path)
    calls: list[tuple[Any, ...]] = []
    for name in core.functions:
        k = getattr(core, name)
        python = k._w_fallback
        k._w_fallback = lambda *a, _f=python, **kw: calls.append(a) or _f(*a, **kw)
    assert core.mixed(1, 2**64 - 1, 0.5, False, 2) == 1 + 2.0**64 + 0.5 + 2
    assert core.add_u32(2**32 - 1, 1) == 0 and core.add_i64(-(2**63), 2**63 - 1) == -1
    assert core.checked_div(9, 3) == 3 and core.half(-0.0) == -0.0 and core.kept() >= 0
    assert core.weigh("é") == 0xC3 + 2 * 0xA9 and core.blen(b"") == 0 and core.first(b"a") == 97
    assert calls == []
    assert core.add_u32(np.uint32(1), 1) == 2 and core.add_i32(a=1, b=2) == 3
    assert calls == [(np.uint32(1), 1), ()]


def test_bytes_copied_counts_both_paths(shapes: wasmcore.Core) -> None:
    before = shapes.bytes_copied
    assert shapes.checksum("ab", 1, b"xyz", 2) == (97 + 2 * 98) + 2 * (120 + 2 * 121 + 3 * 122)
    assert shapes.bytes_copied == before + 5
    shapes.weigh._w_fallback("héllo")
    assert shapes.bytes_copied == before + 11
    big = bytes(range(256)) * 1000  # past the scratch area: the Python path grows it
    assert shapes.blen(big) == len(big) and shapes.blen(big) == len(big)
    assert shapes.bytes_copied == before + 11 + 2 * len(big)
    with pytest.raises(ValueError, match=r"^first\(\): parameter 'n' bad!$"):
        shapes.first(b"")
    assert shapes.first(b"\xff") == 255


GIL_CHILD = textwrap.dedent("""
    import ctypes, sys, threading, wasmcore
    core = wasmcore.load("wasm", path=sys.argv[1])
    box, ready = [], threading.Event()

    def worker():
        wait = core._impl.callable(sys.argv[2])  # this thread's, compiled
        wait._w_fallback = None  # (not called: a call of None would raise)
        box.append(core._impl.instance().base)
        ready.set()
        box.append(wait(64) if sys.argv[2] == "wait_for" else wait(64, 300_000_000))

    t = threading.Thread(target=worker)
    t.start()
    ready.wait()
    flag = ctypes.c_int32.from_address(box[0] + 68)
    # the worker spins in wasm; this thread runs Python meanwhile only if the call released
    # the GIL, and its write is what ends the spin
    while flag.value == 0:
        pass
    ctypes.c_int32.from_address(box[0] + 64).value = 7
    t.join()
    print(box[1:])
""")


def test_the_gil_is_released_during_the_wasm_call(tmp_path: Path) -> None:
    path = tmp_path / "shapes.wasm"
    path.write_bytes(module_with(MANIFEST, SHAPES))
    # a call holding the GIL would hang the child: the timeout fails the test instead
    out = subprocess.run([sys.executable, "-c", GIL_CHILD, str(path), "wait_for"],
                         capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[7]"


def test_a_function_marked_gil_hold_keeps_the_gil(tmp_path: Path) -> None:
    """``"gil": "hold"`` (``#[export(gil = "hold")]``): the main thread cannot run while the
    worker's call spins, so the call ends by its count, not by the main thread's write. A
    plugin's hint is not followed (an untrusted module could keep every thread waiting)."""
    path = tmp_path / "shapes.wasm"
    path.write_bytes(module_with(MANIFEST, SHAPES))
    out = subprocess.run([sys.executable, "-c", GIL_CHILD, str(path), "hold_for"],
                         capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[0]"
    core = wasmcore.load("wasm", path=path)
    assert core._impl.callable("hold_for").hold_gil
    assert not core._impl.callable("wait_for").hold_gil
    plugin = wasmcore.Plugin(path)
    assert plugin.functions["hold_for"] is not None
    assert not plugin._backend.callable("hold_for").hold_gil
    assert plugin.hold_for(0, 5) == core.hold_for(0, 5) == 0


RAW = b"""(module
  (func (export "id_i32") (param i32) (result i32) (local.get 0))
  (func (export "id_i64") (param i64) (result i64) (local.get 0))
  (func (export "id_f32") (param f32) (result f32) (local.get 0))
  (func (export "id_f64") (param f64) (result f64) (local.get 0))
  (func (export "mix") (param i32 i64 f32 f64) (result f64 f32 i64 i32)
    (local.get 3) (local.get 2) (local.get 1) (local.get 0))
  (func (export "sink") (param i32))
  (func (export "trap_on_zero") (param i32) (result i32)
    (if (i32.eqz (local.get 0)) (then unreachable)) (local.get 0)))"""
RAW_TYPES = {"id_i32": ["i32"], "id_i64": ["i64"], "id_f32": ["f32"], "id_f64": ["f64"],
             "mix": ["i32", "i64", "f32", "f64"], "sink": ["i32"], "trap_on_zero": ["i32"]}


def raw_values(t: str) -> st.SearchStrategy[Any]:
    """Arguments for a raw wasm parameter: in the signed and unsigned ranges and past them, and
    of other kinds (bool among them: a raw parameter takes no bool)."""
    odd = st.sampled_from(ODD)
    if t in ("i32", "i64"):
        bits = 32 if t == "i32" else 64
        good: st.SearchStrategy[Any] = st.one_of(
            st.integers(-(2 ** (bits - 1)), 2**bits - 1),
            st.sampled_from([-(2 ** (bits - 1)) - 1, 2**bits, 2 ** (bits - 1), -1]))
    else:
        good = st.one_of(st.floats(), st.floats(width=32), st.integers(-(2**70), 2**70),
                         st.sampled_from(NANS))
    return st.one_of(good, good, odd)


@pytest.fixture(scope="module")
def raw_plugin() -> wasmcore.Plugin:
    return wasmcore.Plugin(RAW, fuel=10**6, timeout=60)  # (limits armed before each call)


@pytest.mark.parametrize("name", list(RAW_TYPES))
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_plugins_raw_exports_equal_the_python_path(raw_plugin: wasmcore.Plugin, name: str,
                                                      data: st.DataObject) -> None:
    k = getattr(raw_plugin, name)
    assert hasattr(k, "_w_fallback")  # compiled, limits and all
    args = tuple(data.draw(raw_values(t), label=t) for t in RAW_TYPES[name])
    same(k, args, {})
    same(k, args[:-1], {})
    same(k, (*args, 0), {})


@pytest.fixture(scope="module")
def shaped_plugin(tmp_path_factory: pytest.TempPathFactory) -> wasmcore.Plugin:
    """The module of every shape as a plugin with limits (armed before each call)."""
    path = tmp_path_factory.mktemp("plugin") / "shapes.wasm"
    path.write_bytes(module_with(MANIFEST, SHAPES))
    return wasmcore.Plugin(path, fuel=10**8, timeout=60)


@pytest.mark.parametrize("name", [f["name"] for f in SHAPE_FUNCTIONS])
@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_plugins_typed_exports_equal_the_python_path(shaped_plugin: wasmcore.Plugin, name: str,
                                                       data: st.DataObject) -> None:
    """A plugin's typed exports (bytes, str and arrays in, owned results out, its limits armed
    before each call) are compiled too, and agree with the Python path."""
    k = getattr(shaped_plugin, name)
    assert hasattr(k, "_w_fallback")
    spec = next(f for f in SHAPE_FUNCTIONS if f["name"] == name)
    params = [(p["name"], p["type"]) for p in spec["params"]]  # type: ignore[index,union-attr]
    args = tuple(data.draw(values(t), label=n) for n, t in params)
    same(k, args, {})
    same(k, (*args, 1), {})


def test_a_plugins_compiled_buffers_after_a_failure(tmp_path: Path) -> None:
    """A trap, a spent fuel budget and a timeout re-create the plugin's instance (a new memory
    and scratch area) at the next call: a compiled call with bytes and str after each is
    right, and counted once in bytes_copied."""
    path = tmp_path / "shapes.wasm"
    path.write_bytes(module_with(MANIFEST, SHAPES))
    p = wasmcore.Plugin(path, fuel=10**6)
    assert p.weigh("héllo") == sum((i + 1) * b for i, b in enumerate("héllo".encode()))
    with pytest.raises(wasmcore.Trap):
        p.trap_if(True)
    assert p.blen(b"abcd") == 4 and p.first(b"\x07") == 7
    with pytest.raises(wasmcore.FuelExhausted):
        p.hold_for(0, 2**31)  # (spins for its count: the fuel runs out first)
    assert p.checksum("ab", 3, b"c", 2) == (97 + 2 * 98) * 3 + 99 * 2
    t = wasmcore.Plugin(path, timeout=0.2)
    with pytest.raises(wasmcore.Timeout):
        t.wait_for(0)
    assert t.blen(b"xyz") == 3 and t.weigh("a") == 97


def test_a_plugins_compiled_export_keeps_its_limits_and_recovers() -> None:
    spin = b"""(module (func (export "spin") (loop (br 0)))
                (func (export "add") (param i32 i32) (result i32)
                  (i32.add (local.get 0) (local.get 1))))"""
    p = wasmcore.Plugin(spin, fuel=10**5)
    assert hasattr(p.spin, "_w_fallback") and hasattr(p.add, "_w_fallback")
    with pytest.raises(wasmcore.FuelExhausted):
        p.spin()
    assert p.add(2, 3) == 5  # a fresh instance after the failure, the kernel re-bound
    t = wasmcore.Plugin(spin, timeout=0.2)
    with pytest.raises(wasmcore.Timeout):
        t.spin()
    assert t.add(2**32 - 1, 2) == 1
    f = pickle.loads(pickle.dumps(t.add))  # by reference to its plugin
    assert f(1, 2) == 3 and hasattr(f, "_w_fallback")
