"""Runs inside Pyodide (tests/pyodide/run.mjs): wasmcore from its wheel, without numpy, on the
JavaScript engine's WebAssembly, against what the CPython host gave for the same calls
(/work/expected.json, written by tests/pyodide/run.py).

Checks every kernel and class of the core (cases.py: results bit for bit, errors by type and
message), sandboxed plugins with host functions and an author's package (plugins.py), what
only this sandbox does (timeout, fuel, WASI and cancel handles refused; a refused
memory.grow), the asynchronous compile `await wasmcore.prepare(path)` that a later load()
uses, and measures calls against pure Python in Pyodide. Raises on any difference; prints one
JSON line: the numbers.
"""

from __future__ import annotations

import array
import hashlib
import importlib.util
import inspect
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, "/work")

import cases
import plugins
import wasmcore

with open("/work/expected.json") as f:
    want = json.load(f)
failures: list[str] = []


def check(what: str, ok: bool, detail: object = "") -> None:
    if not ok:
        failures.append(f"{what}: {detail}")


def expect(what: str, exc: type[BaseException], call: Callable[[], Any], words: str) -> None:
    try:
        call()
    except exc as e:
        check(what, words in str(e), f"{type(e).__name__}: {e}")
    except Exception as e:  # noqa: BLE001
        failures.append(f"{what}: {type(e).__name__}: {e}, expected {exc.__name__}")
    else:
        failures.append(f"{what}: no {exc.__name__}")


# -- the core --------------------------------------------------------------------------------

def importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


check("platform", sys.platform == "emscripten", sys.platform)
check("no numpy", not importable("numpy"), "numpy is importable")
check("no wasmtime", not importable("wasmtime"), "wasmtime is importable")
core = wasmcore.load()
check("backend", core.backend == "js", core.backend)
check("every kernel called", cases.missing(core) == [], cases.missing(core))
failures += [f"core {d}" for d in cases.compare(cases.run(core), want["core"])]
check("fib returns int", type(core.fib(10)) is int, type(core.fib(10)))
check("sum returns float", type(core.sum([1, 2])) is float, type(core.sum([1, 2])))
s = core.sort(array.array("d", [3, 1, 2]))
check("arrays are array.array", type(s) is array.array and s.typecode == "d", repr(s))
params = inspect.signature(core.var).parameters
check("signature", list(params) == ["x", "ddof"] and params["ddof"].default == 0, params)
check("docstring", bool(core.var.__doc__), core.var.__doc__)
# memory.grow: a large argument makes the module grow its memory; views are made anew
before = core.memory_size()
big = array.array("d", range(3_000_000))
check("after memory.grow", core.sum(big) == float(sum(range(3_000_000))), core.sum(big))
check("memory grew", core.memory_size() > before, (before, core.memory_size()))
check("small call after growth", core.sum([1.0, 2.0]) == 3.0)
expect("empty() needs numpy", ImportError, lambda: core.empty(3), "numpy")
expect("load('wasm')", ImportError, lambda: wasmcore.load("wasm"), "load('js')")

# prepare(): the asynchronous compile for a browser's main thread, of a module no load() has
# compiled yet (the bundled one with a custom section of its own: another sha256), which the
# load() after it then uses rather than compiling again
from wasmcore._backends import js as js_backend

nonce = b"\x05nonce" + hashlib.sha256(b"check.py").digest()[:16]
fresh = wasmcore.wasm_path().read_bytes() + b"\x00" + bytes([len(nonce)]) + nonce
with open("/tmp/fresh.wasm", "wb") as f:
    f.write(fresh)
digest = hashlib.sha256(fresh).hexdigest()
check("not compiled before prepare()", digest not in js_backend._MODULES)
await wasmcore.prepare("/tmp/fresh.wasm")  # noqa: F704, PLE1142 -- check.py runs in runPythonAsync
compiled = js_backend._MODULES.get(digest)
check("compiled by prepare()", compiled is not None)
fresh_core = wasmcore.load(path="/tmp/fresh.wasm")
check("load() after prepare()", fresh_core.fib(20) == 6765 and
      js_backend._MODULES.get(digest) is compiled)
