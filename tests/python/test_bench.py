"""The benchmark harness (``wasmcore bench``) in its tiny smoke-test mode: it writes its three
files, the JSON has the expected rows, and every ratio is the quotient of the times it names.
No duration or target is asserted (speed lives in the report, not in tests).

The ``authors`` group's two packages (benches/authors: the same Rust through ``wasmcore build``
and through maturin + PyO3) are built once into target/bench/authors, the harness's own cache,
and reused by every later run; here both are also compared with outside oracles (math.gcd,
zlib.adler32, numpy.cumsum, rapidfuzz)."""

from __future__ import annotations

import functools
import json
import math
import operator
import statistics
import sys
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import Levenshtein
from wasmcore import _bench
from wasmcore.__main__ import main
from wasmcore._backends import internals, wasm


def run_bench(out: Path, *extra: str) -> dict[str, Any]:
    assert main(["bench", "--sizes", "tiny", "--out", str(out), *extra]) == 0
    report: dict[str, Any] = json.loads((out / "report.json").read_text())
    return report


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("bench")
    return out, run_bench(out)


def test_writes_json_markdown_and_chart(report: tuple[Path, dict[str, Any]]) -> None:
    out, data = report
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text()
    assert "## Targets" in md and "tiny pass" in md and "report.png" in md
    assert data["meta"]["sizes"] == "tiny" and data["meta"]["python"]


def test_json_has_the_expected_rows(report: tuple[Path, dict[str, Any]]) -> None:
    rows = {(r["group"], r["name"]): r for r in report[1]["rows"]}
    # (each fast path side by side, where wasmtime-py's internals may be used: not under
    # WASMCORE_FAST_PATH=0)
    paths = {f"{c}_{p}" for c in ("wasm", "unchecked") for p in wasm.FAST_PATHS} \
        if internals.usable("calls") else set()
    assert {"wasm", "native", "python", "bare", "generic", *paths} <= \
        set(rows["call", "fib(1)"]["times"])
    for name in ("fib", "sort", "matmul", "sha256", "count_primes"):
        assert {"wasm", "native"} <= set(rows["compute", name]["times"])
    for name in ("sum", "dot", "cumsum", "axpy"):
        assert {"ref", "wasm", "wasm0", "native"} <= set(rows["buffer", name]["times"])
    assert "python" in rows["python", "sum"]["times"]
    assert "load" in rows["load", "wasmcore.load()"]["times"]
    assert {"wasm1", "wasm2"} <= set(rows["threads", "fib"]["times"])
    assert {"serial", "cluster"} <= set(rows["dask", "gamma"]["times"])
    assert {"serial_cpu", "cluster_cpu"} <= set(rows["dask", "gamma, CPU time"]["times"])
    assert {"task_builtin", "task_core", "task_plugin", "task_plugin_bytes"} <= \
        set(rows["dask", "per task"]["times"])
    authors = [r for r in report[1]["rows"] if r["group"] == "authors"]
    assert [r["name"] for r in authors] == ["gcd", "adler32", "adler32", "cumsum", "cumsum",
                                            "levenshtein", "Total.add"]
    for r in authors:  # both packages were built and measured, small calls also against labs
        assert {"author", "pyo3"} <= set(r["times"]) and "author/pyo3" in r["ratios"]
    small = [r for r in authors if "labs" in r["times"]]
    assert len(small) == 5
    others = {col for col, path in (("author_ctypes", "ctypes"), ("author_bound", "speedups"))
              if wasm.available(path)}  # (none where wasmtime-py's internals are not used)
    for r in small:  # and on the other call paths of this run
        assert others <= set(r["times"])
    assert not [n for n in report[1]["meta"]["notes"] if n.startswith("authors")]
    for name in ("add(1, 2)", "add(1, 2), fuel and timeout", "host callback"):
        assert {"plugin", "wasmtime_py", "extism"} <= set(rows["plugins", name]["times"])
    assert "plugin_call" in rows["plugins", "add(1, 2)"]["times"]
    assert {"program", "wasmtime_run"} <= set(rows["programs", "warm run of a small command"][
        "times"])
    assert {"program_load", "wasmtime_load"} <= set(rows["programs",
                                                         "load from the compile cache"]["times"])
    for name in ("add(1, 2)", "first_word(str)", "process(str, record)",
                 "scaled(x): one host callback", "range(n) -> list<u32>"):
        assert {"component", "wasmtime_py"} <= set(rows["components", name]["times"])
    names = {t["name"] for t in report[1]["targets"]}
    assert "component" in rows["components", "spin() until its timeout"]["times"]
    assert len(names) == 17 and all(t["pass"] in (True, False) for t in report[1]["targets"])


