"""Every error of the kernel library on every backend: the kernel-raised errors of SPEC.md with
their exact messages, argument conversion errors naming the function and the parameter, and the
same exception type and text on the three backends."""

from __future__ import annotations

import base64
import binascii
import itertools
import math
import re

import numpy as np
import pytest
import wasmcore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

NAN, INF = math.nan, math.inf

ONE_ARRAY = ["mean", "var", "std", "min", "max", "argmin", "argmax", "median"]

# (function, args, kwargs, the exact message of SPEC.md)
KERNEL_ERRORS: list[tuple[str, tuple[object, ...], dict[str, object], str]] = [
    *[(f, ([],), {}, f"{f}(): parameter 'x' must not be empty") for f in ONE_ARRAY],
    *[(f, (np.array([]),), {}, f"{f}(): parameter 'x' must not be empty") for f in ONE_ARRAY],
    ("quantile", ([], 0.5), {}, "quantile(): parameter 'x' must not be empty"),
    ("var", ([],), {"ddof": 1}, "var(): parameter 'x' must not be empty"),
    ("std", ([],), {"ddof": 3}, "std(): parameter 'x' must not be empty"),
    ("var", ([1.0, 2.0],), {"ddof": 2},
     "var(): parameter 'ddof' must be less than the length of 'x' (2), got 2"),
    ("var", ([1.0],), {"ddof": 1},
     "var(): parameter 'ddof' must be less than the length of 'x' (1), got 1"),
    ("var", ([1.0] * 5, 7), {},
     "var(): parameter 'ddof' must be less than the length of 'x' (5), got 7"),
    ("var", ([1.0] * 3,), {"ddof": 2**32 - 1},
     "var(): parameter 'ddof' must be less than the length of 'x' (3), got 4294967295"),
    ("std", ([1.0],), {"ddof": 1},
     "std(): parameter 'ddof' must be less than the length of 'x' (1), got 1"),
    ("std", (np.ones(1025),), {"ddof": 1025},
     "std(): parameter 'ddof' must be less than the length of 'x' (1025), got 1025"),
    *[("quantile", ([1.0, 2.0], q), {}, "quantile(): parameter 'q' must be between 0 and 1")
      for q in (-0.1, 1.5, NAN, INF, -INF, math.nextafter(1.0, 2.0), -5e-324, 2, -1)],
    ("histogram", ([1.0], 0, 0.0, 1.0), {}, "histogram(): parameter 'bins' must be >= 1, got 0"),
    ("histogram", ([1.0], 0, NAN, NAN), {}, "histogram(): parameter 'bins' must be >= 1, got 0"),
    ("histogram", ([], 0, 2.0, 1.0), {}, "histogram(): parameter 'bins' must be >= 1, got 0"),
    *[("histogram", ([1.0], 3, lo, 1.0), {}, "histogram(): parameter 'lo' must be finite")
      for lo in (NAN, INF, -INF)],
    ("histogram", ([1.0], 3, NAN, NAN), {}, "histogram(): parameter 'lo' must be finite"),
    ("histogram", ([1.0], 3, INF, -INF), {}, "histogram(): parameter 'lo' must be finite"),
    *[("histogram", ([1.0], 3, 0.0, hi), {}, "histogram(): parameter 'hi' must be finite")
      for hi in (NAN, INF, -INF)],
    *[("histogram", (x, 3, lo, hi), {}, "histogram(): parameter 'hi' must be greater than 'lo'")
      for x, lo, hi in (([1.0], 1.0, 1.0), ([1.0], 2.0, 1.0), ([], 2.0, 1.0),
                        ([1.0], 0.0, -0.0), ([1.0], 1e300, -1e300))],
    ("dot", ([1.0, 2.0, 3.0], [1.0, 2.0]), {},
     "dot(): parameter 'y' must have the same length as 'x' (3), got 2"),
    ("dot", ([], [1.0]), {}, "dot(): parameter 'y' must have the same length as 'x' (0), got 1"),
    ("dot", (np.ones(1024), np.ones(1025)), {},
     "dot(): parameter 'y' must have the same length as 'x' (1024), got 1025"),
    ("matmul", (np.ones((2, 3)), np.ones((2, 2))), {},
     "matmul(): parameter 'b' must have 3 rows (the columns of 'a'), got 2"),
    ("matmul", (np.ones((2, 0)), np.ones((1, 2))), {},
     "matmul(): parameter 'b' must have 0 rows (the columns of 'a'), got 1"),
    ("matmul", (np.ones((4, 5)).T, np.ones((5, 4))), {},
     "matmul(): parameter 'b' must have 4 rows (the columns of 'a'), got 5"),
    ("matmul", ([[1.0, 2.0]], [[1.0, 2.0]]), {},
     "matmul(): parameter 'b' must have 2 rows (the columns of 'a'), got 1"),
    ("convolve", ([], [1.0]), {}, "convolve(): parameter 'x' must not be empty"),
    ("convolve", ([1.0], []), {}, "convolve(): parameter 'k' must not be empty"),
    ("convolve", ([], []), {}, "convolve(): parameter 'x' must not be empty"),
    *[("count_primes", (n,), {}, f"count_primes(): parameter 'n' must be <= 2147483648, got {n}")
      for n in (2**31 + 1, 2**32, 2**63, 2**64 - 1)],
    ("mandelbrot", (65536, 4097, -2.0, -1.0, 1.0, 1.0, 10), {},
     "mandelbrot(): parameter 'height' must keep width*height <= 268435456, got 65536*4097"),
    ("mandelbrot", (16385, 16384, -2.0, -1.0, 1.0, 1.0, 10), {},
     "mandelbrot(): parameter 'height' must keep width*height <= 268435456, got 16385*16384"),
    ("mandelbrot", (2**32 - 1, 2**32 - 1, 0.0, 0.0, 1.0, 1.0, 1), {},
     ("mandelbrot(): parameter 'height' must keep width*height <= 268435456, "
     "got 4294967295*4294967295")),
    ("mandelbrot", (2**32 - 1, 2, 0.0, 0.0, 1.0, 1.0, 1), {},
     "mandelbrot(): parameter 'height' must keep width*height <= 268435456, got 4294967295*2"),
    ("mandelbrot", (65536, 65536, 0.0, 0.0, 1.0, 1.0, 1), {},  # the product wraps in u32
     "mandelbrot(): parameter 'height' must keep width*height <= 268435456, got 65536*65536"),
    ("base64_decode", (b"AB=C",), {},
     "base64_decode(): parameter 'data' is not valid base64: invalid character at offset 2"),
    ("base64_decode", (b"QUJD\n",), {},
     "base64_decode(): parameter 'data' is not valid base64: invalid character at offset 4"),
    ("base64_decode", (b"A===",), {},
     ("base64_decode(): parameter 'data' is not valid base64: 1 data characters is 1 more than "
      "a multiple of 4")),
    ("base64_decode", (b"A=A=",), {},
     "base64_decode(): parameter 'data' is not valid base64: invalid character at offset 1"),
    ("base64_decode", (b"=",), {},
     "base64_decode(): parameter 'data' is not valid base64: incorrect padding"),
    ("base64_decode", (b"QUJD=",), {},
     "base64_decode(): parameter 'data' is not valid base64: incorrect padding"),
    ("base64_decode", (b"QUI==",), {},
     "base64_decode(): parameter 'data' is not valid base64: incorrect padding"),
    ("base64_decode", (b"QQ===",), {},
     "base64_decode(): parameter 'data' is not valid base64: incorrect padding"),
    ("base64_decode", (b"\xffAAA",), {},
     "base64_decode(): parameter 'data' is not valid base64: invalid character at offset 0"),
    ("base64_decode", (b"QUJDR",), {},
     ("base64_decode(): parameter 'data' is not valid base64: 5 data characters is 1 more than "
     "a multiple of 4")),
    ("base64_decode", (b"Q==",), {},
     ("base64_decode(): parameter 'data' is not valid base64: 1 data characters is 1 more than "
     "a multiple of 4")),
    ("base64_decode", (b"QQ",), {},
     "base64_decode(): parameter 'data' is not valid base64: incorrect padding"),
    ("base64_decode", (b"QQ=",), {},
     "base64_decode(): parameter 'data' is not valid base64: incorrect padding"),
    ("base64_decode", (b"QUI",), {},
     "base64_decode(): parameter 'data' is not valid base64: incorrect padding"),
]


