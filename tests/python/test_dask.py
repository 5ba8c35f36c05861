"""wasmcore on Dask: kernels, one-pass statistics, histograms and plugins over dask arrays,
bags and dataframes, on the threaded scheduler and on a process-based distributed.LocalCluster
(two single-threaded workers, shared by the module), against numpy and scipy; a hostile
plugin fails its task with its own exception and the worker runs the next one; a fresh worker
gets a plugin from its pickle; after register() module bytes cross once per worker."""

from __future__ import annotations

import copy
import logging
import operator
import os
import pickle
import statistics
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import dask
import dask.array as da
import dask.bag as db
import dask.dataframe as dd
import hosts
import numpy as np
import pandas as pd
import pytest
import scipy.special
import wasmcore
import wasmcore.dask as wd
from distributed import Client, LocalCluster
from test_objects import check_stats
from wasmcore import _pickle


def local_cluster(n_workers: int) -> LocalCluster:
    return LocalCluster(processes=True, n_workers=n_workers, threads_per_worker=1,
                        dashboard_address=":0", silence_logs=logging.CRITICAL)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with local_cluster(2) as cluster, Client(cluster) as c:
        yield c


@pytest.fixture(params=["threads", "distributed"])
def scheduler(request: pytest.FixtureRequest) -> Any:
    """What ``dask.compute(..., scheduler=)`` takes: the threaded scheduler, or the cluster."""
    if request.param == "threads":
        return "threads"
    return request.getfixturevalue("client")


def compute(obj: Any, scheduler: Any) -> Any:
    return dask.compute(obj, scheduler=scheduler)[0]


def worker_stats(client: Client) -> dict[str, dict[str, int]]:
    return client.run(_pickle.stats)  # type: ignore[no-any-return]


def fresh_textstats() -> wasmcore.Plugin:
    """The textstats plugin with a nonce custom section appended: new bytes, a new sha256, so
    no process of the cluster knows its module yet."""
    body = b"\x05nonce" + os.urandom(16)
    data = hosts.TEXTSTATS.read_bytes() + b"\x00" + bytes([len(body)]) + body
    return wasmcore.Plugin(data, host={"log": hosts.log})


# -- arrays -----------------------------------------------------------------------------------

def test_elementwise_kernels_match_scipy(scheduler: Any) -> None:
    core = wasmcore.load()
    rng = np.random.default_rng(5)
    values = rng.uniform(-3.5, 9.0, (300, 70))
    values[0, :4] = [0.0, -0.0, -2.0, np.inf]
    x = da.from_array(values, chunks=(64, 32))
    gamma, lgamma, erf = compute((wd.elementwise(core.gamma, x), wd.elementwise(core.lgamma, x),
                                  wd.elementwise(core.erf, x)), scheduler)
    assert gamma.shape == values.shape
    want = scipy.special.gamma(values)
    finite = np.isfinite(want)
    assert np.array_equal(np.isnan(gamma), np.isnan(want))
    assert np.array_equal(gamma[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)])
    assert np.all(np.abs(gamma[finite] - want[finite]) <= 1e-13 * np.abs(want[finite]))
    want = scipy.special.gammaln(values)
    ok = np.isfinite(want)
    assert np.all(np.abs(lgamma[ok] - want[ok]) <= 1e-13 * np.maximum(1, np.abs(want[ok])))
    assert np.all(np.abs(erf - scipy.special.erf(values)) <= 1e-15)
    # a 1-D array takes the kernel itself, no helper
    flat = da.from_array(values.ravel(), chunks=5000)
    got = compute(flat.map_blocks(core.gamma, dtype=np.float64), scheduler)
    assert np.array_equal(got, gamma.ravel(), equal_nan=True)


def test_elementwise_checks_its_function() -> None:
    core = wasmcore.load()
    x = da.ones((2, 6), chunks=(1, 6))
    counts = wd.elementwise(core.histogram, x, 3, 0.0, 2.0)  # 3 values for 6: not elementwise
    with pytest.raises(ValueError, match="histogram returned 3 values for a block of 6"):
        counts.compute(scheduler="sync")
    with pytest.raises(TypeError, match="pass dtype="):
        wd.elementwise(core.mean, x)  # the mean of an empty array is a ValueError


@pytest.mark.parametrize("backend", ["wasm", "native", "python"])
@pytest.mark.parametrize("kind", ["normal", "offset", "nan"])
def test_stats_match_numpy(scheduler: Any, backend: str, kind: str) -> None:
    core = wasmcore.load(backend)  # type: ignore[arg-type]
    rng = np.random.default_rng(9)
    shape, chunks = ((40, 50), (7, 13)) if backend == "python" else ((600, 700), (128, 96))
    values = rng.standard_normal(shape)
    if kind == "offset":
        values = 1e9 + values * 1e-3
    elif kind == "nan":
        values[3, 5] = np.nan
    x = da.from_array(values, chunks=chunks)
    rs = compute(wd.stats(x, core, split_every=4), scheduler)
    assert isinstance(rs, core.RunningStats)
    check_stats(rs, values.ravel().tolist())
    if kind != "nan":
        # statistics computes in exact rationals: numpy's two-pass variance is off by 1e-8
        # relative on the offset data (the error of its mean enters squared)
        want = statistics.stdev(values.ravel().tolist())
        assert abs(rs.std(ddof=1) - want) <= 1e-12 * want
        assert rs.std() == np.sqrt(rs.var())
    rs.close()


