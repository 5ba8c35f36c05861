"""The benchmark harness (``wasmcore bench``) in its tiny smoke-test mode: it writes its three
files, the JSON has the expected rows, and every ratio is the quotient of the times it names.
No duration or target is asserted (speed lives in the report, not in tests)."""

from __future__ import annotations

import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

import pytest
from wasmcore import _bench
from wasmcore.__main__ import main


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
    assert {"wasm", "native", "python", "bare", "generic"} <= set(rows["call", "fib(1)"]["times"])
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
    names = {t["name"] for t in report[1]["targets"]}
    assert len(names) == 8 and all(t["pass"] in (True, False) for t in report[1]["targets"])


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
