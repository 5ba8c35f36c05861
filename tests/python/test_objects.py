"""The exported classes, core.Sha256 and core.RunningStats, on every backend: against hashlib and
numpy, and their lifecycle (close, with, finalizers, no leaks, threads)."""

from __future__ import annotations

import gc
import hashlib
import math
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import wasmcore
from conftest import quiet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

NAN, INF = math.nan, math.inf
PAGE = 65536




# ---- Sha256 ----------------------------------------------------------------------------------

def as_kind(data: bytes, kind: int) -> object:
    """The same bytes as one of the bytes-like objects update() accepts."""
    if kind == 0:
        return data
    if kind == 1:
        return bytearray(data)
    if kind == 2:
        return memoryview(data)
    if kind == 3:
        return np.frombuffer(data, dtype=np.uint8)
    return memoryview(bytearray(b"!" + data))[1:]


@SETTINGS
@given(chunks=st.lists(st.tuples(st.binary(max_size=200), st.integers(0, 4)), max_size=20),
       peek=st.sets(st.integers(0, 20)))
def test_sha256_stream_matches_hashlib(core: wasmcore.Core, chunks: list[tuple[bytes, int]],
                                       peek: set[int]) -> None:
    h = core.Sha256()
    ref = hashlib.sha256()
    for i, (chunk, kind) in enumerate(chunks):
        assert h.update(as_kind(chunk, kind)) is None
        ref.update(chunk)
        if i in peek:  # digest mid-stream, then continue the stream
            assert h.digest() == ref.digest()
            assert h.hexdigest() == ref.hexdigest()
    d = h.digest()
    assert type(d) is bytes and len(d) == 32 and d == ref.digest()
    hx = h.hexdigest()
    assert type(hx) is str and hx == ref.hexdigest()
    assert h.digest() == d  # digest does not consume or reset
    h.close()


@pytest.mark.parametrize("sizes", [[0], [63, 1], [64], [65], [55], [56], [1] * 130,
                                   [1000, 24, 1 << 20], [127, 129, 64, 0, 3]])
def test_sha256_block_boundaries(core: wasmcore.Core, sizes: list[int]) -> None:
    if core.backend == "python":  # pure-Python SHA-256: keep it small
        sizes = [min(n, 5000) for n in sizes]
    rng = np.random.default_rng(len(sizes))
    h, ref = core.Sha256(), hashlib.sha256()
    for n in sizes:
        chunk = bytes(rng.integers(0, 256, n, dtype=np.uint8))
        h.update(chunk)
        ref.update(chunk)
        assert h.digest() == ref.digest()
    h.close()


def test_sha256_empty_and_published_vector(core: wasmcore.Core) -> None:
    h = core.Sha256()
    assert h.digest() == hashlib.sha256().digest()
    h.update(b"a")
    h.update(b"bc")
    # FIPS 180-2
    assert h.hexdigest() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    h.close()


def test_sha256_copy_is_independent(core: wasmcore.Core) -> None:
    h = core.Sha256()
    h.update(b"abc")
    c = h.copy()
    assert type(c) is type(h)
    c.update(b"def")
    assert h.digest() == hashlib.sha256(b"abc").digest()
    assert c.digest() == hashlib.sha256(b"abcdef").digest()
    h.update(b"xyz")
    assert c.digest() == hashlib.sha256(b"abcdef").digest()
    assert h.digest() == hashlib.sha256(b"abcxyz").digest()
    h.close()  # closing one leaves the other usable
    c.update(b"g")
    assert c.hexdigest() == hashlib.sha256(b"abcdefg").hexdigest()
    c.close()


@SETTINGS
@given(chunks=st.lists(st.binary(max_size=100), max_size=10), at=st.integers(0, 10))
def test_sha256_copy_mid_stream(core: wasmcore.Core, chunks: list[bytes], at: int) -> None:
    h, ref = core.Sha256(), hashlib.sha256()
    copies = []
    for i, chunk in enumerate(chunks):
        if i == at:
            copies.append((h.copy(), ref.copy()))
        h.update(chunk)
        ref.update(chunk)
    for c, r in copies:
        c.update(b"tail")
        r.update(b"tail")
        assert c.digest() == r.digest()
        c.close()
    assert h.digest() == ref.digest()
    h.close()


