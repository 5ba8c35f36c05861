"""The Python side of a component's WIT types: for each type, the converters between the
values a host writes (``int``, ``str``, dataclasses, ``enum.Enum``, ``enum.Flag``, tagged
classes, ``None``, ``bytes``) and wasmtime-py's component values, built once per function.

wasmtime-py's values (:mod:`wasmtime.component`) are structural: a record is an object whose
attributes are the WIT field names (``max-len``), an enum case a ``str``, flags a ``set`` of
``str``, a variant its payload alone when the cases' payload classes tell the cases apart
(else a ``Variant(tag, payload)``), integers unchecked (``add(-1, 1)`` wraps). Here every
value is checked on the way in, with an error naming the function and the parameter, and the
values that come back are typed: the generated classes of :class:`Types`.

Names: a WIT name (kebab-case) is a snake_case attribute or field (``max-len`` ->
``max_len``) and a CamelCase class (``counter`` -> ``Counter``); a Python keyword gets a
trailing ``_``. A host may write either spelling where a name is a key (fields of a ``dict``).
"""

from __future__ import annotations

import dataclasses
import enum
import keyword
from array import array
from collections.abc import Callable, Mapping
from typing import Any

from wasmtime import component as cm

from .._abi.convert import as_float, as_int, int_range_error
from .._errors import ComponentError
from .names import Desc, describe

Lower = Callable[[Any], Any]
Lift = Callable[[Any], Any]

INT_RANGES: dict[type, tuple[int, int]] = {
    cm.U8: (0, (1 << 8) - 1), cm.U16: (0, (1 << 16) - 1), cm.U32: (0, (1 << 32) - 1),
    cm.U64: (0, (1 << 64) - 1), cm.S8: (-(1 << 7), (1 << 7) - 1),
    cm.S16: (-(1 << 15), (1 << 15) - 1), cm.S32: (-(1 << 31), (1 << 31) - 1),
    cm.S64: (-(1 << 63), (1 << 63) - 1),
}
# the WIT name of each primitive type (for messages and stubs)
PRIMITIVES: dict[type, str] = {
    cm.U8: "u8", cm.U16: "u16", cm.U32: "u32", cm.U64: "u64", cm.S8: "s8", cm.S16: "s16",
    cm.S32: "s32", cm.S64: "s64", cm.F32: "f32", cm.F64: "f64", cm.Bool: "bool",
    cm.Char: "char", cm.String: "string",
}


def snake(name: str) -> str:
    """A WIT name as a Python attribute (``max-len`` -> ``max_len``)."""
    out = name.replace("-", "_")
    return out + "_" if keyword.iskeyword(out) else out