def test_stats_of_many_chunks_merge_in_one_pass(scheduler: Any) -> None:
    """1000 chunks of 1000: one partial state per chunk, merged in a tree."""
    x = da.random.default_rng(2).standard_normal(10**6, chunks=1000) * 3 + 7
    values = x.compute(scheduler="sync")
    rs = compute(wd.stats(x), scheduler)
    check_stats(rs, values.tolist(), ddofs=(0, 1))
    with pytest.raises(ValueError, match="split_every' must be >= 2"):
        wd.stats(x, split_every=1)


def test_histogram_is_exact(scheduler: Any) -> None:
    rng = np.random.default_rng(4)
    values = rng.normal(0.0, 2.0, (500, 300))
    values[0, :5] = [np.nan, -5.0, 5.0, 5.5, -np.inf]  # the edges, outside, NaN
    x = da.from_array(values, chunks=(100, 77))
    for bins, lo, hi in ((10, -5.0, 5.0), (1, 0.0, 1.0), (257, -3.3, 2.9)):
        counts = compute(wd.histogram(x, bins, lo, hi), scheduler)
        assert counts.dtype == np.int64
        assert np.array_equal(counts, np.histogram(values[~np.isnan(values)], bins,
                                                   range=(lo, hi))[0])
    with pytest.raises(ValueError, match=r"histogram\(\): parameter 'hi' must be greater"):
        wd.histogram(x, 10, 1.0, 0.0)


# -- bags and dataframes ----------------------------------------------------------------------

TEXTS = [b"", b"one", b"the quick  brown\tfox\n", b"a\x0bb\x0cc d\re", b"x " * 50]


def test_plugin_over_a_bag_and_a_dataframe(scheduler: Any) -> None:
    p = wasmcore.Plugin(hosts.TEXTSTATS, host={"log": hosts.log}, timeout=10, fuel=10**9)
    records = TEXTS * 40
    bag = db.from_sequence(records, npartitions=7)
    assert compute(wd.map_partitions(p.count_words, bag), scheduler) == \
        [len(t.split()) for t in records]
    # plain Dask takes the plugin's function as well
    assert compute(bag.map(p.count_lines), scheduler) == \
        [t.count(b"\n") + (1 if t and not t.endswith(b"\n") else 0) for t in records]
    # a dataframe's text column holds str: longest_word takes str
    texts = [t.decode() for t in records if t.split()]
    frame = dd.from_pandas(pd.DataFrame({"text": texts}), npartitions=5)
    longest = compute(wd.map_partitions(p.longest_word, frame["text"], meta=("text", str)),
                      scheduler)
    assert isinstance(longest, pd.Series)
    assert longest.tolist() == [max(t.split(), key=len) for t in texts]
    with pytest.raises(TypeError, match="must be a dask Bag or a dask dataframe Series"):
        wd.map_partitions(p.count_words, records)


HOSTILE = [
    ("infinite_loop.wat", {"timeout": 0.2}, wasmcore.Timeout),
    ("infinite_loop.wat", {"fuel": 10**6}, wasmcore.FuelExhausted),
    ("memory_bomb.wat", {"max_memory": 4 << 20}, wasmcore.MemoryLimitExceeded),
]


@pytest.mark.parametrize(("module", "kwargs", "exc"), HOSTILE,
                         ids=[f"{m}-{'-'.join(k)}" for m, k, _ in HOSTILE])
def test_hostile_plugin_fails_its_task_and_the_worker_goes_on(
        client: Client, module: str, kwargs: dict[str, Any], exc: type[Exception]) -> None:
    p = wasmcore.Plugin(hosts.HOSTILE / module, **kwargs)
    with pytest.raises(exc) as here:
        p.call("run")
    pids = client.run(hosts.pid)
    for worker in pids:  # on each worker: the same exception on the client, then the next task
        with pytest.raises(exc) as there:
            client.submit(p.call, "run", pure=False, workers=[worker]).result()
        assert str(there.value) == str(here.value)
        assert client.submit(p.call, "ok", pure=False, workers=[worker]).result() == 42
    # in a bag: the task fails with the plugin's exception
    names = db.from_sequence(["ok", "ok", "run", "ok"], npartitions=2)
    with pytest.raises(exc):
        compute(wd.map_partitions(p.call, names), client)
    assert compute(wd.map_partitions(p.call, db.from_sequence(["ok"] * 4, npartitions=2)),
                   client) == [42] * 4
    assert client.run(hosts.pid) == pids  # no worker died or restarted


