"""A plugin's numeric exports, bound from their wasm types (docs/plugins.md, "Calls"): as
attributes and through ``p.call``, with their signatures, the values wasm sees (checked against
``struct``'s reading of wasm integers and f32s: ``as_i32`` ...), several results, the argument errors, and the
exports that cannot be called. Run on each call path (speedups,
ctypes, cffi, the public API)."""

from __future__ import annotations

import inspect
import math
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import wasmcore
from hypothesis import given, settings
from hypothesis import strategies as st
from test_host_callbacks import PATHS, as_f32, as_i32, as_i64
from wasmcore._backends import internals, wasm

ROOT = Path(__file__).resolve().parents[2]
WAT = """(module
  (memory (export "memory") 1)
  (func (export "swap") (param i32 i64 f32 f64) (result f64 f32 i64 i32)
    (local.get 3) (local.get 2) (local.get 1) (local.get 0))
  (func (export "nothing"))
  (func (export "call") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func (export "with-dash") (result i32) (i32.const 7))
  (func (export "ref") (param externref) (result i32) (i32.const 1))
  (func (export "give") (result funcref) (ref.null func)))
"""


@pytest.fixture(params=PATHS, ids=[f"path={p}" for p in PATHS])
def plugin(request: pytest.FixtureRequest,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[wasmcore.Plugin]:
    monkeypatch.setenv("WASMCORE_FAST_PATH", request.param)
    wasm.redecide()
    p = wasmcore.Plugin(WAT.encode())
    assert p._backend.path == (request.param if request.param != "0" and internals.usable("calls")
                               else wasm.PUBLIC)
    yield p
    monkeypatch.undo()
    wasm.redecide()


def test_signatures_come_from_the_wasm_types(plugin: wasmcore.Plugin) -> None:
    assert str(inspect.signature(plugin.swap)) == \
        "(arg1: 'int', arg2: 'int', arg3: 'float', arg4: 'float') " \
        "-> 'tuple[float, float, int, int]'"
    assert str(inspect.signature(plugin.nothing)) == "() -> 'None'"
    assert plugin.swap.__name__ == "swap"
    assert "(i32, i64, f32, f64) -> (f64, f32, i64, i32)" in (plugin.swap.__doc__ or "")


@settings(max_examples=50, deadline=None)
@given(a=st.integers(-(2**31), 2**32 - 1), b=st.integers(-(2**63), 2**64 - 1),
       c=st.floats(allow_nan=False, width=32) | st.integers(-(2**40), 2**40),
       d=st.floats(allow_nan=False))
def test_values_cross_as_wasm_sees_them(a: int, b: int, c: float, d: float) -> None:
    for path in PATHS:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("WASMCORE_FAST_PATH", path)
            wasm.redecide()
            p = wasmcore.Plugin(WAT.encode())
        wasm.redecide()
        want = (d, as_f32(float(c)), as_i64(b), as_i32(a))
        assert p.swap(a, b, c, d) == want
        assert p.call("swap", a, b, c, d) == want


def test_what_cannot_be_represented(plugin: wasmcore.Plugin) -> None:
    assert plugin.swap(0, 0, 1e300, 0.0)[1] == math.inf  # beyond f32: its infinity
    assert plugin.swap(0, 0, -1e300, 0.0)[1] == -math.inf
    assert plugin.nothing() is None and plugin.call("nothing") is None


@pytest.mark.parametrize(("args", "exc", "message"), [
    ((1.0, 0, 0.0, 0.0), TypeError, r"swap\(\): argument 1 \(i32\) must be an int, got float"),
    ((True, 0, 0.0, 0.0), TypeError, r"argument 1 \(i32\) must be an int, got bool"),
    ((2**32, 0, 0.0, 0.0), ValueError, r"argument 1 \(i32\) is out of range: 4294967296"),
    ((0, -(2**63) - 1, 0.0, 0.0), ValueError, r"argument 2 \(i64\) is out of range"),
    ((0, 0, "1", 0.0), TypeError, r"argument 3 \(f32\) must be a number, got str"),
    ((0, 0, 0.0, None), TypeError, r"argument 4 \(f64\) must be a number, got NoneType"),
    ((0, 0, 0.0, 10**400), ValueError, r"argument 4 \(f64\) is out of range"),
])
def test_bad_arguments_name_the_function_and_the_argument(
        plugin: wasmcore.Plugin, args: tuple[object, ...], exc: type[Exception],
        message: str) -> None:
    for call in (lambda: plugin.swap(*args), lambda: plugin.call("swap", *args)):
        with pytest.raises(exc, match=message):
            call()
    assert plugin.swap(1, 2, 3.0, 4.0) == (4.0, 3.0, 2, 1)  # nothing was left half-done


def test_arity(plugin: wasmcore.Plugin) -> None:
    with pytest.raises(TypeError, match=r"call\(\): swap\(\) takes 4 arguments "
                                        r"\(\(i32, i64, f32, f64\) -> \(f64, f32, i64, i32\)\), "
                                        r"got 1"):
        plugin.call("swap", 1)
    with pytest.raises(TypeError, match="arg2"):
        plugin.swap(1)


def test_names_that_are_not_attributes(plugin: wasmcore.Plugin) -> None:
    assert plugin.call("call", 21) == 42  # Plugin.call stays the method
    assert plugin.call("with-dash") == 7 and getattr(plugin, "with-dash")() == 7
    for name in ("ref", "give"):  # an externref parameter, a funcref result
        assert not hasattr(plugin, name)
        with pytest.raises(TypeError, match=rf"{name}\(\) has a \w+ parameter or result; only "
                                            r"exports of numbers \(i32, i64, f32, f64\)"):
            plugin.call(name)
    with pytest.raises(ValueError, match="exports no function 'memory'"):
        plugin.call("memory")
    with pytest.raises(TypeError, match="parameter 'name' must be a str, got list"):
        plugin.call(["swap"])  # type: ignore[arg-type]


def test_a_typed_plugin_keeps_its_runtime_exports_off_its_attributes(
        plugin: wasmcore.Plugin) -> None:
    p = wasmcore.Plugin(ROOT / "target" / "dist" / "plugins" / "textstats.wasm",
                        host={"log": lambda ptr, n: None})
    assert p.count_words(b"a b c") == 3  # typed, from the manifest
    assert not hasattr(p, "wasmcore_alloc") and "wasmcore_alloc" in p.exports
    ptr = p.call("wasmcore_alloc", 16, 8)  # raw, through call()
    assert ptr > 0 and ptr % 8 == 0
    assert p.call("wasmcore_free", ptr, 16, 8) is None


def test_a_closed_plugin_refuses_calls_from_every_thread(plugin: wasmcore.Plugin) -> None:
    add = plugin.swap
    plugin.close()
    errors: list[BaseException] = []

    def other() -> None:
        try:
            add(1, 2, 3.0, 4.0)
        except BaseException as e:  # noqa: BLE001 - reported to the test
            errors.append(e)

    t = threading.Thread(target=other)
    t.start()
    t.join(60)
    with pytest.raises(ValueError, match="closed"):
        add(1, 2, 3.0, 4.0)
    assert len(errors) == 1 and isinstance(errors[0], ValueError), errors
