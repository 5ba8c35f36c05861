"""wasmcore.Component: the same WIT world (examples/component-plugin/wit) implemented in Rust
(wit-bindgen) and in Python (componentize-py), both built by `just components`, through the
same checks: every export against a Python oracle on random and edge inputs, the two guests
against each other, bad arguments, the host imports, resources, the limits and recovery after
each failure."""

from __future__ import annotations

import dataclasses
import enum
import math
import os
import pickle
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import hosts
import numpy as np
import pytest
import wasmcore
from wasmcore._backends import internals

ROOT = Path(__file__).resolve().parents[2]
GUESTS = {lang: ROOT / "target" / "components" / f"plugin-{lang}.wasm"
          for lang in ("rust", "python")}
HOST_IFACE = "demo:plugin/host@0.1.0"
I32_MIN = -(1 << 31)


def path_of(lang: str) -> Path:
    path = GUESTS[lang]
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `just components`")
    return path


class Host:
    """The host side of the world's `host` interface, recording its calls."""

    def __init__(self, factor: int = 3) -> None:
        self.logged: list[str] = []
        self.factor = factor

    def functions(self) -> dict[str, Any]:
        return {HOST_IFACE: {"log": self.logged.append, "get-factor": lambda: self.factor}}


@pytest.fixture(scope="module", params=sorted(GUESTS))
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def loaded(lang: str) -> tuple[wasmcore.Component, Host]:
    host = Host()
    c = wasmcore.Component(path_of(lang), host=host.functions(), timeout=2.0,
                           max_memory=256 << 20)
    return c, host


@pytest.fixture
def comp(loaded: tuple[wasmcore.Component, Host]) -> Any:
    return loaded[0]


# -- oracles (the semantics the WIT's comments and the example's README state) --------------

def process_oracle(text: str, scale: int, reverse: bool, tag: str | None) -> str:
    s = text * scale
    if reverse:
        s = s[::-1]
    return s if tag is None else f"[{tag}]{s}"


def ascii_upper(s: str) -> str:
    return "".join(chr(ord(ch) - 32) if "a" <= ch <= "z" else ch for ch in s)


def trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


WORDS = ["", " ", "a", "hello world", "  spaced   out  ", "ünïcödé wörds ✓", "tab\tand\nnewline",
         "x" * 1000, "日本語 テキスト"]


def random_text(rng: random.Random, n: int) -> str:
    alphabet = "abcXYZ 019 \t\néü✓日"
    return "".join(rng.choice(alphabet) for _ in range(n))


# -- numbers ---------------------------------------------------------------------------------

def test_add_wraps_as_u32_and_checks_its_range(comp: Any) -> None:
    rng = random.Random(1)
    cases = [(0, 0), (1, 2), ((1 << 32) - 1, 1), ((1 << 32) - 1, (1 << 32) - 1)]
    cases += [(rng.randrange(1 << 32), rng.randrange(1 << 32)) for _ in range(200)]
    for a, b in cases:
        assert comp.add(a, b) == (a + b) % (1 << 32)
    assert comp.add(a=5, b=7) == 12
    with pytest.raises(ValueError, match=r"add\(\): parameter 'a' must be >= 0, got -1"):
        comp.add(-1, 1)
    with pytest.raises(ValueError, match=r"parameter 'b'"):
        comp.add(1, 1 << 32)
    with pytest.raises(TypeError, match=r"parameter 'a' must be an int, got str"):
        comp.add("1", 2)
    with pytest.raises(TypeError, match=r"got bool"):
        comp.add(True, 2)
    with pytest.raises(TypeError, match=r"add\(\) takes 2 arguments"):
        comp.add(1)
    assert comp.add(3, 4) == 7  # (bad arguments never reach the instance)
    with pytest.raises(AttributeError, match=r"exports no 'adds' \(its functions: add, area,"):
        comp.adds(1, 2)