def test_a_fresh_worker_gets_the_plugin_and_runs_it() -> None:
    p = wasmcore.Plugin(hosts.TEXTSTATS.read_bytes(), host={"log": hosts.log}, timeout=10)
    with local_cluster(1) as cluster, Client(cluster) as c:
        imported = "'wasmcore' in __import__('sys').modules"
        assert list(c.run(eval, imported).values()) == [False]
        assert c.submit(p.count_words, b"to be or not to be").result() == 6
        assert list(c.run(eval, imported).values()) == [True]
        (stats,) = c.run(_pickle.stats).values()
        assert stats["plugins_loaded"] == 1 and stats["modules_new"] == 1


def test_objects_cross_to_tasks_and_back(client: Client) -> None:
    core = wasmcore.load()
    values = np.random.default_rng(8).standard_normal(1000).tolist()
    rs = core.RunningStats()
    rs.push(values)
    assert client.submit(operator.attrgetter("count"), rs).result() == 1000
    back = client.submit(copy.copy, rs).result()  # made on a worker, returned
    check_stats(back, values)


def test_register_ships_module_bytes_once_per_worker(client: Client) -> None:
    """Without register() every task carries the plugin's bytes to its worker; with it, each
    worker (and the scheduler) gets them once, and task pickles hold a reference."""
    n = 200
    records = [b"to be or not"] * n

    def arrivals() -> tuple[int, int]:
        s = worker_stats(client).values()
        return sum(x["module_arrivals"] for x in s), sum(x["module_bytes_arrived"] for x in s)

    plain = fresh_textstats()
    size = len(plain._source)
    assert plain._source in pickle.dumps(plain.count_words)
    before = arrivals()
    assert client.gather(client.map(plain.count_words, records, pure=False)) == [4] * n
    count, nbytes = (a - b for a, b in zip(arrivals(), before, strict=True))
    assert count >= n and nbytes >= n * size  # (more if a task was sent twice)

    shipped = fresh_textstats()
    sched_before = client.run_on_scheduler(_pickle.stats)["module_arrivals"]
    before = arrivals()
    wd.register(client, shipped)
    assert shipped._source not in pickle.dumps(shipped.count_words)
    assert client.gather(client.map(shipped.count_words, records, pure=False)) == [4] * n
    count, nbytes = (a - b for a, b in zip(arrivals(), before, strict=True))
    assert (count, nbytes) == (2, 2 * size)  # once for each of the two workers
    # the scheduler too (in a LocalCluster it runs in this process, which has the module)
    assert client.run_on_scheduler(_pickle.stats)["module_arrivals"] - sched_before <= 1
    wd.register(client, shipped.count_words)  # the same modules: nothing is sent again
    assert arrivals() == tuple(a + b for a, b in zip(before, (2, 2 * size), strict=True))
    with pytest.raises(TypeError, match="expected a wasmcore Plugin or Core"):
        wd.register(client, "textstats.wasm")


def test_import_wasmcore_does_not_import_dask() -> None:
    code = ("import sys, wasmcore\n"
            "wasmcore.load().fib(3)\n"
            "print(sorted(m for m in ('dask', 'distributed', 'cloudpickle', 'pandas')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]"


def test_dask_tokens_need_no_loading() -> None:
    core = wasmcore.load()
    p = wasmcore.Plugin(hosts.TEXTSTATS, host={"log": hosts.log})
    loaded = _pickle.stats()["cores_loaded"], _pickle.stats()["plugins_loaded"]
    token = dask.base.tokenize
    assert token(core.gamma) == token(wasmcore.load().gamma) != token(core.lgamma)
    assert token(core.gamma) != token(wasmcore.load("native").gamma)
    assert token(p.count_words) == token(p.count_words) != token(p.count_lines)
    other = wasmcore.Plugin(hosts.TEXTSTATS, host={"log": hosts.log}, timeout=1)
    assert token(other.count_words) != token(p.count_words)
    assert (_pickle.stats()["cores_loaded"], _pickle.stats()["plugins_loaded"]) == loaded


def test_a_components_functions_run_in_tasks(client: Client) -> None:
    """A component's exported functions as Dask tasks on worker processes: each worker loads
    the component once (it pickles by reference), results as in this process."""
    path = hosts.ROOT / "target" / "components" / "plugin-rust.wasm"
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `just components`")
    c = wasmcore.Component(path, host={"demo:plugin/host@0.1.0": {
        "log": hosts.component_log, "get-factor": hosts.component_factor}})
    xs = list(range(40))
    assert client.gather(client.map(c.scaled, xs)) == [c.scaled(x) for x in xs]
    texts = ["hello world", "", "  spaced  out ", "one"] * 5
    bag = db.from_sequence(texts, npartitions=4)
    assert compute(bag.map(c.first_word), client) == [c.first_word(t) for t in texts]
    with pytest.raises(wasmcore.ComponentError) as e:
        client.submit(c.divide, 1, 0).result()
    assert e.value.value == "division by zero"
