"""The py3-none-any wheel: it carries the dist .wasm with its manifest and works after
``pip install`` into a clean venv with no Rust toolchain on PATH, with and without the
optional compiled module (``wasmcore[speedups]``). ``just test`` builds the wheels (``just
wheel``, ``just speedups``) before running pytest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from wasmcore._abi.manifest import read_manifest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel() -> Path:
    wheels = sorted((ROOT / "target" / "wheels").glob("wasmcore-*.whl"))
    assert wheels, "no wheel in target/wheels: run `just wheel` (just test does)"
    return wheels[-1]


def test_wheel_is_pure_and_carries_the_module(wheel: Path) -> None:
    assert wheel.name.endswith("-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        assert "wasmcore/wasmcore.wasm" in names
        assert "wasmcore/py.typed" in names
        assert "wasmcore/_kernels.pyi" in names  # the core's types (docs/typing.md)
        assert not [n for n in names if n.endswith((".so", ".pyd", ".dylib"))]
        wasm = z.read("wasmcore/wasmcore.wasm")
    assert wasm == (ROOT / "target" / "dist" / "wasmcore.wasm").read_bytes()
    assert {"fib", "partitions", "sum"} <= {f.name for f in read_manifest(wasm).functions}


def test_wheel_installs_and_runs_without_rust(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", str(wheel)], check=True)
    # PATH without cargo/rustc; run outside the checkout so nothing resolves to the sources
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WASMCORE_", "CARGO", "RUSTUP", "PYTHON"))}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), "/usr/bin", "/bin"])
    env["WASMCORE_CACHE_DIR"] = str(tmp_path / "cache")
    assert shutil.which("cargo", path=env["PATH"]) is None
    assert shutil.which("rustc", path=env["PATH"]) is None
    script = (
        "import math, wasmcore, numpy as np\n"
        "core = wasmcore.load()\n"
        "assert 'site-packages' in str(wasmcore.wasm_path()), wasmcore.wasm_path()\n"
        "x = np.random.default_rng(0).random(1000)\n"
        "assert abs(core.sum(x) - math.fsum(x)) <= 1e-13 * math.fsum(x)\n"
        "assert wasmcore.load('python').sum(x) == core.sum(x)\n"
        "print(core.fib(30), core.partitions([4]*9 + [16], 10))\n"
    )
    out = subprocess.run([str(py), "-c", script], env=env, cwd=tmp_path, check=True,
                         capture_output=True, text=True)
    assert out.stdout.split() == ["832040", str(_partitions([4] * 9 + [16], 10))]
    # the console script runs a plugin in the sandbox (the packaged core, as a plugin)
    core_wasm = subprocess.run(
        [str(py), "-c", "import wasmcore; print(wasmcore.wasm_path())"], env=env, cwd=tmp_path,
        check=True, capture_output=True, text=True).stdout.strip()
    r = subprocess.run([str(venv / "bin" / "wasmcore"), "call", core_wasm, "fib", "20",
                        "--fuel", "10000000"], env=env, cwd=tmp_path, capture_output=True,
                       text=True, check=False)
    assert (r.returncode, r.stdout) == (0, "6765\n"), r.stderr
    assert core_wasm.endswith("wasmcore.wasm")
    # pip picked a wasmtime-py wasmcore is verified against (the requirement's upper bound),
    # and a plugin with a memory runs on it (wasmtime 51's memory creator aborted wasmcore 0.1)
    plugin = (
        "import importlib.metadata as m, wasmcore\n"
        "from wasmcore._backends import internals\n"
        "p = wasmcore.Plugin(b'(module (memory 1) (func (export \"f\") (result i32) "
        "i32.const 1))')\n"
        "print(p.call('f'), internals.verified(m.version('wasmtime')), "
        "sorted(internals.decision().public))\n"
    )
    r = subprocess.run([str(py), "-W", "error", "-c", plugin], env=env, cwd=tmp_path,
                       capture_output=True, text=True, check=False)
    assert (r.returncode, r.stdout) == (0, "1 True []\n"), r.stderr

    # without the optional compiled module, calls go through ctypes; `pip install
    # wasmcore[speedups]` (here from target/wheels, where `just build` puts its wheel) makes
    # it the call path, with the same results
    def info() -> str:
        return subprocess.run([str(venv / "bin" / "wasmcore"), "info", core_wasm], env=env,
                              cwd=tmp_path, check=True, capture_output=True, text=True).stdout

    assert "fast (ctypes) call path" in info()
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--find-links",
                    str(ROOT / "target" / "wheels"), f"{wheel}[speedups]"], check=True)
    assert "fast (speedups) call path" in info()
    out = subprocess.run([str(py), "-c", script], env=env, cwd=tmp_path, check=True,
                         capture_output=True, text=True)
    assert out.stdout.split() == ["832040", str(_partitions([4] * 9 + [16], 10))]


def _partitions(cards: list[int], subtotal: int) -> int:
    from test_kernels import partitions_oracle

    return partitions_oracle(cards, subtotal)