@pytest.mark.parametrize("bad", ["abc", [1, 2], None, 5, 1.5])
def test_sha256_update_wrong_kind(core: wasmcore.Core, bad: object) -> None:
    h = core.Sha256()
    with pytest.raises(TypeError, match="data"):
        h.update(bad)
    assert h.digest() == hashlib.sha256().digest()  # a refused update changes nothing
    h.close()


# ---- RunningStats ----------------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e100, max_value=1e100)
batch = st.one_of(
    finite.map(lambda v: ("float", v)),
    st.integers(-10**6, 10**6).map(lambda v: ("int", v)),
    st.lists(finite, max_size=40).map(lambda v: ("list", v)),
    st.lists(finite, max_size=40).map(lambda v: ("array", v)),
    st.lists(st.floats(-1e6, 1e6, width=32), max_size=10).map(lambda v: ("float32", v)),
    st.just(("empty", [])),
)


def push_batch(rs: Any, item: tuple[str, Any]) -> list[float]:
    kind, v = item
    if kind == "float":
        rs.push(v)
        return [v]
    if kind == "int":
        rs.push(v)
        return [float(v)]
    if kind == "list":
        rs.push(v)
        return list(v)
    if kind == "float32":
        a = np.array(v, dtype=np.float32)
        rs.push(a)
        return a.astype(np.float64).tolist()
    rs.push(np.array(v, dtype=np.float64))
    return list(v)


def check_stats(rs: Any, values: list[float], ddofs: tuple[int, ...] = (0, 1, 2)) -> None:
    """numpy on the concatenation, rel 1e-12 (against the conditioning of the sums)."""
    x = np.array(values, dtype=np.float64)
    n = len(x)
    count = rs.count
    assert type(count) is int and count == n
    if n == 0:
        for get in (lambda: rs.mean, lambda: rs.min, lambda: rs.max, lambda: rs.var()):
            with pytest.raises(ValueError, match="no values pushed yet"):
                get()
        return
    mean = rs.mean
    assert type(mean) is float
    with quiet():
        want_mean = float(np.mean(x))
    if np.isnan(x).any():
        assert math.isnan(mean)
        assert math.isnan(rs.min) and math.isnan(rs.max)
        for d in ddofs:
            if d < n:
                assert math.isnan(rs.var(d))
        return
    mabs = float(np.sum(np.abs(x) / n))
    # + 1e-320: the merges round in the subnormal range too
    assert abs(mean - want_mean) <= 1e-12 * abs(want_mean) + 2e-13 * mabs + 1e-320, \
        (mean, want_mean)
    assert rs.min == float(np.min(x)) and rs.max == float(np.max(x))
    assert type(rs.min) is float and type(rs.max) is float
    for d in ddofs:
        if d >= n:
            with pytest.raises(ValueError) as e:
                rs.var(d)
            assert f"parameter 'ddof' must be less than the count ({n}), got {d}" in str(e.value)
            continue
        with quiet():
            want = float(np.var(x, ddof=d))
        got = rs.var(d) if d else rs.var()
        assert type(got) is float
        delta = 2e-13 * mabs
        tol = 1e-12 * want + 8.0 * n / (n - d) * delta * delta + n * 1e-322
        if math.isfinite(tol):
            assert abs(got - want) <= tol, (d, got, want)
        assert rs.var(ddof=d) == got


@SETTINGS
@given(batches=st.lists(batch, max_size=12))
def test_running_stats_matches_numpy(core: wasmcore.Core,
                                     batches: list[tuple[str, Any]]) -> None:
    rs = core.RunningStats()
    values: list[float] = []
    for i, item in enumerate(batches):
        values += push_batch(rs, item)
        if i % 3 == 0:
            check_stats(rs, values)
    check_stats(rs, values)
    rs.close()


@pytest.mark.parametrize("scale", [1e-300, 1e-150, 1.0, 1e10, 1e150])
def test_running_stats_large_batches(core: wasmcore.Core, scale: float) -> None:
    rng = np.random.default_rng(1)
    rs = core.RunningStats()
    values: list[float] = []
    for n in (1, 7, 8, 9, 1023, 1024, 1025, 2000 if core.backend == "python" else 50000):
        x = (rng.standard_normal(n) + 3.0) * scale
        rs.push(x)
        values += x.tolist()
    check_stats(rs, values)
    rs.close()