def _id(case: tuple[str, tuple[object, ...], dict[str, object], str]) -> str:
    return case[3].split("(): ", 1)[0] + ":" + case[3].split("parameter ", 1)[-1][:40]


@pytest.mark.parametrize("case", KERNEL_ERRORS, ids=[_id(c) for c in KERNEL_ERRORS])
def test_kernel_error_messages(cores: dict[str, wasmcore.Core],
                               case: tuple[str, tuple[object, ...], dict[str, object],
                                           str]) -> None:
    name, args, kwargs, text = case
    for backend, core in cores.items():
        with pytest.raises(ValueError) as e:
            getattr(core, name)(*args, **kwargs)
        assert type(e.value) is ValueError, backend
        assert str(e.value) == text, backend


def test_axpy_length_mismatch_message_and_y_untouched(cores: dict[str, wasmcore.Core]) -> None:
    for core in cores.values():
        for nx, ny in ((2, 3), (3, 2), (0, 5), (1024, 1025)):
            y = np.arange(ny, dtype=np.float64)
            with pytest.raises(ValueError) as e:
                core.axpy(2.0, np.ones(nx), y)
            assert str(e.value) == \
                f"axpy(): parameter 'y' must have the same length as 'x' ({nx}), got {ny}"
            assert np.array_equal(y, np.arange(ny, dtype=np.float64))


