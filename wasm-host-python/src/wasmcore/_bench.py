"""The benchmark harness behind ``wasmcore bench`` and ``just bench``.

For each kernel and size it times, side by side in one run, the pure-Python reference (small
sizes only), numpy / hashlib / zlib / base64 where they have the kernel, the wasm module (with
the input copied in, and zero-copy through ``core.asarray``) and the native library; for the
per-call row also one bare ctypes call of the native export, wasmtime-py's generic
``Func.__call__`` and a breakdown of the wasm call. Every time is the median of ``--repeat``
measurements; the backends of a row are measured in turn within each repetition (in a rotating
order), so noise from a shared machine hits them alike. Ratios are what to read. In a source
checkout, the ``authors`` group also times the crate of ``benches/authors`` shipped two ways, as
a wasmcore author package and as a maturin + PyO3 extension (built once, cached).

The ``dask`` group (``wasmcore bench --only dask``; needs ``pip install 'wasmcore[dask]'``)
starts a ``distributed.LocalCluster`` of two single-threaded worker processes: ``gamma`` over
chunks of float64 there against one process running the same chunks serially, the time per
task of trivial tasks that ship a core or plugin reference against tasks that ship nothing of
wasmcore's, and the module bytes a graph of many plugin tasks makes cross to the workers.

The report goes to ``target/bench/`` of a source checkout (``./target/bench`` elsewhere, or
``--out``): ``report.json`` (every median, sample and ratio), ``report.md`` (the tables and the
targets) and ``report.png`` (a chart of the ratios; needs matplotlib). The progress bar needs
tqdm; both come with ``pip install 'wasmcore[bench]'``.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime
import functools
import json
import logging
import math
import os
import platform
import statistics
import sys
import threading
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# ---- timing helpers (scripts/demo.py uses them too) -----------------------------------------


def median_time(f: Callable[[], object], repeat: int) -> float:
    """The median wall time of ``repeat`` calls of ``f``, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def per_call_ns(f: Callable[[], object], repeat: int, number: int = 100_000) -> float:
    """The best of ``repeat`` loops of ``number`` calls of ``f``, in ns per call."""
    return min(timeit.repeat(f, number=number, repeat=repeat)) / number * 1e9


def fmt(seconds: float) -> str:
    """A duration for a fixed-width table column (ms or µs)."""
    return f"{seconds * 1e3:10.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:10.2f} µs"


def fmt_short(seconds: float) -> str:
    """A duration in the unit that suits it (ns, µs, ms or s), three significant digits."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def bare_fib(lib_path: Path) -> Callable[[], object]:
    """``fib(1)`` as one bare ctypes call of the native export (argtypes preset, no checks),
    the yardstick of the per-call rows: a lambda around the ctypes call alone, like the
    lambdas around the backends' calls it is compared with. Takes its own ``CDLL`` handle so
    that the prototype set here never touches the native backend's."""
    fn = ctypes.CDLL(str(lib_path)).fib
    fn.argtypes = [ctypes.c_uint32, ctypes.c_void_p]
    fn.restype = ctypes.c_int32
    out = ctypes.c_uint64()
    out_p = ctypes.addressof(out)
    # defaults, not closure cells: the result slot lives as long as the lambda
    return lambda fn=fn, out_p=out_p, _keep=out: fn(1, out_p)


# ---- sizes -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sizes:
    """One pass's sizes and time budget. ``compute`` and ``buffer`` are the sizes the targets
    are stated for in the ``full`` pass."""

    name: str
    repeat: int
    min_time: float  # seconds each measurement runs at least (calls are looped to fill it)
    fib: int
    sort: int
    matmul: int
    sha256: int  # bytes
    primes: int
    buffer: int  # float64 elements of the buffer kernels
    bytes: int  # bytes of crc32 / base64
    small: int  # elements of the python-comparison rows
    threads_work: float  # seconds of work per thread in the threads row
    dask_values: int  # float64 values of the dask gamma row
    dask_chunk: int  # values per chunk (per task)
    dask_tasks: int  # tasks per measurement of the per-task row
    dask_graph: int  # tasks of the graph whose module bytes are counted


SIZES = {
    "full": Sizes("full", 9, 0.2, 37, 10**6, 256, 64 << 20, 10**8, 10**6, 8 << 20, 10**4, 0.25,
                  4 * 10**7, 2 * 10**6, 200, 10_000),
    "quick": Sizes("quick", 3, 0.03, 30, 10**5, 128, 4 << 20, 10**7, 10**6, 1 << 20, 10**3,
                   0.05, 10**6, 10**5, 50, 1000),
    "tiny": Sizes("tiny", 2, 0.0005, 12, 1000, 8, 4096, 10**4, 1000, 4096, 50, 0.002,
                  10**4, 2500, 4, 20),
}


# ---- rows and targets ------------------------------------------------------------------------

# column key -> table header
COLUMNS = {
    "python": "python",
    "ref": "reference",
    "wasm": "wasm",
    "wasm_speedups": "wasm via speedups",
    "wasm_bound": "wasm via speedups, BoundCall only",
    "wasm_ctypes": "wasm via ctypes",
    "wasm_cffi": "wasm via cffi",
    "wasm0": "wasm zero-copy",
    "native": "native",
    "bare": "bare ctypes",
    "empty": "empty ctypes call",
    "unchecked_speedups": "unchecked call (speedups)",
    "unchecked_ctypes": "unchecked call (ctypes)",
    "unchecked_cffi": "unchecked call (cffi)",
    "generic": "wasmtime Func()",
    "load": "load()",
    "load_first": "load(), then fib(1)",
    "load_native": "load('native')",
    "first_call": "1st call, new thread",
    "wasm1": "wasm 1 thread",
    "wasm2": "wasm 2 threads",
    "native1": "native 1 thread",
    "native2": "native 2 threads",
    "author": "wasmcore",
    "pyo3": "PyO3",
    "labs": "bare labs()",
    "author_bound": "wasmcore, BoundCall only",
    "author_ctypes": "wasmcore via ctypes",
    # the plugins group (_bench_plugins.py)
    "plugin": "wasmcore p.add()",
    "plugin_call": "wasmcore p.call()",
    "wasmtime_py": "wasmtime-py Func()",
    "extism": "Extism",
    # the components group (_bench_components.py)
    "component": "wasmcore Component",
    # the programs group (_bench_programs.py)
    "program": "wasmcore Program.run()",
    "wasmtime_run": "wasmtime-py directly",
    "program_load": "wasmcore Program()",
    "wasmtime_load": "wasmtime-py deserialize",
    "serial": "one process, serial",
    "cluster": "2-worker cluster",
    "serial_cpu": "one process, CPU time",
    "cluster_cpu": "workers' CPU time",
    "task_builtin": "builtin",
    "task_core": "core kernel",
    "task_plugin": "plugin, registered",
    "task_plugin_bytes": "plugin, bytes in each task",
}
GROUPS = {
    "call": "Per call: fib(1) (time per call, ratios to one bare ctypes call)",
    "compute": "Compute-bound kernels (wasm ÷ native)",
    "buffer": "Buffer kernels (wasm copy-in / zero-copy ÷ native)",
    "python": "Pure-Python reference at small sizes",
    "load": "Loading (in-process, warm compile cache; load() binds kernels on first use, "
            "the second column includes that)",
    "threads": "Threads (the same fib calls on one thread, and split over two)",
    "authors": "Author packages, the same Rust: `wasmcore build` vs maturin + PyO3 (per call)",
    "plugins": "Plugins: a call into a sandboxed plugin, and one call whose wasm calls a host "
               "function n times (time per call)",
    "components": "Components (WIT): wasmcore.Component against wasmtime-py's dynamic "
                  "Func() on the same component (per call)",
    "programs": "WASI programs: a warm run of a small command through wasmcore.Program "
                "against wasmtime-py used directly (Store, WASI with argv and stdin, "
                "instantiate, _start, output read); loading it from the compile cache",
    "dask": "Dask: a LocalCluster of 2 single-threaded worker processes against one process "
            "running the same chunks serially; per task, trivial tasks whose function ships "
            "nothing of wasmcore's (builtin), a core's kernel, or a plugin's function",
}
# groups timed by the wall clock whatever --timer says (other threads or processes work)
WALL_GROUPS = ("threads", "load", "dask")
# groups whose ratios are speed-ups (a target is a lower bound)
SPEEDUP_GROUPS = ("threads", "dask")


