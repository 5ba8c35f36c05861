"""The demo page in a real headless Chromium, compared with the Python host (`just test-web`).

Serves web/ on a free localhost port, runs web/tests/drive.mjs (playwright-core driving
/usr/bin/chromium), and checks that the page loaded without a console error, a page error
or a failed request, that every result it computed with the wasm-bindgen build equals what
the Python host's wasm backend gives for the same inputs, and that they agree with outside
oracles (hashlib, zlib, base64, numpy, scipy.special, a numpy Mandelbrot loop). The
screenshot goes to target/web/page.png, the driver's report to target/web/report.json.

Not part of the ordinary pytest run (pytest.ini's testpaths): it needs `just web` and
`just setup-web` first, which the recipe does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
import tempfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.special

os.environ.setdefault("WASMCORE_CACHE_DIR", tempfile.mkdtemp(prefix="wasmcore-test-cache-"))

import wasmcore
from browser import drive
from wasmcore._abi.convert import INT_RANGES, as_int, int_range_error

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
OUT = ROOT / "target" / "web"
SCREENSHOT = OUT / "page.png"

# The demo page's inputs (web/demo.js builds the same ones).
MANDELBROT = (720, 480, -2.35, -1.1, 0.95, 1.1, 256)
GAMMA_X = [0.5, 1, 4.5, -1.5, 10, 171.5, 0, -0.0, -2]
LGAMMA_X = [0.5, 1, 4.5, -1.5, 10, 1e10, 0, -2]
ERF_X = [-3, -0.5, 0, 1e-10, 0.5, 1, 2.5, 6]
CARDS = [4] * 9 + [16]


def seeded(n: int, seed: int) -> np.ndarray:
    """n doubles in [-100, 100) from the page's 32-bit LCG, bit for bit."""
    out = np.empty(n)
    s = seed & 0xFFFFFFFF
    for i in range(n):
        s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
        out[i] = s / 4294967296 * 200 - 100
    return out


def with_specials(x: np.ndarray) -> np.ndarray:
    y = x.copy()
    y[[7, 500]] = np.nan
    y[100], y[200] = -0.0, 0.0
    y[301] = y[300]
    return y


# --- the page, served and driven ----------------------------------------------------------------


@pytest.fixture(scope="module")
def report() -> Iterator[dict[str, Any]]:
    if not (WEB / "pkg" / "wasmcore.js").is_file():
        pytest.fail("web/pkg/ is missing: run `just web` (or `just test-web`)")
    report = drive({"/": WEB}, "/index.html", SCREENSHOT)
    (OUT / "report.json").write_text(json.dumps(report))
    yield report


@pytest.fixture(scope="module")
def page(report: dict[str, Any]) -> dict[str, Any]:
    """The page's results, decoded: typed arrays as numpy arrays, BigInts as ints."""
    demo = report["demo"]
    assert demo is not None and demo["state"] == "done", (
        f"page did not finish: {report.get('driverError')} {demo and demo['error']}"
    )
    return {k: decode(v) for k, v in demo["checks"].items()}


DTYPES = {"f64": "<f8", "u32": "<u4", "u8": "u1"}


def decode(v: Any) -> Any:
    if isinstance(v, list):
        return [decode(x) for x in v]
    if isinstance(v, dict):
        if set(v) == {"dtype", "hex"}:
            return np.frombuffer(bytes.fromhex(v["hex"]), DTYPES[v["dtype"]])
        if set(v) == {"float"}:
            return float(v["float"])
        return {k: decode(x) for k, x in v.items()}
    return v


# --- the tests ----------------------------------------------------------------------------------


def test_page_loads_cleanly(report: dict[str, Any]) -> None:
    assert report.get("driverError") is None, report["driverError"]
    assert report["console"] == []
    assert report["pageErrors"] == []
    assert report["failedRequests"] == []
    assert report["wasmContentType"] == "application/wasm"
    assert report["demo"]["state"] == "done", report["demo"]["error"]


def test_screenshot_written(report: dict[str, Any]) -> None:
    data = SCREENSHOT.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 20_000  # a blank page compresses to a few KB; this one has the fractal