def test_divide_returns_ok_or_raises_the_error_value(comp: Any) -> None:
    rng = random.Random(2)
    cases = [(7, 2), (-7, 2), (7, -2), (-7, -2), (I32_MIN, 1), ((1 << 31) - 1, -1), (0, 5)]
    cases += [(rng.randrange(I32_MIN, 1 << 31), rng.choice([1, -1, 3, rng.randrange(1, 1 << 31)]))
              for _ in range(200)]
    for a, b in cases:
        assert comp.divide(a, b) == trunc_div(a, b), (a, b)
    with pytest.raises(wasmcore.ComponentError) as e:
        comp.divide(1, 0)
    assert e.value.value == "division by zero"
    assert isinstance(e.value, wasmcore.Error)
    with pytest.raises(wasmcore.ComponentError) as e:
        comp.divide(I32_MIN, -1)
    assert e.value.value == "overflow"
    with pytest.raises(ValueError, match=r"parameter 'a'"):
        comp.divide(1 << 31, 1)
    assert comp.divide(9, 3) == 3  # (an error result is no failure of the instance)


# -- strings, records, options ----------------------------------------------------------------

def test_process_takes_a_record_in_every_form(comp: Any) -> None:
    rng = random.Random(3)
    texts = [*WORDS, *(random_text(rng, rng.randrange(0, 40)) for _ in range(60))]
    for text in texts:
        scale = rng.randrange(1, 4)
        reverse = rng.random() < 0.5
        tag = rng.choice([None, "", "t", "tag ✓"])
        want = process_oracle(text, scale, reverse, tag)
        assert comp.process(text, {"scale": scale, "reverse": reverse, "tag": tag}) == want
        assert comp.process(text, comp.Options(scale=scale, reverse=reverse, tag=tag)) == want
        obj = SimpleNamespace(scale=scale, reverse=reverse, tag=tag)
        assert comp.process(text, obj) == want
    assert comp.process("AbC", {"scale": 2, "reverse": False, "tag": None}) == "AbCAbC"
    assert dataclasses.is_dataclass(comp.Options)
    with pytest.raises(wasmcore.ComponentError) as e:
        comp.process("x", {"scale": 0, "reverse": False, "tag": None})
    assert e.value.value == "scale must be positive"
    with pytest.raises(TypeError, match=r"missing field 'reverse'"):
        comp.process("x", {"scale": 1, "tag": None})
    with pytest.raises(TypeError, match=r"no field 'colour'"):
        comp.process("x", {"scale": 1, "reverse": True, "tag": None, "colour": 1})
    with pytest.raises(ValueError, match=r"parameter 'opts.scale'"):
        comp.process("x", {"scale": -1, "reverse": True, "tag": None})
    with pytest.raises(TypeError, match=r"parameter 'opts.reverse' must be a bool"):
        comp.process("x", {"scale": 1, "reverse": 1, "tag": None})
    with pytest.raises(TypeError, match=r"parameter 'text' must be a str, got bytes"):
        comp.process(b"x", {"scale": 1, "reverse": True, "tag": None})
    with pytest.raises(ValueError, match=r"lone surrogate"):
        comp.process("\ud800", {"scale": 1, "reverse": True, "tag": None})


def test_shout_calls_the_host_and_first_word_is_an_option(
        loaded: tuple[wasmcore.Component, Host]) -> None:
    comp, host = loaded
    for text in WORDS:
        host.logged.clear()
        assert comp.shout(text) == ascii_upper(text)
        assert host.logged == [text]
        split = text.split()
        assert comp.first_word(text) == (split[0] if split else None)


def test_describe_gives_a_dataclass_with_an_enum(comp: Any) -> None:
    rng = random.Random(4)
    for text in [*WORDS, *(random_text(rng, 30) for _ in range(30))]:
        for mode in comp.Mode:
            got = comp.describe(text, mode)
            words = text.split()
            assert got == comp.Stats(count=len(words),
                                     max_len=max((len(w) for w in words), default=0),
                                     mode=mode)
            assert got.mode is mode
    assert issubclass(comp.Mode, enum.Enum)
    assert [m.value for m in comp.Mode] == ["upper", "lower", "keep"]
    assert comp.describe("a b", "lower").mode is comp.Mode.LOWER  # (a case's WIT name)
    with pytest.raises(TypeError, match=r"parameter 'm' must be a Mode"):
        comp.describe("a", "sideways")


