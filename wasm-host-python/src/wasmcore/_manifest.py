"""The ``wasmcore.abi`` manifest: reading it from a module and checking it.

This mirrors the Rust crate ``wasmcore-schema`` (the owner of the ABI): the version, the
logical types and how they lower to wasm value types. ``tests/python/test_manifest.py`` checks
the two agree on the manifests the build produces.
"""

from __future__ import annotations

import json
import keyword
from dataclasses import dataclass, field
from typing import Any

from ._errors import ModuleRejected

ABI_VERSION = 1
MANIFEST_SECTION = "wasmcore.abi"
DESCRIPTOR_SECTION = "wasmcore.abi.desc"

SCALARS = {"i32": "i32", "u32": "i32", "bool": "i32", "i64": "i64", "u64": "i64",
           "f32": "f32", "f64": "f64"}
ELEMS = {"f64": 8, "f32": 4, "i64": 8, "u32": 4, "u8": 1}
RUNTIME_EXPORTS = {
    "wasmcore_alloc": (("i32", "i32"), ("i32",)),
    "wasmcore_free": (("i32", "i32", "i32"), ()),
    "wasmcore_last_error_ptr": ((), ("i32",)),
    "wasmcore_last_error_len": ((), ("i32",)),
    "wasmcore_take_panic": ((), ("i32",)),
}


@dataclass(frozen=True)
class ParamType:
    """A parsed logical parameter type."""

    kind: str  # "scalar" | "buffer" | "bytes" | "str" | "handle"
    name: str  # the manifest spelling
    scalar: str | None = None  # for scalars
    elem: str | None = None  # for buffers
    inout: bool = False

    @staticmethod
    def parse(s: str) -> ParamType:
        inout = s.startswith("inout ")
        rest = s[len("inout "):] if inout else s
        if rest.endswith("[]") and rest[:-2] in ELEMS:
            return ParamType("buffer", s, elem=rest[:-2], inout=inout)
        if not inout:
            if s in SCALARS:
                return ParamType("scalar", s, scalar=s)
            if s in ("bytes", "str", "handle"):
                return ParamType(s, s)
        raise ValueError(f"unknown logical type {s!r}")

    def lower(self) -> tuple[str, ...]:
        if self.kind == "scalar":
            assert self.scalar is not None
            return (SCALARS[self.scalar],)
        if self.kind == "handle":
            return ("i32",)
        return ("i32", "i32")


@dataclass(frozen=True)
class ReturnType:
    """A parsed logical return type: unit (``None``), scalar, handle or an owned buffer."""

    name: str | None
    kind: str  # "unit" | "scalar" | "handle" | "owned" | "str"
    elem: str | None = None

    @staticmethod
    def parse(s: str | None) -> ReturnType:
        if s is None:
            return ReturnType(None, "unit")
        t = ParamType.parse(s)
        if t.kind == "scalar":
            return ReturnType(s, "scalar")
        if t.kind == "handle":
            return ReturnType(s, "handle")
        if t.kind == "bytes":
            return ReturnType(s, "owned", elem="u8")
        if t.kind == "str":
            return ReturnType(s, "str", elem="u8")
        if t.kind == "buffer" and not t.inout:
            return ReturnType(s, "owned", elem=t.elem)
        raise ValueError(f"unknown return type {s!r}")

    def lower(self) -> tuple[str, ...]:
        """The wasm value type of a directly returned scalar or handle."""
        if self.kind == "handle":
            return ("i32",)
        assert self.kind == "scalar" and self.name is not None
        return (SCALARS[self.name],)


@dataclass(frozen=True)
class Param:
    name: str
    type: ParamType


