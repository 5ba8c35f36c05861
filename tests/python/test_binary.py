"""wasmcore._abi.binary, the pure-Python reading of a module's types and limits that Pyodide
needs (the JavaScript engine's API does not tell them), against wasmtime's reading of the same
modules; and the wheel's dependencies under Pyodide (none)."""

from __future__ import annotations

import email.parser
import zipfile
from pathlib import Path

import pytest
import wasmtime
from packaging.requirements import Requirement
from wasmcore._abi import binary

ROOT = Path(__file__).resolve().parents[2]
WATS = sorted((ROOT / "examples" / "plugins").rglob("*.wat"))
BINARIES = [ROOT / "target" / "dist" / "wasmcore.wasm",
            ROOT / "target" / "dist" / "plugins" / "textstats.wasm"]


def load(path: Path) -> bytes:
    return wasmtime.wat2wasm(path.read_text()) if path.suffix == ".wat" else path.read_bytes()


def types(ty: object) -> tuple[str, binary.Signature | None]:
    if isinstance(ty, wasmtime.FuncType):
        return "func", (tuple(map(str, ty.params)), tuple(map(str, ty.results)))
    kind = {wasmtime.MemoryType: "memory", wasmtime.TableType: "table",
            wasmtime.GlobalType: "global"}[type(ty)]
    return kind, None


@pytest.mark.parametrize("path", WATS + BINARIES, ids=lambda p: p.name)
def test_types_and_limits_match_wasmtime(path: Path) -> None:
    data = load(path)
    module = wasmtime.Module(wasmtime.Engine(), data)
    got = binary.read(data)
    assert got.exports == {e.name: types(e.type) for e in module.exports}
    assert [(i.module, i.name, i.kind, i.type) for i in got.imports] == \
        [(i.module, i.name, *types(i.type)) for i in module.imports]
    memories = [e.type for e in module.exports if isinstance(e.type, wasmtime.MemoryType)]
    for m in memories:  # an exported memory is one defined here (no fixture imports one)
        assert (m.limits.min, m.limits.max) in [(lim.min, lim.max) for lim in got.memories]


@pytest.mark.parametrize("path", [p for p in WATS if "(memory" in p.read_text()
                                  or "(table" in p.read_text()] + BINARIES,
                         ids=lambda p: p.name)
def test_capped_lowers_every_maximum(path: Path) -> None:
    data = load(path)
    module = binary.read(data)
    pages = max([lim.min for lim in module.memories] + [1])
    elements = max([lim.min for lim in module.tables] + [1])
    capped = binary.capped(data, module, pages, elements)
    again = binary.read(capped)
    assert again.exports == module.exports and again.imports == module.imports
    assert [(lim.min, lim.max) for lim in again.memories] == \
        [(lim.min, min(pages, lim.max if lim.max is not None else pages))
         for lim in module.memories]
    assert [(lim.min, lim.max) for lim in again.tables] == \
        [(lim.min, min(elements, lim.max if lim.max is not None else elements))
         for lim in module.tables]
    # wasmtime reads the new limits too (and compiles the module)
    for e in wasmtime.Module(wasmtime.Engine(), capped).exports:
        if isinstance(e.type, wasmtime.MemoryType):
            assert e.type.limits.max is not None and e.type.limits.max <= pages
        if isinstance(e.type, wasmtime.TableType):
            assert e.type.limits.max is not None and e.type.limits.max <= elements


def test_wheel_needs_nothing_under_pyodide() -> None:
    """The runtime wheel's requirements: none applies under Pyodide (sys_platform emscripten,
    where micropip would have to fetch them), wasmtime and numpy do on Linux."""
    wheel = max((ROOT / "target" / "wheels").glob("wasmcore-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(z.read(name).decode())
    reqs = [Requirement(r) for r in meta.get_all("Requires-Dist")]

    def needed(platform: str) -> set[str]:
        env = {"sys_platform": platform, "python_version": "3.14", "extra": ""}
        return {r.name for r in reqs if r.marker is None or r.marker.evaluate(env)}

    assert needed("emscripten") == set()
    assert {"wasmtime", "numpy"} <= needed("linux")