def test_plain_js_versions_agree(report: dict[str, Any]) -> None:
    timings = report["demo"]["timings"]
    assert len(timings) == 6
    assert [t["name"] for t in timings if not t["agree"]] == []


def python_host_results() -> dict[str, Any]:
    """What the Python host's wasm backend gives for the page's inputs, in the page's types."""
    core = wasmcore.load("wasm")
    x = seeded(1000, 42)
    special = with_specials(x)
    y = seeded(1000, 7)
    core.axpy(2.5, x, y)
    h = core.Sha256()
    h.update(b"ab")
    fork = h.copy()
    h.update(b"c")
    fork.update(b"x")
    rs = core.RunningStats()
    rs.push(x[:300])
    rs.push(x[300:])
    image = core.mandelbrot(*MANDELBROT)

    def u8(b: bytes) -> np.ndarray:
        return np.frombuffer(b, np.uint8)

    def error(f: Any, *args: Any) -> dict[str, str]:
        with pytest.raises(ValueError) as e:
            f(*args)
        return {"error": "Error", "message": str(e.value)}

    return {
        "fib(20)": str(core.fib(20)),
        "fib(25)": str(core.fib(25)),
        "partitions": str(core.partitions(CARDS, 4)),
        "partitions, other arrays": dict.fromkeys(
            ("array", "float64", "int8", "bigint"), str(core.partitions(CARDS, 4))
        ),
        "count_primes(1000000)": core.count_primes(1_000_000),
        "sha256('abc')": u8(core.sha256(b"abc")),
        "Sha256 stream": {"abc": h.hexdigest(), "abx": fork.digest().hex()},
        "crc32('abc')": core.crc32(b"abc"),
        "crc32('def', crc32('abc'))": core.crc32(b"def", core.crc32(b"abc")),
        "fnv1a64('abc')": str(core.fnv1a64(b"abc")),
        "base64_encode": u8(core.base64_encode(b"wasmcore in the browser")),
        "base64_decode": u8(core.base64_decode(b"aGVsbG8sIHdvcmxk")),
        "sum": core.sum(x),
        "mean": core.mean(x),
        "var(ddof=1)": core.var(x, 1),
        "std": core.std(x),
        "min": core.min(x),
        "max": core.max(x),
        "argmin": core.argmin(x),
        "argmax": core.argmax(x),
        "median": core.median(x),
        "quantile(0.9)": core.quantile(x, 0.9),
        "norm": core.norm(x),
        "dot": core.dot(x, seeded(1000, 7)),
        "cumsum": core.cumsum(x),
        "axpy": y,
        "sort": core.sort(special),
        "argsort": core.argsort(special).astype(np.uint32),
        "histogram": core.histogram(x, 20, -100, 100).astype(np.uint32),
        "matmul": core.matmul(seeded(12, 1).reshape(3, 4), seeded(8, 2).reshape(4, 2)).ravel(),
        "convolve": core.convolve(seeded(50, 3), seeded(7, 4)),
        "gamma": core.gamma(GAMMA_X),
        "lgamma": core.lgamma(LGAMMA_X),
        "erf": core.erf(ERF_X),
        "RunningStats": {
            "count": rs.count,
            "mean": rs.mean,
            "var1": rs.var(ddof=1),
            "min": rs.min,
            "max": rs.max,
        },
        "mandelbrot crc32": zlib.crc32(image.astype("<u4").tobytes()),
        "mandelbrot sum": int(image.sum()),
        "error fib(94)": error(core.fib, 94),
        "error base64_decode('abc')": error(core.base64_decode, b"abc"),
        "error mean([])": error(core.mean, []),
        # the JS API's own check: a flat array that does not fit the given shape
        "error matmul shape": {
            "error": "Error",
            "message": "matmul(): parameter 'a' has 5 elements, not 2*3",
        },
        # the JS API's own checks of an integer array (docs/arguments.md)
        "error partitions('abcdefghij')": {
            "error": "TypeError",
            "message": "partitions(): parameter 'cards' must be an array or a typed array of "
            "integers, got string",
        },
        "error partitions string element": {
            "error": "TypeError",
            "message": "partitions(): parameter 'cards' must hold integers, "
            'got "2" (string) at index 9',
        },
        "error partitions -1n": {
            "error": "RangeError",
            "message": "partitions(): parameter 'cards' must hold integers >= 0, "
            "got -1n at index 9",
        },
    }


