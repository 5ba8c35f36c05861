"""The WIT names of a component's world-level types, read from its binary.

wasmtime-py lists the types an exported or imported *interface* names, but not the world's
own (``record options`` of ``world plugin``: the component imports it as a type, ``(import
"options" (type (eq 6)))``, which its type listing leaves out). So the top level of the
binary is read here (the component model's binary format: the type, import, export and alias
sections, each index of the type index space counted) and each named record, variant, enum
and flags is described by its members: ``("record", ("scale", "reverse", "tag"))``. A type of
wasmtime-py's is then named by its description (:func:`describe`).

This is a reader of names only: anything it does not know makes it give up (an empty result),
and the types are then named after where they are used.
"""

from __future__ import annotations

from typing import Any

from wasmtime import component as cm

from .._abi import binary
from .._errors import ModuleRejected

Desc = tuple[str, tuple[str, ...]]

_PRIMITIVES = set(range(0x73, 0x80)) | {0x64}


class _Unknown(Exception):
    pass


class _Reader(binary._Reader):
    """The core module reader's bytes, LEB128 integers and names, and the component model's
    grammar (what is needed to walk past each construct)."""

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        super().__init__(data, pos, len(data) if end is None else end)

    def s33(self) -> int:
        out = shift = 0
        while True:
            b = self.byte()
            out |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                if b & 0x40:
                    out -= 1 << shift
                return out
            if shift > 35:
                raise _Unknown("LEB128 too long")

    def vec(self, item: Any) -> list[Any]:
        return [item() for _ in range(self.u32())]

    def value_type(self) -> None:
        b = self.data[self.pos] if self.pos < self.end else -1
        if b in _PRIMITIVES:
            self.pos += 1
        else:
            self.s33()

    def opt_valtype(self) -> None:
        if self.byte():
            self.value_type()

    def extern_name(self) -> str:
        kind = self.byte()
        if kind not in (0x00, 0x01):
            raise _Unknown(f"name kind {kind:#x}")
        return self.name()

    def externdesc(self) -> tuple[int, int | None]:
        """(kind, the type index of an ``eq`` type bound, else None)."""
        kind = self.byte()
        if kind == 0x00:
            if self.byte() != 0x11:
                raise _Unknown("core sort")
            self.u32()
        elif kind in (0x01, 0x04, 0x05):
            self.u32()
        elif kind == 0x02:
            if self.byte() == 0x00:
                self.u32()
            else:
                self.value_type()
        elif kind == 0x03:
            if self.byte() == 0x00:
                return kind, self.u32()
        else:
            raise _Unknown(f"externdesc {kind:#x}")
        return kind, None

    def sort(self) -> int:
        s = self.byte()
        if s == 0x00:
            self.byte()  # (the core sort)
        elif s > 0x05:
            raise _Unknown(f"sort {s:#x}")
        return s

    def alias(self) -> int:
        s = self.sort()
        target = self.byte()
        if target in (0x00, 0x01):
            self.u32()
            self.name()
        elif target == 0x02:
            self.u32()
            self.u32()
        else:
            raise _Unknown(f"alias target {target:#x}")
        return s

    def deftype(self) -> Desc | None:
        b = self.byte()
        if b in _PRIMITIVES:
            return None
        if b == 0x72:
            return "record", tuple(self.vec(self._field))
        if b == 0x71:
            return "variant", tuple(self.vec(self._case))
        if b in (0x70, 0x6B, 0x69, 0x68):
            (self.value_type if b in (0x70, 0x6B) else self.u32)()
            return None
        if b == 0x67:
            self.value_type()
            self.u32()
            return None
        if b == 0x6F:
            self.vec(self.value_type)
            return None
        if b in (0x6E, 0x6D):
            return ("flags" if b == 0x6E else "enum"), tuple(self.vec(self.name))
        if b == 0x6A:
            self.opt_valtype()
            self.opt_valtype()
            return None
        if b in (0x66, 0x65):
            self.opt_valtype()
            return None
        if b in (0x40, 0x43):
            self.vec(self._field)
            results = self.byte()
            if results == 0x00:
                self.value_type()
            elif results != 0x01 or self.byte() != 0x00:
                raise _Unknown("result list")
            return None
        if b == 0x41:
            self.vec(self._component_decl)
            return None
        if b == 0x42:
            self.vec(self._instance_decl)
            return None
        if b == 0x3F:
            if self.byte() != 0x7F:
                raise _Unknown("resource representation")
            if self.byte():
                self.u32()
            return None
        raise _Unknown(f"type {b:#x}")

    def _field(self) -> str:
        name = self.name()
        self.value_type()
        return name

    def _case(self) -> str:
        name = self.name()
        self.opt_valtype()
        if self.byte() != 0x00:
            raise _Unknown("a variant case's refines")
        return name

    def _instance_decl(self) -> None:
        kind = self.byte()
        if kind == 0x01:
            self.deftype()
        elif kind == 0x02:
            self.alias()
        elif kind == 0x04:
            self.extern_name()
            self.externdesc()
        else:  # (0x00: a core type: not needed for names)
            raise _Unknown(f"instance declaration {kind:#x}")

    def _component_decl(self) -> None:
        if self.data[self.pos] == 0x03 if self.pos < self.end else False:
            self.pos += 1
            self.extern_name()
            self.externdesc()
        else:
            self._instance_decl()


def world_types(data: bytes) -> dict[str, Desc]:
    """The world-level named types of the component ``data``: name -> description. Empty when
    the binary holds something this reader does not know."""
    try:
        return _world_types(data)
    except (_Unknown, ModuleRejected, IndexError):
        return {}


def _world_types(data: bytes) -> dict[str, Desc]:
    if data[:4] != b"\0asm" or data[4:8] != b"\x0d\x00\x01\x00":
        return {}
    r = _Reader(data, 8)
    types: list[Desc | None] = []  # the type index space
    named: dict[str, Desc] = {}
    while r.pos < r.end:
        section = r.byte()
        size = r.u32()
        end = r.pos + size
        s = _Reader(data, r.pos, end)
        if section == 7:
            for _ in range(s.u32()):
                types.append(s.deftype())
        elif section == 10:
            for _ in range(s.u32()):
                name = s.extern_name()
                kind, eq = s.externdesc()
                if kind == 0x03:
                    desc = types[eq] if eq is not None and eq < len(types) else None
                    types.append(desc)
                    if desc is not None:
                        named.setdefault(name, desc)
        elif section == 11:
            for _ in range(s.u32()):
                name = s.extern_name()
                sort = s.sort()
                idx = s.u32()
                if s.byte():
                    s.externdesc()
                if sort == 0x03:
                    desc = types[idx] if idx < len(types) else None
                    types.append(desc)
                    if desc is not None:
                        named.setdefault(name, desc)
        elif section == 6:
            for _ in range(s.u32()):
                if s.alias() == 0x03:
                    types.append(None)
        r.pos = end
    return named


def describe(ty: Any) -> Desc | None:
    """The description of one of wasmtime-py's types, as :func:`world_types` gives them."""
    if isinstance(ty, cm.RecordType):
        return "record", tuple(name for name, _ in ty.fields)
    if isinstance(ty, cm.VariantType):
        return "variant", tuple(name for name, _ in ty.cases)
    if isinstance(ty, cm.EnumType):
        return "enum", tuple(ty.names)
    if isinstance(ty, cm.FlagsType):
        return "flags", tuple(ty.names)
    return None