# ---- argument conversion errors: TypeError / ValueError naming the function and parameter --

WRONG_ARGS: list[tuple[str, tuple[object, ...], dict[str, object], type, str]] = [
    # wrong kinds of object for float64 buffers
    *[(f, (bad,), {}, TypeError, "x") for f in ONE_ARRAY + ["cumsum", "sort", "argsort", "norm",
                                                            "gamma", "lgamma", "erf"]
      for bad in ("1234", b"1234", None, np.str_("1"), {1.0: 2.0}, ["a", "b"], [1 + 2j])],
    # 2-D where 1-D is expected
    *[(f, (np.zeros((2, 2)),), {}, ValueError, "x") for f in ONE_ARRAY + ["cumsum", "sort"]],
    ("mean", ([[1.0], [2.0]],), {}, ValueError, "x"),
    ("quantile", ([1.0], "0.5"), {}, TypeError, "q"),
    ("quantile", ([1.0], None), {}, TypeError, "q"),
    ("quantile", ("abc", 0.5), {}, TypeError, "x"),
    ("dot", ([1.0], "a"), {}, TypeError, "y"),
    ("dot", ("a", [1.0]), {}, TypeError, "x"),
    ("dot", ([1.0], np.ones((1, 1))), {}, ValueError, "y"),
    ("convolve", ([1.0], "k"), {}, TypeError, "k"),
    ("axpy", ("a", [1.0], np.ones(1)), {}, TypeError, "a"),
    ("axpy", (1.0, "x", np.ones(1)), {}, TypeError, "x"),
    ("axpy", (1.0, [1.0], [1.0]), {}, TypeError, "y"),
    ("axpy", (1.0, [1.0], np.ones(1, dtype=np.float32)), {}, TypeError, "y"),
    ("axpy", (1.0, [1.0, 1.0], np.ones(4)[::2]), {}, TypeError, "y"),
    ("axpy", (1.0, [1.0], None), {}, TypeError, "y"),
    ("histogram", ([1.0], -1, 0.0, 1.0), {}, ValueError, "bins"),
    ("histogram", ([1.0], 2**32, 0.0, 1.0), {}, ValueError, "bins"),
    ("histogram", ([1.0], 2.0, 0.0, 1.0), {}, TypeError, "bins"),
    ("histogram", ([1.0], 2, "0", 1.0), {}, TypeError, "lo"),
    ("histogram", ([1.0], 2, 0.0, None), {}, TypeError, "hi"),
    ("var", ([1.0, 2.0],), {"ddof": -1}, ValueError, "ddof"),
    ("std", ([1.0, 2.0],), {"ddof": -1}, ValueError, "ddof"),
    ("var", ([1.0, 2.0],), {"ddof": 2**32}, ValueError, "ddof"),
    ("var", ([1.0, 2.0],), {"ddof": 0.5}, TypeError, "ddof"),
    ("count_primes", (-1,), {}, ValueError, "n"),
    ("count_primes", (-(2**70),), {}, ValueError, "n"),
    ("count_primes", (2**64,), {}, ValueError, "n"),
    ("count_primes", (10.0,), {}, TypeError, "n"),
    ("count_primes", ("10",), {}, TypeError, "n"),
    ("mandelbrot", (-1, 2, 0.0, 0.0, 1.0, 1.0, 5), {}, ValueError, "width"),
    ("mandelbrot", (2, -1, 0.0, 0.0, 1.0, 1.0, 5), {}, ValueError, "height"),
    ("mandelbrot", (2, 2, 0.0, 0.0, 1.0, 1.0, -1), {}, ValueError, "max_iter"),
    ("mandelbrot", (2, 2, 0.0, 0.0, 1.0, 1.0, 2**32), {}, ValueError, "max_iter"),
    ("mandelbrot", (2**32, 1, 0.0, 0.0, 1.0, 1.0, 5), {}, ValueError, "width"),
    ("mandelbrot", (2, 2, "a", 0.0, 1.0, 1.0, 5), {}, TypeError, "x0"),
    ("mandelbrot", (2, 2, 0.0, 0.0, 1.0, None, 5), {}, TypeError, "y1"),
    ("mandelbrot", (2.5, 2, 0.0, 0.0, 1.0, 1.0, 5), {}, TypeError, "width"),
    ("matmul", (np.ones(3), np.ones((3, 1))), {}, ValueError, "a"),
    ("matmul", (np.ones((1, 3)), np.ones(3)), {}, ValueError, "b"),
    ("matmul", (np.ones((1, 1, 1)), np.ones((1, 1))), {}, ValueError, "a"),
    ("matmul", (np.ones((1, 1)), np.ones((1, 1, 1))), {}, ValueError, "b"),
    ("matmul", ([1.0, 2.0], [[1.0], [2.0]]), {}, ValueError, "a"),
    ("matmul", ("ab", np.ones((1, 1))), {}, TypeError, "a"),
    ("matmul", (np.ones((1, 1)), None), {}, TypeError, "b"),
    ("matmul", (3.0, np.ones((1, 1))), {}, TypeError, "a"),
    # bytes parameters: str, lists, numbers and None are refused
    *[(f, (bad,), {}, TypeError, "data")
      for f in ("crc32", "sha256", "fnv1a64", "base64_encode", "base64_decode")
      for bad in ("abc", [1, 2, 3], (1, 2), 5, None, 1.5)],
    ("crc32", (b"abc", -1), {}, ValueError, "value"),
    ("crc32", (b"abc", 2**32), {}, ValueError, "value"),
    ("crc32", (b"abc",), {"value": -(2**40)}, ValueError, "value"),
    ("crc32", (b"abc", 1.5), {}, TypeError, "value"),
    ("crc32", (b"abc", "1"), {}, TypeError, "value"),
]