def test_toggle_flips_a_flag(comp: Any) -> None:
    P = comp.Perms
    assert issubclass(P, enum.Flag)
    every = [P(0), P.READ, P.WRITE, P.EXEC, P.READ | P.WRITE, P.READ | P.EXEC,
             P.READ | P.WRITE | P.EXEC]
    for p in every:
        assert comp.toggle(p) == p ^ P.EXEC
    assert comp.toggle({"read", "write"}) == P.READ | P.WRITE | P.EXEC
    with pytest.raises(TypeError, match=r"'delete' is not a flag of Perms"):
        comp.toggle({"delete"})


def test_area_takes_a_variant(comp: Any) -> None:
    S = comp.Shape
    rng = random.Random(5)
    for _ in range(100):
        r, w, h = rng.uniform(0, 1e3), rng.uniform(-1e3, 1e3), rng.uniform(0, 1e3)
        assert comp.area(S.Circle(r)) == 3.141592653589793 * r * r
        assert comp.area(S.Rect((w, h))) == w * h
    assert comp.area(S.Empty()) == 0.0
    assert math.isinf(comp.area(S.Circle(math.inf)))
    assert math.isnan(comp.area(S.Rect((math.nan, 1.0))))
    with pytest.raises(TypeError, match=r"must be a Shape case"):
        comp.area(2.0)


# -- lists -------------------------------------------------------------------------------------

def test_lists_against_python(comp: Any) -> None:
    rng = random.Random(6)
    for n in (0, 1, 7, 1000):
        data = rng.randbytes(n)
        assert comp.echo(data) == data
        assert comp.echo(bytearray(data)) == data
        assert comp.echo(memoryview(data)) == data
        xs = [rng.randrange(1 << 32) for _ in range(n)]
        assert comp.sum(xs) == sum(xs)
        assert comp.sum(tuple(xs)) == sum(xs)
        assert comp.range(n) == list(range(n))
    nrng = np.random.default_rng(6)
    for dtype in (np.uint32, np.int64, np.uint8, np.uint64, np.int16):
        arr = nrng.integers(0, min(np.iinfo(dtype).max, (1 << 32) - 1), 300, dtype=dtype,
                            endpoint=True)
        assert comp.sum(arr) == int(arr.astype(np.uint64).sum())
    assert comp.sum(np.array([], dtype=np.uint32)) == 0
    with pytest.raises(ValueError, match=r"parameter 'xs\[2\]' must be >= 0, got -1"):
        comp.sum(np.array([1, 2, -1, 4]))
    with pytest.raises(ValueError, match=r"parameter 'xs\[1\]' must be <= 4294967295"):
        comp.sum(np.array([1, 1 << 32], dtype=np.uint64))
    with pytest.raises(TypeError, match=r"parameter 'xs\[0\]' must be an int, got float64"):
        comp.sum(np.array([1.5]))
    with pytest.raises(TypeError, match=r"parameter 'data' must be bytes-like"):
        comp.echo("text")
    with pytest.raises(ValueError, match=r"parameter 'xs\[2\]'"):
        comp.sum([1, 2, -3])
    with pytest.raises(TypeError, match=r"parameter 'xs\[1\]' must be an int"):
        comp.sum([1, "2"])


# -- resources ---------------------------------------------------------------------------------