@dataclass
class Row:
    group: str
    name: str  # the kernel (or what is measured)
    size: str  # human-readable size
    thunks: dict[str, Callable[[], Any]]  # column -> one call
    ratios: list[tuple[str, str]]  # (numerator column, denominator column)
    ref: str = ""  # the reference library of the "ref" column
    self_timed: bool = False  # thunks return their own duration (seconds)
    once: bool = False  # one call per measurement (each call runs long enough by itself)
    wall: frozenset[str] = frozenset()  # columns always timed by the wall clock (see _timer)
    number: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name} {self.size}".strip()

    def median(self, col: str) -> float:
        return statistics.median(self.samples[col])

    def times(self) -> dict[str, float]:
        return {c: self.median(c) for c in self.thunks if self.samples.get(c)}

    def ratio_values(self) -> dict[str, float]:
        t = self.times()
        return {f"{a}/{b}": t[a] / t[b] for a, b in self.ratios if a in t and b in t}


@dataclass
class Target:
    name: str
    value: float | None
    op: str  # "<=" or ">="
    limit: float
    detail: str = ""

    @property
    def passed(self) -> bool | None:
        if self.value is None:
            return None
        return self.value <= self.limit if self.op == "<=" else self.value >= self.limit


def _geomean(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def targets(rows: list[Row]) -> list[Target]:
    """The performance targets of issue 5, evaluated on the measured rows."""
    by = {(r.group, r.name): r for r in rows}
    out = []
    call = by.get(("call", "fib(1)"))
    out.append(Target("scalar call: wasm fib(1) ÷ one bare ctypes call",
                      call.ratio_values().get("wasm/bare") if call else None, "<=", 1.0))
    comp = {r.label: v for r in rows if r.group == "compute"
            if (v := r.ratio_values().get("wasm/native")) is not None}
    if comp:
        worst = max(comp, key=comp.__getitem__)
        out.append(Target("compute-bound: geometric mean of wasm ÷ native", _geomean(
            list(comp.values())), "<=", 1.15, f"over {len(comp)} kernels"))
        out.append(Target("compute-bound: worst wasm ÷ native", comp[worst], "<=", 1.4, worst))
    for key, what, limit in (("wasm0/native", "zero-copy", 1.2), ("wasm/native", "copy-in", 2)):
        buf = {r.label: v for r in rows if r.group == "buffer" and r.ref == "numpy"
               if (v := r.ratio_values().get(key)) is not None}
        if buf:
            worst = max(buf, key=buf.__getitem__)
            out.append(Target(f"buffer kernels ({what}): worst wasm ÷ native", buf[worst],
                              "<=", limit, worst))
    load = by.get(("load", "wasmcore.load()"))
    out.append(Target("wasmcore.load(), warm compile cache (ms)",
                      load.median("load") * 1e3 if load and load.samples.get("load") else None,
                      "<=", 1.0))
    thr = by.get(("threads", "fib"))
    out.append(Target("two threads ÷ one, wasm throughput",
                      thr.ratio_values().get("wasm1/wasm2") if thr else None, ">=", 1.8))
    dsk = next((r for r in rows if r.group == "dask" and r.name == "gamma"), None)
    if dsk is not None:
        out.append(Target("dask: 2-worker process cluster ÷ one process, speed-up",
                          dsk.ratio_values().get("serial/cluster"), ">=", 1.7, dsk.label))
    from ._bench_components import targets as component_targets
    from ._bench_plugins import targets as plugin_targets
    from ._bench_programs import targets as program_targets

    return out + plugin_targets(rows) + component_targets(rows) + program_targets(rows)


# ---- the rows --------------------------------------------------------------------------------

class _Worker:
    """A persistent thread that runs one job at a time (the second thread of the threads row;
    persistent, so its wasm instance is created once, not inside a measurement)."""

    def __init__(self) -> None:
        self._job: Callable[[], object] | None = None
        self._go = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="wasmcore-bench")
        self._thread.start()

    def _loop(self) -> None:
        while True:
            self._go.wait()
            self._go.clear()
            job = self._job
            if job is None:
                return
            job()
            self._done.set()

    def start(self, job: Callable[[], object]) -> None:
        self._job = job
        self._done.clear()
        self._go.set()

    def join(self) -> None:
        self._done.wait()

    def close(self) -> None:
        self._job = None
        self._go.set()
        self._thread.join()


def _first_call_in_new_thread(core: Any) -> float:
    """Seconds from the start of a fresh thread's first ``core.fib(1)`` to its result (the
    thread's instance is created and the callable bound inside it)."""
    out: list[float] = []

    def run() -> None:
        t0 = time.perf_counter()
        core.fib(1)
        out.append(time.perf_counter() - t0)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    return out[0]


def _unchecked_call(fn: Any) -> Callable[[], object] | None:
    """The bare ``wasmtime_func_call_unchecked`` call inside a wasm callable: its ``_w_call``,
    the C function with every argument bound (``None`` if it is not there). A compiled
    kernel's is that of the Python callable it stands for."""
    fn = getattr(fn, "_w_fallback", fn)
    try:
        cells = dict(zip(fn.__code__.co_freevars, (c.cell_contents for c in fn.__closure__),
                         strict=True))
        call = cells["_w_call"]
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    return lambda: call()