@dataclass(frozen=True)
class FunctionSpec:
    """One exported function as the manifest describes it."""

    name: str
    doc: str
    params: tuple[Param, ...]
    returns: ReturnType
    fallible: bool

    def signature(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The wasm (params, results) this function lowers to (mirrors ``schema::signature``)."""
        p = [v for prm in self.params for v in prm.type.lower()]
        r: list[str] = []
        kind = self.returns.kind
        if kind in ("scalar", "handle"):
            if self.fallible:
                p.append("i32")
            else:
                r.extend(self.returns.lower())
        elif kind in ("owned", "str"):
            p.append("i32")
        if self.fallible:
            r.append("i32")
        return tuple(p), tuple(r)


@dataclass(frozen=True)
class Manifest:
    abi_version: int
    module: str
    functions: tuple[FunctionSpec, ...]
    classes: tuple[Any, ...] = ()
    imports: tuple[dict[str, str], ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def function(self, name: str) -> FunctionSpec:
        for f in self.functions:
            if f.name == name:
                return f
        raise KeyError(name)


def _leb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ModuleRejected("malformed module: truncated LEB128 integer")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return result, pos
        if shift > 35:
            raise ModuleRejected("malformed module: LEB128 integer too long")


def custom_sections(wasm: bytes) -> dict[str, list[bytes]]:
    """The custom sections of a core wasm module, by name (a pure-Python section walk)."""
    if wasm[:4] != b"\0asm":
        raise ModuleRejected("malformed module: not a WebAssembly binary (bad magic)")
    if wasm[4:8] != b"\x01\0\0\0":
        raise ModuleRejected("malformed module: unsupported WebAssembly version "
                             "(components are not supported)")
    out: dict[str, list[bytes]] = {}
    pos = 8
    while pos < len(wasm):
        sid = wasm[pos]
        size, pos = _leb(wasm, pos + 1)
        end = pos + size
        if end > len(wasm):
            raise ModuleRejected("malformed module: section runs past the end")
        if sid == 0:
            nlen, npos = _leb(wasm, pos)
            if npos + nlen > end:
                raise ModuleRejected("malformed module: custom section name runs past its end")
            try:
                name = wasm[npos:npos + nlen].decode()
            except UnicodeDecodeError:
                raise ModuleRejected("malformed module: custom section name is not UTF-8") from None
            out.setdefault(name, []).append(bytes(wasm[npos + nlen:end]))
        pos = end
    return out


def _check_ident(what: str, name: object) -> str:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name) \
            or name.startswith("_"):
        raise ModuleRejected(f"manifest: {what} {name!r} is not a usable Python name")
    return name


def parse_manifest(text: str | bytes) -> Manifest:
    """Parses and checks a manifest; a bad one is :class:`ModuleRejected` saying what is wrong."""
    try:
        raw = json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise ModuleRejected(f"manifest: not valid JSON: {e}") from None
    if not isinstance(raw, dict):
        raise ModuleRejected("manifest: not a JSON object")
    version = raw.get("abi_version")
    if version != ABI_VERSION:
        raise ModuleRejected(f"manifest: abi_version is {version!r}, this wasmcore speaks "
                             f"version {ABI_VERSION}; rebuild the module with a matching "
                             "wasmcore-abi")
    funcs = []
    seen: set[str] = set()
    try:
        for f in raw["functions"]:
            name = _check_ident("function", f["name"])
            if name in seen:
                raise ModuleRejected(f"manifest: function {name!r} is described twice")
            seen.add(name)
            params = []
            for p in f["params"]:
                pname = _check_ident(f"parameter of {name}()", p["name"])
                try:
                    params.append(Param(pname, ParamType.parse(p["type"])))
                except (ValueError, AttributeError):
                    raise ModuleRejected(f"manifest: {name}() parameter {pname!r} has unknown "
                                         f"type {p['type']!r}") from None
            try:
                ret = ReturnType.parse(f["returns"])
            except (ValueError, AttributeError):
                raise ModuleRejected(f"manifest: {name}() has unknown return type "
                                     f"{f['returns']!r}") from None
            if not isinstance(f["fallible"], bool) or not isinstance(f.get("doc", ""), str):
                raise ModuleRejected(f"manifest: {name}() has a malformed entry")
            funcs.append(FunctionSpec(name, f.get("doc", ""), tuple(params), ret, f["fallible"]))
        module = raw.get("module", "")
        classes = tuple(raw.get("classes", ()))
        imports = tuple(raw.get("imports", ()))
    except (KeyError, TypeError) as e:
        raise ModuleRejected(f"manifest: malformed ({type(e).__name__}: {e})") from None
    return Manifest(version, str(module), tuple(funcs), classes, imports, raw)


def read_manifest(wasm: bytes) -> Manifest:
    """The manifest carried by a post-processed module."""
    sections = custom_sections(wasm).get(MANIFEST_SECTION, [])
    if not sections:
        raise ModuleRejected(f"module has no {MANIFEST_SECTION!r} manifest section "
                             "(was it post-processed by `cargo xtask dist`?)")
    if len(sections) > 1:
        raise ModuleRejected(f"module has {len(sections)} {MANIFEST_SECTION!r} sections, "
                             "expected exactly one")
    return parse_manifest(sections[0])
