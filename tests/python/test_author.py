"""The author workflow end to end (issue 11): ``wasmcore new`` → ``pip wheel`` /
``python -m build`` / ``wasmcore build`` → a fresh venv with only the runtime wheel and the new
wheel → import and call every generated function and the class, compared with Python's own
answers; mypy --strict on the typed API; an editable install that rebuilds on import.

Every cargo build here shares one target directory (``target/authors``), so the crates all
these projects depend on (syn, the wasmcore crates) are compiled once per CI run; venvs reuse
pip's cache. No test asserts a duration.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WHEELS = ROOT / "target" / "wheels"
CARGO_TARGET = ROOT / "target" / "authors"
NAME, PACKAGE = "demo-pkg", "demo_pkg"

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def runtime_wheel() -> Path:
    wheels = sorted(WHEELS.glob("wasmcore-*-py3-none-any.whl"))
    if not wheels:
        pytest.fail("no runtime wheel in target/wheels: run `just wheel` (just test does)")
    return wheels[-1]


def author_env(**extra: str) -> dict[str, str]:
    """The environment of an author's shell: no variable pointing into this checkout, cargo's
    shared target directory, pip finding the runtime wheel in target/wheels."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WASMCORE_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(CARGO_TARGET_DIR=str(CARGO_TARGET), PIP_FIND_LINKS=str(WHEELS),
               PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


def run(cmd: list[str | Path], cwd: Path, env: dict[str, str] | None = None,
        ok: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env or author_env(),
                       capture_output=True, text=True, check=False)
    if ok and r.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited with {r.returncode}\n--- stdout\n"
                    f"{r.stdout}\n--- stderr\n{r.stderr}")
    return r


def make_venv(path: Path) -> Path:
    """A fresh venv holding only the runtime wheel (and its dependencies); its python."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    py = path / "bin" / "python"
    run([py, "-m", "pip", "install", "--quiet", runtime_wheel()], cwd=path)
    return py


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``wasmcore new demo-pkg``, with the tool of this checkout."""
    parent = tmp_path_factory.mktemp("authors")
    run([sys.executable, "-m", "wasmcore", "new", NAME], cwd=parent)
    return parent / NAME


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_venv(tmp_path_factory.mktemp("venv") / "v")


def test_new_writes_a_complete_project(project: Path) -> None:
    files = sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file())
    assert files == [".cargo/config.toml", ".gitignore", "Cargo.toml", "README.md",
                     "pyproject.toml", f"python/{PACKAGE}/__init__.py",
                     f"python/{PACKAGE}/py.typed", "src/lib.rs", f"tests/test_{PACKAGE}.py"]
    pyproject = (project / "pyproject.toml").read_text()
    assert 'build-backend = "wasmcore.build"' in pyproject
    assert re.search(r'^wasmcore-abi = "\d+\.\d+"$', (project / "Cargo.toml").read_text(), re.MULTILINE)
    assert "+simd128" in (project / ".cargo" / "config.toml").read_text()
    r = run([sys.executable, "-m", "wasmcore", "new", NAME], cwd=project.parent, ok=False)
    assert r.returncode == 1 and "already exists" in r.stderr and "Traceback" not in r.stderr
    r = run([sys.executable, "-m", "wasmcore", "new", "9-lives"], cwd=project.parent, ok=False)
    assert r.returncode == 1 and "not a Python identifier" in r.stderr


def test_the_package_imports_whatever_lib_rs_exports(project: Path, tmp_path: Path) -> None:
    """An author who replaces the example functions of src/lib.rs with their own: the
    scaffold's package still imports (its example Python looks `cumsum` up when called)."""
    import shutil

    pkg = tmp_path / PACKAGE
    shutil.copytree(project / "python" / PACKAGE, pkg)
    # what the build generates for a lib.rs whose one export is `twice` (its binding stubbed)
    (pkg / "_lib.py").write_text('__all__ = ["twice"]\n\ndef twice(x):\n    return 2 * x\n')
    r = run([sys.executable, "-c", f"import {PACKAGE}; print({PACKAGE}.twice(21))"],
            cwd=tmp_path)
    assert r.stdout.strip() == "42"


