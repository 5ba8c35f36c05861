"""The optional compiled module wasmcore-speedups (wasm-host-python/speedups): its class
``BoundCall`` (its ``Kernel``, a kernel's whole call, is checked against the Python path in
test_compiled.py), against ctypes and Python on C library functions of every arity it takes (the
values from Python: ``abs``, ``bytes.find``, ``sorted``, a pipe's contents), its errors, the
GIL released during a call, and how wasmcore takes it up or leaves it (docs/performance.md).

The wasm backend on this path is the rest of the suite: ``just test`` runs pytest with the
module installed (the default path) and again with ``WASMCORE_FAST_PATH=ctypes`` and ``cffi``.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import textwrap
import threading
import types

import pytest
import wasmcore
import wasmcore_speedups as speedups  # `just build` installs it into the venv
from hypothesis import given
from hypothesis import strategies as st
from wasmcore._backends import capi, wasm

BoundCall = speedups.BoundCall
LIBC = ctypes.CDLL(None, use_errno=True)
U64 = 1 << 64


def addr(name: str) -> int:
    """The address of C library function ``name``."""
    return ctypes.cast(getattr(LIBC, name), ctypes.c_void_p).value or 0


def buf_addr(b: ctypes.Array[ctypes.c_char]) -> int:
    return ctypes.addressof(b)


def test_no_arguments_pthread_self_is_the_threads_ident() -> None:
    call = BoundCall(addr("pthread_self"), [])
    assert call() == threading.get_ident()  # CPython's ident on POSIX is pthread_self()
    seen: list[int] = []
    t = threading.Thread(target=lambda: seen.append(call() == threading.get_ident()))
    t.start()
    t.join()
    assert seen == [True]


@given(st.integers(-(1 << 63) + 1, (1 << 63) - 1))
def test_one_argument_labs(x: int) -> None:
    # a negative long travels as its two's complement: BoundCall's arguments are unsigned
    assert BoundCall(addr("labs"), [x % U64])() == abs(x)


@given(st.binary(max_size=64).filter(lambda b: b"\0" not in b), st.integers(0, 100))
def test_two_arguments_strnlen(data: bytes, n: int) -> None:
    b = ctypes.create_string_buffer(data)
    assert BoundCall(addr("strnlen"), [buf_addr(b), n])() == min(len(data), n)


@given(st.binary(max_size=64), st.integers(0, 255))
def test_three_arguments_memchr(data: bytes, c: int) -> None:
    b = ctypes.create_string_buffer(data, len(data) or 1)
    found = BoundCall(addr("memchr"), [buf_addr(b), c, len(data)])()
    i = data.find(bytes([c]))
    assert found == (0 if i < 0 else buf_addr(b) + i)


@given(st.binary(max_size=64), st.binary(min_size=1, max_size=4))
def test_four_arguments_memmem(hay: bytes, needle: bytes) -> None:
    h = ctypes.create_string_buffer(hay, len(hay) or 1)
    n = ctypes.create_string_buffer(needle, len(needle))
    found = BoundCall(addr("memmem"), [buf_addr(h), len(hay), buf_addr(n), len(needle)])()
    i = hay.find(needle)
    assert found == (0 if i < 0 else buf_addr(h) + i)


WIDTH = 8  # bytes per element of the string tables (NUL-padded)


def table(words: list[bytes]) -> ctypes.Array[ctypes.c_char]:
    return ctypes.create_string_buffer(b"".join(w.ljust(WIDTH, b"\0") for w in words),
                                       WIDTH * max(len(words), 1))


words_st = st.lists(st.binary(min_size=1, max_size=WIDTH - 1).filter(lambda w: b"\0" not in w),
                    max_size=20)


@given(words_st, st.binary(min_size=1, max_size=WIDTH - 1).filter(lambda w: b"\0" not in w))
def test_five_arguments_bsearch(words: list[bytes], key: bytes) -> None:
    words = sorted(set(words))
    t, k = table(words), ctypes.create_string_buffer(key, WIDTH)
    # strcmp compares two elements (NUL-terminated strings) as bsearch's comparator must
    found = BoundCall(addr("bsearch"), [buf_addr(k), buf_addr(t), len(words), WIDTH,
                                        addr("strcmp")])()
    assert found == (buf_addr(t) + WIDTH * words.index(key) if key in words else 0)


def test_six_arguments_splice_moves_a_pipes_bytes() -> None:
    data = os.urandom(1000)
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    try:
        os.write(w1, data)
        # splice(fd_in, off_in, fd_out, off_out, len, flags): pipe to pipe
        moved = BoundCall(addr("splice"), [r1, 0, w2, 0, len(data), 0])()
        assert moved == len(data)
        assert os.read(r2, 2 * len(data)) == data
    finally:
        for fd in (r1, w1, r2, w2):
            os.close(fd)


@given(words_st)
def test_a_void_function_returns_none_qsort(words: list[bytes]) -> None:
    t = table(words)
    call = BoundCall(addr("qsort"), [buf_addr(t), len(words), WIDTH, addr("strcmp")], False)
    assert call() is None
    got = [t.raw[i:i + WIDTH].rstrip(b"\0") for i in range(0, WIDTH * len(words), WIDTH)]
    assert got == sorted(words)


def test_the_object_tells_what_it_calls() -> None:
    call = BoundCall(addr("labs"), [5])
    assert (call.address, call.args) == (addr("labs"), [5])
    assert repr(call) == f"BoundCall({addr('labs'):#x}, [0x5], returns=True)"
    assert speedups.INTERFACE == capi.SpeedupsApi.INTERFACE
    with pytest.raises(TypeError):
        call(1)  # type: ignore[call-arg]  # nothing more to pass


@pytest.mark.parametrize(("args", "error", "match"), [
    ((0, []), ValueError, "parameter 'address' must be a function's address, got 0"),
    ((1, list(range(7))), ValueError, "parameter 'args' takes at most 6 arguments, got 7"),
    ((1, [-1]), ValueError, r"parameter 'args\[0\]' must be from 0 to 2\*\*64 - 1, got -1"),
    ((1, [2, U64]), ValueError, rf"parameter 'args\[1\]' must be .*, got {U64}"),
    ((1, [3, 4, "1"]), TypeError, r"parameter 'args\[2\]' must be an int, got str"),
    ((1, [1.0]), TypeError, r"parameter 'args\[0\]' must be an int, got float"),
    ((-5, []), ValueError, "parameter 'address' must be from 0 to 2\\*\\*64 - 1, got -5"),
    ((None, []), TypeError, "parameter 'address' must be an int, got NoneType"),
])
def test_bad_arguments_are_errors_not_calls(args: tuple[int, list[object]],
                                            error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        BoundCall(*args)


GIL_CHILD = textwrap.dedent("""
    import ctypes, os, threading, wasmcore_speedups
    libc = ctypes.CDLL(None)
    r, w = os.pipe()
    buf = ctypes.create_string_buffer(1)
    read = wasmcore_speedups.BoundCall(ctypes.cast(libc.read, ctypes.c_void_p).value,
                                       [r, ctypes.addressof(buf), 1])
    got = []
    t = threading.Thread(target=lambda: got.append(read()))
    t.start()
    # the thread blocks in read(); this thread runs Python meanwhile only if the call
    # released the GIL, and its write is what ends the read
    os.write(w, b"x")
    t.join()
    print(got, buf.raw)