def _wid(case: tuple[str, tuple[object, ...], dict[str, object], type, str]) -> str:
    return f"{case[0]}-{case[4]}-{case[3].__name__}"


@pytest.mark.parametrize("case", WRONG_ARGS, ids=[_wid(c) for c in WRONG_ARGS])
def test_conversion_errors_name_function_and_parameter(
        cores: dict[str, wasmcore.Core],
        case: tuple[str, tuple[object, ...], dict[str, object], type, str]) -> None:
    name, args, kwargs, exc, param = case
    seen = set()
    for backend, core in cores.items():
        with pytest.raises(exc) as e:
            getattr(core, name)(*args, **kwargs)
        assert type(e.value) is exc, (backend, type(e.value))
        msg = str(e.value)
        assert msg.startswith(f"{name}(): "), (backend, msg)
        assert f"'{param}'" in msg, (backend, msg)
        seen.add(msg)
    assert len(seen) == 1, seen


def test_kernel_errors_leave_the_backend_usable(cores: dict[str, wasmcore.Core]) -> None:
    for core in cores.values():
        for name, args, kwargs, _ in KERNEL_ERRORS[::5]:
            with pytest.raises(ValueError):
                getattr(core, name)(*args, **kwargs)
            assert core.mean([1.0, 3.0]) == 2.0  # the next call works (oracle: arithmetic)


@SETTINGS
@given(n=st.integers(0, 40), ddof=st.integers(0, 60))
def test_ddof_errors_exactly_when_ddof_reaches_length(cores: dict[str, wasmcore.Core], n: int,
                                                      ddof: int) -> None:
    x = np.arange(float(n))
    for core in cores.values():
        for f in ("var", "std"):
            if n == 0:
                with pytest.raises(ValueError) as e:
                    getattr(core, f)(x, ddof=ddof)
                assert str(e.value) == f"{f}(): parameter 'x' must not be empty"
            elif ddof >= n:
                with pytest.raises(ValueError) as e:
                    getattr(core, f)(x, ddof=ddof)
                assert str(e.value) == f"{f}(): parameter 'ddof' must be less than the length " \
                                       f"of 'x' ({n}), got {ddof}"
            else:
                assert math.isfinite(getattr(core, f)(x, ddof=ddof))