def same(a: Any, b: Any) -> bool:
    """Equal values of equal types; floats bit for bit, except that any NaN equals any NaN."""
    if isinstance(a, dict) or isinstance(b, dict):
        return (
            isinstance(a, dict)
            and isinstance(b, dict)
            and a.keys() == b.keys()
            and all(same(a[k], b[k]) for k in a)
        )
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype.kind != "f":
            return bool(np.array_equal(a, b))
        nan = np.isnan(a)
        return bool(
            np.array_equal(nan, np.isnan(b))
            and np.array_equal(a[~nan].view(np.uint64), b[~nan].view(np.uint64))
        )
    if isinstance(a, (int, np.integer)) and isinstance(b, (int, np.integer)):
        return int(a) == int(b)
    if isinstance(a, float) or isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    return type(a) is type(b) and a == b


def test_results_equal_python_host(page: dict[str, Any]) -> None:
    want = python_host_results()
    # the tests below
    page = {k: v for k, v in page.items() if k not in ("integer arrays", "integer scalars")}
    assert page.keys() == want.keys()
    differ = [k for k in want if not same(page[k], want[k])]
    assert differ == [], "\n".join(f"{k}: page {page[k]!r} != host {want[k]!r}" for k in differ)


def mandelbrot_numpy(
    width: int, height: int, x0: float, y0: float, x1: float, y1: float, max_iter: int
) -> np.ndarray:
    """The loop of KERNELS.md over all pixels at once, in the same order of float operations."""
    cx = x0 + np.arange(width) * (x1 - x0) / width
    cy = y0 + np.arange(height)[:, None] * (y1 - y0) / height
    cx, cy = np.broadcast_to(cx, (height, width)), np.broadcast_to(cy, (height, width))
    zr, zi = np.zeros((height, width)), np.zeros((height, width))
    n = np.zeros((height, width), np.uint32)
    live = np.ones((height, width), bool)
    with np.errstate(all="ignore"):
        for _ in range(max_iter):
            zr2, zi2 = zr * zr, zi * zi
            live &= ~(zr2 + zi2 > 4.0)
            if not live.any():
                break
            n += live
            zi = np.where(live, 2.0 * zr * zi + cy, zi)
            zr = np.where(live, zr2 - zi2 + cx, zr)
    return n


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def test_results_match_oracles(page: dict[str, Any]) -> None:
    x = seeded(1000, 42)
    special = with_specials(x)
    assert (int(page["fib(20)"]), int(page["fib(25)"])) == (6765, 75025)
    assert page["count_primes(1000000)"] == 78498
    assert bytes(page["sha256('abc')"]) == hashlib.sha256(b"abc").digest()
    assert page["Sha256 stream"] == {
        "abc": hashlib.sha256(b"abc").hexdigest(),
        "abx": hashlib.sha256(b"abx").hexdigest(),
    }
    assert page["crc32('abc')"] == zlib.crc32(b"abc")
    assert page["crc32('def', crc32('abc'))"] == zlib.crc32(b"abcdef")
    assert int(page["fnv1a64('abc')"]) == fnv1a64(b"abc")
    assert bytes(page["base64_encode"]) == base64.b64encode(b"wasmcore in the browser")
    assert bytes(page["base64_decode"]) == b"hello, world"

    assert abs(page["sum"] - math.fsum(x)) <= 1e-13 * math.fsum(abs(x))
    for key, want in [
        ("mean", np.mean(x)),
        ("var(ddof=1)", np.var(x, ddof=1)),
        ("std", np.std(x)),
        ("median", np.median(x)),
        ("quantile(0.9)", np.quantile(x, 0.9)),
        ("norm", np.linalg.norm(x)),
        ("dot", np.dot(x, seeded(1000, 7))),
    ]:
        assert page[key] == pytest.approx(want, rel=1e-12), key
    assert (page["min"], page["max"]) == (x.min(), x.max())
    assert (page["argmin"], page["argmax"]) == (x.argmin(), x.argmax())
    np.testing.assert_allclose(page["cumsum"], np.cumsum(x), rtol=0, atol=1e-12 * np.abs(x).sum())
    assert np.array_equal(page["axpy"], seeded(1000, 7) + 2.5 * x)
    assert np.array_equal(page["sort"], np.sort(special), equal_nan=True)
    assert np.array_equal(page["argsort"], np.argsort(special, kind="stable"))
    assert np.array_equal(page["histogram"], np.histogram(x, 20, range=(-100, 100))[0])
    a, b = seeded(12, 1).reshape(3, 4), seeded(8, 2).reshape(4, 2)
    np.testing.assert_allclose(page["matmul"], (a @ b).ravel(), rtol=1e-12)
    np.testing.assert_allclose(
        page["convolve"], np.convolve(seeded(50, 3), seeded(7, 4)), rtol=1e-12
    )
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(page["gamma"], scipy.special.gamma(GAMMA_X), rtol=1e-13)
        np.testing.assert_allclose(page["lgamma"], scipy.special.gammaln(LGAMMA_X), rtol=1e-13)
        np.testing.assert_allclose(page["erf"], scipy.special.erf(ERF_X), rtol=0, atol=1e-15)

    rs = page["RunningStats"]
    assert rs["count"] == 1000
    assert rs["mean"] == pytest.approx(np.mean(x), rel=1e-12)
    assert rs["var1"] == pytest.approx(np.var(x, ddof=1), rel=1e-12)
    assert (rs["min"], rs["max"]) == (x.min(), x.max())

    image = mandelbrot_numpy(*MANDELBROT)
    assert page["mandelbrot crc32"] == zlib.crc32(image.astype("<u4").tobytes())
    assert page["mandelbrot sum"] == int(image.sum())


