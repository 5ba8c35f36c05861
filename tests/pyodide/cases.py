"""Calls of every kernel and class of the core, without numpy, and their results in a form
that compares exactly.

The same calls run on three hosts, which must agree: CPython with numpy (the wasm backend
under wasmtime: what the others are compared with), CPython without numpy
(tests/python/test_no_numpy.py) and Pyodide (the js backend; tests/pyodide/run.mjs). Inputs
are ``array.array``, ``memoryview``, ``bytes`` and lists, made from a fixed seed; results are
encoded by :func:`encode` (floats by ``float.hex``, arrays element by element with their
typecode and shape, exceptions by type and message).

Only the standard library is used here, so the module runs in Pyodide as it is.
"""

from __future__ import annotations

import array
import random
import re
from collections.abc import Callable
from typing import Any

# Errors whose message names the argument conversion of one host (numpy's or the buffer
# protocol's): compared by type only.
LOOSE = frozenset({"sum bad", "matmul ragged"})

_NAN = float("nan")
_INF = float("inf")


def encode(v: Any) -> Any:
    """``v`` as JSON-able data that compares equal exactly when the values are the same bit for
    bit (NaN payloads aside: wasm leaves them to the engine)."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return {"int": str(v)}
    if isinstance(v, float):
        return {"float": v.hex()}
    if isinstance(v, bytes):
        return {"bytes": v.hex()}
    if isinstance(v, (list, tuple)):
        return [encode(x) for x in v]
    if isinstance(v, dict):  # encoded already
        return v
    if isinstance(v, BaseException):
        return {"error": type(v).__name__, "message": str(v)}
    if isinstance(v, array.array):
        return _array(v.typecode, [len(v)], v.tolist())
    if isinstance(v, memoryview):
        return _array(v.format, list(v.shape or ()), _flat(v.tolist()))
    if type(v).__module__ == "numpy":  # a numpy array (CPython with numpy)
        codes = {"float64": "d", "float32": "f", "int64": "q", "uint32": "I", "uint8": "B"}
        return _array(codes[str(v.dtype)], list(v.shape), v.ravel().tolist())
    raise TypeError(f"cannot encode {type(v).__name__}")


def _flat(x: Any) -> list[Any]:
    return [y for row in x for y in _flat(row)] if isinstance(x, list) \
        and x and isinstance(x[0], list) else list(x) if isinstance(x, list) else [x]


def _array(typecode: str, shape: list[int], items: list[Any]) -> dict[str, Any]:
    values = [x.hex() if isinstance(x, float) else str(x) for x in items]
    return {"array": typecode, "shape": shape, "values": values}


def floats(rng: random.Random, n: int, specials: bool = False) -> array.array[float]:
    out = array.array("d", (rng.uniform(-100, 100) for _ in range(n)))
    if specials and n >= 8:
        out[1], out[3], out[5], out[6] = _NAN, -0.0, 0.0, out[0]
    return out


def calls(core: Any) -> dict[str, Callable[[], Any]]:
    """Name -> a call of the core. Every function of the core's manifest is called (see
    :func:`missing`), with valid and invalid arguments; each class through its methods."""
    rng = random.Random(20261130)
    x = floats(rng, 1000, specials=True)
    plain = floats(rng, 257)
    y = floats(rng, 1000)
    small = [3.0, -1.5, 2.25, 0.0, 7.0]
    data = bytes(rng.randrange(256) for _ in range(1000))
    cards = [4] * 9 + [16]
    c: dict[str, Callable[[], Any]] = {
        "fib(0..30)": lambda: [core.fib(n) for n in (0, 1, 2, 20, 30)],
        "fib(94)": lambda: core.fib(94),
        "fib(-1)": lambda: core.fib(-1),
        "fib(2**32)": lambda: core.fib(2**32),
        "fib(1.0)": lambda: core.fib(1.0),
        "fib('3')": lambda: core.fib("3"),
        "partitions list": lambda: core.partitions(cards, 4),
        "partitions array('I')": lambda: core.partitions(array.array("I", cards), 10),
        "partitions array('H')": lambda: core.partitions(array.array("H", cards), 10),
        "partitions whole floats": lambda: core.partitions(array.array("d", cards), 12),
        "partitions memoryview": lambda: core.partitions(memoryview(array.array("q", cards)), 9),
        "partitions -1": lambda: core.partitions([1] * 9 + [-1], 3),
        "partitions 1.5": lambda: core.partitions([1.5] * 10, 3),
        "partitions 2**32": lambda: core.partitions([1] * 9 + [2**32], 3),
        "partitions 2**70": lambda: core.partitions([1] * 9 + [2**70], 3),
        "partitions nan in array('d')": lambda: core.partitions(
            array.array("d", [1, 1, 1, _NAN] + [1] * 6), 3),
        "partitions inf": lambda: core.partitions([1] * 9 + [_INF], 3),
        "partitions None": lambda: core.partitions([1] * 9 + [None], 3),
        "partitions type before range": lambda: core.partitions([-1] + [1] * 8 + [0.5], 3),
        "partitions 9 cards": lambda: core.partitions([1] * 9, 3),
        "partitions 2-D": lambda: core.partitions([[1] * 10], 3),
        "partitions str": lambda: core.partitions("0123456789", 3),
        "partitions subtotal 22": lambda: core.partitions(cards, 22),
        "count_primes": lambda: [core.count_primes(n) for n in (0, 1, 2, 100, 10**5)],
        "count_primes 2**64": lambda: core.count_primes(2**64),
        "sum": lambda: [core.sum(x), core.sum(plain), core.sum([]), core.sum(small),
                        core.sum(7.5), core.sum(array.array("f", small)),
                        core.sum(memoryview(plain)[::3]), core.sum([True, 2, 0.5])],
        "sum bad": lambda: core.sum(["a"]),
        "sum bytes": lambda: core.sum(b"abc"),
        "sum None": lambda: core.sum(None),
        "sum 2-D": lambda: core.sum([[1.0, 2.0], [3.0, 4.0]]),
        "mean": lambda: [core.mean(plain), core.mean(small)],
        "mean empty": lambda: core.mean([]),
        "var std": lambda: [core.var(plain), core.var(plain, 1), core.std(plain),
                            core.std(small, ddof=1)],
        "var ddof too large": lambda: core.var(small, 5),
        "var ddof -1": lambda: core.var(small, -1),
        "min max": lambda: [core.min(plain), core.max(plain), core.min(x), core.max(x)],
        "argmin argmax": lambda: [core.argmin(plain), core.argmax(plain), core.argmin(x),
                                  core.argmax(x)],
        "argmax empty": lambda: core.argmax([]),
        "cumsum": lambda: [core.cumsum(x), core.cumsum([]), core.cumsum(small)],
        "median quantile": lambda: [core.median(plain), core.median(small),
                                    core.quantile(plain, 0.25), core.quantile(small, 1.0)],
        "quantile 1.5": lambda: core.quantile(small, 1.5),
        "histogram": lambda: [core.histogram(x, 10, -50.0, 50.0),
                              core.histogram(plain, 1, -100, 100)],
        "histogram bins 0": lambda: core.histogram(plain, 0, 0.0, 1.0),
        "histogram lo nan": lambda: core.histogram(plain, 3, _NAN, 1.0),
        "sort argsort": lambda: [core.sort(x), core.argsort(x), core.sort([]),
                                 core.argsort(small)],
        "dot norm": lambda: [core.dot(x, y), core.norm(plain), core.norm([]),
                             core.dot(small, array.array("f", small))],
        "dot lengths": lambda: core.dot(small, small[:2]),
        "axpy": lambda: _axpy(core, x, y),
        "axpy: y a list": lambda: core.axpy(1.0, small, list(small)),
        "axpy: y of another type": lambda: core.axpy(1.0, small, array.array("f", small)),
        "axpy lengths": lambda: core.axpy(1.0, small, array.array("d", small[:3])),
        "matmul": lambda: _matmul(core, rng),
        "matmul shapes": lambda: core.matmul([[1.0, 2.0]], [[1.0, 2.0]]),
        "matmul 1-D": lambda: core.matmul(small, small),
        "matmul ragged": lambda: core.matmul([[1.0, 2.0], [3.0]], [[1.0], [2.0]]),
        "convolve": lambda: [core.convolve(plain, small), core.convolve(small, [1.0])],
        "convolve empty": lambda: core.convolve(small, []),
        "gamma lgamma erf": lambda: [
            core.gamma([0.5, 1, 4.5, -1.5, 10, 171.5, 0, -0.0, -2, _NAN]),
            core.lgamma([0.5, 1, 4.5, -1.5, 10, 1e10, 0, -2]),
            core.erf([-3, -0.5, 0, 1e-10, 0.5, 1, 2.5, 6, _INF])],
        "mandelbrot": lambda: core.mandelbrot(24, 16, -2.0, -1.0, 1.0, 1.0, 64),
        "mandelbrot max_iter 0": lambda: core.mandelbrot(4, 4, -2.0, -1.0, 1.0, 1.0, 0),
        "sha256": lambda: [core.sha256(b""), core.sha256(data), core.sha256(bytearray(data)),
                           core.sha256(memoryview(data)[::7]), core.sha256(x)],
        "sha256 str": lambda: core.sha256("abc"),
        "sha256 list": lambda: core.sha256([1, 2, 3]),
        "crc32 fnv1a64": lambda: [core.crc32(data), core.crc32(data, 12345),
                                  core.crc32(b""), core.fnv1a64(data), core.fnv1a64(b"")],
        "crc32 value -1": lambda: core.crc32(data, -1),
        "base64_encode base64_decode": lambda: [core.base64_encode(data), core.base64_encode(b""),
                           core.base64_decode(core.base64_encode(data)),
                           core.base64_decode(b"YWJj")],
        "base64_decode bad": lambda: core.base64_decode(b"@@@="),
        "Sha256": lambda: _sha256(core, data),
        "Sha256 closed": lambda: _sha256_closed(core),
        "RunningStats": lambda: _running_stats(core, plain),
        "RunningStats empty": lambda: core.RunningStats().mean,
        "RunningStats push str": lambda: core.RunningStats().push("x"),
    }
    return c


def _axpy(core: Any, x: array.array[float], y: array.array[float]) -> Any:
    out = array.array("d", y)
    core.axpy(2.5, x, out)
    alias = array.array("d", [1.0, 2.0, 3.0])
    core.axpy(-1.0, alias, alias)  # the same memory in and in place
    return [out, alias]


def _matmul(core: Any, rng: random.Random) -> Any:
    a = [[rng.uniform(-1, 1) for _ in range(7)] for _ in range(5)]
    b = [[rng.uniform(-1, 1) for _ in range(3)] for _ in range(7)]
    return [core.matmul(a, b), core.matmul([[2.0]], [[3.0]])]


def _sha256(core: Any, data: bytes) -> Any:
    h = core.Sha256()
    h.update(data[:10])
    fork = h.copy()
    h.update(data[10:])
    fork.update(b"x")
    out = [h.digest(), h.hexdigest(), fork.hexdigest()]
    with core.Sha256() as g:
        g.update(memoryview(data)[::2])
        out.append(g.digest())
    return out


def _sha256_closed(core: Any) -> Any:
    h = core.Sha256()
    h.close()
    return h.digest()


def _running_stats(core: Any, plain: array.array[float]) -> Any:
    rs = core.RunningStats()
    rs.push(plain[:100])
    rs.push(array.array("f", [1.5, 2.5]))
    rs.push(plain[100:])
    out = [rs.count, rs.mean, rs.var(0), rs.var(1), rs.min, rs.max]
    rs.close()
    return out


def run(core: Any) -> dict[str, Any]:
    """Every call's result (or exception), encoded."""
    out = {}
    for name, call in calls(core).items():
        try:
            value = call()
        except Exception as e:  # noqa: BLE001  # an exception is a result to compare
            value = e
        out[name] = encode(value)
    return out


def missing(core: Any) -> list[str]:
    """The core's functions and classes that no call here names (a call's name starts with
    the names of what it calls)."""
    words = {w for name in calls(core) for w in re.split(r"[ :(]", name)}
    return [f for f in (*core.functions, *core.classes) if f not in words]


def compare(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """The calls whose results differ (:data:`LOOSE` ones by the exception type only)."""
    bad = []
    for name in sorted(set(got) | set(want)):
        g, w = got.get(name), want.get(name)
        if name in LOOSE and isinstance(g, dict) and isinstance(w, dict):
            g, w = g.get("error"), w.get("error")
        if g != w:
            bad.append(f"{name}: {g!r} != {w!r}")
    return bad

