"""What a module's binary says that the JavaScript engine's API does not tell: the wasm types
of its imported and exported functions, and the limits of its memories and tables; and the
same binary with tighter maxima (how the plugin sandbox caps memory under Pyodide).

A pure-Python reading of the type, import, function, table, memory and export sections of a
core module (WebAssembly 1.0 and the value types since: i32, i64, f32, f64, v128 and
references). Modules that need more of it than that (the GC proposal's types, 64-bit
memories) are refused with :class:`ModuleRejected`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .._errors import ModuleRejected
from .manifest import KEEPS_RESULTS, RUNTIME_EXPORTS, Manifest, _leb

VALTYPES = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128",
            0x70: "funcref", 0x6F: "externref"}
KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}
PAGE = 65536

Signature = tuple[tuple[str, ...], tuple[str, ...]]


@dataclass
class Limits:
    """A memory's (in pages) or table's (in elements) limits; ``at``: where they are in the
    binary (start and end offsets), ``max`` None for none."""

    min: int
    max: int | None
    at: tuple[int, int]


@dataclass
class Import:
    module: str
    name: str
    kind: str
    type: Signature | None = None  # a function's


@dataclass
class Module:
    """The parts of a binary module :func:`read` reads."""

    imports: list[Import] = field(default_factory=list)
    exports: dict[str, tuple[str, Signature | None]] = field(default_factory=dict)
    memories: list[Limits] = field(default_factory=list)  # defined here, not imported
    tables: list[Limits] = field(default_factory=list)


class _Reader:
    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data, self.pos, self.end = data, pos, end

    def byte(self) -> int:
        if self.pos >= self.end:
            raise ModuleRejected("malformed module: a section ends early")
        self.pos += 1
        return self.data[self.pos - 1]

    def u32(self) -> int:
        v, self.pos = _leb(self.data, self.pos)
        return v

    def name(self) -> str:
        n = self.u32()
        raw = self.data[self.pos:self.pos + n]
        self.pos += n
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise ModuleRejected("malformed module: a name is not UTF-8") from None

    def valtype(self) -> str:
        b = self.byte()
        if b not in VALTYPES:
            raise ModuleRejected(f"module uses a value type this runtime does not read here "
                                 f"(0x{b:02x}; the GC proposal's types are not supported)")
        return VALTYPES[b]

    def limits(self) -> Limits:
        start = self.pos
        flags = self.byte()
        if flags & ~0x3:
            raise ModuleRejected("module uses 64-bit memories or tables, which are not "
                                 "supported here")
        lo = self.u32()
        hi = self.u32() if flags & 1 else None
        return Limits(lo, hi, (start, self.pos))


def read(data: bytes) -> Module:
    """The imports, exports (with functions' types), memories and tables of a binary module."""
    if data[:4] != b"\0asm" or data[4:8] != b"\x01\0\0\0":
        raise ModuleRejected("malformed module: not a WebAssembly 1.0 binary")
    types: list[Signature] = []
    funcs: list[int] = []  # type index of each function, imported ones first
    out = Module()
    pos = 8
    while pos < len(data):
        sid = data[pos]
        size, pos = _leb(data, pos + 1)
        r = _Reader(data, pos, pos + size)
        if sid == 1:
            for _ in range(r.u32()):
                if r.byte() != 0x60:
                    raise ModuleRejected("module uses the GC proposal's types, which are not "
                                         "supported here")
                params = tuple(r.valtype() for _ in range(r.u32()))
                types.append((params, tuple(r.valtype() for _ in range(r.u32()))))
        elif sid == 2:
            for _ in range(r.u32()):
                mod, name, kind = r.name(), r.name(), r.byte()
                imp = Import(mod, name, KINDS.get(kind, "unknown"))
                if kind == 0:
                    t = r.u32()
                    imp.type = types[t]
                    funcs.append(t)
                elif kind == 1:
                    r.valtype()
                    r.limits()
                elif kind == 2:
                    r.limits()
                elif kind == 3:
                    r.valtype()
                    r.byte()
                elif kind == 4:
                    r.byte()
                    r.u32()
                else:
                    raise ModuleRejected(f"malformed module: import kind {kind}")
                out.imports.append(imp)
        elif sid == 3:
            funcs += [r.u32() for _ in range(r.u32())]
        elif sid == 4:
            for _ in range(r.u32()):
                r.valtype()
                out.tables.append(r.limits())
        elif sid == 5:
            out.memories += [r.limits() for _ in range(r.u32())]
        elif sid == 7:
            for _ in range(r.u32()):
                name, kind, index = r.name(), r.byte(), r.u32()
                sig = types[funcs[index]] if kind == 0 else None
                out.exports[name] = (KINDS.get(kind, "unknown"), sig)
        pos += size
    return out


def _uleb(v: int) -> bytes:
    out = bytearray()
    while True:
        b, v = v & 0x7F, v >> 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def capped(data: bytes, module: Module, pages: int, elements: int) -> bytes:
    """``data`` with every memory's maximum at most ``pages`` and every table's at most
    ``elements`` (a limit that was larger, or absent, is lowered; the encoding of a section's
    size changes with it)."""
    edits = [(lim, cap) for lims, cap in ((module.memories, pages), (module.tables, elements))
             for lim in lims if lim.max is None or lim.max > cap]
    if not edits:
        return data
    out = bytearray()
    pos = 8
    out += data[:8]
    while pos < len(data):
        sid = data[pos]
        size, body = _leb(data, pos + 1)
        end = body + size
        mine = [(lim, cap) for lim, cap in edits if body <= lim.at[0] < end]
        if not mine:
            out += data[pos:end]
        else:
            content = bytearray()
            cur = body
            for lim, cap in sorted(mine, key=lambda e: e[0].at[0]):
                content += data[cur:lim.at[0]]
                flags = data[lim.at[0]] | 1
                content += bytes([flags]) + _uleb(lim.min) + _uleb(cap)
                cur = lim.at[1]
            content += data[cur:end]
            out += bytes([sid]) + _uleb(len(content)) + content
        pos = end
    return bytes(out)


def _sig(params: tuple[str, ...], results: tuple[str, ...]) -> str:
    return f"({', '.join(params)}) -> ({', '.join(results)})"


def check_exports(manifest: Manifest,
                  exported: dict[str, tuple[str, Signature | None]]) -> None:
    """Every export the manifest describes (and the runtime's) must exist with the wasm type it
    lowers to, and the memory too; ``exported``: name -> (kind, a function's types)."""
    problems = []
    if exported.get("memory", ("", None))[0] != "memory":
        problems.append("it exports no memory named 'memory'")
    wanted = manifest.signatures()
    wanted.update(RUNTIME_EXPORTS)
    if KEEPS_RESULTS in exported:  # (optional: see its definition)
        wanted[KEEPS_RESULTS] = ((), ())
    for name, (params, results) in wanted.items():
        kind, actual = exported.get(name, ("", None))
        if kind != "func" or actual is None:
            problems.append(f"{name!r} is in the manifest but not exported as a function")
        elif actual != (params, results):
            problems.append(f"{name!r}: manifest lowers to {_sig(params, results)} but the "
                            f"export is {_sig(*actual)}")
    if problems:
        raise ModuleRejected("module disagrees with its manifest: " + "; ".join(problems))
