"""The ``wasmcore.abi`` manifest: reading it from a module and checking it.

This mirrors the Rust crate ``wasmcore-schema`` (the owner of the ABI): the version, the
logical types and how they lower to wasm value types. ``tests/python/test_host.py`` checks
the two agree on the manifests the build produces.
"""

from __future__ import annotations

import hashlib
import json
import keyword
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import ModuleRejected

# The ABI versions this runtime reads: every one from OLDEST_ABI to ABI_VERSION (the version
# the Rust crate wasmcore-schema writes). The rule (docs/compatibility.md): abi_version goes up
# only when an older runtime could not call a newer module correctly; additions an older
# runtime can ignore (new optional manifest keys) keep it.
ABI_VERSION = 1
OLDEST_ABI = 1
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
# A runtime export newer than those (a module built before it lacks it): frees the owned result
# the module keeps. Its presence says the module keeps each owned result until the next one,
# so that the host need not free it (docs/abi.md, "Results").
KEEPS_RESULTS = "wasmcore_release_result"


@dataclass(frozen=True)
class ParamType:
    """A parsed logical parameter type."""

    kind: str  # "scalar" | "buffer" | "matrix" | "bytes" | "str" | "handle"
    name: str  # the manifest spelling
    scalar: str | None = None  # for scalars
    elem: str | None = None  # for buffers and matrices
    inout: bool = False

    @staticmethod
    def parse(s: str) -> ParamType:
        inout = s.startswith("inout ")
        rest = s[len("inout "):] if inout else s
        if rest.endswith("[,]") and rest[:-3] in ELEMS and not inout:
            return ParamType("matrix", s, elem=rest[:-3])
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
        if self.kind == "matrix":
            return ("i32", "i32", "i32")
        return ("i32", "i32")


@dataclass(frozen=True)
class ReturnType:
    """A parsed logical return type: unit (``None``), scalar, handle, an owned buffer
    (``owned``: bytes or a 1-D array; ``str``) or an owned 2-D array (``matrix``)."""

    name: str | None
    kind: str  # "unit" | "scalar" | "handle" | "owned" | "str" | "matrix"
    elem: str | None = None

    @property
    def result_pointer(self) -> bool:
        """Whether the result comes back through memory whatever the fallibility."""
        return self.kind in ("owned", "str", "matrix")

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
        if t.kind == "matrix":
            return ReturnType(s, "matrix", elem=t.elem)
        raise ValueError(f"unknown return type {s!r}")

    def lower(self) -> tuple[str, ...]:
        """The wasm value type of a directly returned scalar or handle."""
        if self.kind == "handle":
            return ("i32",)
        assert self.kind == "scalar" and self.name is not None
        return (SCALARS[self.name],)


_NO_DEFAULT = object()


@dataclass(frozen=True)
class Param:
    name: str
    type: ParamType
    default: Any = _NO_DEFAULT

    @property
    def has_default(self) -> bool:
        return self.default is not _NO_DEFAULT