def js_error(e: Exception) -> dict[str, str]:
    """What the JS API throws where the Python host raises ``e`` for an integer array: a
    TypeError or a RangeError (for ValueError), with the value written as JS writes it."""
    message = re.sub(
        r"got (-?)(nan|inf) at",
        lambda m: f"got {m[1]}{'NaN' if m[2] == 'nan' else 'Infinity'} at",
        str(e),
    )
    return {"error": "TypeError" if type(e) is TypeError else "RangeError", "message": message}


def test_integer_array_rule_matches_python_host(page: dict[str, Any]) -> None:
    """Bad elements at random positions of `cards` (web/demo.js badIntegerArrays) are refused
    by the JS API exactly as by the Python host: the same error class, index and value."""
    core = wasmcore.load("wasm")
    cases = page["integer arrays"]
    assert len(cases) == 40 and {c["container"] for c in cases} == {"Array", "Float64Array"}
    for case in cases:
        # a JS number is an integer when whole: the Python host gets ints for those
        values = [int(v) if math.isfinite(v) and v.is_integer() else v
                  for v in case["input"].tolist()]
        with pytest.raises((TypeError, ValueError)) as e:
            core.partitions(values, 3)
        assert case["thrown"] == js_error(e.value), (case["container"], values)


# --- integer scalar parameters (web/demo.js integerScalars) ---------------------------------------

# The JS API's integer parameters the Python host has no counterpart of: matmul's shape (the
# host takes 2-D arrays), all u32.
JS_ONLY_INTEGER_PARAMS = {("matmul", "m"), ("matmul", "k"), ("matmul", "n")}
# JS names that are not the Python host's (`var` is a JS keyword).
JS_NAMES = {"variance": "var"}


def manifest_integer_params(core: wasmcore.Core) -> dict[tuple[str, str], str]:
    """(function as in messages, parameter) -> integer type, for every integer scalar parameter
    of the core's functions and methods."""
    specs = [*core.manifest.functions, *(m.func for c in core.manifest.classes for m in c.methods)]
    return {
        (spec.label, p.name): p.type.scalar
        for spec in specs
        for p in spec.params
        if p.type.kind == "scalar" and p.type.scalar in INT_RANGES
    }


