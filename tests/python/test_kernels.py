"""The skeleton kernels on every backend, against outside oracles and each other."""

from __future__ import annotations

import array
import inspect
import math
from fractions import Fraction

import numpy as np
import pytest
import wasmcore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def fib_oracle(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def partitions_oracle(cards: list[int], subtotal: int) -> int:
    """The classic ctypes example's reference, verbatim from KERNELS.md."""
    cards = list(cards)

    def rec(subtotal: int) -> int:
        result = 0
        for i in range(10):
            if cards[i] > 0:
                total = subtotal + i + 1
                if total < 21:
                    result += 1
                    cards[i] -= 1
                    result += rec(total)
                    cards[i] += 1
                elif total == 21:
                    result += 1
        return result

    return rec(subtotal)


# ---- fib -------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 20, 25])
def test_fib_matches_iterative_oracle(core: wasmcore.Core, n: int) -> None:
    assert core.fib(n) == fib_oracle(n)


def test_fib_returns_python_int(core: wasmcore.Core) -> None:
    assert type(core.fib(10)) is int


def test_fib_accepts_index_types(core: wasmcore.Core) -> None:
    assert core.fib(np.int64(12)) == 144
    assert core.fib(np.uint8(7)) == 13


@pytest.mark.parametrize(("arg", "exc", "text"), [
    (94, ValueError, "fib(): parameter 'n' must be <= 93, got 94"),
    (-1, ValueError, "fib(): parameter 'n' must be >= 0, got -1"),
    (2**32, ValueError, "fib(): parameter 'n' must be <= 4294967295, got 4294967296"),
    (2**70, ValueError, "fib(): parameter 'n' must be <= 4294967295"),
    (1.0, TypeError, "fib(): parameter 'n' must be an int, got float"),
    ("3", TypeError, "fib(): parameter 'n' must be an int, got str"),
    (None, TypeError, "fib(): parameter 'n' must be an int, got NoneType"),
])
def test_fib_argument_errors(core: wasmcore.Core, arg: object, exc: type, text: str) -> None:
    with pytest.raises(exc) as e:
        core.fib(arg)
    assert str(e.value).startswith(text)


def test_wrong_arity_is_type_error(core: wasmcore.Core) -> None:
    with pytest.raises(TypeError):
        core.fib()
    with pytest.raises(TypeError):
        core.fib(1, 2)
    assert core.fib(n=5) == 5


# ---- partitions --------------------------------------------------------------------------

@SETTINGS
@given(cards=st.lists(st.integers(0, 3), min_size=10, max_size=10),
       subtotal=st.integers(4, 21))
def test_partitions_matches_reference(core: wasmcore.Core, cards: list[int],
                                      subtotal: int) -> None:
    assert core.partitions(cards, subtotal) == partitions_oracle(cards, subtotal)


def test_partitions_classic_deck(core: wasmcore.Core) -> None:
    deck = [4] * 9 + [16]
    assert core.partitions(deck, 0) == partitions_oracle(deck, 0)


def test_partitions_leaves_cards_unchanged(core: wasmcore.Core) -> None:
    cards = np.array([2] * 10, dtype=np.uint32)
    lst = [2] * 10
    core.partitions(cards, 10)
    core.partitions(lst, 10)
    assert cards.tolist() == [2] * 10 and lst == [2] * 10


def test_partitions_converts_other_dtypes(core: wasmcore.Core) -> None:
    deck = [1, 2, 0, 1, 3, 0, 1, 1, 0, 2]
    want = partitions_oracle(deck, 5)
    assert core.partitions(np.array(deck, dtype=np.int64), 5) == want
    assert core.partitions(array.array("H", deck), 5) == want
    assert core.partitions(np.repeat(np.array(deck, dtype=np.uint32), 2)[::2], 5) == want


@pytest.mark.parametrize(("cards", "subtotal", "exc", "text"), [
    ([1] * 9, 0, ValueError, "partitions(): parameter 'cards' must hold 10 counts, got 9"),
    ([1] * 11, 0, ValueError, "partitions(): parameter 'cards' must hold 10 counts, got 11"),
    ([1] * 10, 22, ValueError, "partitions(): parameter 'subtotal' must be <= 21, got 22"),
    ([1] * 10, -1, ValueError, "partitions(): parameter 'subtotal' must be >= 0, got -1"),
    ("abcdefghij", 0, TypeError, "partitions(): parameter 'cards' must be a 1-D array"),
    ([[1] * 10], 0, ValueError, "partitions(): parameter 'cards' must be 1-D, got a 2-D"),
    ([1] * 10, 1.5, TypeError, "partitions(): parameter 'subtotal' must be an int"),
])
def test_partitions_argument_errors(core: wasmcore.Core, cards: object, subtotal: object,
                                    exc: type, text: str) -> None:
    with pytest.raises(exc) as e:
        core.partitions(cards, subtotal)
    assert str(e.value).startswith(text)


# ---- sum ---------------------------------------------------------------------------------

DBL_MAX = np.finfo(np.float64).max


def _exact(xs: list[float]) -> Fraction:
    return sum((Fraction(v) for v in xs), Fraction(0))


def _check_sum(got: float, x: np.ndarray) -> None:
    """KERNELS.md: abs err <= 1e-13 * sum(abs(x)) vs math.fsum, NaN and inf as IEEE says."""
    xs = x.tolist()
    infs = {v for v in xs if math.isinf(v)}
    if any(math.isnan(v) for v in xs) or len(infs) == 2:
        assert math.isnan(got), got
        return
    if infs:
        assert got == infs.pop(), got
        return
    abs_sum = _exact([abs(v) for v in xs])
    if abs_sum > DBL_MAX:  # the bound itself is not representable: nothing to compare
        assert isinstance(got, float)
        return
    try:
        want = Fraction(math.fsum(xs))
    except OverflowError:  # fsum's intermediate overflow; the exact sum is finite here
        want = _exact(xs)
    assert abs(Fraction(got) - want) <= Fraction(1e-13) * abs_sum, (got, float(want))


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
magnitudes = st.sampled_from([1.0, 1e-300, 1e-10, 1e10, 1e300])


@SETTINGS
@given(xs=st.lists(finite, max_size=3000))
def test_sum_matches_fsum(core: wasmcore.Core, xs: list[float]) -> None:
    x = np.array(xs, dtype=np.float64)
    _check_sum(core.sum(x), x)


@SETTINGS
@given(n=st.integers(0, 20000), scale=magnitudes, seed=st.integers(0, 2**32 - 1))
def test_sum_random_arrays(core: wasmcore.Core, n: int, scale: float, seed: int) -> None:
    x = np.random.default_rng(seed).standard_normal(n) * scale
    _check_sum(core.sum(x), x)


@pytest.mark.parametrize("x", [
    [], [0.0], [-0.0], [1.0, -1.0], [math.nan], [1.0, math.inf], [math.inf, -math.inf],
    [-math.inf, 2.0], [1e300, 1e300, -1e300], [1e308, 1e308], [5e-324] * 100,
    [1e16] + [1.0] * 5000 + [-1e16],
])
def test_sum_edge_cases(core: wasmcore.Core, x: list[float]) -> None:
    _check_sum(core.sum(x), np.array(x, dtype=np.float64))


def test_sum_empty_is_zero(core: wasmcore.Core) -> None:
    assert core.sum([]) == 0.0
    assert type(core.sum([])) is float


def test_sum_accepts_every_input_kind(core: wasmcore.Core) -> None:
    base = np.arange(1, 101, dtype=np.float64)
    want = 5050.0
    inputs = [base, base.tolist(), tuple(base), array.array("d", base), memoryview(base),
              base.astype(np.float32), base.astype(np.int32), np.repeat(base, 2)[::2],
              range(1, 101), np.asfortranarray(base.reshape(10, 10)).T.ravel(order="K")]
    ro = base.copy()
    ro.flags.writeable = False
    inputs.append(ro)
    unaligned = np.frombuffer(b"\0" + base.tobytes(), dtype=np.float64, offset=1)
    inputs.append(unaligned)
    for x in inputs:
        assert core.sum(x) == want, type(x)


@pytest.mark.parametrize(("arg", "exc"), [
    ("1234", TypeError), (b"1234", TypeError), (None, TypeError), (np.str_("1"), TypeError),
    (["a", "b"], TypeError), ([1 + 2j], TypeError), ({1.0: 2}, TypeError),
    (np.zeros((2, 2)), ValueError), ([[1.0], [2.0]], ValueError),
])
def test_sum_argument_errors(core: wasmcore.Core, arg: object, exc: type) -> None:
    with pytest.raises(exc, match=r"^sum\(\): parameter 'x'"):
        core.sum(arg)


def test_a_number_is_an_array_of_one(core: wasmcore.Core) -> None:
    # like numpy.sum(2.5): a scalar where a 1-D array is expected is a 1-element array
    assert core.sum(2.5) == 2.5
    assert core.sum(np.float32(1.5)) == 1.5
    assert core.sum(3) == 3.0


def test_sum_does_not_modify_input(core: wasmcore.Core) -> None:
    x = np.random.default_rng(1).standard_normal(5000)
    before = x.copy()
    core.sum(x)
    assert np.array_equal(x, before)


# ---- the backends against each other ------------------------------------------------------

@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 50000))
def test_sum_bit_identical_across_backends(cores: dict[str, wasmcore.Core], seed: int,
                                           n: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) * rng.choice([1e-200, 1.0, 1e200], size=n)
    results = {b: c.sum(x) for b, c in cores.items()}
    bits = {b: np.float64(v).view(np.uint64) for b, v in results.items()}
    assert len(set(bits.values())) == 1, results