@dataclass(frozen=True)
class FunctionSpec:
    """One exported function (or class method) as the manifest describes it.

    ``name`` is the export; ``label`` is how messages and ``__qualname__`` name it
    (``"sum"``, or ``"Sha256.update"`` for a method)."""

    name: str
    doc: str
    params: tuple[Param, ...]
    returns: ReturnType
    fallible: bool
    label: str = ""
    # ``"gil": "hold"`` (``#[export(gil = "hold")]``): the author says calls are short, so the
    # compiled call path keeps the GIL through them (a plugin's is not trusted: ignored there)
    hold_gil: bool = False

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name)

    @property
    def result_pointer(self) -> bool:
        """Whether the export takes a trailing result pointer (mirrors
        ``schema::has_result_pointer``)."""
        kind = self.returns.kind
        return self.returns.result_pointer or (kind in ("scalar", "handle") and self.fallible)

    def signature(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The wasm (params, results) this function lowers to (mirrors ``schema::signature``):
        the result pointer, when there is one, comes last."""
        p = [v for prm in self.params for v in prm.type.lower()]
        p += ["i32"] if self.result_pointer else []
        r: list[str] = []
        if self.returns.kind in ("scalar", "handle") and not self.fallible:
            r.extend(self.returns.lower())
        if self.fallible:
            r.append("i32")
        return tuple(p), tuple(r)


@dataclass(frozen=True)
class MethodSpec:
    """One method of an exported class: its name in the class, its role (``constructor``,
    ``method`` or ``getter``) and the export behind it (whose first parameter is ``self``,
    the handle, except for constructors)."""

    name: str
    role: str
    func: FunctionSpec


@dataclass(frozen=True)
class ClassSpec:
    """An exported Rust type: objects cross as handles and are freed by ``drop``."""

    name: str
    doc: str
    drop: str
    methods: tuple[MethodSpec, ...]

    def exports(self) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
        """The wasm signature of every export behind this class."""
        out = {m.func.name: m.func.signature() for m in self.methods}
        out[self.drop] = (("i32",), ())
        return out


@dataclass(frozen=True)
class Manifest:
    abi_version: int
    module: str
    functions: tuple[FunctionSpec, ...]
    classes: tuple[ClassSpec, ...] = ()
    imports: tuple[dict[str, str], ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    version: str | None = None  # the module's own version, when its build wrote one

    def function(self, name: str) -> FunctionSpec:
        for f in self.functions:
            if f.name == name:
                return f
        raise KeyError(name)

    def signatures(self) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
        """The wasm signature of every export the manifest describes."""
        out = {f.name: f.signature() for f in self.functions}
        for c in self.classes:
            out.update(c.exports())
        return out


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
    abi = _abi_version(raw)
    version = raw.get("version")
    if version is not None and not isinstance(version, str):
        raise ModuleRejected(f"manifest: version must be a string, got {version!r}")
    try:
        funcs = [_function(f) for f in raw["functions"]]
        classes = [_class(c) for c in raw.get("classes", ())]
        module = raw.get("module", "")
        imports = tuple(raw.get("imports", ()))
    except (KeyError, TypeError, AttributeError) as e:
        raise ModuleRejected(f"manifest: malformed ({type(e).__name__}: {e})") from None
    seen: set[str] = set()
    for name in [f.name for f in funcs] + [c.name for c in classes]:
        if name in seen:
            raise ModuleRejected(f"manifest: {name!r} is described twice")
        seen.add(name)
    return Manifest(abi, str(module), tuple(funcs), tuple(classes), imports, raw, version)


def _abi_version(raw: dict[str, Any]) -> int:
    """The manifest's abi_version, if this runtime reads it (see :data:`OLDEST_ABI`)."""
    abi = raw.get("abi_version")
    if not isinstance(abi, int) or isinstance(abi, bool):
        raise ModuleRejected(f"manifest: abi_version must be an integer, got {abi!r}")
    if abi > ABI_VERSION:
        from .. import __version__

        raise ModuleRejected(
            f"manifest: abi_version is {abi}, newer than this runtime reads ({abi_span()}): "
            f"the module needs a newer wasmcore runtime than the wasmcore {__version__} "
            "running here; upgrade it with `pip install -U wasmcore`")
    if abi < OLDEST_ABI:
        raise ModuleRejected(
            f"manifest: abi_version is {abi}, older than this runtime reads ({abi_span()}): "
            "rebuild the module with a current wasmcore")
    return abi


def abi_span() -> str:
    """The abi_versions this runtime reads, in words."""
    return f"abi_version {ABI_VERSION}" if OLDEST_ABI == ABI_VERSION \
        else f"abi_version {OLDEST_ABI} to {ABI_VERSION}"


def _function(f: dict[str, Any], label: str = "", export: str = "") -> FunctionSpec:
    """One function entry (or a method's, whose export name and label are given)."""
    name = export or _check_ident("function", f["name"])
    label = label or name
    params = []
    for i, p in enumerate(f["params"]):
        if p["name"] == "self" and i == 0 and export:
            pname = "self"
        else:
            pname = _check_ident(f"parameter of {label}()", p["name"])
        try:
            ptype = ParamType.parse(p["type"])
        except (ValueError, AttributeError):
            raise ModuleRejected(f"manifest: {label}() parameter {pname!r} has unknown "
                                 f"type {p['type']!r}") from None
        default = p.get("default", _NO_DEFAULT)
        if default is not _NO_DEFAULT and not _default_ok(ptype, default):
            raise ModuleRejected(f"manifest: {label}() parameter {pname!r} has a bad default "
                                 f"{default!r}")
        if params and params[-1].has_default and default is _NO_DEFAULT:
            raise ModuleRejected(f"manifest: {label}() parameter {pname!r} without a default "
                                 "follows one with a default")
        params.append(Param(pname, ptype, default))
    if len({p.name for p in params}) != len(params):
        raise ModuleRejected(f"manifest: {label}() has duplicate parameter names")
    try:
        ret = ReturnType.parse(f["returns"])
    except (ValueError, AttributeError):
        raise ModuleRejected(f"manifest: {label}() has unknown return type "
                             f"{f['returns']!r}") from None
    if not isinstance(f["fallible"], bool) or not isinstance(f.get("doc", ""), str):
        raise ModuleRejected(f"manifest: {label}() has a malformed entry")
    return FunctionSpec(name, f.get("doc", ""), tuple(params), ret, f["fallible"], label,
                        hold_gil=f.get("gil") == "hold")


def _default_ok(t: ParamType, v: object) -> bool:
    if t.kind != "scalar":
        return False
    if t.scalar == "bool":
        return isinstance(v, bool)
    if t.scalar in ("f32", "f64"):
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, int) and not isinstance(v, bool)