def dts_integer_params() -> set[tuple[str, str]]:
    """The parameters typed `number | bigint` in the generated TypeScript declarations."""
    dts = (WEB / "pkg" / "wasmcore.d.ts").read_text()
    found = set()

    def add(func: str, params: str) -> None:
        for p in filter(None, params.split(", ")):
            name, _, typ = p.partition(": ")
            if typ == "number | bigint":
                found.add((JS_NAMES.get(func, func), name.rstrip("?")))

    for func, params in re.findall(r"declare function wasmcore__(\w+)\(([^)]*)\)", dts):
        add(func, params)
    for cls, body in re.findall(r"declare class wasmcore__(\w+) \{(.*?)\n\}", dts, re.DOTALL):
        for method, params in re.findall(r"^    (\w+)\(([^)]*)\)", body, re.MULTILINE):
            add(f"{cls}.{method}", params)
    return found


def host_calls(core: wasmcore.Core) -> dict[tuple[str, str], Any]:
    """The page's calls (web/demo.js INTEGER_PARAMS) on the Python host, each taking the
    argument in question (none: left out) and returning the result in the page's types.
    matmul's m, k, n go through the host's converter as a u32 parameter, then shape the
    arrays."""
    small = seeded(12, 5)
    a, b = seeded(6, 1), seeded(6, 2)
    frame = (-2, -1, 1, 1)

    def u32(func: str, param: str, v: Any) -> int:
        n = as_int(v, func, param)
        lo, hi = INT_RANGES["u32"]
        if not lo <= n <= hi:
            raise int_range_error(n, func, param, lo, hi)
        return n

    def matmul(m: Any, k: Any, n: Any) -> np.ndarray:
        m, k, n = u32("matmul", "m", m), u32("matmul", "k", k), u32("matmul", "n", n)
        return core.matmul(a.reshape(m, k), b.reshape(k, n)).ravel()

    def running(method: str) -> Callable[..., float]:
        def stat(*v: Any) -> float:
            rs = core.RunningStats()
            rs.push(small)
            return float(getattr(rs, method)(*v))
        return stat

    def image(m: np.ndarray) -> np.ndarray:
        return m.ravel().astype(np.uint32)

    return {
        ("fib", "n"): lambda v: str(core.fib(v)),
        ("partitions", "subtotal"): lambda v: str(core.partitions(CARDS, v)),
        ("count_primes", "n"): core.count_primes,
        ("mandelbrot", "width"): lambda v: image(core.mandelbrot(v, 3, *frame, 16)),
        ("mandelbrot", "height"): lambda v: image(core.mandelbrot(4, v, *frame, 16)),
        ("mandelbrot", "max_iter"): lambda v: image(core.mandelbrot(4, 3, *frame, v)),
        ("var", "ddof"): lambda *v: core.var(small, *v),
        ("std", "ddof"): lambda *v: core.std(small, *v),
        ("histogram", "bins"): lambda v: core.histogram(small, v, -100, 100).astype(np.uint32),
        ("matmul", "m"): lambda v: matmul(v, 3, 2),
        ("matmul", "k"): lambda v: matmul(2, v, 2),
        ("matmul", "n"): lambda v: matmul(2, 3, v),
        ("crc32", "value"): lambda *v: core.crc32(b"abc", *v),
        ("RunningStats.var", "ddof"): running("var"),
        ("RunningStats.std", "ddof"): running("std"),
    }


def python_value(v: dict[str, str]) -> Any:
    """The Python counterpart of a JS argument the page describes: a whole Number is an int
    (JS has no separate integers), other Numbers floats, BigInts ints, null None, [3] [3]."""
    kind, text = v["type"], v["text"]
    if kind == "number":
        f = float(text)  # JS writes Infinity and NaN as Python parses them
        return int(f) if f.is_integer() else f
    if kind == "bigint":
        return int(text)
    if kind == "array":
        return [int(x) for x in text.split(",")]
    return {"string": text, "null": None, "object": {}}[kind]


def js_written(v: dict[str, str]) -> str:
    """A value as the JS API's messages write it: as String() does for Numbers, 5n for BigInts,
    "3" (string), null, true; other objects by their type."""
    kind, text = v["type"], v["text"]
    return {
        "number": text,
        "bigint": f"{text}n",
        "string": f"{json.dumps(text)} (string)",
        "null": "null",
        "boolean": text,
        "array": "object",
    }.get(kind, kind)


