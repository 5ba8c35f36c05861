"""Pickling: cores and every kernel, RunningStats (state carried and merged), plugins with
their limits, WASI and host functions, Wasi, and the exceptions; round trips checked against
the oracles, in this process and in fresh ones (which get plugins from the pickle's bytes).
The Dask cluster tests are in test_dask.py."""

from __future__ import annotations

import hashlib
import inspect
import math
import os
import pickle
import shutil
import subprocess
import sys
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import hosts
import numpy as np
import pytest
import scipy.special
import wasmcore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_objects import batch, check_stats, push_batch
from wasmcore import _pickle

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def roundtrip(obj: Any) -> Any:
    return pickle.loads(pickle.dumps(obj))


def rebuilt(obj: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``obj`` pickled and unpickled as in another process: without this process's original
    cores and plugins (in their own process, a reference gives back the original)."""
    data = pickle.dumps(obj)
    monkeypatch.setattr(_pickle, "_ORIGINALS", weakref.WeakValueDictionary())
    return pickle.loads(data)


def in_fresh_process(data: bytes, code: str, env: dict[str, str] | None = None) -> str:
    """Runs ``code`` in a new interpreter with ``data`` on stdin; its stdout. The code sees
    ``data`` as ``DATA`` and has imported only sys and pickle."""
    prelude = "import sys, pickle\nDATA = sys.stdin.buffer.read()\n"
    out = subprocess.run([sys.executable, "-c", prelude + code], input=data,
                         capture_output=True, timeout=300,
                         env={**os.environ, **(env or {}),
                              "PYTHONPATH": os.pathsep.join(sys.path)}, check=False)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout.decode()


def fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


@pytest.fixture
def no_shipping(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's registry as if new: no module marked shipped, none known."""
    monkeypatch.setattr(_pickle, "_SHIPPED", {})
    monkeypatch.setattr(_pickle, "_MODULES", {})
    yield


# -- cores and their kernels ------------------------------------------------------------------

def test_core_round_trips_once_per_process(core: wasmcore.Core,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # in its own process, a core loaded here (the latest loaded with the same identity)
    assert roundtrip(core)._origin == core._origin
    latest = wasmcore.load(core.backend)  # type: ignore[arg-type]
    assert roundtrip(core) is latest
    again = rebuilt(core, monkeypatch)
    assert isinstance(again, wasmcore.Core) and again is not core
    assert (again.backend, again.functions, again.classes) == \
        (core.backend, core.functions, core.classes)
    assert rebuilt(core, monkeypatch) is again  # loaded once in a process, then reused
    assert again.fib(20) == fib(20)


def test_every_kernel_pickles(core: wasmcore.Core, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in core.functions:
        f = getattr(core, name)
        g = rebuilt(f, monkeypatch)
        assert g.__name__ == name
        assert inspect.signature(g) == inspect.signature(f)
        assert g.__doc__ == f.__doc__
    x = np.random.default_rng(3).uniform(-4.0, 6.0, 500)
    gamma = roundtrip(core.gamma)(x)
    want = scipy.special.gamma(x)
    assert np.allclose(gamma, want, rtol=1e-13, atol=0, equal_nan=True)
    assert roundtrip(core.fib)(30) == fib(30)
    assert roundtrip(core.sha256)(b"abc") == hashlib.sha256(b"abc").digest()
    assert np.array_equal(roundtrip(core.histogram)(x, 7, -4.0, 6.0),
                          np.histogram(x, 7, range=(-4.0, 6.0))[0])
    assert abs(roundtrip(core.sum)(x) - math.fsum(x)) <= 1e-13 * np.abs(x).sum()


def test_bundled_kernels_pickle_without_the_module() -> None:
    core = wasmcore.load()
    size = len(wasmcore.wasm_path().read_bytes())
    assert len(pickle.dumps(core.gamma)) < 1000 < size
    assert len(pickle.dumps(core)) < 1000


def test_a_kernel_outlives_its_core() -> None:
    gamma = wasmcore.load().gamma  # the core itself is gone at once
    assert roundtrip(gamma)(np.array([5.0]))[0] == 24.0


def test_path_core_carries_its_module(tmp_path: Path, no_shipping: None) -> None:
    path = tmp_path / "copy.wasm"
    shutil.copy(wasmcore.wasm_path(), path)
    core = wasmcore.load("wasm", path=path)
    data = pickle.dumps(core.gamma)
    assert len(data) > path.stat().st_size
    path.unlink()  # the receiver gets the module from the pickle
    out = in_fresh_process(data, "import numpy as np\n"
                                 "gamma = pickle.loads(DATA)\n"
                                 "print(repr(gamma(np.array([0.5, 5.0, 10.5])).tolist()))")
    got = np.array(eval(out))
    assert np.allclose(got, scipy.special.gamma([0.5, 5.0, 10.5]), rtol=1e-13, atol=0)


def test_other_bundled_module_is_refused(tmp_path: Path) -> None:
    """The bundled core is found by its sha256: a receiver whose wasmcore holds another
    module refuses the pickle (and says why)."""
    data = pickle.dumps(wasmcore.load().fib)
    out = in_fresh_process(
        data, "import wasmcore\n"
              "try:\n    pickle.loads(DATA)\n"
              "except wasmcore.ModuleRejected as e:\n    print(e)\n",
        env={"WASMCORE_WASM": str(hosts.TEXTSTATS)})
    digest = hashlib.sha256(wasmcore.wasm_path().read_bytes()).hexdigest()
    assert f"the pickled module's is {digest}" in out
    assert "install the same wasmcore everywhere" in out


def test_core_not_made_by_load_does_not_pickle() -> None:
    core = wasmcore.load()
    bare = wasmcore.Core("wasm", core._impl)
    with pytest.raises(TypeError, match="not made by wasmcore.load"):
        pickle.dumps(bare)


def test_kernels_and_classes_pickle_with_cloudpickle(core: wasmcore.Core) -> None:
    """cloudpickle, which Dask uses for graphs that hold code from __main__, reduces bound
    methods and classes its own way: the shim makes it use wasmcore's references."""
    gamma = pickle.loads(cloudpickle.dumps(core.gamma))
    assert gamma(np.array([4.0]))[0] == 6.0
    cls = pickle.loads(cloudpickle.dumps(core.RunningStats))
    assert cls is roundtrip(core).RunningStats
    rs = core.RunningStats()
    rs.push([1.0, 2.0, 4.0])
    again = pickle.loads(cloudpickle.dumps(rs))
    check_stats(again, [1.0, 2.0, 4.0])


# -- RunningStats -----------------------------------------------------------------------------

@SETTINGS
@given(batches=st.lists(batch, max_size=10), cut=st.integers(0, 10))
def test_running_stats_round_trips(core: wasmcore.Core, batches: list[tuple[str, Any]],
                                   cut: int) -> None:
    """An unpickled accumulator goes on where the original was: numpy on all the values."""
    rs = core.RunningStats()
    values: list[float] = []
    for item in batches[:cut]:
        values += push_batch(rs, item)
    again = roundtrip(rs)
    assert np.array_equal(again.state(), rs.state(), equal_nan=True)
    for item in batches[cut:]:
        values += push_batch(again, item)
    check_stats(again, values)
    again.close()
    rs.close()


@pytest.mark.parametrize("offset", [0.0, 1e9])
def test_merged_states_match_numpy(core: wasmcore.Core, offset: float) -> None:
    rng = np.random.default_rng(7)
    n = 3000 if core.backend == "python" else 200_000
    x = offset + rng.standard_normal(n) * (1e-3 if offset else 1.0)
    cuts = np.sort(rng.integers(0, n, 12))
    total = core.RunningStats()
    for piece in np.split(x, cuts):
        part = core.RunningStats()
        part.push(piece)
        total.merge_state(part.state())
    check_stats(total, x.tolist())
    merged = core.RunningStats.from_state(total.state())
    assert np.array_equal(merged.state(), total.state())
    assert merged.std(ddof=1) == math.sqrt(merged.var(ddof=1))


def test_states_are_the_same_on_every_backend(cores: dict[str, wasmcore.Core]) -> None:
    """The reference backend mirrors the Rust type's fields and order of operations."""
    rng = np.random.default_rng(11)
    batches = [rng.standard_normal(k) * 10 + 3 for k in (1, 7, 1025, 300)]
    states = {}
    for name, core in cores.items():
        rs = core.RunningStats()
        for b in batches:
            rs.push(b)
        part = core.RunningStats()
        part.push(batches[0] * -2)
        rs.merge_state(part.state())
        states[name] = rs.state()
    assert np.array_equal(states["wasm"], states["native"])
    assert np.array_equal(states["wasm"], states["python"])


COUNT = "must start with a count (a whole number from 0 to 2**53), got"
BAD_STATES = [
    ([1.0] * 7, "must hold 8 numbers (a RunningStats.state()), got 7"),
    ([-1.0] + [0.0] * 7, f"{COUNT} -1"),
    ([0.5] + [0.0] * 7, f"{COUNT} 0.5"),
    ([math.nan] + [0.0] * 7, f"{COUNT} NaN"),
    ([2.0**53 + 2] + [0.0] * 7, f"{COUNT} 9007199254740994"),
    ([1e300] + [0.0] * 7, f"{COUNT} 1{'0' * 300}"),
    ([1.0, 1.0, math.inf, 0.0, 0.0, 0.0, 1.0, 1.0],
     "is not a RunningStats.state(): its shift (state[2]) is inf"),
]


@pytest.mark.parametrize(("state", "message"), BAD_STATES)
def test_bad_states_are_refused_alike(cores: dict[str, wasmcore.Core], state: list[float],
                                      message: str) -> None:
    for core in cores.values():
        with pytest.raises(ValueError) as e:
            core.RunningStats.from_state(state)
        assert str(e.value) == f"RunningStats.from_state(): parameter 'state' {message}"
        rs = core.RunningStats()
        rs.push([1.0, 2.0])
        before = rs.state()
        with pytest.raises(ValueError, match=r"RunningStats\.merge_state\(\): parameter 'state'"):
            rs.merge_state(state)
        assert np.array_equal(rs.state(), before)  # a refused merge changes nothing


def test_unpickled_object_is_made_in_the_thread_that_uses_it() -> None:
    """A wasm object belongs to one thread's instance: an unpickled one is made from its
    state where it is first used (a Dask worker unpickles on one thread, runs on another)."""
    core = wasmcore.load()
    rs = core.RunningStats()
    rs.push([1.0, 2.0, 6.0])
    again = roundtrip(rs)
    assert "open" in repr(again)
    assert roundtrip(again).__reduce__()[1][2] == tuple(rs.state().tolist())  # not made yet
    box: dict[str, Any] = {}

    def use() -> None:
        box["mean"] = again.mean
        try:
            rs.mean  # noqa: B018 - the original belongs to the main thread
        except wasmcore.Error as e:
            box["error"] = e

    t = threading.Thread(target=use)
    t.start()
    t.join()
    assert box["mean"] == 3.0
    assert "belongs to the thread that created it" in str(box["error"])
    pending = roundtrip(rs)
    pending.close()
    with pytest.raises(ValueError, match="the object is closed"):
        pending.push([1.0])


def test_sha256_and_closed_objects_do_not_pickle(core: wasmcore.Core) -> None:
    with pytest.raises(TypeError, match="Sha256 objects cannot be pickled: the type exports "
                                        r"no state\(\) and from_state\(\)"):
        pickle.dumps(core.Sha256())
    rs = core.RunningStats()
    rs.close()
    with pytest.raises(ValueError, match="a closed object cannot be pickled"):
        pickle.dumps(rs)


# -- plugins ----------------------------------------------------------------------------------

def textstats(source: Any = None, **kwargs: Any) -> wasmcore.Plugin:
    return wasmcore.Plugin(hosts.TEXTSTATS if source is None else source,
                           host={"log": hosts.log}, **kwargs)


TEXTS = [b"", b"one", b"the quick  brown\tfox\n", b"a\x0bb\x0cc d\re", "caf\u00e9 ol\u00e9".encode()]


@pytest.mark.parametrize("from_bytes", [False, True])
def test_plugin_round_trips_with_its_settings(from_bytes: bool,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    source = hosts.TEXTSTATS.read_bytes() if from_bytes else hosts.TEXTSTATS
    p = textstats(source, timeout=2.5, fuel=10**8, max_memory=32 << 20)
    assert roundtrip(p) is p  # in its own process, the original
    again = rebuilt(p, monkeypatch)
    assert again is not p
    assert rebuilt(p, monkeypatch) is again  # made once in a process
    assert (again.name, again.sha256, again.timeout, again.fuel, again.max_memory) == \
        (p.name, p.sha256, 2.5, 10**8, 32 << 20)
    assert again.functions.keys() == p.functions.keys()
    for text in TEXTS:
        assert again.count_words(text) == len(text.split())
        assert roundtrip(p.count_words)(text) == len(text.split())
    assert roundtrip(p.call)("count_lines", b"a\nb") == 2


HOSTILE = [
    ("infinite_loop.wat", {"timeout": 0.2}, wasmcore.Timeout),
    ("infinite_loop.wat", {"fuel": 10**6}, wasmcore.FuelExhausted),
    ("memory_bomb.wat", {"max_memory": 4 << 20}, wasmcore.MemoryLimitExceeded),
]


@pytest.mark.parametrize(("module", "kwargs", "exc"), HOSTILE)
def test_restored_plugin_keeps_its_limits(module: str, kwargs: dict[str, Any],
                                          exc: type[Exception],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    p = wasmcore.Plugin(hosts.HOSTILE / module, **kwargs)
    again = rebuilt(p, monkeypatch)
    assert again is not p
    with pytest.raises(exc) as here:
        p.call("run")
    with pytest.raises(exc) as there:
        again.call("run")
    assert str(there.value) == str(here.value)
    assert again.call("ok") == 42
    # the exception itself pickles, with its type, message and trap code
    back = roundtrip(there.value)
    assert (type(back), str(back), getattr(back, "code", None)) == \
        (exc, str(there.value), getattr(there.value, "code", None))


def test_raw_exports_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin's numeric exports (no manifest) are attributes too, and pickle the same way."""
    p = wasmcore.Plugin(hosts.HOSTILE / "traps.wat", fuel=10**6)
    divide = rebuilt(p.divide, monkeypatch)
    assert divide is not p.divide and divide.__self__.target.fuel == 10**6
    assert [divide(a, b) for a, b in ((7, 2), (-7, 2), (0, 5))] == [3, -3, 0]  # truncating
    with pytest.raises(wasmcore.Trap) as e:
        divide(1, 0)
    assert e.value.code == "integer_divide_by_zero"


def test_host_functions_must_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    logs: list[int] = []
    closure = wasmcore.Plugin(hosts.TEXTSTATS, host={"log": lambda ptr, n: logs.append(n)})
    with pytest.raises(TypeError, match=r"textstats\.wasm cannot be pickled: its host "
                                        r"function 'log' \(<function .*<lambda>"):
        pickle.dumps(closure)
    with pytest.raises(TypeError, match="host function 'log'"):
        pickle.dumps(closure.count_words)  # a function pickles its plugin

    def local(ptr: int, n: int) -> None:
        logs.append(n)

    with pytest.raises(TypeError, match="host function 'env.log'|host function 'log'"):
        pickle.dumps(wasmcore.Plugin(hosts.TEXTSTATS, host={"env.log": local}))
    ok = rebuilt(textstats(), monkeypatch)
    before = len(hosts.LOGGED)
    assert ok.count_words(b"x y") == 2
    assert len(hosts.LOGGED) == before + 1  # the module-level function came along


def test_wasi_round_trips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = wasmcore.Wasi(args=["a", "b"], env={"K": "v"}, dirs={"/data": tmp_path},
                      writable=True, stdin=b"in")
    assert roundtrip(w) == w
    p = wasmcore.Plugin(hosts.EXAMPLES / "wasi_echo.wat", wasi=w, timeout=5)
    again = rebuilt(p, monkeypatch)
    assert again is not p
    assert again.wasi == w
    assert (again.call("argc"), again.call("envc")) == (p.call("argc"), p.call("envc")) == (3, 1)
    again.call("hello")
    assert again.take_output() == (b"hello from wasi\n", b"oops\n")


def test_plugin_from_a_relative_path_pickles_its_absolute_path(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(hosts.TEXTSTATS.parent)
    p = textstats(hosts.TEXTSTATS.name)
    monkeypatch.chdir(tmp_path)  # the working directory changes before pickling
    ref = _pickle.plugin_ref(p)
    assert ref.path == str(hosts.TEXTSTATS)
    again = rebuilt(p, monkeypatch)
    assert again.count_words(b"a b c") == 3


def test_closed_plugin_does_not_pickle() -> None:
    p = textstats()
    p.close()
    with pytest.raises(TypeError, match="a closed plugin cannot be pickled"):
        pickle.dumps(p)


def test_fresh_process_runs_a_plugin_from_its_bytes(no_shipping: None) -> None:
    """A process that never imported wasmcore gets the module from the pickle (there is no
    file), checks its sha256 and runs it under its limits."""
    p = textstats(hosts.TEXTSTATS.read_bytes(), timeout=5)
    data = pickle.dumps([p.count_words, p.longest_word])
    out = in_fresh_process(data, "print('wasmcore' in sys.modules)\n"
                                 "count, longest = pickle.loads(DATA)\n"
                                 "print(count(b'to be or not'), longest('to be or not'))\n"
                                 "p = count.__self__.target\n"
                                 "print(p.timeout, p.name)\n")
    assert out.split("\n")[:3] == ["False", "4 not", "5 plugin"]


def test_one_stream_carries_a_module_once(no_shipping: None) -> None:
    p = textstats(hosts.TEXTSTATS.read_bytes())
    size = len(hosts.TEXTSTATS.read_bytes())
    many = pickle.dumps([p.count_words, p.count_lines, p] * 1000)
    assert size < len(many) < 2 * size  # pickle's memo: one copy of the bytes
    _pickle.ship(p.sha256, lambda: True)  # what wasmcore.dask.register() does
    assert len(pickle.dumps(p.count_words)) < 2000
    out = in_fresh_process(pickle.dumps(p.count_words),
                           "import wasmcore\n"
                           "try:\n    pickle.loads(DATA)\n"
                           "except wasmcore.ModuleRejected as e:\n    print(e)\n")
    assert "its module (sha256 " + p.sha256 in out
    assert "wasmcore.dask.register() shipped them" in out


def test_registry_checks_module_bytes(no_shipping: None) -> None:
    with pytest.raises(wasmcore.ModuleRejected, match="do not have its sha256"):
        _pickle.remember(b"not the module", "0" * 64)
    before = _pickle.stats()
    data = hosts.TEXTSTATS.read_bytes()
    _pickle.remember(data, hashlib.sha256(data).hexdigest())
    _pickle.remember(data, hashlib.sha256(data).hexdigest())
    after = _pickle.stats()
    assert after["module_arrivals"] - before["module_arrivals"] == 2
    assert after["module_bytes_arrived"] - before["module_bytes_arrived"] == 2 * len(data)
    assert after["modules_new"] - before["modules_new"] == 1


def test_functions_called_from_another_thread_take_str() -> None:
    """A function called from a thread other than the one that bound it forwards its arguments
    as given (Dask's threaded scheduler calls functions unpickled or bound elsewhere): a str
    parameter used to arrive there already converted to bytes, and was refused."""
    p = textstats()
    out: list[Any] = []
    t = threading.Thread(target=lambda: out.append(p.longest_word("to be or not")))
    t.start()
    t.join()
    assert out == ["not"]
