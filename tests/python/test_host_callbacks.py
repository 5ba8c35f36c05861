"""Host functions on every call path (docs/plugins.md, "Imports and host functions"): a
plugin's calls into Python get their arguments as wasm passed them, a result is checked and
converted as the import's type says, an exception reaches the caller as itself, and a host
function may call back into its own plugin.

Each test runs on every fast path (speedups, ctypes, cffi: wasmtime's unchecked C API, a
callback of cffi, or of ctypes under ``WASMCORE_FAST_PATH=ctypes``) and on the public-API
path, switched as ``WASMCORE_FAST_PATH`` does, whatever the session's own path is. Expected values come from Python itself: ``struct`` for how a
wasm integer or f32 reads, ``math.factorial``, sums of the values sent.
"""

from __future__ import annotations

import gc
import math
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import wasmcore
from hypothesis import given, settings
from hypothesis import strategies as st
from test_host import RUNTIME, fn, module_with, toy_manifest
from test_plugin import guarded
from test_spec import f32_float, float_f32
from wasmcore._backends import internals, reaper, wasm

WAT = """(module
  (import "env" "i32" (func $i32 (param i32) (result i32)))
  (import "env" "i64" (func $i64 (param i64) (result i64)))
  (import "env" "f32" (func $f32 (param f32) (result f32)))
  (import "env" "f64" (func $f64 (param f64) (result f64)))
  (import "env" "pair" (func $pair (param i32 f64) (result i64 f32)))
  (import "env" "note" (func $note (param i32)))
  (func (export "call_i32") (param i32) (result i32) (call $i32 (local.get 0)))
  (func (export "call_i64") (param i64) (result i64) (call $i64 (local.get 0)))
  (func (export "call_f32") (param f32) (result f32) (call $f32 (local.get 0)))
  (func (export "call_f64") (param f64) (result f64) (call $f64 (local.get 0)))
  (func (export "call_pair") (param i32 f64) (result i64 f32)
    (call $pair (local.get 0) (local.get 1)))
  (func (export "call_note") (param i32) (call $note (local.get 0)))
  ;; the sum of i32(k) for k = 1..n, each widened to i64
  (func (export "sum") (param $n i32) (result i64) (local $s i64)
    (block $done (loop $next
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $s (i64.add (local.get $s) (i64.extend_i32_s (call $i32 (local.get $n)))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $next)))
    (local.get $s))
  ;; n! with the recursion through the host: n * i64(n - 1)
  (func (export "fact") (param $n i64) (result i64)
    (if (result i64) (i64.le_s (local.get $n) (i64.const 1))
      (then (i64.const 1))
      (else (i64.mul (local.get $n) (call $i64 (i64.sub (local.get $n) (i64.const 1)))))))
  (func (export "divide") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))
  (func (export "spin") (loop $forever (call $note (i32.const 0)) (br $forever))))
"""
PATHS = [*wasm.FAST_PATHS, "0"]


def identity(x: Any) -> Any:
    return x


def pair(a: int, b: float) -> tuple[int, float]:
    return a, b


def no_note(x: int) -> None:
    return None


HOST: dict[str, Callable[..., Any]] = {"i32": identity, "i64": identity, "f32": identity,
                                       "f64": identity, "pair": pair, "note": no_note}


