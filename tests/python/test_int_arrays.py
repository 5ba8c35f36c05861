"""Integer-array parameters (``i64[]``, ``u32[]``, ``u8[]``, as buffers or matrices, ``in`` or
``inout``) take only integers in the element type's range, on every backend (issue 15).

The rule (docs/arguments.md): a non-integer element (a float with a fractional part, NaN, an
infinity, an object without ``__index__``) is a TypeError, an integer out of range a
ValueError; type errors come first, and the message names the function, the parameter and the
first offending index and value. Whole-valued floats, bools, numpy integers of any dtype and
objects with ``__index__`` are accepted when in range, and convert without changing a value.

The expected errors and values come from exact Python arithmetic on the elements the argument
actually holds (``tolist()`` of an array), and the ranges from ``numpy.iinfo``; the results of
valid calls from each kernel's own oracle (KERNELS.md's reference for ``partitions``).
"""

from __future__ import annotations

import array
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pytest
import wasmcore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_kernels import partitions_oracle
from wasmcore._abi.convert import DTYPES, build
from wasmcore._abi.manifest import (
    ELEMS,
    FunctionSpec,
    Param,
    ParamType,
    ReturnType,
    export_specs,
)

SETTINGS = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

INT_ELEMS = [e for e in ELEMS if DTYPES[e].kind in "iu"]


def int_range(elem: str) -> tuple[int, int]:
    info = np.iinfo(DTYPES[elem])
    return int(info.min), int(info.max)


def is_int_array(t: ParamType) -> bool:
    return t.kind in ("buffer", "matrix") and t.elem in INT_ELEMS


# ---- what the core's manifest has, and how to call each with valid arguments -----------------

@dataclass(frozen=True)
class Case:
    """Valid keyword arguments of one export (integer arrays as lists of Python ints) and the
    oracle of its result."""

    args: st.SearchStrategy[dict[str, Any]]
    oracle: Callable[[dict[str, Any]], Any]


CASES: dict[str, Case] = {
    "partitions": Case(
        st.fixed_dictionaries({"cards": st.lists(st.integers(0, 3), min_size=10, max_size=10),
                               "subtotal": st.integers(4, 21)}),
        lambda kw: partitions_oracle(kw["cards"], kw["subtotal"])),
}

_CORE_MANIFEST = wasmcore.load("python").manifest
INT_PARAMS = [(spec.label, p) for spec in export_specs(_CORE_MANIFEST).values()
              for p in spec.params if is_int_array(p.type)]


def test_every_integer_array_parameter_has_a_case() -> None:
    """The tests below iterate the manifest; each export they find needs valid arguments and
    an oracle here (a new kernel with an integer array must add its own)."""
    assert INT_PARAMS, "the core describes no integer-array parameter: nothing is tested"
    assert {label for label, _ in INT_PARAMS} <= CASES.keys()


def call(core: wasmcore.Core, label: str, kwargs: dict[str, Any]) -> Any:
    return getattr(core, label)(**kwargs)


def call_with(core: wasmcore.Core, label: str, kwargs: dict[str, Any], param: str,
              arg: Any) -> Any:
    """The export called with ``kwargs``, ``param`` set to ``arg``."""
    return call(core, label, {**kwargs, param: arg})


# ---- building arguments: the values, the container, what the container holds ---------------

CONTAINERS = ["list", "tuple", "int64", "uint64", "object", "float64", "float32", "strided",
              "array.array"]


def contain(values: list[Any], how: str, shape: tuple[int, ...]) -> tuple[Any, list[Any]]:
    """``values`` (Python ints and floats, C order) in a container of kind ``how`` (which falls
    back to a list when it cannot hold them all), and the elements it then holds, as Python
    numbers in C order."""
    ints = all(isinstance(v, int) for v in values)
    if how == "int64" and ints and all(-2**63 <= v < 2**63 for v in values):
        a = np.array(values, dtype=np.int64).reshape(shape)
    elif how == "uint64" and ints and all(0 <= v < 2**64 for v in values):
        a = np.array(values, dtype=np.uint64).reshape(shape)
    elif how == "object":
        a = np.empty(len(values), dtype=object)
        a[:] = values
        a = a.reshape(shape)
    elif how in ("float64", "float32") and all(abs(v) < 2**100 or math.isnan(v) for v in values):
        a = np.array([float(v) for v in values], dtype=how).reshape(shape)
    elif how == "strided" and ints and all(-2**63 <= v < 2**63 for v in values):
        a = np.repeat(np.array(values, dtype=np.int64), 2)[::2].reshape(shape)
    elif how == "array.array" and len(shape) == 1 and ints and all(-2**63 <= v < 2**63
                                                                     for v in values):
        return array.array("q", values), list(values)
    else:
        nested: Any = list(values)
        if len(shape) == 2:
            nested = [nested[r * shape[1]:(r + 1) * shape[1]] for r in range(shape[0])]
        return (tuple(nested) if how == "tuple" else nested), list(values)
    return a, np.ravel(a).tolist()