def bound_core(data: bytes, manifest: Any, digest: str) -> Any:
    """A core of the bundled module on the speedups path with its kernels not compiled (each
    call a Python callable around a ``BoundCall``); None without wasmcore-speedups' kernels."""
    import wasmcore

    from ._backends import wasm as wasm_backend

    if not wasm_backend.available("speedups"):
        return None
    backend = wasm_backend.WasmBackend(data, manifest, digest, path="speedups")
    if not backend.compiled:
        return None
    backend.compiled = False
    return wasmcore.Core("wasm", backend)


def build_rows(s: Sizes, cores: dict[str, Any], lib_path: Path | None,
               worker: _Worker) -> list[Row]:
    import base64
    import hashlib
    import zlib

    import wasmcore

    wasm, native, py = cores["wasm"], cores.get("native"), cores["python"]
    rng = np.random.default_rng(0)
    rows: list[Row] = []

    def backends(call: Callable[[Any], object], zero_copy: Callable[[], object] | None = None,
                 python: bool = False) -> dict[str, Callable[[], object]]:
        th: dict[str, Callable[[], object]] = {}
        if python:
            th["python"] = lambda: call(py)
        th["wasm"] = lambda: call(wasm)
        if zero_copy is not None:
            th["wasm0"] = zero_copy
        if native is not None:
            th["native"] = lambda: call(native)
        return th

    # per call
    fib1 = {"wasm": lambda: wasm.fib(1)}
    if native is not None:
        fib1["native"] = lambda: native.fib(1)
    fib1["python"] = lambda: py.fib(1)
    if lib_path is not None:
        fib1["bare"] = bare_fib(lib_path)
        empty = ctypes.CDLL(str(lib_path)).wasmcore_take_panic
        empty.restype = ctypes.c_int32
        fib1["empty"] = empty
    # each fast call path side by side (the "wasm" column is this process's default path)
    from ._abi.manifest import read_module
    from ._backends import wasm as wasm_backend

    data, digest, manifest = read_module(wasmcore.wasm_path())
    for path in wasm_backend.FAST_PATHS:
        if wasm_backend.available(path):
            core = wasmcore.Core("wasm", wasm_backend.WasmBackend(data, manifest, digest,
                                                                  path=path))
            fib1[f"wasm_{path}"] = lambda core=core: core.fib(1)
            if (unchecked := _unchecked_call(core.fib)) is not None:
                fib1[f"unchecked_{path}"] = unchecked
    if (bound := bound_core(data, manifest, digest)) is not None:
        fib1["wasm_bound"] = lambda: bound.fib(1)
    inst = wasm._impl.instance()
    func, store, out = inst.exports["fib"], inst.store, inst.out
    fib1["generic"] = lambda: func(store, 1, out)
    rows.append(Row("call", "fib(1)", "", fib1,
                    [(c, "bare") for c in ("wasm", "wasm_speedups", "wasm_bound", "wasm_ctypes",
                                           "wasm_cffi",
                                           "native", "python", "generic", "unchecked_speedups",
                                           "unchecked_ctypes", "unchecked_cffi", "empty")]))

    # compute-bound
    x_sort = rng.random(s.sort)
    a = rng.random((s.matmul, s.matmul))
    b = rng.random((s.matmul, s.matmul))
    data = rng.integers(0, 256, s.sha256, dtype=np.uint8).tobytes()
    x_sort0, a0, b0 = wasm.asarray(x_sort), wasm.asarray(a), wasm.asarray(b)
    compute = [
        ("fib", f"({s.fib})", "", None, lambda c: c.fib(s.fib), None),
        ("sort", f"10^{round(math.log10(s.sort))} f64", "numpy", lambda: np.sort(x_sort),
         lambda c: c.sort(x_sort), lambda: wasm.sort(x_sort0)),
        ("matmul", f"{s.matmul}x{s.matmul}", "numpy", lambda: a @ b,
         lambda c: c.matmul(a, b), lambda: wasm.matmul(a0, b0)),
        ("sha256", _bytes_size(s.sha256), "hashlib", lambda: hashlib.sha256(data).digest(),
         lambda c: c.sha256(data), None),
        ("count_primes", f"(10^{round(math.log10(s.primes))})", "", None,
         lambda c: c.count_primes(s.primes), None),
    ]
    for name, size, ref, ref_call, call, zero in compute:
        th = backends(call, zero)
        if ref_call is not None:
            th = {"ref": ref_call, **th}
        rows.append(Row("compute", name, size, th,
                        [("wasm", "native"), ("wasm0", "native"), ("ref", "native")], ref,
                        wall=frozenset({"ref"} if name == "matmul" else ())))

    # buffer kernels
    n = s.buffer
    x, y = rng.random(n) - 0.5, rng.random(n) - 0.5
    x0, y0 = wasm.asarray(x), wasm.asarray(y)
    yw = y.copy()  # axpy writes in place: its own targets, so repeated calls never overflow
    ynat = y.copy()
    size = f"10^{round(math.log10(n))} f64"
    buffers: list[tuple[str, Callable[[], object], Callable[[Any], object],
                        Callable[[], object]]] = [
        ("sum", lambda: np.sum(x), lambda c: c.sum(x), lambda: wasm.sum(x0)),
        ("dot", lambda: np.dot(x, y), lambda c: c.dot(x, y), lambda: wasm.dot(x0, y0)),
        ("norm", lambda: np.linalg.norm(x), lambda c: c.norm(x), lambda: wasm.norm(x0)),
        ("var", lambda: np.var(x), lambda c: c.var(x), lambda: wasm.var(x0)),
        ("argmax", lambda: np.argmax(x), lambda c: c.argmax(x), lambda: wasm.argmax(x0)),
        ("cumsum", lambda: np.cumsum(x), lambda c: c.cumsum(x), lambda: wasm.cumsum(x0)),
        ("axpy", lambda: _axpy_np(1e-9, x, ynat),
         lambda c: c.axpy(1e-9, x, ynat if c is native else yw), lambda: wasm.axpy(1e-9, x0, y0)),
        ("histogram", lambda: np.histogram(x, 64, range=(-0.5, 0.5))[0],
         lambda c: c.histogram(x, 64, -0.5, 0.5), lambda: wasm.histogram(x0, 64, -0.5, 0.5)),
    ]
    for name, ref_call, call, zero in buffers:
        rows.append(Row("buffer", name, size, {"ref": ref_call, **backends(call, zero)},
                        [("wasm", "native"), ("wasm0", "native"), ("ref", "native")], "numpy",
                        wall=frozenset({"ref"} if name in ("dot", "norm") else ())))
    raw = rng.integers(0, 256, s.bytes, dtype=np.uint8).tobytes()
    for name, ref, ref_call, call in (
        ("crc32", "zlib", lambda: zlib.crc32(raw), lambda c: c.crc32(raw)),
        ("base64_encode", "base64", lambda: base64.b64encode(raw),
         lambda c: c.base64_encode(raw)),
    ):
        rows.append(Row("buffer", name, _bytes_size(s.bytes), {"ref": ref_call, **backends(call)},
                        [("wasm", "native"), ("ref", "native")], ref))

    # the pure-Python reference, at sizes it can do
    k = s.small
    xs = rng.random(k)
    small_data = xs.tobytes()
    m = max(2, round(k ** (1 / 3)))
    am = rng.random((m, m))
    small: list[tuple[str, str, Callable[[Any], object]]] = [
        ("fib", f"({min(s.fib, 20)})", lambda c: c.fib(min(s.fib, 20))),
        ("sum", f"{k} f64", lambda c: c.sum(xs)),
        ("sort", f"{k} f64", lambda c: c.sort(xs)),
        ("matmul", f"{m}x{m}", lambda c: c.matmul(am, am)),
        ("sha256", _bytes_size(len(small_data)), lambda c: c.sha256(small_data)),
        ("count_primes", f"({k * 10})", lambda c: c.count_primes(k * 10)),
    ]
    for name, size, call in small:
        rows.append(Row("python", name, size, backends(call, python=True),
                        [("python", "wasm"), ("wasm", "native")]))

    # loading
    load_cols: dict[str, Callable[[], object]] = {
        "load": wasmcore.load, "load_first": lambda: wasmcore.load().fib(1)}
    if native is not None:
        load_cols["load_native"] = lambda: wasmcore.load("native")
    rows.append(Row("load", "wasmcore.load()", "", load_cols, []))
    rows.append(Row("load", "first call on a new thread", "",
                    {"first_call": lambda: _first_call_in_new_thread(wasm)}, [],
                    self_timed=True))

    # threads: the same total work (2 x W) on one thread, and split over two
    def pair(core: Any, calls: int) -> tuple[Callable[[], object], Callable[[], object]]:
        def work() -> None:
            for _ in range(calls):
                core.fib(s.fib - 8)

        def one() -> None:
            work()
            work()

        def two() -> None:
            worker.start(work)
            work()
            worker.join()

        return one, two

    thr: dict[str, Callable[[], object]] = {}
    for key, core in (("wasm", wasm), ("native", native)):
        if core is None:
            continue
        worker.start(lambda core=core: core.fib(1))  # the worker's instance, made up front
        worker.join()
        t1 = median_time(lambda core=core: core.fib(s.fib - 8), 3)
        thr[f"{key}1"], thr[f"{key}2"] = pair(core, max(1, round(s.threads_work / t1)))
    rows.append(Row("threads", "fib", f"({s.fib - 8})", thr,
                    [("wasm1", "wasm2"), ("native1", "native2")]))
    return rows