@pytest.fixture(params=PATHS, ids=[f"path={p}" for p in PATHS])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The call path of the plugins a test makes: each fast path and the public API."""
    monkeypatch.setenv("WASMCORE_FAST_PATH", request.param)
    wasm.redecide()
    yield request.param
    monkeypatch.undo()
    wasm.redecide()


def plugin(path: str, **host: Callable[..., Any]) -> wasmcore.Plugin:
    p = wasmcore.Plugin(WAT.encode(), host={**HOST, **host}, timeout=30)
    assert p._backend.path == (path if path != "0" and internals.usable("calls") else wasm.PUBLIC)
    return p


def as_i32(v: int) -> int:
    """What wasm sees of an int given for an i32: its low 32 bits, signed."""
    return int(struct.unpack("<i", struct.pack("<I", v % 2**32))[0])


def as_i64(v: int) -> int:
    return int(struct.unpack("<q", struct.pack("<Q", v % 2**64))[0])


def as_f32(v: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", v))[0])


# -- values in and out ------------------------------------------------------------------------

def test_arguments_and_results_cross_as_wasm_types(path: str) -> None:
    seen: list[tuple[str, Any]] = []

    def record(kind: str) -> Callable[..., Any]:
        def f(*args: Any) -> Any:
            seen.append((kind, args))
            return args[0] if len(args) == 1 else args
        return f

    p = plugin(path, i32=record("i32"), i64=record("i64"), f64=record("f64"),
               pair=record("pair"))
    assert p.call_i32(-7) == -7 and p.call_i32(2**32 - 1) == -1
    assert p.call_i64(2**63) == -(2**63)
    assert p.call_f64(0.1) == 0.1
    assert p.call_f32(0.1) == as_f32(0.1)  # identity() got 0.1 as an f32 reads
    assert p.call_pair(5, 2.5) == (5, 2.5)
    assert seen == [("i32", (-7,)), ("i32", (-1,)), ("i64", (-(2**63),)), ("f64", (0.1,)),
                    ("pair", (5, 2.5))]


@settings(max_examples=60, deadline=None)
@given(i=st.integers(-(2**31), 2**32 - 1), j=st.integers(-(2**63), 2**64 - 1),
       f=st.floats(allow_nan=False, width=32), g=st.floats(allow_nan=False))
def test_results_are_converted_as_the_import_says(i: int, j: int, f: float, g: float) -> None:
    """A host function may return an integer signed or unsigned, and an int for a float."""
    for p in PATHS:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("WASMCORE_FAST_PATH", p)
            wasm.redecide()
            pl = plugin(p, i32=lambda _: i, i64=lambda _: j, f32=lambda _: f,
                        f64=lambda _: g, pair=lambda a, b: (j, int(f) if f.is_integer() else f))
        wasm.redecide()
        assert pl.call_i32(0) == as_i32(i)
        assert pl.call_i64(0) == as_i64(j)
        assert pl.call_f32(0.0) == f
        assert pl.call_f64(0.0) == g
        assert pl.call_pair(0, 0.0) == (as_i64(j), f)
        assert pl.sum(3) == 3 * as_i32(i)


def test_f32_nans_cross_host_functions_with_their_bits(path: str) -> None:
    """An f32 NaN's payload, signalling or quiet, both ways through a host function (and as
    one of two results); wasmtime-py's public API converts through a C float, which quiets a
    signalling NaN (docs/plugins.md, "Calls")."""
    seen: list[int] = []

    def f32(x: float) -> float:
        seen.append(float_f32(x))
        return x

    p = plugin(path, f32=f32, pair=lambda a, b: (a, f32_float(a % 2**32)))
    for bits in (0x7FA0_0000, 0xFF80_0001, 0x7FBF_FFFF, 0x7FC0_0001):
        want = bits | 0x40_0000 if p._backend.path == wasm.PUBLIC else bits
        assert float_f32(p.call_f32(f32_float(bits))) == want and seen[-1] == want
        assert float_f32(p.call_pair(bits, 0.0)[1]) == want


def test_an_f32_result_beyond_its_range_is_infinite(path: str) -> None:
    p = plugin(path, f32=lambda _: 1e300)
    assert p.call_f32(0.0) == math.inf
    p = plugin(path, f32=lambda _: -1e300)
    assert p.call_f32(0.0) == -math.inf


def test_many_callbacks_in_one_call(path: str) -> None:
    got: list[int] = []
    p = plugin(path, i32=lambda k: got.append(k) or 2 * k)
    n = 5000
    assert p.sum(n) == 2 * sum(range(1, n + 1))
    assert got == list(range(n, 0, -1))


# -- a host function that raises --------------------------------------------------------------

class Custom(BaseException):
    """Not an Exception: still reaches the caller as itself."""


@pytest.mark.parametrize("exc", [KeyError("boom"), ValueError("bad"), Custom("custom")])
def test_a_raised_exception_reaches_the_caller_as_itself(path: str,
                                                         exc: BaseException) -> None:
    calls: list[int] = []

    def fail(k: int) -> int:
        calls.append(k)
        if k == 3:
            raise exc
        return k

    p = plugin(path, i32=fail)
    with pytest.raises(type(exc)) as info:
        p.sum(5)  # callbacks 5, 4, 3: the third raises
    assert info.value is exc
    assert calls == [5, 4, 3]
    assert any(tb.tb_frame.f_code is fail.__code__ for tb in _frames(info.tb))
    assert p.sum(2) == 3  # the plugin works again (a new instance)
    assert reaper.in_callback() is False


def _frames(tb: Any) -> Iterator[Any]:
    while tb is not None:
        yield tb
        tb = tb.tb_next


def test_no_exception_is_left_behind(path: str) -> None:
    """Neither in wasmcore nor in wasmtime-py's process-wide LAST_EXCEPTION: a later call of
    this plugin or another succeeds."""
    from wasmtime import _func

    p, other = plugin(path, i32=lambda k: 1 // 0), plugin(path)
    with pytest.raises(ZeroDivisionError):
        p.call_i32(1)
    assert _func.LAST_EXCEPTION is None
    assert other.call_i32(4) == 4 and other.sum(3) == 6
    assert p.call_note(1) is None and p.divide(7, 2) == 3


def test_exceptions_stay_with_their_threads(path: str) -> None:
    """Host functions failing in two threads at once: each caller gets its own exception."""
    errors: dict[int, BaseException] = {}
    barrier = threading.Barrier(2)

    def fail(x: int) -> int:
        barrier.wait(10)
        raise LookupError(x)

    p = plugin(path, i32=fail)  # one plugin: an instance per thread

    def run(k: int) -> None:
        try:
            p.call_i32(k)
        except LookupError as e:
            errors[k] = e

    threads = [threading.Thread(target=run, args=(k,)) for k in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert {k: e.args for k, e in errors.items()} == {1: (1,), 2: (2,)}


# -- a host function that returns the wrong thing ---------------------------------------------

@pytest.mark.parametrize(("name", "value", "want"), [
    ("i32", "3", "i32"), ("i32", None, "i32"), ("i32", 1.0, "i32"), ("i32", True, "i32"),
    ("i32", 2**32, "i32"), ("i32", -(2**31) - 1, "i32"), ("i64", 2**64, "i64"),
    ("f64", "1.5", "f64"), ("f64", False, "f64"), ("pair", (1,), "i64, f32"),
    ("pair", (1, 2.0, 3), "i64, f32"), ("pair", 1, "i64, f32"), ("note", 0, "nothing"),
])
def test_a_wrong_result_is_a_type_error(path: str, name: str, value: object,
                                        want: str) -> None:
    p = plugin(path, **{name: lambda *a: value})
    call = {"i32": lambda: p.call_i32(1), "i64": lambda: p.call_i64(1),
            "f64": lambda: p.call_f64(1.0), "pair": lambda: p.call_pair(1, 1.0),
            "note": lambda: p.call_note(1)}[name]
    with pytest.raises(TypeError, match=rf"host function 'env\.{name}' returned "
                                        rf".*; the import expects {want}"):
        call()
    assert p.divide(9, 3) == 3  # the plugin works again


# -- calling back into the plugin -------------------------------------------------------------

def test_a_host_function_may_call_its_plugin(path: str) -> None:
    """wasm -> host -> wasm -> host ...: fact(n) recurses through the host function."""
    holder: list[wasmcore.Plugin] = []
    depth: list[int] = []

    def down(n: int) -> int:
        depth.append(n)
        return holder[0].fact(n)

    p = plugin(path, i64=down)
    holder.append(p)
    for n in (1, 2, 5, 20):
        depth.clear()
        assert p.fact(n) == math.factorial(n)
        assert depth == list(range(n - 1, 0, -1))
    assert p.call("fact", 10) == math.factorial(10)


def test_an_exception_in_a_nested_call_reaches_the_outer_caller(path: str) -> None:
    holder: list[wasmcore.Plugin] = []
    boom = RuntimeError("deep")

    def down(n: int) -> int:
        if n == 2:
            raise boom
        return holder[0].fact(n)

    p = plugin(path, i64=down)
    holder.append(p)
    with pytest.raises(RuntimeError) as info:
        p.fact(6)  # 6 -> host(5) -> fact(5) -> host(4) -> ... -> host(2) raises
    assert info.value is boom
    assert p.fact(2) == 2 and p.fact(1) == 1  # down(1) is fine: the plugin works again


def test_a_nested_call_that_fails_cannot_reset_the_running_instance(path: str) -> None:
    """As documented: the nested call traps (its exception reaches the host function); the
    next nested call raises Error, since the outer call still runs on the instance; the outer
    call completes, and the plugin recovers after it."""
    holder: list[wasmcore.Plugin] = []
    seen: list[BaseException] = []

    def host(x: int) -> int:
        for args in ((1, 0), (4, 2)):
            try:
                holder[0].divide(*args)
            except wasmcore.Error as e:
                seen.append(e)
        return x + 1

    p = plugin(path, i32=host)
    holder.append(p)
    assert p.call_i32(41) == 42
    trap, busy = seen
    assert isinstance(trap, wasmcore.Trap) and trap.code == "integer_divide_by_zero"
    assert type(busy) is wasmcore.Error and "still running" in str(busy)
    assert p.divide(4, 2) == 2  # re-created now


# -- limits and the collector during callbacks ------------------------------------------------

@pytest.mark.parametrize("limits", [{"timeout": 0.2}, {"fuel": 10**6}])
def test_limits_hold_in_a_loop_of_callbacks(path: str, limits: dict[str, Any]) -> None:
    p = wasmcore.Plugin(WAT.encode(), host=HOST, **limits)
    assert p._backend.path == (path if path != "0" and internals.usable("calls") else wasm.PUBLIC)
    exc = wasmcore.Timeout if "timeout" in limits else wasmcore.FuelExhausted
    for _ in range(2):
        _, error, _ = guarded(p.spin)  # a limit that does not fire fails, never hangs
        assert isinstance(error, exc), error
        assert p.sum(4) == 10


def test_no_store_is_closed_inside_a_callback(path: str) -> None:
    """The collector runs inside host functions; the Stores of dropped plugins wait for the
    next safe point (the reaper)."""
    inside: list[tuple[bool, int]] = []

    def churn(x: int) -> int:
        wasmcore.Plugin(WAT.encode(), host=HOST).call_i32(1)  # made and dropped in here
        gc.collect()
        inside.append((reaper.in_callback(), reaper.reap()))
        return x

    p = plugin(path, i32=churn)
    assert p.sum(3) == 6
    assert inside == [(True, 0)] * 3
    gc.collect()
    reaper.reap()


def test_a_plugin_its_host_function_refers_to_is_freed(path: str) -> None:
    """A host function closing over its own plugin makes a cycle the collector frees (no
    global table keeps it): its instance and Store go, its memory with them."""
    import weakref

    def make() -> tuple[weakref.ref[wasmcore.Plugin], int]:
        box: list[wasmcore.Plugin] = []
        p = plugin(path, i32=lambda x: box[0].divide(x, 1))
        box.append(p)
        assert p.call_i32(7) == 7
        return weakref.ref(p), len(reaper._KEEP)

    gc.collect()
    reaper.reap()
    before = len(reaper._KEEP)
    ref, alive = make()
    assert alive == before + 1  # its Store, while it lived
    gc.collect()
    reaper.reap()
    assert ref() is None and len(reaper._KEEP) == before


# -- calls made from host functions -------------------------------------------------------------

NESTED = """(module
  (import "env" "cb" (func $cb))
  (import "env" "cb2" (func $cb2))
""" + RUNTIME + """
  (func $sum (param $p i32) (param $n i32) (result i32) (local $s i32) (local $i i32)
    (block $d (loop $l (br_if $d (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $s (i32.add (local.get $s) (i32.load8_u (i32.add (local.get $p) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)))
    (local.get $s))
  (func (export "outer") (param i32 i32) (result i32)
    (call $cb) (call $sum (local.get 0) (local.get 1)))
  (func (export "inner") (param i32 i32) (result i32)
    (call $cb2) (call $sum (local.get 0) (local.get 1)))
  (func (export "plain") (param i32 i32) (result i32) (call $sum (local.get 0) (local.get 1))))"""


def test_calls_from_host_functions_keep_the_callers_arguments(path: str) -> None:
    """A host function that calls the plugin's typed exports with bytes (one level, and two:
    from a host function of that call) while the outer call, which still reads its own
    arguments after, runs: each call's arguments are its own (the nested ones get scratch
    areas of their own, large enough to grow), on every path."""
    manifest = toy_manifest(
        functions=[fn(n, [("data", "bytes")], "u32") for n in ("outer", "inner", "plain")],
        imports=[{"module": "env", "name": n, "kind": "func"} for n in ("cb", "cb2")])
    seen: list[int] = []
    p = wasmcore.Plugin(module_with(manifest, NESTED), timeout=30, host={
        "cb": lambda: seen.append(p.inner(b"\xff" * 3000)),
        "cb2": lambda: seen.append(p.plain(b"\x02" * 70_000))})
    assert p._backend.path == (path if path != "0" and internals.usable("calls") else wasm.PUBLIC)
    for k in range(3):
        data = bytes(range(1, 9)) * (1 + 10_000 * k)
        assert p.outer(data) == sum(data)
        assert seen[-2:] == [140_000, 255 * 3000]  # (the deepest call returns first)
    assert p.plain(b"\x03" * 5) == 15  # a call from the top again: the nested areas are freed
    inst = p._backend.instance()
    assert inst._outer == [] and inst._area_depth == 0
