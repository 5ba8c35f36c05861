"""Versions that survive upgrades (docs/compatibility.md): one version source (the Cargo
workspace), the abi_version range a runtime reads, and wasmtime-py: a requirement bounded at
the newest verified major, its internals used only on verified releases (or when asked), the
public-API fallback everywhere else (the checks themselves: test_internals.py)."""

from __future__ import annotations

import email.parser
import hashlib
import json
import os
import subprocess
import sys
import tomllib
import warnings
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
import wasmcore
from packaging.requirements import Requirement
from packaging.version import Version
from test_host import RUNTIME, TOY_FUNCTIONS, fn, load_bytes, module_with, toy_manifest
from wasmcore.__main__ import main as cli
from wasmcore._abi import manifest as abi
from wasmcore._backends import internals, wasm

ROOT = Path(__file__).resolve().parents[2]
CARGO_VERSION = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]["version"]


# ---- one version source -----------------------------------------------------------------

def test_version_is_the_cargo_workspace_version() -> None:
    assert wasmcore.__version__ == CARGO_VERSION == metadata.version("wasmcore")


def test_built_wheel_carries_the_cargo_workspace_version() -> None:
    wheels = sorted((ROOT / "target" / "wheels").glob("wasmcore-*.whl"))
    assert wheels, "no wheel in target/wheels: run `just wheel` (just test does)"
    wheel = wheels[-1]
    assert wheel.name == f"wasmcore-{CARGO_VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as z:
        meta = email.parser.Parser().parsestr(
            z.read(f"wasmcore-{CARGO_VERSION}.dist-info/METADATA").decode())
    assert meta["Name"] == "wasmcore"
    assert meta["Version"] == CARGO_VERSION == wasmcore.__version__