# ---- the dask group -------------------------------------------------------------------------

def _log(ptr: int, n: int) -> None:
    """The textstats plugin's ``env.log``, as a module-level function (it pickles by
    reference, so the plugin does): does nothing."""


def _with_nonce(wasm: bytes) -> bytes:
    """``wasm`` with a custom section of random bytes appended: a module with a sha256 no
    process has seen yet."""
    body = b"\x05nonce" + os.urandom(16)
    return wasm + b"\x00" + bytes([len(body)]) + body


class DaskBench:
    """The cluster of the dask group (two single-threaded worker processes), its rows, and the
    module bytes a graph of ``dask_graph`` plugin tasks makes cross, without and with
    ``wasmcore.dask.register``."""

    def __init__(self, s: Sizes, core: Any, notes: list[str]) -> None:
        import dask.array as da
        from distributed import Client, LocalCluster, wait

        import wasmcore.dask as wd

        from . import _repo_root

        self.cluster = LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                                    dashboard_address=":0", silence_logs=logging.ERROR)
        self.client = Client(self.cluster)
        client = self.client
        rng = np.random.default_rng(1)
        values = rng.uniform(0.5, 20.0, s.dask_values)
        chunks = np.split(values, range(s.dask_chunk, s.dask_values, s.dask_chunk))
        x = client.persist(da.from_array(values, chunks=s.dask_chunk))  # on the workers
        wait(x)

        def serial() -> float:
            return sum(float(core.gamma(c).sum()) for c in chunks)

        def on_cluster() -> float:
            return float(wd.elementwise(core.gamma, x).sum().compute(scheduler=client))

        want, got = serial(), on_cluster()
        if not math.isclose(got, want, rel_tol=1e-12):
            raise AssertionError(f"bench dask: the cluster's sum {got} is not the serial {want}")
        def serial_cpu() -> float:
            t0 = time.thread_time()
            serial()
            return time.thread_time() - t0

        def cluster_cpu() -> float:
            before = client.run(time.process_time)
            on_cluster()
            after = client.run(time.process_time)
            return float(sum(after[w] - before[w] for w in after))

        exp = math.floor(math.log10(s.dask_values))
        lead = s.dask_values // 10**exp  # (the sizes are a digit times a power of ten)
        size = f"{f'{lead}x' if lead != 1 else ''}10^{exp} f64, {len(chunks)} chunks"
        self.rows = [Row("dask", "gamma", size, {"serial": serial, "cluster": on_cluster},
                         [("serial", "cluster")], once=True),
                     # the work the cluster path adds (what a busy machine's wall clock hides)
                     Row("dask", "gamma, CPU time", size,
                         {"serial_cpu": serial_cpu, "cluster_cpu": cluster_cpu},
                         [("cluster_cpu", "serial_cpu")], self_timed=True, once=True)]

        n = s.dask_tasks

        def per_task(fn: Callable[..., Any], *args: Any) -> Callable[[], float]:
            def run() -> float:
                t0 = time.perf_counter()
                client.gather(client.map(fn, *args, pure=False))
                return (time.perf_counter() - t0) / n
            return run

        tasks = {"task_builtin": per_task(abs, range(n)),
                 "task_core": per_task(core.fib, [1] * n)}
        self.info: dict[str, Any] = {"tasks": s.dask_graph}
        repo = _repo_root()
        textstats = repo / "target" / "dist" / "plugins" / "textstats.wasm" \
            if repo is not None else None
        if textstats is not None and textstats.is_file():
            import wasmcore

            module = textstats.read_bytes()
            texts = [b"to be or not to be"] * n
            registered = wasmcore.Plugin(_with_nonce(module), host={"log": _log})
            unregistered = wasmcore.Plugin(_with_nonce(module), host={"log": _log})
            self.info["module_bytes"] = len(registered._source)
            self.info["registered"] = self._graph_bytes(
                registered, s.dask_graph, lambda: wd.register(client, registered))
            self.info["not registered"] = self._graph_bytes(unregistered, s.dask_graph)
            tasks["task_plugin"] = per_task(registered.count_words, texts)
            tasks["task_plugin_bytes"] = per_task(unregistered.count_words, texts)
        else:
            notes.append("dask: no target/dist/plugins/textstats.wasm (`just build`): the plugin "
                         "columns are empty")
        self.rows.append(Row("dask", "per task", f"({n} trivial tasks)", tasks,
                             [(c, "task_builtin") for c in tasks if c != "task_builtin"],
                             self_timed=True, once=True))

    def _graph_bytes(self, p: Any, n: int, first: Callable[[], object] | None = None
                     ) -> dict[str, int]:
        """What ``first()`` (e.g. registering ``p``) and then ``n`` tasks of ``p.count_words``
        made arrive: module bytes in the workers (and the scheduler), and the size of one
        task's pickled function."""
        import pickle

        from . import _pickle

        def arrived() -> tuple[int, int]:
            s = self.client.run(_pickle.stats).values()
            sched = self.client.run_on_scheduler(_pickle.stats)
            return (sum(x["module_bytes_arrived"] for x in s), sched["module_bytes_arrived"])

        before = arrived()
        if first is not None:
            first()
        self.client.gather(self.client.map(p.count_words, [b"x"] * n, pure=False))
        after = arrived()
        return {"worker_bytes": after[0] - before[0], "scheduler_bytes": after[1] - before[1],
                "pickled_function": len(pickle.dumps(p.count_words))}

    def close(self) -> None:
        self.client.close()
        self.cluster.close()