def _class(c: dict[str, Any]) -> ClassSpec:
    cname = _check_ident("class", c["name"])
    methods = []
    for m in c["methods"]:
        mname = _check_ident(f"method of {cname}", m["name"])
        role = m["role"]
        export = _check_ident(f"export of {cname}.{mname}", m["export"])
        func = _function(m, f"{cname}.{mname}", export)
        takes_self = bool(func.params) and func.params[0].name == "self" \
            and func.params[0].type.kind == "handle"
        ok = {"constructor": func.returns.kind == "handle" and not takes_self,
              "method": takes_self and func.fallible,
              "getter": takes_self and func.fallible and len(func.params) == 1
              and func.returns.kind != "unit"}.get(role, False)
        if not ok:
            raise ModuleRejected(f"manifest: {cname}.{mname} is not a valid {role!r}")
        methods.append(MethodSpec(mname, role, func))
    if not any(m.role == "constructor" for m in methods):
        raise ModuleRejected(f"manifest: class {cname} has no constructor")
    if len({m.name for m in methods}) != len(methods):
        raise ModuleRejected(f"manifest: class {cname} has duplicate methods")
    return ClassSpec(cname, str(c.get("doc", "")), _check_ident("drop export", c["drop"]),
                     tuple(methods))


# Manifests already parsed in this process, by the sha256 of their module (frozen, so shared).
_PARSED: dict[str, Manifest] = {}


def read_module(path: Path) -> tuple[bytes, str, Manifest]:
    """A module file's bytes, their sha256 (hex) and its manifest, parsed once per distinct
    content in a process (``wasmcore.load()`` reads the file every time, so a module rebuilt
    in place is always seen; what is skipped is parsing a manifest already parsed)."""
    wasm = path.read_bytes()
    digest = hashlib.sha256(wasm).hexdigest()
    manifest = _PARSED.get(digest)
    if manifest is None:
        manifest = _PARSED[digest] = read_manifest(wasm)
    return wasm, digest, manifest


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


def drop_spec(c: ClassSpec) -> FunctionSpec:
    """The drop export of a class as a function spec: ``(self: handle) -> ()``, infallible."""
    return FunctionSpec(c.drop, "", (Param("self", ParamType("handle", "handle")),),
                        ReturnType(None, "unit"), False, f"{c.name}.close")


def export_specs(manifest: Manifest) -> dict[str, FunctionSpec]:
    """Every export a backend binds a callable to: the functions, the class methods and the
    classes' drop exports."""
    specs = {f.name: f for f in manifest.functions}
    for c in manifest.classes:
        for m in c.methods:
            specs[m.func.name] = m.func
        specs[c.drop] = drop_spec(c)
    return specs