def camel(name: str) -> str:
    """A WIT name as a Python class name (``max-len`` -> ``MaxLen``)."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("-"))


def _type_name(v: object) -> str:
    return type(v).__name__


# -- results and variants ------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Ok:
    """The ``ok`` case of a ``result`` inside another value (a ``result`` a function returns
    is its return value, or a raised :class:`wasmcore.ComponentError`)."""

    value: Any = None


@dataclasses.dataclass(frozen=True)
class Err:
    """The ``err`` case of a ``result`` inside another value."""

    value: Any = None


class VariantCase:
    """Base of the classes of a WIT ``variant``'s cases: ``Shape.Circle(2.0)``; a case
    without a payload takes no argument (``Shape.Empty()``). ``.tag`` is the WIT case name."""

    __slots__ = ()
    tag: str = ""
    value: Any = None


@dataclasses.dataclass
class _Case:
    name: str
    ty: Any  # wasmtime-py's ValType, or None: no payload
    lower: Lower | None
    lift: Lift | None
    classes: tuple[type, ...]  # wasmtime-py's Python classes of the payload (untagged form)


def payload_classes(t: Any) -> tuple[type, ...]:
    """The Python classes wasmtime-py gives a case's payload of type ``t`` (``object`` for a
    case without one): how it tells untagged cases apart."""
    if t is None:
        return (object,)
    classes: set[type] = set()
    t.add_classes(classes)
    return tuple(classes)


def variant_cases(ty: Any) -> tuple[list[tuple[str, Any]], bool]:
    """A variant's, option's or result's cases (name, payload type or None) and whether
    wasmtime-py writes its values tagged (``Variant(tag, payload)``: the cases' payload classes
    overlap) or as the payload alone (as its ``VariantLikeType._tagged``)."""
    if isinstance(ty, cm.OptionType):
        cases: list[tuple[str, Any]] = [("none", None), ("some", ty.payload)]
    elif isinstance(ty, cm.ResultType):
        cases = [("ok", ty.ok), ("err", ty.err)]
    else:
        cases = list(ty.cases)
    seen: set[type] = set()
    tagged = False
    for _, t in cases:
        classes = set(payload_classes(t))
        tagged = tagged or bool(seen & classes)
        seen |= classes
    return cases, tagged


# -- the generated classes of one component -------------------------------------------------

class Types:
    """The named types of a component, found in its exports and imports (wasmtime-py's types
    are structural: a name is known by a named type equal to the one a function uses), and
    the Python classes made for them, one per WIT type."""

    def __init__(self, named: list[tuple[str, Any]], world: dict[str, Desc]) -> None:
        self._named = named  # (WIT name, wasmtime-py's ValType)
        self._world = world  # the world's own types (see .names), by description
        self._made: list[tuple[Any, Any]] = []  # (ValType, the class made for it)
        self.classes: dict[str, Any] = {}  # class name -> class (every one made)
        self._anonymous = 0

    def name_of(self, ty: Any) -> str | None:
        for name, other in self._named:
            if type(other) is type(ty) and other == ty:
                return name
        desc = describe(ty)
        for name, d in self._world.items():
            if d == desc:
                return name
        return None

    def made(self, ty: Any) -> Any | None:
        for other, cls in self._made:
            if type(other) is type(ty) and other == ty:
                return cls
        return None

    def _class_name(self, ty: Any, where: str) -> str:
        name = self.name_of(ty)
        base = camel(name) if name is not None else camel(where.replace("_", "-").replace(".", "-"))
        out, n = base, 1
        while out in self.classes:
            n += 1
            out = f"{base}{n}"
        return out

    def _class(self, ty: Any, where: str, build: Callable[[str], Any]) -> Any:
        """The class made for ``ty``: made once (``build(name)``), then found again."""
        made = self.made(ty)
        if made is not None:
            return made
        name = self._class_name(ty, where)
        cls = build(name)
        self._made.append((ty, cls))
        self.classes[name] = cls
        return cls

    def record_class(self, ty: cm.RecordType, where: str,
                     fields: list[tuple[str, str]]) -> Any:
        def build(name: str) -> Any:
            cls = dataclasses.make_dataclass(name, [(snake(f), t) for f, t in fields])
            cls.__doc__ = f"The WIT record {self.name_of(ty) or name!r}: " + ", ".join(
                f"{snake(f)}: {t}" for f, t in fields)
            cls.__module__ = "wasmcore.component"
            return cls
        return self._class(ty, where, build)

    def enum_class(self, ty: cm.EnumType, where: str) -> Any:
        functional: Any = enum.Enum  # (mypy checks the functional API for literals only)
        return self._class(ty, where, lambda name: functional(
            name, [(snake(n).upper(), n) for n in ty.names], module="wasmcore.component"))

    def flags_class(self, ty: cm.FlagsType, where: str) -> Any:
        def build(name: str) -> Any:
            functional: Any = enum.Flag
            cls = functional(name, [(snake(n).upper(), 1 << i) for i, n in enumerate(ty.names)],
                             module="wasmcore.component")
            cls._wit_names = dict(zip(cls, ty.names, strict=True))  # member -> WIT name
            return cls
        return self._class(ty, where, build)

    def variant_class(self, ty: cm.VariantType, where: str,
                      cases: list[tuple[str, str | None]]) -> Any:
        def build(name: str) -> Any:
            base = type(name, (VariantCase,), {"__slots__": (), "__module__": "wasmcore.component",
                                               "__doc__": f"The WIT variant {name}: "
                                               + ", ".join(c for c, _ in cases)})
            for case, payload in cases:
                fields = [("value", payload)] if payload is not None else []
                sub = dataclasses.make_dataclass(camel(case), fields, bases=(base,),
                                                 namespace={"tag": case}, frozen=True)
                sub.__qualname__ = f"{name}.{camel(case)}"
                sub.__module__ = "wasmcore.component"
                setattr(base, camel(case), sub)
            return base
        return self._class(ty, where, build)


# the array.array typecode of each integer and float type: a list of numbers lowered at once
_ARRAY_CODES: dict[type, str] = {cm.S8: "b", cm.U16: "H", cm.S16: "h", cm.U32: "I",
                                 cm.S32: "i", cm.U64: "Q", cm.S64: "q", cm.F64: "d"}


def _numeric_array(v: Any, kinds: str, lo_hi: tuple[int, int] | None) -> bool:
    """Whether ``v`` is a 1-d numpy array (or alike) whose dtype's kind is one of ``kinds``
    (integers for an integer list; numbers for a float list) and whose values are within
    ``lo_hi`` (else the element-wise check says which one is not)."""
    if getattr(v, "ndim", None) != 1 or getattr(getattr(v, "dtype", None), "kind", "") \
            not in kinds:
        return False
    return lo_hi is None or not len(v) or bool(lo_hi[0] <= v.min() and v.max() <= lo_hi[1])


# -- converters -----------------------------------------------------------------------------

class Converter:
    """Builds the converters of the values of one component's functions."""

    def __init__(self, types: Types, resources: Any, arrays: bool = False) -> None:
        self.types = types
        self.resources = resources  # the component's resource classes (see component.py)
        # (the fast path's) a list of numbers may be lowered to an ``array.array``, which its
        # writer lays out without a Python call per element; wasmtime-py's wants a list
        self.arrays = arrays

    def describe(self, ty: Any, given: bool = False) -> str:
        """The Python annotation of a type: of a value the component gives back, or (``given``)
        of one a host may pass (for messages, ``inspect.signature`` and stubs)."""
        t = type(ty)
        if t in INT_RANGES:
            return "int"
        if t in (cm.F32, cm.F64):
            return "float"
        if t is cm.Bool:
            return "bool"
        if t in (cm.Char, cm.String):
            return "str"
        if isinstance(ty, cm.ListType):
            el = ty.element
            if isinstance(el, cm.U8):
                return "bytes | bytearray | memoryview" if given else "bytes"
            return f"Iterable[{self.describe(el, given)}]" if given else \
                f"list[{self.describe(el)}]"
        if isinstance(ty, cm.TupleType):
            return f"tuple[{', '.join(self.describe(e, given) for e in ty.elements)}]"
        if isinstance(ty, cm.OptionType):
            return f"{self.describe(ty.payload, given)} | None"
        if isinstance(ty, cm.ResultType):
            return "Ok | Err"
        if isinstance(ty, (cm.RecordType, cm.EnumType, cm.FlagsType, cm.VariantType)):
            cls = self.types.made(ty)
            name = cls.__name__ if cls is not None else camel(self.types.name_of(ty) or "x")
            if given and isinstance(ty, cm.RecordType):
                return f"{name} | Mapping[str, Any]"
            if given and isinstance(ty, cm.EnumType):
                return f"{name} | str"
            if given and isinstance(ty, cm.FlagsType):
                return f"{name} | Iterable[str]"
            return str(name)
        if isinstance(ty, (cm.OwnType, cm.BorrowType)):
            cls = self.resources.class_of(ty.ty)
            return cls.__name__ if cls is not None else "Resource"
        return "Any"

    # (where: the parameter's name as messages show it; func: the function's)
    def lower(self, ty: Any, func: str, where: str) -> Lower:
        """From a host's value to wasmtime-py's."""
        t = type(ty)
        if t in INT_RANGES:
            lo, hi = INT_RANGES[t]

            def lower_int(v: Any) -> int:
                if v.__class__ is not int:
                    if isinstance(v, bool):
                        raise TypeError(f"{func}(): parameter '{where}' must be an int, got bool")
                    v = as_int(v, func, where)
                if not lo <= v <= hi:
                    raise int_range_error(v, func, where, lo, hi)
                return v  # type: ignore[no-any-return]
            return lower_int
        if t in (cm.F32, cm.F64):
            def lower_float(v: Any) -> float:
                return v if v.__class__ is float else as_float(v, func, where)
            return lower_float
        if t is cm.Bool:
            def lower_bool(v: Any) -> bool:
                if v is True or v is False:
                    return bool(v)
                raise TypeError(f"{func}(): parameter '{where}' must be a bool, got "
                                f"{_type_name(v)}")
            return lower_bool
        if t is cm.Char:
            def lower_char(v: Any) -> str:
                if not isinstance(v, str) or len(v) != 1:
                    raise TypeError(f"{func}(): parameter '{where}' must be a str of one "
                                    f"character, got {v!r}"[:200])
                if 0xD800 <= ord(v) <= 0xDFFF:
                    raise ValueError(f"{func}(): parameter '{where}' must be a Unicode scalar "
                                     f"value, got a surrogate {v!r}")
                return v
            return lower_char
        if t is cm.String:
            def lower_str(v: Any) -> str:
                if v.__class__ is not str and not isinstance(v, str):
                    raise TypeError(f"{func}(): parameter '{where}' must be a str, got "
                                    f"{_type_name(v)}")
                try:
                    v.encode("utf-8")
                except UnicodeEncodeError:
                    raise ValueError(f"{func}(): parameter '{where}' holds a lone surrogate, "
                                     "which no WIT string can carry") from None
                return str(v)
            return lower_str
        if isinstance(ty, cm.ListType):
            return self._lower_list(ty, func, where)
        if isinstance(ty, cm.TupleType):
            elems = [self.lower(e, func, f"{where}[{i}]") for i, e in enumerate(ty.elements)]
            n = len(elems)

            def lower_tuple(v: Any) -> tuple[Any, ...]:
                if not isinstance(v, (tuple, list)) or len(v) != n:
                    raise TypeError(f"{func}(): parameter '{where}' must be a tuple of {n} "
                                    f"values, got {_type_name(v)}"
                                    + (f" of {len(v)}" if isinstance(v, (tuple, list)) else ""))
                return tuple(f(x) for f, x in zip(elems, v, strict=True))
            return lower_tuple
        if isinstance(ty, cm.RecordType):
            return self._lower_record(ty, func, where)
        if isinstance(ty, cm.EnumType):
            cls = self.types.enum_class(ty, where)
            names = list(ty.names)

            def lower_enum(v: Any) -> str:
                if isinstance(v, cls):
                    return v.value  # type: ignore[no-any-return]
                if isinstance(v, str):
                    w = v.replace("_", "-").lower()
                    if w in names:
                        return w
                raise TypeError(f"{func}(): parameter '{where}' must be a {cls.__name__} "
                                f"({', '.join(names)}), got {v!r}"[:300])
            return lower_enum
        if isinstance(ty, cm.FlagsType):
            cls = self.types.flags_class(ty, where)
            wit = cls._wit_names
            all_names = set(ty.names)

            def lower_flags(v: Any) -> set[str]:
                if isinstance(v, cls):
                    return {wit[m] for m in cls if m in v}
                if isinstance(v, (set, frozenset, list, tuple)):
                    out = set()
                    for x in v:
                        name = x.replace("_", "-").lower() if isinstance(x, str) else (
                            wit.get(x) if isinstance(x, cls) else None)
                        if name not in all_names:
                            raise TypeError(f"{func}(): parameter '{where}': {x!r} is not a "
                                            f"flag of {cls.__name__} ({', '.join(ty.names)})")
                        out.add(name)
                    return out
                raise TypeError(f"{func}(): parameter '{where}' must be a {cls.__name__} "
                                f"(a flag or flags joined with |), got {_type_name(v)}")
            return lower_flags
        if isinstance(ty, (cm.VariantType, cm.OptionType, cm.ResultType)):
            return self._lower_variant(ty, func, where)
        if isinstance(ty, (cm.OwnType, cm.BorrowType)):
            return self.resources.lower(ty, func, where)  # type: ignore[no-any-return]
        raise ComponentError(f"{func}(): parameter '{where}' has a WIT type wasmcore does not "
                             f"support yet ({type(ty).__name__})")

    def _lower_list(self, ty: cm.ListType, func: str, where: str) -> Lower:
        el = ty.element
        if isinstance(el, cm.U8):
            def lower_bytes(v: Any) -> bytes:
                if isinstance(v, (bytes, bytearray, memoryview)):
                    return bytes(v)
                raise TypeError(f"{func}(): parameter '{where}' must be bytes-like, got "
                                f"{_type_name(v)}")
            return lower_bytes
        conv = self.lower(el, func, f"{where}[*]")
        code = _ARRAY_CODES.get(type(el)) if self.arrays else None
        plain = {float, int} if type(el) in (cm.F32, cm.F64) else {int}

        lo_hi = INT_RANGES.get(type(el))
        kinds = "iuf" if lo_hi is None else "iu"

        def lower_list(v: Any) -> Any:
            if code is not None and v.__class__ in (list, tuple) and set(map(type, v)) <= plain:
                try:  # (ints only, or numbers for floats: array() checks the range alone)
                    return array(code, v)
                except OverflowError:
                    pass  # (out of range: the element's own check says which, below)
            elif code is not None and _numeric_array(v, kinds, lo_hi):
                # a numpy array (or alike) of numbers in range: converted by numpy at once
                values = array(code)
                values.frombytes(v.astype(f"={code}").tobytes())
                return values
            if isinstance(v, (str, bytes, Mapping)) or not hasattr(v, "__iter__"):
                raise TypeError(f"{func}(): parameter '{where}' must be a list (any iterable "
                                f"of values), got {_type_name(v)}")
            out = []
            i = 0
            try:
                for i, x in enumerate(v):  # noqa: B007
                    out.append(conv(x))
            except (TypeError, ValueError) as e:
                raise type(e)(str(e).replace("[*]", f"[{i}]", 1)) from None
            return out
        return lower_list

    def _lower_record(self, ty: cm.RecordType, func: str, where: str) -> Lower:
        fields = ty.fields
        convs = [(f, snake(f), self.lower(t, func, f"{where}.{snake(f)}")) for f, t in fields]
        cls = self.types.record_class(ty, where, [(f, self.describe(t)) for f, t in fields])
        names = ", ".join(s for _, s, _ in convs)

        def lower_record(v: Any) -> Any:
            out = cm.Record()
            if isinstance(v, Mapping):
                extra = set(v) - {s for _, s, _ in convs} - {f for f, _, _ in convs}
                if extra:
                    raise TypeError(f"{func}(): parameter '{where}': {cls.__name__} has no "
                                    f"field {sorted(map(str, extra))[0]!r} (its fields: {names})")
                for f, s, conv in convs:
                    if s in v:
                        x = v[s]
                    elif f in v:
                        x = v[f]
                    else:
                        raise TypeError(f"{func}(): parameter '{where}': missing field "
                                        f"{s!r} of {cls.__name__} ({names})")
                    setattr(out, f, conv(x))
                return out
            for f, s, conv in convs:
                try:
                    x = getattr(v, s)
                except AttributeError:
                    raise TypeError(f"{func}(): parameter '{where}' must be a {cls.__name__} "
                                    f"(or a dict, or an object with the attributes {names}), "
                                    f"got {_type_name(v)} without {s!r}") from None
                setattr(out, f, conv(x))
            return out
        return lower_record

    def _cases(self, ty: Any, func: str, where: str, lowering: bool
               ) -> tuple[list[_Case], bool]:
        """A variant's, option's or result's cases with their converters, and whether
        wasmtime-py writes its values tagged (see :func:`variant_cases`)."""
        raw, tagged = variant_cases(ty)
        out = []
        for name, t in raw:
            has = t is not None
            out.append(_Case(name, t, self.lower(t, func, where) if has and lowering else None,
                             self.lift(t, where) if has and not lowering else None,
                             payload_classes(t)))
        return out, tagged

    def _lower_variant(self, ty: Any, func: str, where: str) -> Lower:
        cases, tagged = self._cases(ty, func, where, lowering=True)
        by_name = {c.name: c for c in cases}

        def wrap(case: _Case, payload: Any) -> Any:
            value = None if case.lower is None else case.lower(payload)
            return cm.Variant(case.name, value) if tagged else value

        if isinstance(ty, cm.OptionType):
            some = by_name["some"]

            def lower_option(v: Any) -> Any:
                if v is None:
                    return cm.Variant("none") if tagged else None
                return wrap(some, v)
            return lower_option
        if isinstance(ty, cm.ResultType):
            def lower_result(v: Any) -> Any:
                if isinstance(v, Ok):
                    return wrap(by_name["ok"], v.value)
                if isinstance(v, Err):
                    return wrap(by_name["err"], v.value)
                raise TypeError(f"{func}(): parameter '{where}' must be wasmcore.component.Ok"
                                f"(value) or Err(value), got {_type_name(v)}")
            return lower_result
        cls = self.types.variant_class(ty, where, [(c.name, None if c.ty is None else
                                                    self.describe(c.ty)) for c in cases])

        def lower_variant(v: Any) -> Any:
            if isinstance(v, cls):
                return wrap(by_name[v.tag], v.value)
            raise TypeError(f"{func}(): parameter '{where}' must be a {cls.__name__} case ("
                            + ", ".join(f"{cls.__name__}.{camel(c.name)}" for c in cases)
                            + f"), got {_type_name(v)}")
        return lower_variant

    # -- lifting ----------------------------------------------------------------------------

    def lift(self, ty: Any, where: str) -> Lift | None:
        """From wasmtime-py's value to the host's; None where the value is already the
        host's (numbers, bool, str, bytes)."""
        t = type(ty)
        if t in INT_RANGES or t in (cm.F32, cm.F64, cm.Bool, cm.Char, cm.String):
            return None
        if isinstance(ty, cm.ListType):
            if isinstance(ty.element, cm.U8):
                return None
            el = self.lift(ty.element, f"{where}[]")
            if el is None:
                return None
            return lambda v: [el(x) for x in v]
        if isinstance(ty, cm.TupleType):
            elems = [self.lift(e, f"{where}[{i}]") or _same for i, e in enumerate(ty.elements)]
            return lambda v: tuple(f(x) for f, x in zip(elems, v, strict=True))
        if isinstance(ty, cm.RecordType):
            fields = ty.fields
            cls = self.types.record_class(ty, where, [(f, self.describe(t)) for f, t in fields])
            convs = [(f, self.lift(t, f"{where}.{snake(f)}") or _same) for f, t in fields]

            def lift_record(v: Any) -> Any:
                return cls(*[conv(getattr(v, f)) for f, conv in convs])
            return lift_record
        if isinstance(ty, cm.EnumType):
            cls = self.types.enum_class(ty, where)
            return cls  # type: ignore[no-any-return]  # (Mode("upper") is Mode.UPPER)
        if isinstance(ty, cm.FlagsType):
            cls = self.types.flags_class(ty, where)
            members = {name: m for m, name in cls._wit_names.items()}

            def lift_flags(v: Any) -> Any:
                out = cls(0)
                for name in v:
                    out |= members[name]
                return out
            return lift_flags
        if isinstance(ty, (cm.VariantType, cm.OptionType, cm.ResultType)):
            return self._lift_variant(ty, where)
        if isinstance(ty, (cm.OwnType, cm.BorrowType)):
            return self.resources.lift(ty)  # type: ignore[no-any-return]
        raise ComponentError(f"'{where}' has a WIT type wasmcore does not support yet "
                             f"({type(ty).__name__})")

    def _lift_variant(self, ty: Any, where: str) -> Lift:
        cases, tagged = self._cases(ty, "", where, lowering=False)

        def split(v: Any) -> tuple[_Case, Any]:
            if tagged:
                for c in cases:
                    if c.name == v.tag:
                        return c, v.payload
            else:
                for c in cases:
                    if (v is None) if c.ty is None else isinstance(v, c.classes):
                        return c, v
            raise ComponentError(f"'{where}': a value of no case of its type: {v!r}")

        def payload(c: _Case, p: Any) -> Any:
            return None if c.ty is None else (p if c.lift is None else c.lift(p))

        if isinstance(ty, cm.OptionType):
            def lift_option(v: Any) -> Any:
                c, p = split(v)
                return None if c.name == "none" else payload(c, p)
            return lift_option
        if isinstance(ty, cm.ResultType):
            def lift_result(v: Any) -> Any:
                c, p = split(v)
                return (Ok if c.name == "ok" else Err)(payload(c, p))
            return lift_result
        cls = self.types.variant_class(ty, where, [(c.name, None if c.ty is None else
                                                    self.describe(c.ty)) for c in cases])

        def lift_variant(v: Any) -> Any:
            c, p = split(v)
            sub = getattr(cls, camel(c.name))
            return sub() if c.ty is None else sub(payload(c, p))
        return lift_variant


def _same(v: Any) -> Any:
    return v


__all__ = ["Converter", "Err", "Ok", "Types", "VariantCase", "camel", "snake"]