def _bits(v: float) -> int:
    return int(np.float64(v).view(np.uint64))


@SETTINGS
@given(batches=st.lists(st.lists(finite, max_size=30), max_size=8), seed=st.integers(0, 99))
def test_running_stats_wasm_and_native_bit_identical(cores: dict[str, wasmcore.Core],
                                                     batches: list[list[float]],
                                                     seed: int) -> None:
    big = np.random.default_rng(seed).standard_normal(seed * 100)
    objs = {b: cores[b].RunningStats() for b in ("wasm", "native")}
    for rs in objs.values():
        for batch in [*batches, big]:
            rs.push(batch)
    w, n = objs["wasm"], objs["native"]
    assert w.count == n.count
    if w.count:
        assert _bits(w.mean) == _bits(n.mean)
        assert _bits(w.var()) == _bits(n.var())
        assert _bits(w.min) == _bits(n.min) and _bits(w.max) == _bits(n.max)
    for rs in objs.values():
        rs.close()


def test_running_stats_nan_propagates(core: wasmcore.Core) -> None:
    rs = core.RunningStats()
    rs.push([1.0, 2.0])
    rs.push(NAN)
    rs.push([3.0, 4.0])
    check_stats(rs, [1.0, 2.0, NAN, 3.0, 4.0])
    rs.close()
    rs = core.RunningStats()
    rs.push(np.array([5.0, NAN, -1.0]))
    check_stats(rs, [5.0, NAN, -1.0])
    rs.close()


def test_running_stats_empty_and_ddof(core: wasmcore.Core) -> None:
    rs = core.RunningStats()
    assert rs.count == 0
    check_stats(rs, [])
    rs.push([])
    rs.push(np.array([]))
    check_stats(rs, [])
    rs.push(2.5)
    check_stats(rs, [2.5], ddofs=(0, 1, 5))
    rs.push([2.5, 4.0])
    check_stats(rs, [2.5, 2.5, 4.0], ddofs=(0, 1, 2, 3, 4))
    with pytest.raises(ValueError):
        rs.var(-1)
    rs.close()


def test_running_stats_wrong_kind(core: wasmcore.Core) -> None:
    rs = core.RunningStats()
    for bad in ("abc", None, {1: 2}):
        with pytest.raises(TypeError):
            rs.push(bad)
    with pytest.raises(ValueError):
        rs.push(np.zeros((2, 2)))
    assert rs.count == 0
    rs.close()


# ---- lifecycle -------------------------------------------------------------------------------

SHA_CALLS: list[Callable[[Any], object]] = [
    lambda h: h.update(b"x"), lambda h: h.digest(), lambda h: h.hexdigest(),
    lambda h: h.copy()]
STATS_CALLS: list[Callable[[Any], object]] = [
    lambda r: r.push(1.0), lambda r: r.push([1.0, 2.0]), lambda r: r.var(),
    lambda r: r.count, lambda r: r.mean, lambda r: r.min, lambda r: r.max]


def test_closed_objects_raise_value_error(core: wasmcore.Core) -> None:
    for make, calls in ((core.Sha256, SHA_CALLS), (core.RunningStats, STATS_CALLS)):
        for call in calls:
            obj = make()
            if make is core.RunningStats:
                obj.push([1.0, 2.0, 3.0])
            obj.close()
            with pytest.raises(ValueError, match="closed"):
                call(obj)
            obj.close()  # closing twice is fine
            assert isinstance(repr(obj), str)


def test_with_statement_closes(core: wasmcore.Core) -> None:
    with core.Sha256() as h:
        h.update(b"abc")
        assert h.digest() == hashlib.sha256(b"abc").digest()
    with pytest.raises(ValueError, match="closed"):
        h.digest()
    with core.RunningStats() as rs:
        rs.push([1.0, 2.0])
        assert rs.count == 2
    with pytest.raises(ValueError, match="closed"):
        rs.push(3.0)
    with pytest.raises(RuntimeError), core.Sha256() as h2:  # closed on an exception too
        raise RuntimeError("boom")
    with pytest.raises(ValueError, match="closed"):
        h2.update(b"x")