def test_integer_scalars_cover_every_integer_parameter(page: dict[str, Any]) -> None:
    """Every integer scalar parameter of the core (functions and methods) is typed
    `number | bigint` in the JS API, and the page tried each of them."""
    core = wasmcore.load("wasm")
    want = set(manifest_integer_params(core)) | JS_ONLY_INTEGER_PARAMS
    assert dts_integer_params() == want
    cases = page["integer scalars"]
    assert {(c["func"], c["param"]) for c in cases["bad"]} == want
    assert {(c["func"], c["param"]) for c in cases["valid"]} == want
    assert set(host_calls(core)) == want


def expected_js_error(func: str, param: str, typ: str, v: dict[str, str], e: Exception) -> dict:
    """What the JS API throws where the Python host raises ``e`` for the JS value ``v`` of
    parameter ``param`` (of integer type ``typ``): a TypeError for a TypeError, in JS words;
    a RangeError for the host's range check, with the value written the JS way; the kernel's
    own Error (same message) for a value in the type's range that the kernel refuses."""
    head = f"{func}(): parameter '{param}' must be"
    py = python_value(v)
    if type(e) is TypeError:
        assert str(e) == f"{head} an int, got {type(py).__name__}"
        return {"error": "TypeError", "message": f"{head} an integer, got {js_written(v)}"}
    assert type(e) is ValueError
    lo, hi = INT_RANGES[typ]
    if lo <= py <= hi:
        return {"error": "Error", "message": str(e)}
    prefix, sep, got = str(e).rpartition(" got ")
    assert prefix.startswith(head) and got == str(py), str(e)
    return {"error": "RangeError", "message": f"{prefix}{sep}{js_written(v)}"}


def test_integer_scalar_rule_matches_python_host(page: dict[str, Any]) -> None:
    """Bad arguments for every integer scalar parameter (web/demo.js BAD_SCALARS) are refused
    by the JS API as by the Python host: TypeError for TypeError, RangeError for the host's
    range ValueError, the same function, parameter and value in the message."""
    core = wasmcore.load("wasm")
    types = {**manifest_integer_params(core), **dict.fromkeys(JS_ONLY_INTEGER_PARAMS, "u32")}
    calls = host_calls(core)
    cases = page["integer scalars"]["bad"]
    host_cases = [c for c in cases if c["value"]["type"] not in ("boolean", "undefined")]
    assert len(host_cases) == 25 * len(calls)
    for case in host_cases:
        func, param, v = case["func"], case["param"], case["value"]
        with pytest.raises((TypeError, ValueError)) as e:
            calls[func, param](python_value(v))
        want = expected_js_error(func, param, types[func, param], v, e.value)
        assert case["thrown"] == want, (func, param, v)


def test_integer_scalars_refuse_js_only_values(page: dict[str, Any]) -> None:
    """Booleans (the Python host takes True as 1) and, for a required parameter, undefined (a
    missing argument in Python) are not integers to the JS API."""
    cases = [c for c in page["integer scalars"]["bad"]
             if c["value"]["type"] in ("boolean", "undefined")]
    optional = {("var", "ddof"), ("std", "ddof"), ("crc32", "value"), ("RunningStats.var", "ddof"),
                ("RunningStats.std", "ddof")}
    assert {(c["func"], c["param"]) for c in cases if c["value"]["type"] == "undefined"} == (
        set(host_calls(wasmcore.load("wasm"))) - optional
    )
    for case in cases:
        got = {"boolean": case["value"]["text"], "undefined": "undefined"}[case["value"]["type"]]
        assert case["thrown"] == {
            "error": "TypeError",
            "message": f"{case['func']}(): parameter '{case['param']}' must be an integer, "
            f"got {got}",
        }


def test_integer_scalars_valid_values_match_python_host(page: dict[str, Any]) -> None:
    """Valid arguments, as Numbers, whole floats, -0 and BigInts, and optional ones left out,
    give the Python host's results for the same integers (its defaults when left out)."""
    calls = host_calls(wasmcore.load("wasm"))
    cases = page["integer scalars"]["valid"]
    assert {c["value"]["type"] for c in cases} == {"number", "bigint", "undefined"}
    for case in cases:
        v = case["value"]
        args = () if v["type"] == "undefined" else (python_value(v),)
        want = calls[case["func"], case["param"]](*args)
        assert same(case["result"], want), (case, want)