def test_a_resource_is_a_class(comp: Any) -> None:
    Counter = comp.counters.Counter
    c = Counter(5)
    assert c.inc() == 6
    assert c.inc() == 7
    assert c.value() == 7
    with Counter((1 << 32) - 1) as top:
        assert top.inc() == 0  # (wrapping u32)
    with pytest.raises(ValueError, match="closed"):
        top.value()
    others = [Counter(i) for i in range(50)]
    assert [o.value() for o in others] == list(range(50))
    del others  # (dropped at the next call: finalizers only queue)
    assert c.value() == 7
    with pytest.raises(ValueError, match=r"parameter 'start'"):
        Counter(-1)


def test_a_resource_belongs_to_its_thread(comp: Any) -> None:
    c = comp.counters.Counter(1)
    out: list[BaseException] = []

    def other() -> None:
        try:
            c.inc()
        except ValueError as e:
            out.append(e)

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert len(out) == 1 and isinstance(out[0], ValueError)
    assert "another thread" in str(out[0])
    assert c.inc() == 2


# -- the sandbox ---------------------------------------------------------------------------------

def test_a_trap_is_a_trap_and_the_next_call_works(comp: Any) -> None:
    counter = comp.counters.Counter(1)
    with pytest.raises(wasmcore.Trap) as e:
        comp.hostile.crash()
    assert type(e.value) is wasmcore.Trap
    assert e.value.code == "unreachable"
    assert comp.add(1, 2) == 3
    assert comp.process("ok", {"scale": 1, "reverse": False, "tag": None}) == "ok"
    with pytest.raises(ValueError, match="re-created"):
        counter.value()  # (its instance is gone)


def test_an_infinite_loop_times_out(lang: str) -> None:
    c = wasmcore.Component(path_of(lang), host=Host().functions(), timeout=0.5)
    with pytest.raises(wasmcore.Timeout):
        c.hostile.spin()
    assert c.add(2, 2) == 4


def test_fuel_stops_an_infinite_loop(lang: str) -> None:
    c = wasmcore.Component(path_of(lang), host=Host().functions(), fuel=50_000_000)
    with pytest.raises(wasmcore.FuelExhausted):
        c.hostile.spin()
    assert c.add(2, 2) == 4


def test_a_memory_bomb_is_stopped_at_max_memory(lang: str) -> None:
    c = wasmcore.Component(path_of(lang), host=Host().functions(), max_memory=96 << 20,
                           timeout=30)
    if internals.usable("memory creator"):
        with pytest.raises(wasmcore.MemoryLimitExceeded):
            c.hostile.bomb()
    else:  # (the store limiter refuses silently: the guest's allocator then traps)
        with pytest.raises(wasmcore.Trap):
            c.hostile.bomb()
    assert c.add(2, 2) == 4


def test_cancel_stops_a_call_from_another_thread(lang: str) -> None:
    c = wasmcore.Component(path_of(lang), host=Host().functions())
    handle = c.cancel_handle()
    timer = threading.Timer(0.3, handle.cancel)
    timer.start()
    try:
        with pytest.raises(wasmcore.Cancelled):
            c.hostile.spin()
    finally:
        timer.cancel()
    assert c.add(1, 1) == 2


def test_imports_are_denied_by_default(lang: str) -> None:
    with pytest.raises(wasmcore.ModuleRejected, match=r"demo:plugin/host@0\.1\.0#log"):
        wasmcore.Component(path_of(lang))
    with pytest.raises(wasmcore.ModuleRejected, match=r"get-factor"):
        wasmcore.Component(path_of(lang), host={HOST_IFACE: {"log": print}})
    with pytest.raises(TypeError, match=r"imports no demo:plugin/host@0\.1\.0#shout"):
        wasmcore.Component(path_of(lang), host={HOST_IFACE: {
            "log": print, "get-factor": lambda: 1, "shout": print}})
    with pytest.raises(TypeError, match=r"must take 0 positional arguments"):
        wasmcore.Component(path_of(lang), host={HOST_IFACE: {
            "log": print, "get-factor": lambda x: 1}})
    # the flat spelling, and snake_case names
    logged: list[str] = []
    c = wasmcore.Component(path_of(lang), host={f"{HOST_IFACE}#log": logged.append,
                                                f"{HOST_IFACE}#get_factor": lambda: 7})
    assert c.scaled(6) == 42
    assert c.shout("hi") == "HI" and logged == ["hi"]


