"""The wasm host: manifest checks, traps and recovery, threads, the compile cache.

Besides the core module, these tests use a small hand-written module (WAT) that carries a
manifest section and the runtime exports, so that traps and tampering can be exercised.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import wasmcore
import wasmtime
from wasmcore._abi.manifest import custom_sections, read_manifest

RUNTIME = """
  (memory (export "memory") 2)
  (global $bump (mut i32) (i32.const 1024))
  (func (export "wasmcore_alloc") (param $size i32) (param $align i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $bump) (i32.sub (local.get $align) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get $align))))
    (global.set $bump (i32.add (local.get $p) (local.get $size)))
    (if (i32.gt_u (global.get $bump) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.shr_u (local.get $size) (i32.const 16)) (i32.const 1))))))
    (local.get $p))
  (func (export "wasmcore_free") (param i32 i32 i32))
  (func (export "wasmcore_last_error_ptr") (result i32) (i32.const 16))
  (func (export "wasmcore_last_error_len") (result i32) (i32.const 18))
  (func (export "wasmcore_take_panic") (result i32) (i32.const 0))
  (data (i32.const 16) "parameter 'n' bad!")
"""

TOY = """(module
  (global $calls (mut i32) (i32.const 0))
  (func $div (export "div") (param $a i32) (param $b i32) (result i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (i32.div_u (local.get $a) (local.get $b)))
  (func $deep (export "deep") (param $n i32) (result i32)
    (i32.add (call $deep (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))
  (func (export "calls") (result i32) (global.get $calls))
  (func (export "check") (param $n i32) (param $out i32) (result i32)
    (if (result i32) (i32.gt_u (local.get $n) (i32.const 10))
      (then (i32.const 1))
      (else (i64.store (local.get $out) (i64.extend_i32_u (local.get $n))) (i32.const 0))))
  (func (export "total") (param $p i32) (param $n i32) (result f64)
    (local $s f64) (local $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $s (f64.add (local.get $s)
        (f64.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 3))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $s))
  (func (export "scale") (param $p i32) (param $n i32) (param $k f64)
    (local $i i32) (local $a i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $a (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 3))))
      (f64.store (local.get $a) (f64.mul (f64.load (local.get $a)) (local.get $k)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))
""" + RUNTIME + ")"


def fn(name: str, params: list[tuple[str, str]], returns: str | None, fallible: bool = False,
       doc: str = "") -> dict[str, object]:
    return {"name": name, "doc": doc, "params": [{"name": n, "type": t} for n, t in params],
            "returns": returns, "fallible": fallible}


TOY_FUNCTIONS = [
    fn("div", [("a", "u32"), ("b", "u32")], "u32", doc="a // b; traps when b == 0"),
    fn("deep", [("n", "i32")], "i32", doc="recurses forever"),
    fn("calls", [], "i32"),
    fn("check", [("n", "u32")], "u64", fallible=True),
    fn("total", [("x", "f64[]")], "f64"),
    fn("scale", [("y", "inout f64[]"), ("k", "f64")], None),
]


def section(name: str, payload: bytes) -> bytes:
    def leb(n: int) -> bytes:
        out = bytearray()
        while True:
            b = n & 0x7F
            n >>= 7
            out.append(b | (0x80 if n else 0))
            if not n:
                return bytes(out)
    body = leb(len(name.encode())) + name.encode() + payload
    return b"\0" + leb(len(body)) + body


def module_with(manifest: dict[str, object] | None, wat: str = TOY) -> bytes:
    wasm = wasmtime.wat2wasm(wat)
    if manifest is None:
        return wasm
    return wasm + section("wasmcore.abi", json.dumps(manifest).encode())


def toy_manifest(**changes: object) -> dict[str, object]:
    m: dict[str, object] = {"abi_version": 1, "module": "toy", "functions": TOY_FUNCTIONS,
                            "classes": [], "imports": []}
    m.update(changes)
    return m


def load_bytes(tmp_path: Path, wasm: bytes) -> wasmcore.Core:
    p = tmp_path / "m.wasm"
    p.write_bytes(wasm)
    return wasmcore.load("wasm", path=p)


@pytest.fixture
def toy(tmp_path: Path) -> wasmcore.Core:
    return load_bytes(tmp_path, module_with(toy_manifest()))


# ---- the dist module and its manifest ----------------------------------------------------

def test_dist_module_has_exactly_one_manifest_and_no_debug_sections() -> None:
    wasm = wasmcore.wasm_path().read_bytes()
    sections = custom_sections(wasm)
    assert len(sections["wasmcore.abi"]) == 1
    assert not [s for s in sections if s.startswith(".debug") or s in ("name", "producers")]
    assert "wasmcore.abi.desc" not in sections
    m = read_manifest(wasm)
    assert m.abi_version == wasmcore.ABI_VERSION == 1
    assert m.module == "wasmcore"
    assert {"fib", "partitions", "sum"} <= {f.name for f in m.functions}


def test_python_lowering_agrees_with_the_real_exports() -> None:
    """The host's mirror of the schema lowers every manifest entry to its export's type."""
    wasm = wasmcore.wasm_path().read_bytes()
    module = wasmtime.Module(wasmtime.Engine(), wasm)
    types = {e.name: e.type for e in module.exports}
    for f in read_manifest(wasm).functions:
        ty = types[f.name]
        assert isinstance(ty, wasmtime.FuncType)
        actual = (tuple(map(str, ty.params)), tuple(map(str, ty.results)))
        assert actual == f.signature(), f.name


def test_native_manifest_matches_wasm_manifest() -> None:
    wasm = wasmcore.wasm_path().read_bytes()
    native = Path(wasmcore.__file__).parents[3] / "target" / "release" / "wasmcore.abi.json"
    assert json.loads(native.read_text()) == read_manifest(wasm).raw


# ---- refusing bad modules ------------------------------------------------------------------

def test_missing_manifest_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(wasmcore.ModuleRejected, match="no 'wasmcore.abi' manifest section"):
        load_bytes(tmp_path, module_with(None))


def test_other_abi_version_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(wasmcore.ModuleRejected, match="abi_version is 2"):
        load_bytes(tmp_path, module_with(toy_manifest(abi_version=2)))


def test_tampered_core_manifest_is_rejected(tmp_path: Path) -> None:
    """Rewrite the real module's manifest so fib's parameter claims to be an f64."""
    wasm = wasmcore.wasm_path().read_bytes()
    text = custom_sections(wasm)["wasmcore.abi"][0]
    m = json.loads(text)
    for f in m["functions"]:
        if f["name"] == "fib":
            f["params"][0]["type"] = "f64"
    tampered = json.dumps(m).encode()
    assert len(tampered) != len(text) or tampered != text
    # replace the section: drop the old one by rebuilding from the raw bytes
    start = wasm.index(b"wasmcore.abi") - 2  # size byte(s) and id precede the name
    while wasm[start] != 0:
        start -= 1
    stripped = wasm[:start]
    with pytest.raises(wasmcore.ModuleRejected, match=r"'fib': manifest lowers to \(f64, i32\)"):
        load_bytes(tmp_path, stripped + section("wasmcore.abi", tampered))


def test_manifest_naming_a_missing_export_is_rejected(tmp_path: Path) -> None:
    funcs = [*TOY_FUNCTIONS, fn("ghost", [], None)]
    with pytest.raises(wasmcore.ModuleRejected, match="'ghost' is in the manifest but not"):
        load_bytes(tmp_path, module_with(toy_manifest(functions=funcs)))


@pytest.mark.parametrize(("change", "text"), [
    ({"functions": [fn("div", [("a", "u16")], "u32")]}, "unknown type 'u16'"),
    ({"functions": [fn("div", [("a", "u32"), ("b", "u32")], "u32")] * 2}, "described twice"),
    ({"functions": [fn("class", [], None)]}, "not a usable Python name"),
    ({"functions": "nope"}, "malformed"),
])
def test_malformed_manifests_are_rejected(tmp_path: Path, change: dict[str, object],
                                          text: str) -> None:
    with pytest.raises(wasmcore.ModuleRejected, match=text):
        load_bytes(tmp_path, module_with(toy_manifest(**change)))


@pytest.mark.parametrize("data", [b"", b"\0asm", b"not wasm at all", b"\0asm\x01\0\0\0\x01\xff"])
def test_malformed_bytes_are_rejected(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(wasmcore.ModuleRejected):
        load_bytes(tmp_path, data)


# ---- traps and recovery --------------------------------------------------------------------

def test_trap_is_raised_with_its_code_and_the_next_call_works(toy: wasmcore.Core) -> None:
    assert toy.div(7, 2) == 3
    with pytest.raises(wasmcore.Trap) as e:
        toy.div(1, 0)
    assert e.value.code == "integer_divide_by_zero"
    assert toy.div(9, 3) == 3
    # the instance was re-created: its state starts over
    assert toy.calls() == 1


def test_stack_overflow_is_a_trap(toy: wasmcore.Core) -> None:
    with pytest.raises(wasmcore.Trap) as e:
        toy.deep(0)
    assert e.value.code == "stack_overflow"
    assert toy.div(4, 2) == 2


def test_fallible_status_becomes_value_error(toy: wasmcore.Core) -> None:
    assert toy.check(7) == 7
    with pytest.raises(ValueError, match=r"^check\(\): parameter 'n' bad!$"):
        toy.check(11)
    assert toy.check(3) == 3


def test_buffers_cross_through_scratch_memory(toy: wasmcore.Core) -> None:
    for n in (0, 1, 10, 100_000, 300_000, 5):  # grows the scratch area, then reuses it
        x = np.arange(n, dtype=np.float64)
        assert toy.total(x) == x.sum()


def test_inout_buffer_is_written_back(toy: wasmcore.Core) -> None:
    y = np.arange(5, dtype=np.float64)
    assert toy.scale(y, 2.0) is None
    assert y.tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]
    with pytest.raises(TypeError, match="written in place"):
        toy.scale([1.0, 2.0], 2.0)
    with pytest.raises(TypeError, match="written in place"):
        toy.scale(np.arange(5, dtype=np.float32), 2.0)
    ro = np.arange(3.0)
    ro.flags.writeable = False
    with pytest.raises(TypeError, match="read-only"):
        toy.scale(ro, 2.0)


# ---- threads and caching -------------------------------------------------------------------

def test_threads_get_their_own_instances(toy: wasmcore.Core) -> None:
    div = toy.div  # bound in this thread, used from others: forwards to their instances
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(1, 2000):
                assert div(i * k, k) == i
            with pytest.raises(wasmcore.Trap):
                div(1, 0)
            assert toy.div(10, 5) == 2
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert div(8, 2) == 4


def test_threads_compute_the_core_kernels(cores: dict[str, wasmcore.Core]) -> None:
    core = cores["wasm"]
    results: dict[int, tuple[int, float]] = {}
    x = np.random.default_rng(3).random(100_000)

    def work(k: int) -> None:
        results[k] = (core.fib(20 + k), core.sum(x * k))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ref = cores["native"]
    for k in range(4):
        assert results[k] == (ref.fib(20 + k), ref.sum(x * k))


def test_compiled_module_is_cached_on_disk(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASMCORE_CACHE_DIR", str(tmp_path / "cache"))
    first = wasmcore.load()
    entries = list((tmp_path / "cache").glob("*.cwasm"))
    assert len(entries) == 1
    stamp = entries[0].stat().st_mtime_ns
    second = wasmcore.load()
    assert [p.stat().st_mtime_ns for p in (tmp_path / "cache").glob("*.cwasm")] == [stamp]
    assert first.fib(15) == second.fib(15) == 610


def test_damaged_cache_entry_is_replaced(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASMCORE_CACHE_DIR", str(tmp_path / "cache"))
    wasmcore.load()
    (entry,) = (tmp_path / "cache").glob("*.cwasm")
    entry.write_bytes(b"garbage")
    with pytest.warns(RuntimeWarning, match=f"{entry} failed its check"):
        assert wasmcore.load().fib(10) == 55
    assert entry.read_bytes() != b"garbage"


def test_load_binds_kernels_on_first_use_in_the_loading_thread() -> None:
    core = wasmcore.load()
    assert not hasattr(core, "__dict__") and "fib" not in vars(type(core))  # binds nothing
    seen: dict[str, object] = {}

    def other() -> None:  # another thread gets its own callables, not kept on the core
        seen["fib"], seen["cls"] = core.fib(10), core.Sha256
    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen["fib"] == 55 and "fib" not in vars(type(core))
    assert core.fib(11) == 89
    # bound: a Core without __getattr__ now, its kernels methods of its own class
    assert type(core).__bases__ == (wasmcore.Core,) and not hasattr(type(core), "__getattr__")
    assert set(core.functions) <= set(vars(type(core))) and core.Sha256 is seen["cls"]
    if hasattr(core.fib, "_w_fallback"):  # compiled by wasmcore-speedups: the object itself
        assert core.fib._w_owner is core._anchor and wasmcore.load().fib is not core.fib
    else:
        assert core.fib.__self__ is core \
            and wasmcore.load().fib.__func__ is not core.fib.__func__


# -- owned results: kept by the module until its next one --------------------------------------

def _owned_module(marker: str | None) -> bytes:
    """A module with one owned result, ``ramp(n)``: n zero bytes; its ``wasmcore_free`` counts
    its calls (``frees()``); ``marker``: its ``wasmcore_release_result``, if any."""
    wat = "(module" + RUNTIME.replace(
        '(func (export "wasmcore_free") (param i32 i32 i32))',
        '(global $frees (mut i32) (i32.const 0))\n'
        '  (func (export "wasmcore_free") (param i32 i32 i32)\n'
        '    (global.set $frees (i32.add (global.get $frees) (i32.const 1))))\n'
        '  (func (export "frees") (result i32) (global.get $frees))') + """
  (func (export "ramp") (param $n i32) (param $out i32)
    (i32.store (local.get $out) (call 0 (local.get $n) (i32.const 1)))
    (i32.store (i32.add (local.get $out) (i32.const 4)) (local.get $n)))
  """ + (marker or "") + ")"
    manifest = toy_manifest(functions=[fn("ramp", [("n", "u32")], "bytes"),
                                       fn("frees", [], "u32")])
    return module_with(manifest, wat)


@pytest.mark.parametrize("keeps", [True, False], ids=["keeps", "older"])
def test_owned_results_are_left_to_a_module_that_keeps_them(tmp_path: Path, keeps: bool) -> None:
    """A module with ``wasmcore_release_result`` keeps each owned result until its next one:
    the host frees none up to KEEP_MAX bytes (no second call), and frees a larger one at once
    (its memory back). A module without it (built before it) has every result freed."""
    from wasmcore._backends.wasm import KEEP_MAX

    marker = '(func (export "wasmcore_release_result"))' if keeps else None
    core = load_bytes(tmp_path, _owned_module(marker))
    sizes = (0, 10, 1000, KEEP_MAX)
    for n in sizes:
        assert core.ramp(n) == bytes(n)
    freed = core.frees()
    assert freed == (0 if keeps else sum(1 for n in sizes if n))
    assert core.ramp(KEEP_MAX + 1) == bytes(KEEP_MAX + 1)
    assert core.frees() == freed + 1


def test_a_release_export_of_the_wrong_type_is_rejected(tmp_path: Path) -> None:
    wasm = _owned_module('(func (export "wasmcore_release_result") (param i32))')
    with pytest.raises(wasmcore.ModuleRejected, match="'wasmcore_release_result'"):
        load_bytes(tmp_path, wasm)


@pytest.mark.parametrize("host_frees", [False, True], ids=["kept", "older-host"])
def test_kept_results_do_not_grow_memory(monkeypatch: pytest.MonkeyPatch,
                                         host_frees: bool) -> None:
    """The core keeps each owned result until its next: thousands of 32 KiB results (about
    100 MB in all) leave linear memory where it was, whether the host leaves them to the module
    or, as a runtime that does not know they are kept, frees each one itself."""
    from wasmcore._backends import wasm

    if host_frees:
        monkeypatch.setattr(wasm, "KEEP_MAX", 0)
    core = wasmcore.load("wasm")
    x = np.arange(4096, dtype=np.float64)
    for _ in range(50):
        core.cumsum(x)
    before = core.memory_size()
    for k in range(3000):
        y = core.cumsum(x + k)
        assert y[-1] == np.cumsum(x + k)[-1]
    assert core.memory_size() <= before + 65536, (before, core.memory_size())
    assert core.base64_encode(b"\1\2\3") == b"AQID"  # (another owned result, after)


def test_a_fallible_f32_result_keeps_its_bits(tmp_path: Path) -> None:
    """An f32 result read from the result slot (a fallible function's) is the float of its
    bits, a signalling NaN included, compiled and on the Python path."""
    from test_spec import float_f32

    wat = "(module" + RUNTIME + """
      (func (export "from_bits") (param $b i32) (param $out i32) (result i32)
        (i32.store (local.get $out) (local.get $b)) (i32.const 0)))"""
    manifest = toy_manifest(functions=[fn("from_bits", [("b", "u32")], "f32", fallible=True)])
    k = load_bytes(tmp_path, module_with(manifest, wat)).from_bits
    for f in {k, getattr(k, "_w_fallback", k)}:
        for bits in (0x7FA0_0000, 0xFF80_0001, 0x7FC0_0000, 0x3FC0_0000):
            assert float_f32(f(bits)) == bits
