"""Zero-copy arrays: core.empty / core.asarray on every backend, and on the wasm backend arrays
whose memory lives in the instance, so that passing them to a kernel copies nothing in
(``core.bytes_copied`` counts the bytes the calling thread's calls copied into the instance)."""

from __future__ import annotations

import gc
import hashlib
import math
import threading
import zlib
from typing import Any

import numpy as np
import pytest
import wasmcore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

DTYPES = ["float64", "float32", "int64", "uint32", "uint8"]


def fsum_check(got: float, x: np.ndarray) -> None:
    """sum() against math.fsum with KERNELS.md's bound."""
    want = math.fsum(x.tolist())
    assert abs(got - want) <= 1e-13 * math.fsum(np.abs(x).tolist()), (got, want)


def filled(core: wasmcore.Core, values: np.ndarray) -> np.ndarray:
    """A core.empty array holding ``values``."""
    a = core.empty(values.shape, dtype=str(values.dtype))
    a[...] = values
    return a


# ---- the API on every backend -----------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [0, 1, 7, 1000, (5,), (0,), (3, 4), (1, 0), (0, 3), (64, 65)])
def test_empty_shape_and_dtype(core: wasmcore.Core, shape: int | tuple[int, ...],
                               dtype: str) -> None:
    a = core.empty(shape, dtype=dtype)
    want_shape = (shape,) if isinstance(shape, int) else shape
    assert isinstance(a, np.ndarray)
    assert a.shape == want_shape and a.dtype == np.dtype(dtype)
    assert a.flags.c_contiguous and a.flags.writeable and a.flags.aligned
    a[...] = 7
    assert (a == 7).all()


def test_empty_default_dtype_is_float64(core: wasmcore.Core) -> None:
    a = core.empty(10)
    assert a.dtype == np.float64 and a.shape == (10,)
    b = core.empty((2, 3))
    assert b.dtype == np.float64 and b.shape == (2, 3)
    c = core.empty(np.int64(4), dtype=np.float32)
    assert c.dtype == np.float32 and c.shape == (4,)


def test_empty_arrays_do_not_overlap(core: wasmcore.Core) -> None:
    arrays = [core.empty(n, dtype="float64") for n in (1, 3, 8, 100, 1000, 17)]
    for i, a in enumerate(arrays):
        a[:] = i
    for i, a in enumerate(arrays):
        assert (a == i).all()