def test_host_function_failures(lang: str) -> None:
    state = {"factor": 2, "fail": False}

    def factor() -> Any:
        if state["fail"]:
            raise KeyError("no factor")
        return state["factor"]

    c = wasmcore.Component(path_of(lang), host={HOST_IFACE: {"log": lambda s: None,
                                                             "get-factor": factor}})
    rng = random.Random(7)
    for _ in range(50):
        x = rng.randrange(1 << 32)
        assert c.scaled(x) == (2 * x) % (1 << 32)
    state["fail"] = True
    with pytest.raises(KeyError, match="no factor"):
        c.scaled(1)
    state["fail"] = False
    state["factor"] = "three"
    with pytest.raises(TypeError, match=r"get-factor.*must be an int, got str"):
        c.scaled(1)
    state["factor"] = 1 << 32
    with pytest.raises(ValueError, match=r"get-factor"):
        c.scaled(1)
    state["factor"] = 5
    assert c.scaled(3) == 15


def test_threads_get_instances_of_their_own(comp: Any) -> None:
    results: dict[int, list[int]] = {}

    def work(k: int) -> None:
        counter = comp.counters.Counter(k * 1000)
        results[k] = [counter.inc() for _ in range(200)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {k: list(range(k * 1000 + 1, k * 1000 + 201)) for k in range(4)}


def test_the_guests_agree(loaded: tuple[wasmcore.Component, Host]) -> None:
    """Both guests, on the same random inputs (the other guest loaded here)."""
    comp, _ = loaded
    other_lang = "python" if comp.name == GUESTS["rust"].name else "rust"
    other = wasmcore.Component(path_of(other_lang), host=Host().functions())
    rng = random.Random(8)
    for _ in range(100):
        text = random_text(rng, rng.randrange(0, 30))
        opts = {"scale": rng.randrange(0, 3), "reverse": rng.random() < 0.5,
                "tag": rng.choice([None, "x"])}
        outs = []
        for c in (comp, other):
            try:
                outs.append(("ok", c.process(text, opts)))
            except wasmcore.ComponentError as e:
                outs.append(("err", e.value))
        assert outs[0] == outs[1]
        assert comp.describe(text, "keep").count == other.describe(text, "keep").count
        assert comp.first_word(text) == other.first_word(text)


def test_a_component_pickles(lang: str) -> None:
    c = wasmcore.Component(path_of(lang), host={HOST_IFACE: {
        "log": hosts.component_log, "get-factor": hosts.component_factor}}, timeout=3.0)
    c2 = pickle.loads(pickle.dumps(c))
    assert c2.scaled(5) == c.scaled(5) == 5 * hosts.component_factor()
    assert c2.timeout == 3.0
    lam = wasmcore.Component(path_of(lang), host=Host().functions())
    with pytest.raises(TypeError, match=r"host function .* does not pickle"):
        pickle.dumps(lam)


def test_bad_sources_are_refused(tmp_path: Path) -> None:
    with pytest.raises(wasmcore.ModuleRejected, match="does not compile"):
        wasmcore.Component(b"\0asm\x0d\0\x01\0garbage")
    with pytest.raises(wasmcore.ModuleRejected, match="cannot read"):
        wasmcore.Component(tmp_path / "missing.wasm")
    with pytest.raises(TypeError, match=r"Component\(\): parameter 'timeout'"):
        wasmcore.Component(b"", timeout="soon")  # type: ignore[arg-type]


def test_the_fast_path_equals_the_public_api(lang: str, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    """Where the fast path is used (wasmtime_component_func_call with values written here,
    wasmcore's host callbacks), the same calls through wasmtime-py's public Func.__call__ and
    add_func give the same results and errors: random arguments for every export, good and
    bad."""
    fast = wasmcore.Component(path_of(lang), host=Host().functions())
    if not fast._fast:
        pytest.skip("the fast path is not used here (WASMCORE_FAST_PATH or wasmtime-py)")
    usable = internals.usable
    with monkeypatch.context() as m:  # (a component decides its path when it is made)
        m.setattr(internals, "usable", lambda f: f != "component calls" and usable(f))
        public = wasmcore.Component(path_of(lang), host=Host().functions())
    assert not public._fast
    rng = random.Random(9)

    def outcome(c: Any, name: str, *args: Any) -> Any:
        try:
            return ("ok", getattr(c, name)(*args))
        except Exception as e:  # noqa: BLE001 -- the exception is the outcome compared
            return (type(e).__name__, str(e), getattr(e, "value", None))

    def some_int() -> Any:
        return rng.choice([0, 1, (1 << 32) - 1, -1, 1 << 32, rng.randrange(-(1 << 40), 1 << 40),
                           2.5, "3", None])

    for _ in range(300):
        text = random_text(rng, rng.randrange(0, 20))
        calls = [
            ("add", some_int(), some_int()),
            ("divide", rng.randrange(I32_MIN, 1 << 31), rng.choice([0, -1, 1, 7])),
            ("echo", rng.randbytes(rng.randrange(0, 100))),
            ("sum", [rng.randrange(1 << 32) for _ in range(rng.randrange(0, 50))]),
            ("sum", [some_int() for _ in range(3)]),
            ("sum", tuple(rng.randrange(-5, 1 << 33) for _ in range(rng.randrange(0, 9)))),
            ("range", rng.randrange(0, 300)),
            ("shout", text),
            ("first_word", text),
            ("scaled", some_int()),
            ("process", text, {"scale": rng.randrange(0, 3), "reverse": rng.random() < 0.5,
                               "tag": rng.choice([None, "t"])}),
            ("describe", text, rng.choice(["upper", "lower", "keep", "other"])),
            ("toggle", rng.choice([{"read"}, {"exec", "write"}, set(), {"bad"}])),
            ("area", rng.choice([("Circle", rng.uniform(0, 9)), ("Rect", (1.5, -2.0)),
                                 ("Empty",)])),
        ]
        for name, *args in calls:
            if name == "area":  # (a case of each component's own class)
                case, *value = args[0]
                a = outcome(fast, name, getattr(fast.Shape, case)(*value))
                b = outcome(public, name, getattr(public.Shape, case)(*value))
            else:
                a, b = outcome(fast, name, *args), outcome(public, name, *args)
            if name in ("area", "describe", "toggle") and a[0] == "ok":
                # (each component has its own generated classes: compare their contents)
                a, b = repr(a), repr(b)
            assert a == b, (name, args)


STUB_GOOD = '''\
from __future__ import annotations

from typing import TYPE_CHECKING, cast

import wasmcore

if TYPE_CHECKING:
    from plugin_api import Mode, Plugin, Stats

c = cast("Plugin", wasmcore.Component("plugin.wasm", host={}))
total: int = c.add(1, 2)
text: str = c.process("a", {"scale": 1, "reverse": False, "tag": None})
text2: str = c.process("a", c.Options(scale=1, reverse=False, tag="x"))
stats: Stats = c.describe("a b", c.Mode.UPPER)
mode: Mode = stats.mode
n: int = stats.max_len
area: float = c.area(c.Shape.Circle(2.0)) + c.area(c.Shape.Empty())
perms = c.toggle(c.Perms.READ | c.Perms.EXEC)
counter = c.counters.Counter(5)
k: int = counter.inc()
maybe: str | None = c.first_word("x")
xs: list[int] = c.range(3)
total += c.sum(xs) + c.sum((1, 2))
data: bytes = c.echo(bytearray(b"x"))
c.hostile.spin()
'''
# line -> what mypy --strict must report there
STUB_BAD = {
    'c.add("1", 2)': 'Argument 1 to "add" of "Plugin" has incompatible type "str"; '
                     'expected "int"  [arg-type]',
    's: int = c.shout("x")': 'Incompatible types in assignment (expression has type "str", '
                             'variable has type "int")  [assignment]',
    "c.area(2.0)": 'Argument 1 to "area" of "Plugin" has incompatible type "float"; '
                   'expected "Shape"  [arg-type]',
    'c.counters.Counter("5")': 'Argument 1 to "Counter" has incompatible type "str"; '
                               'expected "int"  [arg-type]',
    "c.adds(1, 2)": '"Plugin" has no attribute "adds"; maybe "add"?  [attr-defined]',
    'c.describe("a", 3)': 'Argument 2 to "describe" of "Plugin" has incompatible type "int"; '
                          'expected "Mode | str"  [arg-type]',
    "c.counters.Counter(1).inc(2)": 'Too many arguments for "inc" of "Counter"  [call-arg]',
}


def test_stubs_let_mypy_check_a_host(tmp_path: Path) -> None:
    """`wasmcore stubs` of each guest: the same API (the guests implement one world), a host
    script using it passes mypy --strict, and each wrong use is the error mypy reports."""
    stubs = {}
    for lang in GUESTS:
        out = tmp_path / f"{lang}.pyi"
        r = subprocess.run([sys.executable, "-m", "wasmcore", "stubs", str(path_of(lang)),
                            "-o", str(out)], capture_output=True, text=True, check=False)
        assert r.returncode == 0, r.stderr
        stubs[lang] = out.read_text().split("\n", 2)[2]  # (past the header naming the file)
    assert stubs["rust"] == stubs["python"]
    (tmp_path / "plugin_api.pyi").write_text(stubs["rust"])
    (tmp_path / "good.py").write_text(STUB_GOOD)
    bad = STUB_GOOD.split("c = cast")[0] + 'c = cast("Plugin", wasmcore.Component("p.wasm"))\n' \
        + "\n".join(STUB_BAD) + "\n"
    (tmp_path / "bad.py").write_text(bad.replace("Mode, Plugin, Stats", "Plugin"))
    (tmp_path / "mypy.ini").write_text("[mypy]\n")
    r = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--config-file", "mypy.ini",
                        "--no-error-summary", "--hide-error-context", "--no-pretty",
                        "--cache-dir", str(tmp_path / "cache"), "plugin_api.pyi", "good.py",
                        "bad.py"], cwd=tmp_path, capture_output=True, text=True, check=False,
                       env={**os.environ, "MYPY_FORCE_COLOR": "0"})
    lines = bad.splitlines()
    got = {lines[int(m[1]) - 1]: m[2] for m in
           re.finditer(r"^bad\.py:(\d+): error: (.*)$", r.stdout, re.MULTILINE)}
    assert got == STUB_BAD, r.stdout + r.stderr
    assert "good.py" not in r.stdout and "plugin_api.pyi" not in r.stdout, r.stdout