def test_sum_large_input(cores: dict[str, wasmcore.Core]) -> None:
    x = np.random.default_rng(7).random(3_000_000)
    want = math.fsum(x.tolist())
    for b in ("wasm", "native"):
        assert abs(cores[b].sum(x) - want) <= 1e-13 * want


def test_error_messages_identical_across_backends(cores: dict[str, wasmcore.Core]) -> None:
    calls = [("fib", (94,)), ("fib", (-5,)), ("fib", ("x",)), ("partitions", ([1] * 3, 0)),
             ("partitions", ([1] * 10, 30)), ("sum", ("s",)), ("sum", ([[1.0]],))]
    for name, args in calls:
        seen = set()
        for c in cores.values():
            with pytest.raises((TypeError, ValueError)) as e:
                getattr(c, name)(*args)
            seen.add((type(e.value), str(e.value)))
        assert len(seen) == 1, seen


# ---- callables look like Python functions ------------------------------------------------

def test_callables_have_names_docs_and_signatures(core: wasmcore.Core) -> None:
    assert set(core.functions) >= {"fib", "partitions", "sum"}
    assert core.fib.__name__ == "fib"
    assert "Fibonacci" in (core.fib.__doc__ or "")
    assert "blackjack" in (core.partitions.__doc__ or "")
    sig = inspect.signature(core.partitions)
    assert list(sig.parameters) == ["cards", "subtotal"]
    # the annotations of the .pyi stubs (wasmcore.build.stubs), as strings
    assert sig.parameters["subtotal"].annotation == "SupportsIndex"
    assert inspect.signature(core.fib).return_annotation == "int"
    assert inspect.signature(core.sum).return_annotation == "float"
    assert "fib" in dir(core)


def test_unknown_backend() -> None:
    with pytest.raises(ValueError, match="backend"):
        wasmcore.load("gpu")  # type: ignore[arg-type]
