"""wasmcore in Pyodide in a real headless Chromium, on the page's main thread, offline
(`just test-web`).

tests/pyodide/run.py's preparation (the CPython host's results for every call of
tests/pyodide/cases.py and plugins.py, the plugin fixtures as binaries, the runtime's and the
similarity example's wheels) goes to target/web/pyodide/work. The page tests/web/pyodide/
(index.html, page.mjs) then loads Pyodide from the pinned npm package and micropip from its
cached wheel, installs the wheels over HTTP with micropip, and runs main_thread.py (Chromium's
size limit on synchronous compiles and instantiations, measured; `await wasmcore.prepare()`
then `load()` below and above it) and tests/pyodide/check.py (every kernel, class, error,
plugin and the example against the CPython host, as `just test-pyodide` does under Node), all
on the page's main thread. Everything is served from this machine by web/tests' driver's
server; the test fails on any console error or warning, page error, failed request or Python
exception. The driver's report goes to target/web/pyodide/report.json.

Not part of the ordinary pytest run (pytest.ini's testpaths): it needs `just wheel examples
setup-pyodide setup-web` first, which the recipe does.
"""

from __future__ import annotations

import importlib.util
import json
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from browser import drive

ROOT = Path(__file__).resolve().parents[2]
PAGE = Path(__file__).resolve().parent / "pyodide"
PYODIDE = ROOT / "tests" / "pyodide"
OUT = ROOT / "target" / "web" / "pyodide"
WORK = OUT / "work"


def pyodide_run() -> ModuleType:
    """tests/pyodide/run.py, the preparation of `just test-pyodide`."""
    spec = importlib.util.spec_from_file_location("pyodide_run", PYODIDE / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    package = PYODIDE / "node_modules" / "pyodide"
    micropip = sorted((ROOT / "target" / "pyodide" / "cache").glob("micropip-*.whl"))
    if not package.is_dir() or not micropip:
        pytest.fail("Pyodide or micropip is missing: run `just setup-pyodide`")
    pyodide_run().prepare(WORK)
    # what check.py reads from /work; the wheels are installed over HTTP
    with zipfile.ZipFile(OUT / "work.zip", "w") as z:
        for f in sorted(WORK.rglob("*")):
            if f.is_file() and f.relative_to(WORK).parts[0] != "wheels":
                z.write(f, f.relative_to(WORK))
    mounts = {"/pyodide/": package, "/cache/": micropip[-1].parent, "/data/": OUT, "/": PAGE}
    report = drive(mounts, f"/index.html?micropip={micropip[-1].name}", OUT / "page.png")
    (OUT / "report.json").write_text(json.dumps(report, indent=1))
    return report


def test_page_runs_cleanly(report: dict[str, Any]) -> None:
    """Pyodide, micropip, the wheels, main_thread.py and check.py ran to the end, offline: no
    console error or warning, page error, failed request or Python exception."""
    assert report.get("driverError") is None, report["driverError"]
    demo = report["demo"]
    assert demo["state"] == "done", demo["error"]
    assert report["console"] == []
    assert report["pageErrors"] == []
    assert report["failedRequests"] == []
    assert report["wasmContentType"] == "application/wasm"
    assert list(demo["seconds"]) == ["Pyodide loaded", "micropip loaded", "wheels installed",
                                     "main_thread.py", "check.py", "done"]


def test_check_py_passed_on_the_main_thread(report: dict[str, Any]) -> None:
    """check.py (which raises on any difference from the CPython host) finished and measured."""
    check = report["demo"]["results"]["check.py"]
    assert check["failures"] == []
    assert [n[0] for n in check["numbers"]][:2] == ["fib(1): one call",
                                                    "sum of 16 float64 (array.array): one call"]


def test_main_thread_size_limit(report: dict[str, Any]) -> None:
    """Chromium's main thread refuses synchronous compiles and instantiations of modules over
    the limit main_thread.py measured (the one its messages name), which the bundled module is
    under; main_thread.py checked that prepare() gets past it."""
    found = report["demo"]["results"]["main_thread.py"]
    assert found["bundled"] == (ROOT / "target" / "dist" / "wasmcore.wasm").stat().st_size
    assert found["bundled"] < found["limit"]
    words = f"on the main thread, if the buffer size is larger than {found['limit'] >> 20}MB"
    assert found["limit"] % (1 << 20) == 0 and words in found["compile refused"], found
    assert words in found["instance refused"] and words in found["second load refused"], found