WASI_RANDOM = ROOT / "examples" / "component-plugin" / "wasi_random.wat"


def test_wasi_only_when_asked() -> None:
    """A component importing a WASI p2 interface (wasi:random): refused without wasi=, served
    by wasmtime's WASI with it, or by host functions given for it (which take precedence)."""
    with pytest.raises(wasmcore.ModuleRejected,
                       match=r"wasi:random/random@0\.2\.0#get-random-u64 .*wasi=True"):
        wasmcore.Component(WASI_RANDOM)
    c = wasmcore.Component(WASI_RANDOM, wasi=True)
    rolls = {c.roll() for _ in range(20)}
    assert len(rolls) > 1 and all(0 <= r < 1 << 64 for r in rolls)
    fixed = wasmcore.Component(WASI_RANDOM, host={
        "wasi:random/random@0.2.0": {"get_random_u64": lambda: (1 << 64) - 1}})
    assert fixed.roll() == (1 << 64) - 1
    with pytest.raises(ValueError, match=r"get-random-u64.*return value"):
        wasmcore.Component(WASI_RANDOM, host={
            "wasi:random/random@0.2.0#get-random-u64": lambda: -1}).roll()


SIGINT_CHILD = """
import faulthandler, sys
faulthandler.dump_traceback_later(120, exit=True)
import wasmcore
c = wasmcore.Component(sys.argv[1], host={"demo:plugin/host@0.1.0": {
    "log": print, "get-factor": lambda: 1}})
for _ in range(2):
    print("running", flush=True)
    try:
        c.hostile.spin()
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
    print("after", c.add(40, 2), flush=True)
"""