def expected_error(label: str, param: str, elem: str, held: list[Any],
                   shape: tuple[int, ...]) -> tuple[type, str] | None:
    """The error the rule gives for these elements, or None when they are all valid."""
    lo, hi = int_range(elem)
    where = list(np.ndindex(shape))

    def at(i: int) -> str:
        return str(where[i][0]) if len(shape) == 1 else str(where[i])

    def text(x: Any) -> str:
        return repr(x) if isinstance(x, float) else str(x)

    for i, x in enumerate(held):
        if isinstance(x, float) and not (math.isfinite(x) and x == math.floor(x)):
            return TypeError, (f"{label}(): parameter '{param}' must hold integers, "
                               f"got {text(x)} at index {at(i)}")
    for i, x in enumerate(held):
        if not lo <= x <= hi:
            need = f">= {lo}" if x < lo else f"<= {hi}"
            return ValueError, (f"{label}(): parameter '{param}' must hold integers {need}, "
                                f"got {text(x)} at index {at(i)}")
    return None


def bad_values(elem: str) -> st.SearchStrategy[Any]:
    """Elements that break the rule: out of range (below, above, far beyond 64 bits) or not
    integers (fractions of any size, NaN, infinities)."""
    lo, hi = int_range(elem)
    out_of_range = st.integers(hi + 1, 2**80) | st.integers(-(2**80), lo - 1)
    fractions = st.floats(allow_nan=False, allow_infinity=False).filter(
        lambda f: not f.is_integer())
    return st.one_of(out_of_range, st.sampled_from([lo - 1, hi + 1]), fractions,
                     st.sampled_from([math.nan, math.inf, -math.inf, 0.5, -0.5, hi + 0.5]))


@st.composite
def spoiled(draw: st.DrawFn, valid: list[int], elem: str) -> list[Any]:
    """``valid`` with 1 to 3 elements at random positions replaced by bad ones."""
    values: list[Any] = list(valid)
    for i in draw(st.lists(st.integers(0, len(values) - 1), min_size=1, max_size=3,
                           unique=True)):
        values[i] = draw(bad_values(elem))
    return values


def check_call(f: Callable[[Any], Any], label: str, param: str, elem: str, arg: Any,
               held: list[Any], shape: tuple[int, ...]) -> Any:
    """``f(arg)`` raises the error the rule gives for the elements ``arg`` holds, or, when
    they are all valid (-2**63 - 1 rounded to -2**63 in a float array is), returns."""
    want = expected_error(label, param, elem, held, shape)
    if want is None:
        return f(arg)
    exc, text = want
    with pytest.raises(exc) as e:
        f(arg)
    assert type(e.value) is exc and str(e.value) == text, (arg, held)
    return None


# ---- the core's integer-array parameters, on every backend ------------------------------------

@pytest.mark.parametrize(("label", "param"), INT_PARAMS,
                         ids=[f"{label}-{p.name}" for label, p in INT_PARAMS])
@SETTINGS
@given(data=st.data())
def test_core_refuses_bad_elements(cores: dict[str, wasmcore.Core], label: str, param: Param,
                                   data: st.DataObject) -> None:
    kwargs = data.draw(CASES[label].args)
    elem = str(param.type.elem)
    if param.type.inout:  # only the exact dtype is taken, so it can hold nothing else
        for core in cores.values():
            with pytest.raises(TypeError, match=f"parameter '{param.name}' is written in place"):
                call(core, label, {**kwargs, param.name: np.asarray(kwargs[param.name], "f8")})
        return
    shape = np.shape(kwargs[param.name])
    values = data.draw(spoiled(list(np.ravel(kwargs[param.name]).tolist()), elem))
    arg, held = contain(values, data.draw(st.sampled_from(CONTAINERS)), shape)
    for backend, core in cores.items():
        try:
            check_call(partial(call_with, core, label, kwargs, param.name), label,
                       param.name, elem, arg, held, shape)
        except AssertionError as e:
            raise AssertionError(backend) from e