@pytest.mark.parametrize("bad", [-1, (2, -1), "3", 1.5, None])
def test_empty_bad_shape(core: wasmcore.Core, bad: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        core.empty(bad)


def test_empty_bad_dtype(core: wasmcore.Core) -> None:
    with pytest.raises((TypeError, ValueError)):
        core.empty(3, dtype="complex128")


@pytest.mark.parametrize("make", [
    lambda: np.arange(10.0), lambda: [1.0, 2.0, 3.5], lambda: np.arange(20.0)[::3],
    lambda: np.arange(12.0).reshape(3, 4), lambda: np.arange(12.0).reshape(3, 4).T,
    lambda: np.arange(5, dtype=np.uint8), lambda: np.arange(6, dtype=np.int64),
    lambda: np.arange(6, dtype=np.uint32), lambda: np.arange(6, dtype=np.float32),
    lambda: np.array([]),
], ids=["f64", "list", "strided", "2-D", "2-D-T", "u8", "i64", "u32", "f32", "empty"])
def test_asarray_equal_and_contiguous(core: wasmcore.Core, make: Any) -> None:
    x = make()
    a = core.asarray(x)
    want = np.asarray(x)
    assert isinstance(a, np.ndarray) and a.flags.c_contiguous
    assert a.dtype == want.dtype and a.shape == want.shape
    assert np.array_equal(a, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_asarray_dtype(core: wasmcore.Core, dtype: str) -> None:
    x = np.arange(10.0) * 3.0
    a = core.asarray(x, dtype=dtype)
    assert a.dtype == np.dtype(dtype) and a.flags.c_contiguous
    assert np.array_equal(a, x.astype(dtype))
    b = core.asarray(x.tolist(), dtype)
    assert np.array_equal(b, x.astype(dtype))


def test_asarray_is_a_copy_of_host_arrays(core: wasmcore.Core) -> None:
    x = np.arange(5.0)
    a = core.asarray(x)
    if core.backend == "wasm":  # its memory lives in the instance, not in x
        a[0] = 42.0
        assert x[0] == 0.0


def test_bytes_copied_is_zero_off_wasm(core: wasmcore.Core) -> None:
    if core.backend == "wasm":
        pytest.skip("the wasm backend copies: see the tests below")
    assert core.bytes_copied == 0
    core.sum(np.ones(1000))
    core.sort(np.ones(1000))
    core.axpy(1.0, np.ones(10), np.ones(10))
    assert core.bytes_copied == 0
    assert type(core.bytes_copied) is int


def test_kernels_on_zero_copy_arrays_match_oracles(core: wasmcore.Core) -> None:
    """Results on core.empty / core.asarray arrays are those of ordinary arrays."""
    rng = np.random.default_rng(1)
    xv, yv = rng.standard_normal(3001), rng.standard_normal(3001)
    x, y = filled(core, xv), core.asarray(yv)
    fsum_check(core.sum(x), xv)
    d = core.dot(x, y)
    want = float(np.dot(xv, yv))
    assert abs(d - want) <= 1e-12 * abs(want) + 2e-13 * float(np.sum(np.abs(xv * yv)))
    assert np.array_equal(core.sort(x), np.sort(xv))
    want = yv + 0.5 * xv
    yy = core.asarray(yv.copy())  # (asarray may return its argument itself off wasm)
    core.axpy(0.5, x, yy)
    assert np.array_equal(yy, want)
    av, bv = rng.standard_normal((30, 20)), rng.standard_normal((20, 10))
    a, b = filled(core, av), core.asarray(bv)
    got = core.matmul(a, b)
    assert got.shape == (30, 10)
    assert np.abs(got - av @ bv).max() <= 1e-12 * 20 * np.abs(av).max() * np.abs(bv).max()
    data = bytes(rng.integers(0, 256, 1000, dtype=np.uint8))
    u8 = filled(core, np.frombuffer(data, dtype=np.uint8))
    assert core.sha256(u8) == hashlib.sha256(data).digest()
    assert core.crc32(u8) == zlib.crc32(data)


# ---- the wasm backend: no copies in ------------------------------------------------------------

@pytest.fixture
def wasm(cores: dict[str, wasmcore.Core]) -> wasmcore.Core:
    return cores["wasm"]


def copied(core: wasmcore.Core, fn: Any) -> tuple[int, Any]:
    before = core.bytes_copied
    r = fn()
    return core.bytes_copied - before, r


def test_bytes_copied_grows_for_host_arrays(wasm: wasmcore.Core) -> None:
    x = np.random.default_rng(2).standard_normal(5000)
    assert type(wasm.bytes_copied) is int
    n, r = copied(wasm, lambda: wasm.sum(x))
    assert n >= x.nbytes
    fsum_check(r, x)
    n, _ = copied(wasm, lambda: wasm.sort(x))
    assert n >= x.nbytes
    n, _ = copied(wasm, lambda: wasm.dot(x, x))
    assert n >= x.nbytes


def test_scratch_area_grows_between_and_within_calls(wasm: wasmcore.Core) -> None:
    # on a new thread (a new instance, its scratch area at its first size): arguments that
    # outgrow it, alone and as the second of two after a first that fits, copied exactly once
    # each (bytes_copied) and read right by the kernel
    rng = np.random.default_rng(7)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            for n in (10, 5000, 10**4, 10**5, 7 * 10**5, 3 * 10**6):
                small, large = rng.standard_normal(3), rng.standard_normal(n)
                for x, k in ((small, large), (large, small)):
                    got, r = copied(wasm, lambda x=x, k=k: wasm.convolve(x, k))
                    assert got == x.nbytes + k.nbytes
                    want = np.convolve(x, k, "full")
                    tol = 1e-12 * min(len(x), len(k)) * np.abs(x).max() * np.abs(k).max()
                    assert np.abs(r - want).max() <= tol
                data = rng.bytes(n)
                got, r = copied(wasm, lambda data=data: wasm.crc32(data))
                assert got == n and r == zlib.crc32(data)
                got, r = copied(wasm, lambda data=data: wasm.sha256(bytearray(data)))
                assert got == n and r == hashlib.sha256(data).digest()
        except BaseException as e:  # noqa: BLE001 - reported below
            failures.append(e)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if failures:
        raise failures[0]


def test_no_copy_for_instance_arrays(wasm: wasmcore.Core) -> None:
    rng = np.random.default_rng(3)
    xv, yv = rng.standard_normal(4096), rng.standard_normal(4096)
    x, y = filled(wasm, xv), filled(wasm, yv)

    n, r = copied(wasm, lambda: wasm.sum(x))
    assert n == 0
    fsum_check(r, xv)

    n, r = copied(wasm, lambda: wasm.dot(x, y))
    assert n == 0
    want = float(np.dot(xv, yv))
    assert abs(r - want) <= 1e-12 * abs(want) + 2e-13 * float(np.sum(np.abs(xv * yv)))
    assert r == wasm.dot(xv, yv)  # the same as on ordinary arrays

    n, r = copied(wasm, lambda: wasm.sort(x))
    assert n == 0
    assert np.array_equal(r, np.sort(xv))
    assert np.array_equal(x, xv)  # the input is untouched

    n, r = copied(wasm, lambda: wasm.axpy(2.0, x, y))
    assert n == 0 and r is None
    assert np.array_equal(y, yv + 2.0 * xv)  # mutated in place, no copy back needed

    av, bv = rng.standard_normal((33, 17)), rng.standard_normal((17, 9))
    a, b = filled(wasm, av), filled(wasm, bv)
    n, r = copied(wasm, lambda: wasm.matmul(a, b))
    assert n == 0
    assert r.shape == (33, 9)
    assert np.abs(r - av @ bv).max() <= 1e-12 * 17 * np.abs(av).max() * np.abs(bv).max()

    c = wasm.asarray(xv)
    n, r = copied(wasm, lambda: wasm.sum(c))
    assert n == 0
    fsum_check(r, xv)


def test_axpy_on_instance_y_with_host_x(wasm: wasmcore.Core) -> None:
    xv = np.arange(100.0)
    y = filled(wasm, np.ones(100))
    n, _ = copied(wasm, lambda: wasm.axpy(3.0, xv, y))
    assert xv.nbytes <= n < xv.nbytes + y.nbytes  # x copied in, y not
    assert np.array_equal(y, np.ones(100) + 3.0 * xv)


@SETTINGS
@given(n=st.integers(0, 5000), seed=st.integers(0, 2**32 - 1))
def test_zero_copy_matches_ordinary_arrays(wasm: wasmcore.Core, n: int, seed: int) -> None:
    xv = np.random.default_rng(seed).standard_normal(n)
    x = filled(wasm, xv)
    n_copied, r = copied(wasm, lambda: wasm.sum(x))
    assert n_copied == 0
    fsum_check(r, xv)
    assert np.array_equal(wasm.sort(x), np.sort(xv))


def test_views_of_instance_arrays_are_correct(wasm: wasmcore.Core) -> None:
    xv = np.random.default_rng(4).standard_normal(2001)
    x = filled(wasm, xv)
    for view, want in ((x[::2], xv[::2]), (x[::-1], xv[::-1]), (x[1:], xv[1:]),
                       (x[5:100], xv[5:100]), (x[::7], xv[::7])):
        fsum_check(wasm.sum(view), want)
        assert np.array_equal(wasm.sort(view), np.sort(want))
    m = filled(wasm, np.arange(12.0).reshape(3, 4))
    got = wasm.matmul(m.T, m)  # a transposed (non-contiguous) view
    assert np.array_equal(got, np.arange(12.0).reshape(3, 4).T @ np.arange(12.0).reshape(3, 4))


def test_instance_arrays_stay_valid(wasm: wasmcore.Core) -> None:
    """An array keeps its memory across other allocations (including growth of the linear
    memory), kernel calls with large host arrays, and the collection of other arrays."""
    keep = filled(wasm, np.arange(1000.0))
    keep_u8 = filled(wasm, np.arange(256, dtype=np.uint8))
    others = []
    for i in range(200):
        a = wasm.empty(1000 + 37 * i)
        a[:] = -1.0
        others.append(a)
        if i % 3 == 0:
            others.pop(0)
    big = wasm.empty(4_000_000)  # 32 MB: the memory grows
    big[:] = 2.0
    wasm.sum(np.ones(3_000_000))  # a large host array through the scratch area
    del others, a, big
    gc.collect()
    for _ in range(50):
        wasm.empty(10_000)[:] = 9.0
    assert np.array_equal(keep, np.arange(1000.0))
    assert np.array_equal(keep_u8, np.arange(256, dtype=np.uint8))
    n, r = copied(wasm, lambda: wasm.sum(keep))
    assert n == 0 and r == 499500.0
    assert wasm.sha256(keep_u8) == hashlib.sha256(bytes(range(256))).digest()


def test_instance_array_used_in_another_thread(wasm: wasmcore.Core) -> None:
    xv = np.random.default_rng(5).standard_normal(3000)
    x = filled(wasm, xv)
    y = filled(wasm, np.ones(3000))
    out: dict[str, Any] = {}

    def worker() -> None:
        try:
            before = wasm.bytes_copied
            out["sum"] = wasm.sum(x)
            out["sort"] = wasm.sort(x)
            out["copied"] = wasm.bytes_copied - before
        except BaseException as e:  # noqa: BLE001 -- reported in the main thread
            out["error"] = e

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert "error" not in out, out.get("error")
    fsum_check(out["sum"], xv)
    assert np.array_equal(out["sort"], np.sort(xv))
    assert out["copied"] >= x.nbytes  # another thread's instance: copied there
    assert np.array_equal(x, xv) and np.array_equal(y, np.ones(3000))


def test_arrays_created_in_a_thread_used_in_main(wasm: wasmcore.Core) -> None:
    xv = np.arange(500.0)
    box: dict[str, Any] = {}

    def worker() -> None:
        try:
            box["x"] = filled(wasm, xv)
            box["s"] = wasm.sum(box["x"])
        except BaseException as e:  # noqa: BLE001 -- reported in the main thread
            box["error"] = e

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert "error" not in box, box.get("error")
    assert box["s"] == 124750.0
    assert wasm.sum(box["x"]) == 124750.0
    assert np.array_equal(wasm.sort(box["x"][::-1]), xv)