def test_ctrl_c_stops_a_call_on_the_main_thread(lang: str) -> None:
    """SIGINT while a component spins on the main thread: KeyboardInterrupt from the call (the
    plugin engine's epoch callback notices the signal), then the next call works."""
    from test_cancel import deadline_callback

    if not deadline_callback(dict(os.environ)):
        pytest.skip("Ctrl-C stops wasm through the epoch-deadline callback, which this run "
                    "does without (interrupts on wasmtime-py's public API)")
    child = subprocess.Popen([sys.executable, "-c", SIGINT_CHILD, str(path_of(lang))],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        for _ in range(2):
            assert child.stdout.readline().strip() == "running"
            time.sleep(0.5)  # (into the loop: the signal then lands in wasm)
            child.send_signal(signal.SIGINT)
            assert child.stdout.readline().strip() == "KeyboardInterrupt"
            assert child.stdout.readline().strip() == "after 42"
        _, err = child.communicate(timeout=120)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 0, err


def test_a_closed_component_refuses_calls(lang: str) -> None:
    with wasmcore.Component(path_of(lang), host=Host().functions(), timeout=1.0) as c:
        assert c.add(1, 2) == 3
        counter = c.counters.Counter(1)
    with pytest.raises(ValueError, match="closed"):
        c.add(1, 2)
    with pytest.raises(ValueError, match="closed"):
        counter.inc()
    c.close()  # (again: nothing happens)


def test_functions_pickle_by_reference(lang: str) -> None:
    """A function pickles as its component's (or interface's) attribute; unpickled twice, the
    component is made once in the process; a ComponentError keeps its value; a resource
    does not pickle."""
    c = wasmcore.Component(path_of(lang), host={HOST_IFACE: {
        "log": hosts.component_log, "get-factor": hosts.component_factor}})
    scaled = pickle.loads(pickle.dumps(c.scaled))
    assert scaled(7) == c.scaled(7) == 7 * hosts.component_factor()
    spin = pickle.loads(pickle.dumps(c.hostile.spin))
    assert spin.__self__ is pickle.loads(pickle.dumps(c.hostile.crash)).__self__
    again = pickle.loads(pickle.dumps(c.divide))
    assert again.__self__ is scaled.__self__  # (one component per process)
    with pytest.raises(wasmcore.ComponentError) as e:
        again(1, 0)
    back = pickle.loads(pickle.dumps(e.value))
    assert isinstance(back, wasmcore.ComponentError) and back.value == "division by zero"
    assert str(back) == str(e.value)
    with pytest.raises(TypeError, match="does not pickle"):
        pickle.dumps(c.counters.Counter(1))


def test_a_host_function_cannot_reenter_its_component(lang: str) -> None:
    """The component model forbids re-entering an instance: a host function calling the
    component back gets a clear error, which its call raises; the component works on."""
    box: list[Any] = []

    def factor() -> int:
        return int(box[0].add(1, 2))

    c = wasmcore.Component(path_of(lang), host={HOST_IFACE: {"log": print,
                                                             "get-factor": factor}})
    box.append(c)
    with pytest.raises(wasmcore.Error, match=r"add\(\) was called from one of the component's "
                                             r"host functions .* cannot be re-entered"):
        c.scaled(2)
    assert c.add(2, 3) == 5