class Index:
    """Not an int, but has ``__index__`` (as numpy integers and many library types do)."""

    def __init__(self, v: int) -> None:
        self.v = v

    def __index__(self) -> int:
        return self.v


@st.composite
def equal_forms(draw: st.DrawFn, valid: list[int]) -> list[Any]:
    """``valid`` with random elements in other forms of the same integer: a whole float, a
    bool, a numpy integer, an object with ``__index__``."""
    out: list[Any] = []
    for v in valid:
        form = draw(st.sampled_from(["int", "float", "np", "index", "bool"]))
        if form == "float":
            out.append(float(v))
        elif form == "np":
            out.append(np.int64(v))
        elif form == "index":
            out.append(Index(v))
        elif form == "bool" and v in (0, 1):
            out.append(bool(v))
        else:
            out.append(v)
    return out


@pytest.mark.parametrize(("label", "param"), INT_PARAMS,
                         ids=[f"{label}-{p.name}" for label, p in INT_PARAMS])
@SETTINGS
@given(data=st.data())
def test_core_valid_arguments_in_any_form_match_the_oracle(
        cores: dict[str, wasmcore.Core], label: str, param: Param, data: st.DataObject) -> None:
    kwargs = data.draw(CASES[label].args)
    want = CASES[label].oracle(kwargs)
    valid = kwargs[param.name]
    forms: list[Any] = [valid, data.draw(equal_forms(valid))]
    for how in CONTAINERS:
        forms.append(contain(valid, how, np.shape(valid))[0])
    forms += [np.array(valid, dtype=dt) for dt in (np.uint8, np.int8, np.uint16, np.bool_)
              if np.array_equal(np.array(valid, dtype=np.int64).astype(dt), valid)]
    if param.type.inout:
        forms = [np.array(valid, dtype=DTYPES[str(param.type.elem)])]
    for backend, core in cores.items():
        for arg in forms:
            assert call(core, label, {**kwargs, param.name: arg}) == want, (backend, arg)


def test_issue_15_examples(cores: dict[str, wasmcore.Core]) -> None:
    for backend, core in cores.items():
        with pytest.raises(ValueError) as e:
            core.partitions([1] * 9 + [-1], 3)
        assert str(e.value) == ("partitions(): parameter 'cards' must hold integers >= 0, "
                                "got -1 at index 9"), backend
        with pytest.raises(TypeError) as t:
            core.partitions([1.5] * 10, 3)
        assert str(t.value) == ("partitions(): parameter 'cards' must hold integers, "
                                "got 1.5 at index 0"), backend
        assert core.partitions([1.0] * 10, 3) == partitions_oracle([1] * 10, 3), backend


# ---- every integer element type the manifest can describe, as buffer, matrix and inout ------
# Callables generated from hand-made specs by the same code generator every backend uses,
# returning the converted argument.

def passthrough(label: str, ptype: str) -> Callable[[Any], np.ndarray]:
    spec = FunctionSpec(label, "", (Param("x", ParamType.parse(ptype)),),
                        ReturnType.parse(None), False)
    fn: Callable[[Any], np.ndarray] = build(spec, ["return x"], {})[0]
    return fn


KINDS = [(elem, kind) for elem in INT_ELEMS for kind in ("buffer", "matrix")]


@pytest.mark.parametrize(("elem", "kind"), KINDS, ids=[f"{e}-{k}" for e, k in KINDS])
@SETTINGS
@given(data=st.data())
def test_every_integer_element_type_refuses_bad_elements(elem: str, kind: str,
                                                         data: st.DataObject) -> None:
    lo, hi = int_range(elem)
    shape = (data.draw(st.integers(1, 12)),) if kind == "buffer" else \
        (data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)))
    n = math.prod(shape)
    edges = st.sampled_from([lo, hi, 0, lo + 1, hi - 1])
    valid = data.draw(st.lists(st.integers(lo, hi) | edges, min_size=n, max_size=n))
    label = f"take_{elem}"
    f = passthrough(label, f"{elem}[]" if kind == "buffer" else f"{elem}[,]")
    values = data.draw(spoiled(valid, elem))
    arg, held = contain(values, data.draw(st.sampled_from(CONTAINERS)), shape)
    check_call(f, label, "x", elem, arg, held, shape)
    # the valid elements in any container convert to exactly the values it holds (a float
    # array may have rounded some, even out of range)
    arg, held = contain(valid, data.draw(st.sampled_from(CONTAINERS)), shape)
    got = check_call(f, label, "x", elem, arg, held, shape)
    if got is not None:
        assert got.dtype == DTYPES[elem] and got.shape == shape and got.flags.c_contiguous
        assert np.ravel(got).tolist() == held