@SETTINGS
@given(q=st.floats(allow_nan=True, allow_infinity=True))
def test_quantile_rejects_exactly_q_outside_unit_interval(cores: dict[str, wasmcore.Core],
                                                          q: float) -> None:
    for core in cores.values():
        if 0.0 <= q <= 1.0:
            assert isinstance(core.quantile([1.0, 2.0, 4.0], q), float)
        else:
            with pytest.raises(ValueError) as e:
                core.quantile([1.0, 2.0, 4.0], q)
            assert str(e.value) == "quantile(): parameter 'q' must be between 0 and 1"


# ---- base64_decode: accept/reject like CPython, with SPEC.md's messages ----------------------

# RFC 4648 base64 with canonical padding: what Python 3.13's b64decode(validate=True) accepts
CANONICAL = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def b64decode_validate(data: bytes) -> bytes | None:
    """``base64.b64decode(data, validate=True)`` with canonical padding only (Python 3.13's
    rule; this interpreter's own b64decode(validate=True) also accepts some over-padded input,
    e.g. b"AAAA=", see the last test): None when refused."""
    if not CANONICAL.fullmatch(data):
        return None
    return base64.b64decode(data, validate=True)


ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def spec_message(data: bytes) -> str | None:
    """The message SPEC.md's decoding algorithm gives for ``data`` (None: accepted)."""
    body = data.rstrip(b"=")
    t = len(data) - len(body)
    for i, c in enumerate(body):
        if c not in ALPHABET:
            return f"invalid character at offset {i}"
    r = len(body) % 4
    if r == 1:
        return f"{len(body)} data characters is 1 more than a multiple of 4"
    if t != {0: 0, 2: 2, 3: 1}[r]:
        return "incorrect padding"
    return None


def check_base64_decode(cores: dict[str, wasmcore.Core], data: bytes) -> None:
    want = b64decode_validate(data)
    msg = spec_message(data)
    assert (want is None) == (msg is not None), (data, want, msg)  # the two oracles agree
    for backend, core in cores.items():
        if want is None:
            with pytest.raises(ValueError) as e:
                core.base64_decode(data)
            assert str(e.value) == \
                f"base64_decode(): parameter 'data' is not valid base64: {msg}", (backend, data)
        else:
            got = core.base64_decode(data)
            assert type(got) is bytes and got == want, (backend, data, got, want)


def test_base64_decode_enumerated_short_inputs(cores: dict[str, wasmcore.Core]) -> None:
    """Every string of length <= 7 over a few significant characters: a canonical data
    character, one with non-zero trailing bits, padding, and an invalid byte."""
    for n in range(8):
        for t in itertools.product(b"AB=*", repeat=n):
            check_base64_decode(cores, bytes(t))


def test_base64_decode_enumerated_alphabet_pairs(cores: dict[str, wasmcore.Core]) -> None:
    """Every byte value in every position of a short padded quad."""
    for c in range(256):
        for template in (b"?AAA", b"A?AA", b"AA?A", b"AAA?", b"AA?=", b"A?==", b"AAAA?",
                         b"?", b"??", b"AA=?", b"AAA?="):
            check_base64_decode(cores, template.replace(b"?", bytes([c])))


@SETTINGS
@given(data=st.binary(max_size=30)
       | st.lists(st.sampled_from(list(b"AQgw+/=\n -_*\xff\x00")), max_size=14).map(bytes))
def test_base64_decode_random_inputs(cores: dict[str, wasmcore.Core], data: bytes) -> None:
    check_base64_decode(cores, data)


@SETTINGS
@given(raw=st.binary(max_size=40), pad=st.integers(0, 3), drop=st.integers(0, 3))
def test_base64_decode_valid_with_padding_variants(cores: dict[str, wasmcore.Core], raw: bytes,
                                                   pad: int, drop: int) -> None:
    enc = base64.b64encode(raw).rstrip(b"=")
    check_base64_decode(cores, enc[:len(enc) - min(drop, len(enc))] + b"=" * pad)


def test_base64_decode_oracle_against_this_python() -> None:
    """The canonical-padding oracle against this interpreter's b64decode(validate=True): every
    canonical input is accepted there, and what is accepted there besides is over-padded."""
    for n in range(9):
        for t in itertools.product(b"AB=*", repeat=n):
            data = bytes(t)
            try:
                here: bytes | None = base64.b64decode(data, validate=True)
            except binascii.Error:
                here = None
            if CANONICAL.fullmatch(data):
                assert here is not None, data
            elif here is not None:
                body = data.rstrip(b"=")
                assert CANONICAL.fullmatch(body + b"=" * ((-len(body)) % 4)), data
                assert len(data) - len(body) > (-len(body)) % 4, data