@pytest.fixture(scope="module")
def wheel(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip wheel .`` with build isolation: pip installs the backend (the runtime wheel, from
    target/wheels) into a fresh build environment, as for any user."""
    out = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", out, project],
        cwd=project)
    (whl,) = out.glob("*.whl")
    return whl


def test_wheel_is_pure_and_complete(wheel: Path) -> None:
    assert wheel.name == f"{PACKAGE}-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(f"{PACKAGE}-0.1.0.dist-info/METADATA").decode()
        wheel_file = z.read(f"{PACKAGE}-0.1.0.dist-info/WHEEL").decode()
        record = z.read(f"{PACKAGE}-0.1.0.dist-info/RECORD").decode()
        stub = z.read(f"{PACKAGE}/_lib.pyi").decode()
        generated = z.read(f"{PACKAGE}/_lib.py").decode()
    for f in ("__init__.py", "py.typed", "_lib.py", "_lib.pyi", "_lib.wasm"):
        assert f"{PACKAGE}/{f}" in names
    assert not [n for n in names if n.endswith((".so", ".pyd", ".dylib", ".pyc"))]
    assert "Tag: py3-none-any" in wheel_file and "Root-Is-Purelib: true" in wheel_file
    assert re.search(r"^Requires-Dist: wasmcore>=\d+\.\d+$", meta, re.MULTILINE)
    assert re.search(r"^Name: demo-pkg$", meta, re.MULTILINE) and "Version: 0.1.0" in meta
    assert len(record.splitlines()) == len(names)
    assert "sha256=" in generated and "develop=" not in generated
    for name in ("gcd", "cumsum", "adler32", "mean", "Stats"):
        assert re.search(rf"^(def|class) {name}\b", stub, re.MULTILINE), name


ORACLE_SCRIPT = """
import inspect, itertools, math, random, statistics, zlib
import numpy as np
import demo_pkg

rng = random.Random(7)
for _ in range(300):
    a, b = rng.randrange(2**64), rng.randrange(2**64)
    assert demo_pkg.gcd(a, b) == math.gcd(a, b)
x = [rng.uniform(-1e3, 1e3) for _ in range(2000)]
assert np.allclose(demo_pkg.cumsum(x), list(itertools.accumulate(x)), rtol=0, atol=1e-9)
assert demo_pkg.cumsum(np.array([], dtype=np.float64)).shape == (0,)
for n in (0, 1, 5552, 5553, 70000):
    data = rng.randbytes(n)
    assert demo_pkg.adler32(data) == zlib.adler32(data)
    assert demo_pkg.adler32(bytearray(data)) == zlib.adler32(data)
assert math.isclose(demo_pkg.mean(x), statistics.fmean(x), rel_tol=1e-12, abs_tol=1e-12)
with demo_pkg.Stats() as s:
    s.push(np.array(x[:500])); s.push(x[500:])
    assert s.count == len(x)
    assert math.isclose(s.mean, statistics.fmean(x), rel_tol=1e-12, abs_tol=1e-12)
assert demo_pkg.normalized_cumsum([1.0, 3.0]) == [0.25, 1.0]

def raises(exc, pattern, fn, *args):
    try:
        fn(*args)
    except exc as e:
        assert all(p in str(e) for p in pattern), (pattern, str(e))
    else:
        raise AssertionError(f"{fn.__name__}{args}: no {exc.__name__}")

raises(TypeError, ["cumsum()", "'x'"], demo_pkg.cumsum, "not numbers")
raises(TypeError, ["adler32()", "'data'"], demo_pkg.adler32, "text")
raises(ValueError, ["gcd()", "'a'", ">= 0"], demo_pkg.gcd, -1, 2)
raises(ValueError, ["gcd()", "'b'"], demo_pkg.gcd, 1, 2**64)
raises(TypeError, ["gcd()", "'a'"], demo_pkg.gcd, 1.5, 2)
raises(ValueError, ["mean()", "'x'", "empty"], demo_pkg.mean, [])
raises(TypeError, [], demo_pkg.gcd, 1)
s = demo_pkg.Stats()
raises(ValueError, ["no values"], lambda: s.mean)
s.close()
raises(ValueError, ["closed"], s.push, [1.0])
assert str(inspect.signature(demo_pkg.gcd)).startswith("(a, b)") or \\
    list(inspect.signature(demo_pkg.gcd).parameters) == ["a", "b"]
assert "greatest common divisor" in demo_pkg.gcd.__doc__
assert "Running statistics" in demo_pkg.Stats.__doc__ and "Adds every" in demo_pkg.Stats.push.__doc__
assert demo_pkg.gcd.__module__ == "demo_pkg._lib" and demo_pkg.Stats.__module__ == "demo_pkg._lib"
assert "site-packages" in demo_pkg._lib.__file__
print("ok")
"""

TYPED_SCRIPT = """
import numpy as np
import demo_pkg
from typing_extensions import assert_type

n: int = demo_pkg.gcd(12, 18)
sums = demo_pkg.cumsum(np.linspace(0, 1, 5))
also = demo_pkg.cumsum([1.0, 2.0])
c: int = demo_pkg.adler32(b"abc")
m: float = demo_pkg.mean([1.0, 2.0])
with demo_pkg.Stats() as s:
    s.push([1.0])
    k: int = s.count
    f: float = s.mean
print(n, sums, also, c, m, k, f)
"""

BAD_SCRIPT = """
import demo_pkg

demo_pkg.cumsum("not an array")
"""


def test_fresh_venv_runs_the_wheel(wheel: Path, venv: Path, tmp_path: Path) -> None:
    """Only the runtime wheel and the new wheel, no Rust on PATH, outside the checkout."""
    py = venv
    run([py, "-m", "pip", "install", "--quiet", wheel], cwd=tmp_path)
    env = author_env(PATH=os.pathsep.join([str(py.parent), "/usr/bin", "/bin"]),
                     WASMCORE_CACHE_DIR=str(tmp_path / "cache"))
    assert shutil.which("cargo", path=env["PATH"]) is None
    (tmp_path / "check.py").write_text(ORACLE_SCRIPT)
    assert run([py, "check.py"], cwd=tmp_path, env=env).stdout.strip() == "ok"


def test_mypy_strict_sees_the_types(wheel: Path, venv: Path, tmp_path: Path) -> None:
    """mypy (of the dev venv) checks scripts against the package installed in the fresh venv:
    the typed use passes --strict; a str where an array is expected is an error."""
    py = venv
    run([py, "-m", "pip", "install", "--quiet", "--no-deps", wheel], cwd=tmp_path)
    (tmp_path / "typed.py").write_text(TYPED_SCRIPT)
    (tmp_path / "bad.py").write_text(BAD_SCRIPT)
    mypy = [sys.executable, "-m", "mypy", "--strict", "--no-incremental",
            "--python-executable", str(py)]
    good = run([*mypy, "typed.py"], cwd=tmp_path, ok=False)
    assert good.returncode == 0, good.stdout + good.stderr
    bad = run([*mypy, "bad.py"], cwd=tmp_path, ok=False)
    assert bad.returncode == 1, bad.stdout
    assert re.search(r'bad\.py:4: error: Argument 1 to "cumsum" has incompatible type "str"',
                     bad.stdout), bad.stdout


def test_python_m_build_and_the_sdist(project: Path, tmp_path: Path) -> None:
    """``python -m build``: the sdist carries the Rust sources and the wheel is rebuilt from
    it (what build does by default)."""
    out = tmp_path / "dist"
    run([sys.executable, "-m", "build", "--outdir", out, project], cwd=project)
    (sdist,) = out.glob("*.tar.gz")
    (whl,) = out.glob("*.whl")
    assert sdist.name == f"{PACKAGE}-0.1.0.tar.gz" and whl.name.endswith("-py3-none-any.whl")
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames()}
    assert {"pyproject.toml", "Cargo.toml", "src/lib.rs", ".cargo/config.toml", "PKG-INFO",
            f"python/{PACKAGE}/__init__.py", f"tests/test_{PACKAGE}.py", "README.md"} <= names
    assert not [n for n in names if n.startswith("target/") or "_lib." in n], names
    with zipfile.ZipFile(whl) as z:
        assert f"{PACKAGE}/_lib.wasm" in z.namelist()


@pytest.fixture(scope="module")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A venv with only the runtime wheel, and a project made by *its* ``wasmcore new``: no
    checkout of this repository is involved from here on."""
    base = tmp_path_factory.mktemp("standalone")
    py = make_venv(base / "venv")
    run([py.parent / "wasmcore", "new", "standalone-pkg"], cwd=base)
    yield py, base / "standalone-pkg"


def test_no_checkout_needed(standalone: tuple[Path, Path]) -> None:
    """`wasmcore build` of the installed runtime: the wasmcore crates and the post-processor
    come from the wheel (cargo names where it compiled them from)."""
    py, project = standalone
    r = run([py.parent / "wasmcore", "build"], cwd=project)
    site = str(py.parent.parent)
    assert re.search(rf"Compiling wasmcore-abi v[\d.]+ \({re.escape(site)}.*site-packages/"
                     r"wasmcore/build/crates/wasmcore-abi\)", r.stderr) or \
        "wasmcore-abi" not in r.stderr, r.stderr  # fresh, or already built by an earlier run
    # the Rust side of the generated project: its unit tests pass, clippy has nothing to say
    # (`wasmcore cargo` supplies the wasmcore crates, which crates.io does not have yet)
    tests = run([py.parent / "wasmcore", "cargo", "test", "--lib"], cwd=project)
    assert "test result: ok. 3 passed" in tests.stdout, tests.stdout
    run([py.parent / "wasmcore", "cargo", "clippy", "--all-targets", "--", "-D", "warnings"],
        cwd=project)
    wheels = sorted(p.name for p in (CARGO_TARGET / "wheels").glob("standalone_pkg-*"))
    assert wheels == ["standalone_pkg-0.1.0-py3-none-any.whl", "standalone_pkg-0.1.0.tar.gz"]
    assert str(CARGO_TARGET / "wheels") in r.stdout


EDIT_GCD = ("    let (mut a, mut b) = (a, b);", "    return a + b + 1000;\n    #[allow(unreachable_code)]\n    let (mut a, mut b) = (a, b);")
NEW_FN = '''
/// Three times `x`.
#[export]
pub fn triple(x: i64) -> i64 {
    3 * x
}
'''


def test_editable_install_rebuilds_on_import(standalone: tuple[Path, Path]) -> None:
    py, project = standalone
    r = run([py.parent / "wasmcore", "develop"], cwd=project)
    assert "editable" in r.stdout
    call = [py, "-c", "import standalone_pkg as m; print(m.gcd(12, 18))"]
    first = run(call, cwd=project.parent)
    assert first.stdout.strip() == "6" and "rebuilding" not in first.stderr
    lib = project / "src" / "lib.rs"
    original = lib.read_text()
    try:
        lib.write_text(original.replace(*EDIT_GCD) + NEW_FN)
        changed = run([py, "-c", ("import standalone_pkg as m; print(m.gcd(12, 18), "
                                 "m.triple(14))")], cwd=project.parent)
        assert changed.stdout.split() == ["1030", "42"]
        assert "rebuilding" in changed.stderr and "Compiling standalone_pkg" in changed.stderr
        stub = (project / "python" / "standalone_pkg" / "_lib.pyi").read_text()
        assert re.search(r"^def triple\b", stub, re.MULTILINE)
        again = run([py, "-c", "import standalone_pkg as m; print(m.triple(2))"],
                    cwd=project.parent)
        assert again.stdout.strip() == "6" and "rebuilding" not in again.stderr
        lib.write_text(original.replace("pub fn gcd(a: u64, b: u64) -> u64 {",
                                        "pub fn gcd(a: u64, b: u64) -> u64 { let x: u32 = a;"))
        broken = run(call, cwd=project.parent, ok=False)
        assert broken.returncode == 1
        assert "error[E0308]: mismatched types" in broken.stderr  # cargo's own error
        assert "ImportError: standalone_pkg._lib: the Rust build failed" in broken.stderr
        assert "wasmcore/build/" not in broken.stderr  # no frames of the build machinery
    finally:
        lib.write_text(original)
    assert run(call, cwd=project.parent).stdout.strip() == "6"


def test_pip_install_editable_and_cli_errors(standalone: tuple[Path, Path],
                                             tmp_path: Path) -> None:
    py, project = standalone
    run([py, "-m", "pip", "install", "--quiet", "--no-build-isolation", "-e", project],
        cwd=tmp_path)
    r = run([py, "-c", ("import standalone_pkg, json; print(json.dumps(standalone_pkg.cumsum("
                       "[1.0, 2.0]).tolist()))")], cwd=tmp_path)
    assert json.loads(r.stdout) == [1.0, 3.0]
    r = run([py.parent / "wasmcore", "build"], cwd=tmp_path, ok=False)
    assert r.returncode == 1 and "no pyproject.toml" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent("""
        [project]
        name = "x"
        version = "1.0"
    """))
    r = run([py.parent / "wasmcore", "build"], cwd=tmp_path, ok=False)
    assert r.returncode == 1 and "no Cargo.toml" in r.stderr