def test_repr(core: wasmcore.Core) -> None:
    h = core.Sha256()
    rs = core.RunningStats()
    assert "Sha256" in repr(h)
    assert "RunningStats" in repr(rs)
    h.close()
    rs.close()
    assert "Sha256" in repr(h) and "RunningStats" in repr(rs)


def test_memory_size_is_zero_off_wasm(core: wasmcore.Core) -> None:
    size = core.memory_size()
    assert type(size) is int
    if core.backend == "wasm":
        assert size > 0 and size % PAGE == 0
    else:
        assert size == 0


def _churn(core: wasmcore.Core, rounds: int, how: str) -> None:
    for i in range(rounds):
        h = core.Sha256()
        h.update(b"abc" * (i % 50))
        rs = core.RunningStats()
        rs.push([1.0, 2.0, float(i)])
        if how == "close":
            h.close()
            rs.close()
        elif how == "with":
            with h, rs:
                pass
        elif how == "cycle":  # only the cyclic garbage collector can free these
            box: list[object] = [h, rs]
            box.append(box)
            if i % 1000 == 999:
                del box
                gc.collect()
        del h, rs


@pytest.mark.parametrize("how", ["del", "close", "with", "cycle"])
def test_objects_do_not_leak_wasm_memory(cores: dict[str, wasmcore.Core], how: str) -> None:
    core = cores["wasm"]
    _churn(core, 2000, how)  # warm-up: the allocator settles
    gc.collect()
    before = core.memory_size()
    _churn(core, 50_000 if how == "del" else 10_000, how)  # 10**5 objects for "del"
    gc.collect()
    assert core.memory_size() <= before + PAGE, (before, core.memory_size())


def test_finalizer_frees_dropped_objects(cores: dict[str, wasmcore.Core]) -> None:
    """Objects dropped without close() (and then collected) give their memory back: a churn
    that would need far more than the current memory if nothing were freed stays flat."""
    core = cores["wasm"]
    big = b"\0" * 4096
    for _ in range(200):
        h = core.Sha256()
        h.update(big)
        del h
    gc.collect()
    before = core.memory_size()
    for _ in range(5000):
        h = core.Sha256()
        h.update(big)
        rs = core.RunningStats()
        rs.push(np.ones(64))
        del h, rs
    gc.collect()
    assert core.memory_size() <= before + PAGE


def test_objects_used_from_another_thread_raise_error(cores: dict[str, wasmcore.Core]) -> None:
    core = cores["wasm"]
    h = core.Sha256()
    h.update(b"abc")
    rs = core.RunningStats()
    rs.push([1.0, 2.0])
    caught: list[BaseException] = []

    def worker() -> None:
        for call in (lambda: h.update(b"x"), lambda: h.digest(), lambda: h.copy(),
                     lambda: rs.push(3.0), lambda: rs.mean, lambda: rs.var()):
            try:
                call()
            except BaseException as e:  # noqa: BLE001 -- reported in the main thread
                caught.append(e)
            else:
                caught.append(AssertionError("no exception"))

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert len(caught) == 6
    for e in caught:
        assert isinstance(e, wasmcore.Error), repr(e)
    # the owning thread still has intact objects
    assert h.digest() == hashlib.sha256(b"abc").digest()
    assert rs.count == 2 and rs.mean == 1.5
    h.close()
    rs.close()


def test_objects_in_their_own_threads(core: wasmcore.Core) -> None:
    """Objects created and used inside a thread work there (every backend)."""
    results: dict[int, bytes] = {}
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            with core.Sha256() as h:
                for _ in range(50):
                    h.update(bytes([k]) * 100)
                results[k] = h.digest()
        except BaseException as e:  # noqa: BLE001 -- reported in the main thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for k in range(4):
        assert results[k] == hashlib.sha256(bytes([k]) * 5000).digest()


def test_classes_carry_their_docs(core: wasmcore.Core) -> None:
    """The doc comment of each `#[export] impl` block is the class's docstring."""
    for name in core.classes:
        cls = getattr(core, name)
        assert cls.__doc__ and len(cls.__doc__) > 20, name