""")


def test_the_gil_is_released_during_a_call() -> None:
    # a call holding the GIL would hang the child: the timeout fails the test instead
    out = subprocess.run([sys.executable, "-c", GIL_CHILD], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[1] b'x'"


def test_wasmcore_takes_it_as_the_default_fast_path() -> None:
    assert wasm.FAST_PATHS[0] == "speedups"
    assert isinstance(capi.load("speedups"), capi.SpeedupsApi)
    if os.environ.get("WASMCORE_FAST_PATH", "") in ("", "1", "speedups"):
        core = wasmcore.load()
        assert core._impl.api.name == "speedups"
        a, b = 0, 1
        for n in range(26):  # against Python's (the kernel is the doubly recursive one)
            assert core.fib(n) == a
            a, b = b, a + b


def test_a_module_of_another_interface_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    other = types.ModuleType("wasmcore_speedups")
    other.INTERFACE = capi.SpeedupsApi.INTERFACE + 1  # type: ignore[attr-defined]
    other.BoundCall = BoundCall  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "wasmcore_speedups", other)
    assert capi.load("speedups") is None
    decided, note = wasm._decide("speedups", True,
                                 lambda path: capi.load(path) is not None)
    assert decided == "ctypes"
    assert "pip install wasmcore[speedups]" in note