def test_dask_counts_module_bytes(report: tuple[Path, dict[str, Any]]) -> None:
    """Registered, a plugin's module reaches each of the 2 workers and the scheduler once;
    otherwise every task carries it to its worker (the graph reaches the scheduler once)."""
    info = report[1]["meta"]["dask"]
    size, n = info["module_bytes"], info["tasks"]
    assert info["registered"]["worker_bytes"] == 2 * size
    assert info["registered"]["scheduler_bytes"] == size
    assert info["registered"]["pickled_function"] < size
    assert info["not registered"]["worker_bytes"] >= n * size
    assert info["not registered"]["scheduler_bytes"] == size
    assert info["not registered"]["pickled_function"] > size
    assert "made arrive in the worker processes" in (report[0] / "report.md").read_text()


def test_ratios_are_consistent_with_times(report: tuple[Path, dict[str, Any]]) -> None:
    for row in report[1]["rows"]:
        times = row["times"]
        for col, samples in row["samples"].items():
            assert times[col] == pytest.approx(statistics.median(samples))
        for key, ratio in row["ratios"].items():
            a, b = key.split("/")
            assert ratio == pytest.approx(times[a] / times[b]), (row["name"], key)
    by = {(r["group"], r["name"]): r for r in report[1]["rows"]}
    target = {t["name"]: t for t in report[1]["targets"]}
    compute = [r["ratios"]["wasm/native"] for r in report[1]["rows"] if r["group"] == "compute"]
    geomean = math.exp(sum(map(math.log, compute)) / len(compute))
    assert target["compute-bound: geometric mean of wasm ÷ native"]["value"] == \
        pytest.approx(geomean)
    assert target["scalar call: wasm fib(1) ÷ one bare ctypes call"]["value"] == \
        by["call", "fib(1)"]["ratios"]["wasm/bare"]
    assert target["plugin call: p.add(1, 2) (µs)"]["value"] == \
        pytest.approx(by["plugins", "add(1, 2)"]["times"]["plugin"] * 1e6)
    assert target["host callback from wasm (µs per callback)"]["value"] == \
        pytest.approx(by["plugins", "host callback"]["times"]["plugin"] / 10 * 1e6)  # x 10


def test_without_matplotlib_and_tqdm_still_writes_json_and_markdown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import raises ImportError
    monkeypatch.setitem(sys.modules, "tqdm", None)
    data = run_bench(tmp_path, "--only", "call,load")
    assert not (tmp_path / "report.png").exists()
    md = (tmp_path / "report.md").read_text()
    assert "matplotlib is not installed" in md and "tqdm is not installed" in md
    assert "matplotlib is not installed" in capsys.readouterr().err
    assert {r["group"] for r in data["rows"]} == {"call", "load"}


def test_default_out_is_target_bench_of_the_checkout() -> None:
    assert _bench.default_out().parts[-2:] == ("target", "bench")


@pytest.fixture(scope="module")
def twins() -> list[ModuleType]:
    """The authors group's packages (wasmcore, PyO3) from the harness's cache, built there the
    first time (a few minutes on a fresh checkout, then reused)."""
    src = _bench.authors_sources()
    assert src is not None
    return [_bench.author_package(col, src, _bench.authors_cache())
            for col in _bench.AUTHOR_PACKAGES]


u64 = st.integers(0, 2**64 - 1)
words = st.one_of(st.text(alphabet="abcde", max_size=12),
                  st.text(alphabet=st.characters(codec="utf-8"), max_size=30))
finite = st.floats(-1e6, 1e6, allow_nan=False, width=64)


@settings(max_examples=150, deadline=None)
@given(a=u64, b=u64, data=st.binary(max_size=300), x=st.lists(finite, max_size=40), s=words,
       t=words)
def test_author_packages_match_oracles(twins: list[ModuleType], a: int, b: int, data: bytes,
                                       x: list[float], s: str, t: str) -> None:
    arr = np.array(x, dtype=np.float64)
    for m in twins:
        assert m.gcd(a, b) == math.gcd(a, b), m.__name__
        assert m.adler32(data) == zlib.adler32(data), m.__name__
        np.testing.assert_array_equal(m.cumsum(arr), np.cumsum(arr), err_msg=m.__name__)
        assert m.levenshtein(s, t) == Levenshtein.distance(s, t), m.__name__
        total = m.Total()
        assert [total.add(v) for v in x] == list(range(1, len(x) + 1)), m.__name__
        assert total.sum() == functools.reduce(operator.add, x, 0.0), m.__name__  # in order


def test_author_packages_at_the_bench_sizes(twins: list[ModuleType]) -> None:
    """The large inputs of the full pass (Adler-32 sums reduced over many 5552-byte blocks)."""
    rng = np.random.default_rng(1)
    big = rng.integers(0, 256, 1 << 20, dtype=np.uint8).tobytes()
    x = rng.random(10**6)
    for m in twins:
        assert m.adler32(big) == zlib.adler32(big) and m.adler32(b"\xff" * 100_000) == \
            zlib.adler32(b"\xff" * 100_000), m.__name__
        np.testing.assert_array_equal(m.cumsum(x), np.cumsum(x), err_msg=m.__name__)
        assert m.gcd(0, 0) == 0 and m.gcd(2**64 - 1, 2**32 + 1) == math.gcd(2**64 - 1, 2**32 + 1)
