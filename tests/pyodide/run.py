"""``just test-pyodide``: the runtime's wheel and an author's wheel in Pyodide, offline, against
the CPython host.

1. On CPython (this process, with numpy and wasmtime): the expected results of every call in
   cases.py (the core) and plugins.py (plugins, the similarity example), into
   target/pyodide/work/expected.json; the plugin fixtures as binaries (Pyodide has no WAT
   reader); the wheels from target/wheels (`just wheel examples`).
2. Node runs Pyodide (the npm package pinned in tests/pyodide/package-lock.json, installed by
   scripts/setup-pyodide.sh with micropip's wheel) on that directory: run.mjs installs the
   wheels with micropip and runs check.py, which compares and measures.
3. Prints the numbers (wasmcore in Pyodide against pure Python in Pyodide) and writes them to
   target/pyodide/report.json; exits non-zero when anything failed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "tests" / "pyodide"
OUT = ROOT / "target" / "pyodide"
WORK = OUT / "work"
WHEELS = ROOT / "target" / "wheels"
EXAMPLES = ROOT / "examples" / "plugins"

sys.path.insert(0, str(HERE))
os.environ.setdefault("WASMCORE_CACHE_DIR", tempfile.mkdtemp(prefix="wasmcore-pyodide-"))

import cases
import plugins
import wasmcore
import wasmtime


def wheel(name: str) -> Path:
    found = sorted(WHEELS.glob(f"{name}-*-py3-none-any.whl"))
    if not found:
        sys.exit(f"test-pyodide: no {name} wheel in target/wheels: run `just wheel examples`")
    return found[-1]


def modules(dest: Path) -> None:
    """The plugin fixtures as binary modules."""
    dest.mkdir(parents=True)
    for name in plugins.MODULES:
        stem = name.removesuffix(".wasm")
        if name == "textstats.wasm":
            shutil.copy(ROOT / "target" / "dist" / "plugins" / name, dest / name)
        elif (EXAMPLES / "hostile" / name).is_file():
            shutil.copy(EXAMPLES / "hostile" / name, dest / name)
        else:
            wat = next(p for p in (EXAMPLES / f"{stem}.wat", EXAMPLES / "hostile" / f"{stem}.wat")
                       if p.is_file())
            (dest / name).write_bytes(wasmtime.wat2wasm(wat.read_text()))


def similarity() -> object:
    """The similarity example, installed from its wheel into a temporary directory."""
    dest = Path(tempfile.mkdtemp(prefix="wasmcore-similarity-"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                    str(dest), str(wheel("similarity"))], check=True)
    sys.path.insert(0, str(dest))
    return __import__("similarity")


def prepare(work: Path = WORK) -> None:
    """The directory check.py runs on (``/work`` in Pyodide); also the browser test's
    (tests/web/test_pyodide_page.py)."""
    shutil.rmtree(work, ignore_errors=True)
    modules(work / "modules")
    (work / "wheels").mkdir()
    order = [wheel("wasmcore"), wheel("similarity")]
    for w in order:
        shutil.copy(w, work / "wheels" / w.name)
    (work / "wheels" / "ORDER").write_text("\n".join(w.name for w in order))
    for f in ("cases.py", "plugins.py", "check.py"):
        shutil.copy(HERE / f, work / f)
    expected = {
        "core": cases.run(wasmcore.load("wasm")),
        "plugins": plugins.run(plugins.calls(wasmcore, lambda f: str(work / "modules" / f))),
        "similarity": plugins.run(plugins.similarity_calls(similarity())),
    }
    (work / "expected.json").write_text(json.dumps(expected))


def table(report: dict[str, object]) -> str:
    def t(s: float) -> str:
        return f"{s * 1e6:.2f} µs" if s < 1e-3 else f"{s * 1e3:.2f} ms" if s < 1 \
            else f"{s:.2f} s"

    lines = [(f"Pyodide (CPython {report['python']}, Node {node_version()}): wasmcore's js "
              "backend against pure Python in Pyodide"),
             "", "| | wasmcore | pure Python | pure Python ÷ wasmcore |", "|---|---:|---:|---:|"]
    for name, ours, theirs in report["numbers"]:  # type: ignore[attr-defined]
        lines.append(f"| {name} | {t(ours)} | {t(theirs)} | {theirs / ours:.1f}x |")
    for name, s in report["extra"].items():  # type: ignore[attr-defined]
        lines.append(f"| {name} | | {t(s)} | |")
    return "\n".join(lines)


def node_version() -> str:
    return subprocess.run(["node", "--version"], capture_output=True, text=True,
                          check=True).stdout.strip()


def main() -> int:
    micropip = sorted((OUT / "cache").glob("micropip-*.whl"))
    if not (HERE / "node_modules" / "pyodide").is_dir() or not micropip:
        sys.exit("test-pyodide: run scripts/setup-pyodide.sh first (just test-pyodide does)")
    started = time.perf_counter()
    prepare()
    proc = subprocess.run(["node", str(HERE / "run.mjs"), str(WORK), str(micropip[-1])],
                          capture_output=True, text=True, timeout=900, check=False)
    sys.stderr.write(proc.stderr[-20000:])
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        print(proc.stdout[-5000:])
        print(f"test-pyodide: FAILED (exit {proc.returncode})")
        return 1
    report = json.loads(lines[-1])
    (OUT / "report.json").write_text(json.dumps(report, indent=1))
    print(table(report))
    checks = len(json.loads((WORK / "expected.json").read_text())["core"])
    print(f"\ntest-pyodide: {checks} core calls, {len(plugins.MODULES)} plugin modules and "
          f"the similarity wheel agree with CPython, in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
