"""The Python type of each logical ABI type, as an annotation (a string): what the runtime's
``inspect.signature`` of every callable shows and what the ``.pyi`` stubs say
(:mod:`wasmcore.build.stubs`). Names are numpy's and typing's usual ones (``np``,
``NDArray``, ``SupportsIndex``, ...); nothing is imported."""

from __future__ import annotations

from .arrays import DTYPE_NAMES
from .convert import INT_RANGES
from .manifest import ParamType, ReturnType

# Parameters accept what the runtime's checks (wasmcore._abi.convert) accept: integers anything
# with __index__ (numpy integers included), floats anything with __float__ (not str), bytes
# any buffer (not str), input arrays any array or (nested) sequence of numbers; an array the
# kernel writes in place must be an ndarray of exactly its dtype (or, untyped here, an
# array.array or memoryview of its typecode). Results are what comes back (with numpy).


def _scalar(name: str, *, result: bool) -> str:
    if name == "bool":
        return "bool" if result else "bool | np.bool_"
    if name in INT_RANGES:
        return "int" if result else "SupportsIndex"
    return "float" if result else "SupportsFloat"


def _dtype(elem: str) -> str:
    """The numpy scalar type of an element type (``np.float64`` for ``f64``)."""
    return f"np.{DTYPE_NAMES[elem]}"


def param_annotation(t: ParamType) -> str:
    """The annotation of a parameter of logical type ``t`` (objects, passed only as ``self``,
    have none)."""
    if t.kind == "scalar":
        assert t.scalar is not None
        return _scalar(t.scalar, result=False)
    if t.kind in ("buffer", "matrix"):
        assert t.elem is not None
        if t.inout:
            return f"NDArray[{_dtype(t.elem)}]"
        item = "SupportsFloat" if t.elem.startswith("f") else "SupportsIndex"
        nested = f"Sequence[{item}]" if t.kind == "buffer" else f"Sequence[Sequence[{item}]]"
        return f"NDArray[Any] | {nested}"
    if t.kind == "bytes":
        return "Buffer"
    if t.kind == "str":
        return "str"
    raise ValueError(f"a parameter of type {t.name!r} has no Python type (objects are passed "
                     "only as the instance, self)")


def return_annotation(r: ReturnType, owner: str | None = None) -> str:
    """The annotation of a result of logical type ``r``; a handle is an object of the class
    ``owner`` (the class of the method returning it)."""
    if r.kind == "unit":
        return "None"
    if r.kind == "scalar":
        assert r.name is not None
        return _scalar(r.name, result=True)
    if r.kind == "handle":
        return owner or "Any"
    if r.kind == "str" or r.name == "bytes":
        return str(r.name)
    assert r.elem is not None
    return f"NDArray[{_dtype(r.elem)}]"