def dask_markdown(info: dict[str, Any]) -> list[str]:
    """The module bytes table of the dask group."""
    if "module_bytes" not in info:
        return []
    out = ["", f"Module bytes that a graph of {info['tasks']} plugin tasks made arrive in the "
           f"worker processes and the scheduler (the plugin's module is {info['module_bytes']} "
           "bytes; registered: `wasmcore.dask.register(client, plugin)` first):", "",
           "| plugin | into the workers | into the scheduler | one task's pickled function |",
           "|---|---:|---:|---:|"]
    for key in ("registered", "not registered"):
        v = info[key]
        out.append(f"| {key} | {v['worker_bytes']:,} | {v['scheduler_bytes']:,} | "
                   f"{v['pickled_function']:,} |")
    return out


def _axpy_np(a: float, x: np.ndarray, y: np.ndarray) -> None:
    y += a * x


def _bytes_size(n: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


def _check_results(rows: list[Row]) -> None:
    """Every backend of a row gives the same answer (native vs wasm vs wasm zero-copy), so the
    table never compares kernels that went wrong."""
    for r in rows:
        if r.group not in ("compute", "buffer", "python") or r.name == "axpy":
            continue
        got = {c: r.thunks[c]() for c in ("wasm", "wasm0", "native", "python") if c in r.thunks}
        first = next(iter(got.values()))
        for c, v in got.items():
            same = v == first if isinstance(v, bytes) else np.allclose(v, first, rtol=1e-12,
                                                                       atol=0)
            if not same:
                raise AssertionError(f"bench {r.label}: {c} disagrees with the other backends")


# ---- the authors group: an author's package, wasmcore vs maturin + PyO3 ---------------------
# benches/authors/ holds one crate of plain Rust (kernels/) bound to Python twice: wasmcore/ is a
# wasmcore author project (`wasmcore build`, a py3-none-any wheel), pyo3/ a PyO3 extension
# (`maturin build`). Both are built once into target/bench/authors/ (rebuilt when their sources
# change) and imported from there; the rows time the same calls on both.

# column -> (project directory in benches/authors, package)
AUTHOR_PACKAGES = {"author": ("wasmcore", "authors_wasmcore"), "pyo3": ("pyo3", "authors_pyo3")}


class AuthorBuildError(Exception):
    """One of the two packages could not be built (the message says why)."""


def authors_sources() -> Path | None:
    """``benches/authors`` of the source checkout this package runs from (None elsewhere)."""
    from . import _repo_root

    repo = _repo_root()
    src = repo / "benches" / "authors" if repo is not None else None
    return src if src is not None and src.is_dir() else None


def authors_cache() -> Path:
    """Where the two packages are built and kept: ``target/bench/authors`` of the checkout
    (whatever ``--out`` says, so every run and the tests share one build)."""
    return default_out() / "authors"


def _sources_digest(dirs: list[Path], *extra: str) -> str:
    """A digest of every file under ``dirs`` (build output and caches left out) and ``extra``:
    a package is rebuilt when this changes."""
    import hashlib

    h = hashlib.sha256()
    for base in dirs:
        for f in sorted(base.rglob("*")):
            rel = f.relative_to(base)
            if f.is_file() and not {"target", "__pycache__"} & set(rel.parts):
                h.update(f"{base.name}/{rel.as_posix()}\0".encode())
                h.update(hashlib.sha256(f.read_bytes()).digest())
    for e in extra:
        h.update(f"{e}\0".encode())
    return h.hexdigest()


def _author_build(col: str, project: Path) -> tuple[list[str], str]:
    """The command that writes the wheel of one package (its ``--out`` directory appended by
    the caller), and the key of its sources and tools."""
    from importlib.metadata import PackageNotFoundError, version

    import wasmcore

    dirs = [project.parent / "kernels", project]
    if col == "author":
        from .build.cargo import crate_sources
        from .build.project import BuildError

        try:
            crates = list(crate_sources().values())
        except BuildError as e:
            raise AuthorBuildError(str(e)) from None
        return ([sys.executable, "-m", "wasmcore", "build", str(dirs[1]), "--no-sdist",
                 "--out"], _sources_digest(dirs + crates, wasmcore.__version__))
    try:
        maturin = version("maturin")
    except PackageNotFoundError:
        raise AuthorBuildError("maturin is not installed (pip install maturin, as "
                               "requirements-dev.txt does)") from None
    import sysconfig

    return ([sys.executable, "-m", "maturin", "build", "--release", "--manifest-path",
             str(dirs[1] / "Cargo.toml"), "--interpreter", sys.executable, "--out"],
            _sources_digest(dirs, maturin, sys.version, str(sysconfig.get_config_var(
                "EXT_SUFFIX"))))


def author_package(col: str, src: Path, cache: Path) -> Any:
    """The package of one column, built into ``cache`` unless the build there is of the same
    sources, then imported from there."""
    import importlib.util
    import shutil
    import subprocess
    import zipfile

    project, name = src / AUTHOR_PACKAGES[col][0], AUTHOR_PACKAGES[col][1]
    cmd, key = _author_build(col, project)
    tool = f"{cmd[2]} {cmd[3]}"  # "wasmcore build" or "maturin build"
    home = cache / name
    site, key_file = home / "site", home / "sources.sha256"
    if site.is_dir() and key_file.is_file() and key_file.read_text() == key:
        loaded = sys.modules.get(name)
        if loaded is not None and Path(loaded.__file__ or "").parent.parent == site:
            return loaded  # imported by an earlier run in this process
    else:
        print(f"wasmcore bench: {tool} of {project}, once, into {home}", file=sys.stderr,
              flush=True)
        stage = home / "stage"
        shutil.rmtree(stage, ignore_errors=True)
        env = {**os.environ, "CARGO_TARGET_DIR": str(cache / "cargo")}
        # the tools' output on stderr (fd 2), so that stdout carries the report alone
        r = subprocess.run([*cmd, str(stage / "wheels")], env=env, stdout=2, check=False)
        wheels = sorted((stage / "wheels").glob("*.whl"))
        if r.returncode != 0 or len(wheels) != 1:
            raise AuthorBuildError(f"{tool} of {project} failed (exit status {r.returncode}; "
                                   "its messages are above)")
        with zipfile.ZipFile(wheels[0]) as z:  # a wheel is importable once unpacked
            z.extractall(stage / "site")
        shutil.rmtree(site, ignore_errors=True)
        (stage / "site").rename(site)
        key_file.write_text(key)
    spec = importlib.util.spec_from_file_location(
        name, site / name / "__init__.py", submodule_search_locations=[str(site / name)])
    if spec is None or spec.loader is None:
        raise AuthorBuildError(f"{site} holds no package {name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def bare_labs() -> Callable[[], object]:
    """``labs(-3)`` as one bare ctypes call of the C library (argtypes preset, no checks): the
    yardstick of the authors rows, which needs no build of this project."""
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c") or ctypes.util.find_library("msvcrt"))
    fn = libc.labs
    fn.argtypes = [ctypes.c_long]
    fn.restype = ctypes.c_long

    def labs() -> object:  # one Python frame around the call, like the rows' other columns
        return fn(-3)

    return labs


def author_rows(s: Sizes, notes: list[str]) -> list[Row]:
    """The authors rows: each function of benches/authors on both packages (whichever could be
    built; a note says why one could not), small calls also against one bare ctypes call. The
    two packages' answers are compared before anything is timed."""
    src = authors_sources()
    if src is None:
        notes.append("the authors group needs a source checkout (benches/authors): no rows")
        return []
    pkgs: dict[str, Any] = {}
    for col in AUTHOR_PACKAGES:
        try:
            pkgs[col] = author_package(col, src, authors_cache())
        except AuthorBuildError as e:
            notes.append(f"authors: no {COLUMNS[col]} column: {e}")
            print(f"wasmcore bench: {notes[-1]}", file=sys.stderr)
    if not pkgs:
        return []
    rng = np.random.default_rng(0)
    big = min(s.bytes, 1 << 20)
    small_bytes, big_bytes = (rng.integers(0, 256, n, dtype=np.uint8).tobytes()
                              for n in (64, big))
    x10, xbig = rng.random(10), rng.random(s.buffer)
    a, b = 2**40 * 21, 2**20 * 165  # 4 steps of Euclid: the call dominates, not the loop
    calls: list[tuple[str, str, bool, Callable[[Any], Any]]] = [
        ("gcd", "(u64, u64)", True, lambda m: m.gcd(a, b)),
        ("adler32", "64 B", True, lambda m: m.adler32(small_bytes)),
        ("adler32", _bytes_size(big), False, lambda m: m.adler32(big_bytes)),
        ("cumsum", "10 f64", True, lambda m: m.cumsum(x10)),
        ("cumsum", f"10^{round(math.log10(s.buffer))} f64", False, lambda m: m.cumsum(xbig)),
        ("levenshtein", "6/7 chars", True, lambda m: m.levenshtein("kitten", "sitting")),
    ]
    labs = bare_labs()
    paths = author_paths(pkgs["author"]) if "author" in pkgs else {}
    # the method-call row: the method of an object made once per column (outside the timing)
    totals = {id(m): m.Total() for m in [*pkgs.values(), *paths.values()]}
    calls.append(("Total.add", "(f64), a method", True, lambda o: o.add(1.5)))
    rows = []
    for name, size, per_call, call in calls:
        def subject(m: Any, method: bool = name == "Total.add") -> Any:
            return totals[id(m)] if method else m

        th: dict[str, Callable[[], object]] = {
            col: functools.partial(call, subject(m)) for col, m in pkgs.items()}
        got = [call(subject(m)) for m in pkgs.values()]
        if not all(np.array_equal(g, got[0]) for g in got):
            raise AssertionError(f"bench {name} {size}: wasmcore and PyO3 disagree ({got})")
        if per_call:
            th["labs"] = labs
            th.update((col, functools.partial(call, subject(core)))
                      for col, core in paths.items())
        rows.append(Row("authors", name, size, th,
                        [("author", "pyo3"), ("author_bound", "pyo3"), ("author_ctypes", "pyo3"),
                         ("author", "labs"), ("pyo3", "labs")]))
    return rows


def author_paths(pkg: Any) -> dict[str, Any]:
    """The wasmcore package's module on the other call paths, each as a core: with
    wasmcore-speedups but its kernels not compiled (a Python callable around a ``BoundCall``
    each), and through ctypes (the path without wasmcore-speedups). Only those available."""
    import hashlib

    import wasmcore

    from ._abi.manifest import read_manifest
    from ._backends import wasm as wasm_backend

    wasm_file = next(Path(pkg.__file__).parent.glob("*.wasm"))
    data = wasm_file.read_bytes()
    digest, manifest = hashlib.sha256(data).hexdigest(), read_manifest(data)
    out: dict[str, Any] = {}
    if (bound := bound_core(data, manifest, digest)) is not None:
        out["author_bound"] = bound
    if wasm_backend.available("ctypes"):
        out["author_ctypes"] = wasmcore.Core(
            "wasm", wasm_backend.WasmBackend(data, manifest, digest, path="ctypes"))
    return out


# ---- measuring -------------------------------------------------------------------------------

def _timer(row: Row, col: str, cpu: bool) -> Callable[[], float]:
    """The clock of one cell. ``cpu``: the calling thread's CPU time, which a busy shared
    machine disturbs far less than the wall clock (time spent descheduled is not counted; the
    wasm and native calls run on the calling thread, GIL released or not). The wall clock for
    the rows that involve other threads and for the columns flagged ``wall`` (numpy functions
    that may hand work to BLAS threads)."""
    if not cpu or row.group in WALL_GROUPS or col in row.wall:
        return time.perf_counter
    return time.thread_time


def _time(f: Callable[[], Any], number: int, self_timed: bool,
          clock: Callable[[], float] = time.perf_counter) -> float:
    if self_timed:
        return sum(f() for _ in range(number)) / number
    t0 = clock()
    for _ in range(number):
        f()
    return (clock() - t0) / number


def calibrate(row: Row, min_time: float) -> None:
    """Warms every column up and picks how many calls fill one measurement."""
    for c, f in row.thunks.items():
        _time(f, 1, row.self_timed)
        if row.once:
            row.number[c] = 1
            continue
        t = max(_time(f, 1, row.self_timed), 1e-7)
        number = 1
        while t * number < min_time / 4:  # a second, larger probe for very fast calls
            number = min(number * 10, 10**6)
            t = _time(f, number, row.self_timed)
            if number == 10**6:
                break
        row.number[c] = max(1, math.ceil(min_time / t)) if t < min_time else 1


def measure(rows: list[Row], repeat: int, min_time: float, progress: Any,
            cpu: bool = True) -> None:
    """``repeat`` rounds per row; in each, every column once, starting at a different column
    each round (interleaved, so drifting machine load hits all columns alike)."""
    for row in rows:
        progress.set_description(row.label[:28])
        calibrate(row, min_time)
        cols = list(row.thunks)
        clocks = {c: _timer(row, c, cpu) for c in cols}
        row.samples = {c: [] for c in cols}
        for i in range(repeat):
            for c in cols[i % len(cols):] + cols[:i % len(cols)]:
                row.samples[c].append(_time(row.thunks[c], row.number[c], row.self_timed,
                                            clocks[c]))
                progress.update(1)


class _NoProgress:
    def set_description(self, _: str) -> None:
        pass

    def update(self, _: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int) -> tuple[Any, str | None]:
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoProgress(), "tqdm is not installed: no progress bar " \
            "(pip install 'wasmcore[bench]')"
    return tqdm(total=total, unit="run", file=sys.stderr, leave=False), None


# ---- the report ------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    from importlib.metadata import version

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpu": cpu, "cores": os.cpu_count(), "machine": platform.machine(),
            "system": f"{platform.system()} {platform.release()}",
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "wasmtime": version("wasmtime"), "numpy": np.__version__,
            "loadavg": [round(v, 2) for v in load] if load else None,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def to_json(rows: list[Row], tgts: list[Target], meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "meta": meta,
        "rows": [{"group": r.group, "name": r.name, "size": r.size, "reference": r.ref or None,
                  "times": r.times(), "number": r.number, "samples": r.samples,
                  "ratios": r.ratio_values()} for r in rows],
        "targets": [{"name": t.name, "value": t.value, "op": t.op, "limit": t.limit,
                     "pass": t.passed, "detail": t.detail} for t in tgts],
    }


def _verdict(t: Target) -> str:
    return {True: "pass", False: "**miss**", None: "not measured"}[t.passed]


def to_markdown(rows: list[Row], tgts: list[Target], meta: dict[str, Any]) -> str:
    out = [f"# wasmcore bench ({meta['sizes']} sizes)", ""]
    out.append(f"{meta['cpu']} ({meta['cores']} cores), {meta['system']}, {meta['python']}, "
               f"wasmtime-py {meta['wasmtime']}, numpy {meta['numpy']}; load average "
               f"{meta['loadavg']} before, {meta.get('loadavg_after')} after; {meta['date']}. "
               f"Median of {meta['repeat']} interleaved runs per cell; "
               + ("thread CPU time (wall clock for the load and threads rows and numpy's BLAS "
                  "calls)." if meta["timer"] == "cpu" else "wall-clock time."))
    if meta["sizes"] != "full":
        out += ["", f"**{meta['sizes']} pass: smaller sizes than the targets are stated for; "
                "run `wasmcore bench` (no --quick) for the real table.**"]
    out += ["", "## Targets", "", "| target | measured | goal | |", "|---|---:|---:|---|"]
    for t in tgts:
        value = "—" if t.value is None else f"{t.value:.3g}"
        detail = f" ({t.detail})" if t.detail else ""
        out.append(f"| {t.name}{detail} | {value} | {t.op} {t.limit:g} | {_verdict(t)} |")
    for group, title in GROUPS.items():
        grows = [r for r in rows if r.group == group]
        if not grows:
            continue
        cols = [c for c in COLUMNS if any(c in r.thunks for r in grows)]
        ratios = list(dict.fromkeys(k for r in grows for k in r.ratio_values()))
        out += ["", f"## {title}", ""]
        head = ["kernel", *(COLUMNS[c] for c in cols), *(_ratio_header(k) for k in ratios)]
        out += ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
        for r in grows:
            t, rv = r.times(), r.ratio_values()
            name = r.label + (f" · {r.ref}" if r.ref else "")
            cells = [fmt_short(t[c]) if c in t else "" for c in cols]
            cells += [f"{rv[k]:.2f}x" if k in rv else "" for k in ratios]
            out.append("| " + " | ".join([name, *cells]) + " |")
        if group == "dask":
            out += dask_markdown(meta.get("dask", {}))
    out += ["", "Columns: *reference* is the library named after the kernel (numpy, hashlib, "
            "zlib, base64); *wasm* copies the input into linear memory on each call, *wasm "
            "zero-copy* passes arrays made by `core.asarray`; *bare ctypes* is one ctypes call of "
            "the native `fib` export (argtypes preset, no checks); in the per-call row *wasm* is "
            "this process's call path (`WASMCORE_FAST_PATH`; speedups when wasmcore-speedups is "
            "installed, else ctypes), *wasm via speedups*, *via ctypes* and *via cffi* each fast "
            "path; *unchecked call* is the `wasmtime_func_call_unchecked` call inside a wasm "
            "callable alone, through that library; *empty ctypes call* is a native "
            "export that does nothing; *wasmtime Func()* is wasmtime-py's public "
            "`Func.__call__`. Plugins: *wasmcore p.add()* calls a plugin's export as an "
            "attribute, *p.call()* by name; *wasmtime-py Func()* and *Extism* (its Python SDK) "
            "run the same WAT module (`wasmcore/_bench_plugins.py`). Authors: *wasmcore* and "
            "*PyO3* are the packages built from `benches/authors` with `wasmcore build` and with "
            "maturin, *bare labs()* one ctypes call of the C library's `labs`.", ""]
    return "\n".join(out)


def _ratio_header(key: str) -> str:
    a, b = key.split("/")
    return f"{COLUMNS[a]} ÷ {COLUMNS[b]}"


def plot(rows: list[Row], tgts: list[Target], meta: dict[str, Any], path: Path) -> None:
    """A chart of the ratios (log scale), one panel per group, target limits marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    limits = {("call", "wasm/bare"): 1.0, ("compute", "wasm/native"): 1.4,
              ("buffer", "wasm0/native"): 1.2, ("buffer", "wasm/native"): 2.0,
              ("threads", "wasm1/wasm2"): 1.8, ("dask", "serial/cluster"): 1.7}
    panels = [(g, [r for r in rows if r.group == g and r.ratio_values()]) for g in GROUPS]
    panels = [(g, rs) for g, rs in panels if rs]
    if not panels:
        raise LookupError("no ratios to plot")
    heights = [max(1.5, 0.32 * sum(len(r.ratio_values()) for r in rs) + 0.9) for _, rs in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, sum(heights)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    colors = plt.get_cmap("tab10")
    keys = list(dict.fromkeys(k for _, rs in panels for r in rs for k in r.ratio_values()))
    for ax, (group, rs) in zip(axes[:, 0], panels, strict=True):
        labels, values, cols, marks = [], [], [], []
        for r in rs:
            for k, v in r.ratio_values().items():
                labels.append(f"{r.label}: {_ratio_header(k)}")
                values.append(v)
                cols.append(colors(keys.index(k) % 10))
                counted = group != "buffer" or r.ref == "numpy"  # as in targets()
                marks.append(limits.get((group, k)) if counted else None)
        ys = list(range(len(values)))[::-1]
        ax.barh(ys, values, color=cols, height=0.7)
        ax.set_xscale("log")
        ax.axvline(1.0, color="black", linewidth=0.8)
        for y, v, lim in zip(ys, values, marks, strict=True):
            ax.text(v, y, f" {v:.2f}x", va="center", fontsize=7)
            if lim is not None:
                ok = v >= lim if group in SPEEDUP_GROUPS else v <= lim
                ax.plot([lim, lim], [y - 0.4, y + 0.4], color="green" if ok else "red",
                        linewidth=2)
        ax.set_yticks(ys, labels, fontsize=7)
        ax.set_title(GROUPS[group], fontsize=9, loc="left")
        lo, hi = min([*values, 1.0]), max([*values, 1.0])
        ax.set_xlim(lo / 1.5, hi * 2.5)
        ax.grid(axis="x", which="both", alpha=0.3)
    fig.suptitle(f"wasmcore bench ({meta['sizes']}): time ratios, log scale; ticks mark "
                 "targets (green met, red missed)", fontsize=10)
    fig.text(0.01, 0.002, f"{meta['cpu']}, {meta['python']}, wasmtime-py {meta['wasmtime']}",
             fontsize=7)
    fig.tight_layout(rect=(0, 0.01, 1, 0.98))
    fig.savefig(path, dpi=90)
    plt.close(fig)


# ---- the command -----------------------------------------------------------------------------

def default_out() -> Path:
    from . import _repo_root

    repo = _repo_root()
    return (repo if repo is not None else Path.cwd()) / "target" / "bench"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true",
                   help="a short pass with smaller sizes (same as --sizes quick)")
    p.add_argument("--sizes", choices=sorted(SIZES), default=None,
                   help="full (default: the sizes the targets are stated for), quick, or tiny "
                        "(a smoke test of the harness itself)")
    p.add_argument("--repeat", type=int, default=None,
                   help="measurements per cell (default: 9 full, 3 quick)")
    p.add_argument("--only", default=None, metavar="GROUPS",
                   help="comma-separated groups to run: " + ", ".join(GROUPS))
    p.add_argument("--timer", choices=("cpu", "wall"), default="cpu",
                   help="cpu (default): the calling thread's CPU time, robust on a busy machine "
                        "(the threads and load rows, and numpy's BLAS calls, use the wall clock "
                        "whatever this says); wall: the wall clock everywhere")
    p.add_argument("--out", type=Path, default=None,
                   help="report directory (default: target/bench of the checkout, else of the "
                        "current directory)")


def run(args: argparse.Namespace) -> int:
    import wasmcore

    s = SIZES[args.sizes or ("quick" if args.quick else "full")]
    repeat = max(1, args.repeat or s.repeat)
    only = set(args.only.split(",")) if args.only else set(GROUPS)
    if unknown := only - set(GROUPS):
        print(f"wasmcore bench: unknown group(s) {', '.join(sorted(unknown))}; "
              f"choose from {', '.join(GROUPS)}", file=sys.stderr)
        return 2
    out_dir: Path = args.out or default_out()
    notes = []
    meta = {**machine(), "sizes": s.name, "repeat": repeat, "timer": args.timer}

    cores: dict[str, Any] = {"wasm": wasmcore.load(), "python": wasmcore.load("python")}
    lib_path: Path | None = None
    try:
        cores["native"] = wasmcore.load("native")
        lib_path = Path(cores["native"]._impl.lib._name)
    except wasmcore.Error as e:
        notes.append(f"native backend unavailable, its columns are empty ({e})")
    worker = _Worker()
    dask_bench: DaskBench | None = None
    try:
        rows = [r for r in build_rows(s, cores, lib_path, worker) if r.group in only]
        if "authors" in only:
            rows += author_rows(s, notes)
        if "plugins" in only:
            from ._bench_plugins import rows as plugin_rows

            prows, pnotes = plugin_rows(s)
            rows += prows
            notes += pnotes
        if "components" in only:
            from ._bench_components import rows as component_rows

            crows, cnotes = component_rows(s)
            rows += crows
            notes += cnotes
        if "programs" in only:
            from ._bench_programs import rows as program_rows

            prows, pnotes = program_rows(s)
            rows += prows
            notes += pnotes
        _check_results(rows)
        if "dask" in only:
            try:
                dask_bench = DaskBench(s, cores["wasm"], notes)
            except ImportError as e:
                notes.append(f"dask is not installed: no dask rows (pip install "
                             f"'wasmcore[dask]'; {e})")
                print(f"wasmcore bench: {notes[-1]}", file=sys.stderr)
            else:
                rows += dask_bench.rows
                meta["dask"] = dask_bench.info
        progress, note = _progress(sum(len(r.thunks) * repeat for r in rows))
        if note:
            notes.append(note)
            print(f"wasmcore bench: {note}", file=sys.stderr)
        print(f"wasmcore bench: {s.name} sizes, {repeat} runs per cell, {len(rows)} rows -> "
              f"{out_dir}", file=sys.stderr)
        try:
            measure(rows, repeat, s.min_time, progress, cpu=args.timer == "cpu")
        finally:
            progress.close()
    finally:
        worker.close()
        if dask_bench is not None:
            dask_bench.close()
    meta["loadavg_after"] = machine()["loadavg"]

    tgts = targets(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        plot(rows, tgts, meta, out_dir / "report.png")
        chart = "\n![ratios](report.png)\n"
    except LookupError:
        chart = ""
    except ImportError:
        chart = ""
        notes.append("matplotlib is not installed: no report.png "
                     "(pip install 'wasmcore[bench]')")
        print(f"wasmcore bench: {notes[-1]}", file=sys.stderr)
    meta["notes"] = notes
    (out_dir / "report.json").write_text(json.dumps(to_json(rows, tgts, meta), indent=1) + "\n")
    md = to_markdown(rows, tgts, meta) + chart
    if notes:
        md += "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    (out_dir / "report.md").write_text(md)
    print(md)
    return 0
