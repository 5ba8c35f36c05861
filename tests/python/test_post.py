"""The post-processor built to wasm (``target/dist/wasmcore-post.wasm``) under the Python host.

``cargo xtask dist`` post-processes the linker's output with the native post-processor; the
same code built to wasm must give the same bytes when the host runs it, and refuse what it
refuses with a ``ValueError`` carrying its message. ``just test`` runs ``cargo xtask dist``
first, so the raw modules (``target/wasm32-unknown-unknown/release/``) and the dist files exist;
the example plugin is built by ``just examples`` (``wasmcore build``, in ``target/authors``).
"""

from __future__ import annotations

import inspect
import json
import struct
import tomllib
from pathlib import Path

import pytest
import wasmcore
import wasmtime
from wasmcore._abi.manifest import custom_sections

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "target" / "dist"
RAW = ROOT / "target" / "wasm32-unknown-unknown" / "release"
RAW_EXAMPLES = ROOT / "target" / "authors" / "wasm32-unknown-unknown" / "release"


@pytest.fixture(scope="module")
def post() -> wasmcore.Core:
    return wasmcore.load(path=DIST / "wasmcore-post.wasm")


def workspace_version() -> str:
    with open(ROOT / "Cargo.toml", "rb") as f:
        version = tomllib.load(f)["workspace"]["package"]["version"]
    assert isinstance(version, str)
    return version


def manifest_of(wasm: bytes) -> dict[str, object]:
    [text] = custom_sections(wasm)["wasmcore.abi"]
    manifest = json.loads(text)
    assert isinstance(manifest, dict)
    return manifest


def test_process_has_a_real_signature(post: wasmcore.Core) -> None:
    sig = inspect.signature(post.process)
    # annotations are the stubs' type names (wasmcore.build.stubs): any buffer is accepted
    assert [(p.name, p.annotation) for p in sig.parameters.values()] == [
        ("wasm", "Buffer"), ("module", "str"), ("version", "str")]
    assert sig.return_annotation == "bytes"
    assert post.process.__doc__ is not None
    assert "descriptors" in post.process.__doc__


def test_the_raw_core_becomes_the_dist_core(post: wasmcore.Core) -> None:
    version = workspace_version()
    out = post.process((RAW / "wasmcore.wasm").read_bytes(), "wasmcore", version)
    assert out == (DIST / "wasmcore.wasm").read_bytes()
    manifest = manifest_of(out)
    assert list(manifest)[:3] == ["abi_version", "module", "version"]
    assert (manifest["module"], manifest["version"]) == ("wasmcore", version)


def test_the_raw_plugin_becomes_the_dist_plugin(post: wasmcore.Core) -> None:
    raw = (RAW_EXAMPLES / "textstats.wasm").read_bytes()
    # the author workflow passes the crate's own version
    with open(ROOT / "examples" / "plugins" / "textstats" / "Cargo.toml", "rb") as f:
        version = tomllib.load(f)["package"]["version"]
    out = post.process(raw, "textstats", version)
    assert out == (DIST / "plugins" / "textstats.wasm").read_bytes()
    # Without a version the manifest has no "version" key, and nothing else changes.
    bare = manifest_of(post.process(raw, "textstats", ""))
    assert "version" not in bare
    assert bare == {k: v for k, v in manifest_of(out).items() if k != "version"}


def framed(record: dict[str, object]) -> bytes:
    """A descriptor record as ``#[export]`` frames it: u32 length (little-endian), JSON."""
    text = json.dumps(record).encode()
    return struct.pack("<I", len(text)) + text


# fib(n: u32) -> u64, fallible: lowers to (i32 n, i32 out) -> (i32 status).
FIB = {"kind": "function", "name": "fib", "doc": "", "params": [{"name": "n", "type": "u32"}],
       "returns": "u64", "fallible": True}
FIB_EXPORT = '(func (export "fib") (param i32 i32) (result i32) i32.const 0)'


def module_with_fib(funcs: str) -> bytes:
    """A module exporting its memory and ``funcs``, described by the FIB descriptor."""
    data = "".join(f"\\{b:02x}" for b in framed(FIB))
    return wasmtime.wat2wasm(f'(module (memory (export "memory") 1) {funcs} '
                             f'(@custom "wasmcore.abi.desc" "{data}"))')


@pytest.mark.parametrize(("wasm", "version", "message"), [
    (module_with_fib('(func (export "fib") (param i32) (result i32) i32.const 0)'), "",
     'export "fib": descriptor says (i32, i32) -> (i32) but the export is (i32) -> (i32)'),
    (module_with_fib(FIB_EXPORT + '(func (export "extra"))'), "",
     'function export "extra" has no descriptor'),
    (module_with_fib(""), "", 'descriptor "fib" has no function export of that name'),
    (module_with_fib(FIB_EXPORT), "1.2", 'module version "1.2" is not a semver version'),
], ids=["signature-mismatch", "undescribed-export", "missing-export", "bad-version"])
def test_a_refused_module_is_a_value_error(post: wasmcore.Core, wasm: bytes, version: str,
                                           message: str) -> None:
    with pytest.raises(ValueError, match=r"^process\(\): ") as e:
        post.process(wasm, "m", version)
    assert message in str(e.value)
    # The instance is still good.
    assert manifest_of(post.process(module_with_fib(FIB_EXPORT), "m", ""))["module"] == "m"


def test_an_already_processed_module_is_refused(post: wasmcore.Core) -> None:
    with pytest.raises(ValueError, match="already post-processed"):
        post.process((DIST / "wasmcore.wasm").read_bytes(), "wasmcore", "")


@pytest.mark.parametrize(("wasm", "message"), [
    (b"", r"missing the \\0asm magic number"),
    (b"hello", r"missing the \\0asm magic number"),
    (b"\0asm\x0d\0\x01\0", r"not a version 1 core module"),
    (b"\0asm\x01\0\0\0\x01\xff", r"bad size of the section at offset 8"),
    ((ROOT / "examples" / "plugins" / "hostile" / "malformed.wasm").read_bytes(), r""),
], ids=["empty", "text", "component", "truncated", "hostile-malformed"])
def test_malformed_bytes_are_a_value_error(post: wasmcore.Core, wasm: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=r"^process\(\): invalid wasm module: .*" + message):
        post.process(wasm, "m", "")