def test_version_of_uninstalled_sources_is_a_valid_placeholder() -> None:
    """Imported from sources with no distribution installed, __version__ is still a valid
    PEP 440 version (that sorts below every release)."""
    script = (
        "import importlib.metadata as m\n"
        "real = m.version\n"
        "def version(name):\n"
        "    if name == 'wasmcore':\n"
        "        raise m.PackageNotFoundError(name)\n"
        "    return real(name)\n"
        "m.version = version\n"
        "import wasmcore\n"
        "print(wasmcore.__version__)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                         text=True).stdout.strip()
    assert Version(out) < Version("0.0.1")


# ---- the abi_version range ----------------------------------------------------------------

def test_a_newer_abi_asks_for_a_newer_runtime(tmp_path: Path) -> None:
    newer = abi.ABI_VERSION + 1
    wasm_bytes = module_with(toy_manifest(abi_version=newer))
    with pytest.raises(wasmcore.ModuleRejected) as e:
        load_bytes(tmp_path, wasm_bytes)
    text = str(e.value)
    assert f"abi_version is {newer}" in text
    assert "needs a newer wasmcore runtime" in text
    assert f"wasmcore {wasmcore.__version__} running" in text
    assert "pip install -U wasmcore" in text
    with pytest.raises(wasmcore.ModuleRejected, match="needs a newer wasmcore runtime"):
        wasmcore.Plugin(wasm_bytes)


def test_an_older_abi_asks_for_a_rebuild(tmp_path: Path) -> None:
    older = abi.OLDEST_ABI - 1
    with pytest.raises(wasmcore.ModuleRejected) as e:
        load_bytes(tmp_path, module_with(toy_manifest(abi_version=older)))
    assert f"abi_version is {older}" in str(e.value)
    assert "rebuild the module with a current wasmcore" in str(e.value)


@pytest.mark.parametrize("bad", ["1", True, 1.0, None])
def test_abi_version_must_be_an_integer(tmp_path: Path, bad: object) -> None:
    with pytest.raises(wasmcore.ModuleRejected, match="abi_version must be an integer"):
        load_bytes(tmp_path, module_with(toy_manifest(abi_version=bad)))


def test_every_abi_version_in_the_range_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A runtime reads each version from OLDEST_ABI to ABI_VERSION, and only those."""
    monkeypatch.setattr(abi, "OLDEST_ABI", 2)
    monkeypatch.setattr(abi, "ABI_VERSION", 4)

    def parse(v: int) -> abi.Manifest:
        return abi.parse_manifest(json.dumps(toy_manifest(abi_version=v)))

    assert [parse(v).abi_version for v in (2, 3, 4)] == [2, 3, 4]
    with pytest.raises(wasmcore.ModuleRejected, match=r"older than this runtime reads "
                                                      r"\(abi_version 2 to 4\)"):
        parse(1)
    with pytest.raises(wasmcore.ModuleRejected, match=r"newer than this runtime reads "
                                                      r"\(abi_version 2 to 4\)"):
        parse(5)


def test_unknown_manifest_keys_are_ignored(tmp_path: Path) -> None:
    """Keys a later wasmcore may add (at any level) do not stop an older runtime."""
    funcs = [{**f, "since": "9.9", "params": [{**p, "unit": "m"} for p in f["params"]]}
             for f in TOY_FUNCTIONS]  # type: ignore[union-attr, attr-defined]
    core = load_bytes(tmp_path, module_with(toy_manifest(functions=funcs,
                                                         future={"anything": [1, 2]})))
    assert core.div(7, 2) == 7 // 2
    assert core.check(9) == 9


def test_the_module_version_is_read_and_shown(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.wasm"
    path.write_bytes(module_with(toy_manifest(version="1.2.3")))
    assert wasmcore.load("wasm", path=path).manifest.version == "1.2.3"
    assert cli(["info", str(path)]) == 0
    assert "manifest: module 'toy' 1.2.3, abi_version 1" in capsys.readouterr().out
    assert cli(["info", "--json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["manifest"]["version"] == "1.2.3"

    path.write_bytes(module_with(toy_manifest()))
    assert wasmcore.load("wasm", path=path).manifest.version is None
    assert cli(["info", str(path)]) == 0
    assert "manifest: module 'toy', abi_version 1" in capsys.readouterr().out


@pytest.mark.parametrize("bad", [3, ["1.2"], {"v": 1}])
def test_module_version_must_be_a_string(tmp_path: Path, bad: object) -> None:
    with pytest.raises(wasmcore.ModuleRejected, match="version must be a string"):
        load_bytes(tmp_path, module_with(toy_manifest(version=bad)))


# ---- wasmtime-py: the verified releases, the bound, the fallback -----------------------------

VERIFIED = internals.VERIFIED
NEWER = f"{VERIFIED[-1] + 1}.0.0"


def wasmtime_requirement(requirements: list[str]) -> Requirement:
    return next(r for r in map(Requirement, requirements) if r.name == "wasmtime")


def test_the_dev_pin_is_a_verified_wasmtime_and_normal_runs_take_the_fast_path() -> None:
    """requirements-dev.txt pins the oldest verified wasmtime-py (`just test-latest` runs the
    newest), so the ordinary test run exercises the internals, and its WASMCORE_FAST_PATH=0
    run the public API."""
    lines = (ROOT / "requirements-dev.txt").read_text().splitlines()
    (pin,) = wasmtime_requirement([ln for ln in lines if ln.strip() and not ln.startswith("#")]
                                  ).specifier
    assert pin.operator == "=="
    assert metadata.version("wasmtime") == pin.version
    assert Version(pin.version).major == VERIFIED[0]
    assert all(wasm.api(path) is not None for path in wasm.FAST_PATHS)  # all in the dev venv
    switch = os.environ.get("WASMCORE_FAST_PATH", "")
    assert wasm.fast_path() is (switch != "0")
    assert wasm.call_path() == {"": wasm.FAST_PATHS[0], "1": wasm.FAST_PATHS[0],
                                "0": wasm.PUBLIC}.get(switch, switch)


def test_the_requirement_stops_at_the_newest_verified_major() -> None:
    """A fresh `pip install wasmcore` gets a verified wasmtime-py (a newer one, forced, runs
    on the public API: docs/compatibility.md). The wheel's metadata says the same."""
    project = tomllib.loads((ROOT / "wasm-host-python" / "pyproject.toml").read_text())
    wheel = max((ROOT / "target" / "wheels").glob("wasmcore-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        meta = email.parser.Parser().parsestr(
            z.read(f"wasmcore-{CARGO_VERSION}.dist-info/METADATA").decode())
    for req in (wasmtime_requirement(project["project"]["dependencies"]),
                wasmtime_requirement(meta.get_all("Requires-Dist"))):
        assert all(req.specifier.contains(f"{m}.{n}.0") for m in VERIFIED for n in (0, 3))
        assert not req.specifier.contains(NEWER)
        assert not req.specifier.contains(f"{VERIFIED[0] - 1}.0.0")


def _fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


@pytest.fixture
def redecide(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The process-wide decisions taken again under the test's patches, and again after."""
    monkeypatch.delenv("WASMCORE_FAST_PATH", raising=False)
    wasm.redecide()
    yield monkeypatch
    monkeypatch.undo()
    wasm.redecide()


def test_an_unverified_wasmtime_warns_once_and_falls_back(
        redecide: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    redecide.setattr(internals, "version", lambda: NEWER)
    with pytest.warns(RuntimeWarning, match="public API") as caught:
        core = wasmcore.load()
    assert len(caught) == 1
    assert NEWER in str(caught[0].message)
    assert core._impl.fast is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process: no second warning
        again = wasmcore.load()
        plugin = wasmcore.Plugin(wasmcore.wasm_path(), timeout=30, fuel=10**12)
        assert cli(["info", str(wasmcore.wasm_path())]) == 0
    out = capsys.readouterr().out
    assert "public API call path" in out
    assert f"  memory creator:  public API (wasmtime-py {NEWER} is not a verified release)" in out
    assert again._impl.fast is False and plugin._backend.fast is False
    assert plugin._creator is None and not plugin._interrupts
    assert [core.fib(n) for n in range(25)] == [_fib(n) for n in range(25)]
    assert plugin.fib(22) == _fib(22)
    h = core.Sha256()
    h.update(b"abc")
    assert h.hexdigest() == hashlib.sha256(b"abc").hexdigest()


def test_switch_0_forces_the_fallback_silently(redecide: pytest.MonkeyPatch) -> None:
    redecide.setenv("WASMCORE_FAST_PATH", "0")
    core = wasmcore.load()  # filterwarnings = error: a warning would fail here
    plugin = wasmcore.Plugin(wasmcore.wasm_path())
    assert core._impl.fast is False and plugin._backend.fast is False
    assert plugin._creator is None and not plugin._interrupts
    assert core.fib(24) == plugin.fib(24) == _fib(24)


@pytest.mark.parametrize("path", wasm.FAST_PATHS)
def test_a_named_fast_path_is_taken_and_shown(redecide: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str],
                                              path: str) -> None:
    redecide.setenv("WASMCORE_FAST_PATH", path)
    core = wasmcore.load()
    plugin = wasmcore.Plugin(wasmcore.wasm_path())
    assert core._impl.path == plugin._backend.path == path
    assert core._impl.api.name == path
    assert cli(["info", str(wasmcore.wasm_path())]) == 0
    assert f"fast ({path}) call path" in capsys.readouterr().out
    assert [core.fib(n) for n in range(25)] == [_fib(n) for n in range(25)]
    assert plugin.fib(23) == _fib(23)


def test_switch_1_uses_the_internals_on_an_unverified_wasmtime(
        redecide: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    redecide.setattr(internals, "version", lambda: NEWER)
    redecide.setenv("WASMCORE_FAST_PATH", "1")
    core = wasmcore.load()
    assert core._impl.fast is True and wasmcore.Plugin(wasmcore.wasm_path())._backend.fast
    assert core.fib(23) == _fib(23)
    assert cli(["info", str(wasmcore.wasm_path())]) == 0
    assert f"  calls:           fast path (its internals checked; wasmtime-py {NEWER} is not " \
           "a verified release)" in capsys.readouterr().out


def test_switch_1_still_needs_the_checks(redecide: pytest.MonkeyPatch) -> None:
    redecide.setattr(internals, "version", lambda: NEWER)
    redecide.setattr(internals, "structural_failures",
                     lambda: dict.fromkeys(internals.FEATURES, "changed"))
    redecide.setenv("WASMCORE_FAST_PATH", "1")
    with pytest.warns(RuntimeWarning, match="differs from what wasmcore was written for"):
        core = wasmcore.load()
    assert core._impl.fast is False
    assert core.fib(23) == _fib(23)


# the default fast path (the optional compiled module), the default without it, the last one
FIRST, SECOND, THIRD = wasm.FAST_PATHS
ALL, NONE = set(wasm.FAST_PATHS), set()


@pytest.mark.parametrize(("switch", "calls", "available", "path", "warning"), [
    ("", True, ALL, FIRST, ""),
    ("", True, {SECOND, THIRD}, SECOND, ""),  # wasmcore-speedups not installed: silently
    ("", True, {THIRD}, THIRD, ""),
    ("", False, ALL, wasm.PUBLIC, ""),  # (internals decided it, and warned)
    ("1", True, {SECOND}, SECOND, ""),
    ("speedups", True, ALL, "speedups", ""),
    ("cffi", True, ALL, "cffi", ""),
    ("ctypes", True, ALL, "ctypes", ""),
    ("speedups", True, {"ctypes", "cffi"}, "ctypes",
     "the speedups call path is not available here (pip install wasmcore[speedups])"),
    ("cffi", True, {"ctypes"}, "ctypes", "cffi call path is not available"),
    ("ctypes", True, {"cffi"}, "cffi", "ctypes call path is not available"),
    ("cffi", True, {"speedups", "ctypes"}, "speedups", "cffi call path is not available"),
    ("cffi", True, NONE, wasm.PUBLIC, "no foreign-function library"),
])
def test_call_path_decision(switch: str, calls: bool, available: set[str], path: str,
                            warning: str) -> None:
    decided, text = wasm._decide(switch, calls, available.__contains__)
    assert decided == path
    assert (warning in text) if warning else text == ""


RELAY = """(module
  (import "env" "twice" (func $twice (param i32) (result i32)))
  (func (export "relay") (param $n i32) (result i32) (call $twice (local.get $n)))
""" + RUNTIME + ")"


@pytest.mark.parametrize("switch", ["0", "1", *wasm.FAST_PATHS])
def test_a_failing_host_function_surfaces_on_every_path(redecide: pytest.MonkeyPatch,
                                                        switch: str) -> None:
    """A typed call whose host function raises gives that exception on every path, and the
    plugin works again on the next call."""
    redecide.setenv("WASMCORE_FAST_PATH", switch)

    def twice(n: int) -> int:
        if n == 13:
            raise KeyError("unlucky")
        return 2 * n

    manifest = {"abi_version": abi.ABI_VERSION, "module": "relay",
                "functions": [fn("relay", [("n", "i32")], "i32")]}
    plugin = wasmcore.Plugin(module_with(manifest, RELAY), host={"twice": twice})
    assert plugin._backend.fast is (switch != "0")
    assert plugin._backend.path == {"0": wasm.PUBLIC, "1": FIRST}.get(switch, switch)
    assert plugin.relay(21) == 42
    with pytest.raises(KeyError, match="unlucky"):
        plugin.relay(13)
    assert plugin.relay(-4) == -8


def test_the_top_level_shows_its_api_only() -> None:
    import pydoc

    assert dir(wasmcore) == sorted({*wasmcore.__all__, "__version__"})
    for name in wasmcore.__all__:  # each resolves (the lazy ones too)
        assert getattr(wasmcore, name) is not None, name
    text = pydoc.plain(pydoc.render_doc(wasmcore))
    assert "class Program" in text and "class Plugin" in text and "load(" in text
    for helper in ("make_class", "read_module", "_LazyCore", "overload", "threading"):
        assert helper not in text, helper