with open("/tmp/broken.wasm", "wb") as f:
    f.write(fresh[:len(fresh) // 2])
try:
    await wasmcore.prepare("/tmp/broken.wasm")  # noqa: F704, PLE1142
except (wasmcore.ModuleRejected, ValueError) as e:
    check("prepare() of a broken module", "wasmcore" in type(e).__module__, repr(e))
else:
    failures.append("prepare() of a broken module: no error")

# -- plugins and an author's package -----------------------------------------------------


def compare(name: str, got: dict[str, Any], expected: dict[str, Any]) -> None:
    for k in sorted(set(got) | set(expected)):
        check(f"{name} {k}", got.get(k) == expected.get(k), f"{got.get(k)!r} != {expected.get(k)!r}")


compare("plugin", plugins.run(plugins.calls(wasmcore, lambda f: f"/work/modules/{f}")),
        want["plugins"])
for param, kw in (("timeout", {"timeout": 0.2}), ("fuel", {"fuel": 10**6}),
                  ("wasi", {"wasi": True})):
    expect(f"Plugin({param}=...)", NotImplementedError,
           lambda kw=kw: wasmcore.Plugin("/work/modules/counter.wasm", **kw), param)
expect("cancel_handle()", wasmcore.Error,
       lambda: wasmcore.Plugin("/work/modules/counter.wasm").cancel_handle(), "interrupt")
expect("text format", wasmcore.ModuleRejected,
       lambda: wasmcore.Plugin(b"(module)"), "wat2wasm")
bomb = wasmcore.Plugin("/work/modules/memory_bomb.wasm", max_memory=4 << 20)
expect("memory bomb", wasmcore.Trap, lambda: bomb.call("run"), "unreachable")
check("memory bomb stays under its cap", bomb._backend.instance().memory_size() <= 4 << 20)
check("after the memory bomb", bomb.call("ok") == 42)

import similarity  # installed by run.mjs from its wheel, unchanged

check("author module on js", similarity._lib._backend.__class__.__name__ == "JsBackend")
compare("similarity", plugins.run(plugins.similarity_calls(similarity)), want["similarity"])

# -- numbers: wasmcore in Pyodide against pure Python in Pyodide ---------------------------


def timed(call: Callable[[], Any], n: int) -> float:
    """Seconds per call: the median of 5 runs of ``n`` calls."""
    call()
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            call()
        runs.append((time.perf_counter() - t) / n)
    return statistics.median(runs)


py = wasmcore.load("python")  # the pure-Python reference kernels
x = array.array("d", (i * 0.5 for i in range(10**6)))
data = bytes(range(256)) * 256  # 64 KiB
small = array.array("d", [1.0] * 16)
numbers = [
    ("fib(1): one call", timed(lambda: core.fib(1), 20000),
     timed(lambda: py.fib(1), 20000)),
    ("sum of 16 float64 (array.array): one call", timed(lambda: core.sum(small), 20000),
     timed(lambda: sum(small), 20000)),
    ("sha256(b''): one call", timed(lambda: core.sha256(b""), 20000),
     timed(lambda: py.sha256(b""), 200)),
    ("fib(25)", timed(lambda: core.fib(25), 5), timed(lambda: py.fib(25), 1)),
    ("sum of 10^6 float64 (array.array)", timed(lambda: core.sum(x), 20),
     timed(lambda: sum(x), 5)),
    ("sha256 of 64 KiB", timed(lambda: core.sha256(data), 100),
     timed(lambda: py.sha256(data), 1)),
]
extra = {"hashlib.sha256 of 64 KiB (C, in Pyodide)":
         timed(lambda: hashlib.sha256(data).digest(), 100)}
check("numbers agree", core.sha256(data) == py.sha256(data) == hashlib.sha256(data).digest()
      and core.sum(x) == sum(x) and core.fib(25) == py.fib(25))

print(json.dumps({"failures": failures, "numbers": numbers, "extra": extra,
                  "python": sys.version.split()[0]}))
if failures:
    raise AssertionError(f"{len(failures)} checks failed:\n" + "\n".join(failures))