@pytest.mark.parametrize("elem", INT_ELEMS)
def test_exact_dtype_is_passed_as_it_is(elem: str) -> None:
    f = passthrough("take", f"{elem}[]")
    a = np.arange(5, dtype=DTYPES[elem])
    assert f(a) is a
    m = passthrough("take", f"{elem}[,]")
    b = np.arange(6, dtype=DTYPES[elem]).reshape(2, 3)
    assert m(b) is b


@pytest.mark.parametrize("elem", INT_ELEMS)
def test_inout_takes_only_the_exact_dtype(elem: str) -> None:
    f = passthrough("take", f"inout {elem}[]")
    a = np.arange(5, dtype=DTYPES[elem])
    assert f(a) is a
    for other in ([0, 1, 2], np.arange(3, dtype=np.float64), np.arange(3, dtype=np.int16),
                  np.arange(6, dtype=DTYPES[elem])[::2]):
        with pytest.raises(TypeError, match=r"^take\(\): parameter 'x' is written in place"):
            f(other)


HOLD = "take(): parameter 'x' must hold integers"


I64_EDGES: list[tuple[object, type, str]] = [
    ([2**63 + 5, 1.0], ValueError,
     f"{HOLD} <= 9223372036854775807, got 9223372036854775813 at index 0"),
    ([1.0, -(2**63) - 1], ValueError,
     f"{HOLD} >= -9223372036854775808, got -9223372036854775809 at index 1"),
    ([1, 2**70, 0.5], TypeError, f"{HOLD}, got 0.5 at index 2"),  # type errors first
    ([1, None], TypeError, f"{HOLD}, got None (NoneType) at index 1"),
    ([[1, 2], [3, 4]], ValueError,
     "take(): parameter 'x' must be 1-D, got a 2-D array of shape (2, 2)"),
    (np.array([0.0, np.nan]), TypeError, f"{HOLD}, got nan at index 1"),
    (np.array([-np.inf]), TypeError, f"{HOLD}, got -inf at index 0"),
    (np.array([2.0**63]), ValueError,
     f"{HOLD} <= 9223372036854775807, got 9.223372036854776e+18 at index 0"),
]


@pytest.mark.parametrize(("value", "exc", "text"), I64_EDGES,
                         ids=[str(i) for i in range(len(I64_EDGES))])
def test_i64_edge_cases(value: object, exc: type, text: str) -> None:
    f = passthrough("take", "i64[]")
    with pytest.raises(exc) as e:
        f(value)
    assert type(e.value) is exc and str(e.value) == text


@pytest.mark.parametrize("value", [[1, "2"], [1, 2 + 0j], np.array([1, 2], dtype=np.complex128),
                                   "12", b"12", None])
def test_non_numbers_are_type_errors(value: object) -> None:
    with pytest.raises(TypeError, match=r"^take\(\): parameter 'x' must be a 1-D array or "
                                        "sequence of numbers"):
        passthrough("take", "u32[]")(value)


def test_i64_keeps_large_ints_exact_beside_floats() -> None:
    """numpy alone would make [2**60 + 1, 1.0] a float64 array and round 2**60 + 1."""
    f = passthrough("take", "i64[]")
    assert f([2**60 + 1, 1.0, Index(-5), True]).tolist() == [2**60 + 1, 1, -5, 1]
    assert f((np.uint64(2**63 - 1), -1)).tolist() == [2**63 - 1, -1]


def test_bools_and_zero_sizes() -> None:
    f = passthrough("take", "u8[]")
    assert f(np.array([True, False])).tolist() == [1, 0]
    assert f([]).tolist() == [] and f(np.array([], dtype=np.int64)).dtype == np.uint8
    assert f(np.array([], dtype=np.float64)).tolist() == []
    assert f(np.float64(3.0)).tolist() == [3]  # a single number is an array of one
    assert f(-0.0).tolist() == [0]


def test_index_objects_are_checked_by_their_value() -> None:
    f = passthrough("take", "u32[]")
    assert f([Index(7), Index(0), np.uint64(9)]).tolist() == [7, 0, 9]
    with pytest.raises(ValueError) as e:
        f([Index(1), Index(-3), Index(2**40)])
    assert str(e.value) == "take(): parameter 'x' must hold integers >= 0, got -3 at index 1"
