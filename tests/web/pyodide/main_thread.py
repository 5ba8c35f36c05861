"""Runs in Pyodide on a browser page's main thread (tests/web/pyodide/page.mjs), before
tests/pyodide/check.py: what only a browser's main thread does.

Chromium refuses there a synchronous compile (``new WebAssembly.Module``) and a synchronous
instantiation (``new WebAssembly.Instance``) of a module over a size limit. This measures the
limit (the size of the largest module that compiles synchronously: custom sections count), and
checks that

* the bundled module loads after ``await wasmcore.prepare()``, and is under the limit;
* the bundled module padded (with a custom section) to exactly the limit loads without
  ``prepare()``;
* padded one byte past it, ``load()`` is refused with Chromium's words, and so is a synchronous
  instantiation of it compiled; ``await wasmcore.prepare(path)`` then ``load(path=...)``
  works, the kernels give what hashlib, zlib and math give; a second ``load()`` needs another
  ``await wasmcore.prepare(path)``; the instance made anew after a trap is the one made in the
  background.

Prints one JSON line: the limit and the sizes. Raises AssertionError on any failed check.
"""

from __future__ import annotations

import array
import hashlib
import json
import math
import zlib

import js  # type: ignore[import-not-found]
import wasmcore
from pyodide.ffi import JsException  # type: ignore[import-not-found]
from wasmcore._backends.js import _MODULES, to_js_bytes

EMPTY = b"\0asm\x01\0\0\0"  # the smallest module: no section
NAME = b"padding"
GiB = 1 << 30


def padded(module: bytes, size: int) -> bytes:
    """``module`` with a custom section appended that makes it ``size`` bytes long (its size
    written as a LEB128 of 5 bytes, which wasm allows, so any size from ``len(module) + 14``
    on can be made)."""
    filler = size - len(module) - 1 - 5 - 1 - len(NAME)
    assert filler >= 0, (size, len(module))
    payload = 1 + len(NAME) + filler
    leb = bytes((payload >> 7 * i) & 0x7F | (0x80 if i < 4 else 0) for i in range(5))
    out = module + b"\0" + leb + bytes([len(NAME)]) + NAME + bytes(filler)
    assert len(out) == size
    return out


def compiles_synchronously(size: int) -> bool:
    try:
        js.WebAssembly.Module.new(to_js_bytes(padded(EMPTY, size)))
    except JsException as e:
        assert e.name == "RangeError", f"{e.name}: {e.message}"
        return False
    return True


def sync_limit() -> int:
    """The size of the largest module that compiles synchronously here: doubling, then halving
    the interval."""
    ok, refused = 1 << 10, 1 << 11
    while compiles_synchronously(refused):
        ok, refused = refused, 2 * refused
        assert refused <= GiB, "no limit on synchronous compiles below 1 GiB"
    assert compiles_synchronously(ok)
    while refused - ok > 1:
        mid = (ok + refused) // 2
        ok, refused = (mid, refused) if compiles_synchronously(mid) else (ok, mid)
    return ok


def refused(call: object, words: str) -> str:
    """The message of the :class:`wasmcore.ModuleRejected` that ``call()`` raises."""
    try:
        call()  # type: ignore[operator]
    except wasmcore.ModuleRejected as e:
        assert words in str(e), str(e)
        return str(e)
    raise AssertionError(f"not refused: {call}")


def kernels_work(core: wasmcore.Core, label: str) -> None:
    """A few kernels of ``core`` against outside oracles."""
    data = bytes(range(256)) * 40
    x = array.array("d", (math.sin(i) * 100 for i in range(1000)))
    assert core.fib(25) == 75025, label
    assert core.sha256(data) == hashlib.sha256(data).digest(), label
    assert core.crc32(data) == zlib.crc32(data), label
    assert math.isclose(core.sum(x), math.fsum(x), rel_tol=1e-13), label
    assert core.sort(x) == array.array("d", sorted(x)), label


# a page's main thread: this page's document (a worker has none)
assert js.document.getElementById("status") is not None

# the bundled module, compiled asynchronously first, as docs/pyodide.md says to
await wasmcore.prepare()  # noqa: F704, PLE1142 -- runs in runPythonAsync
core = wasmcore.load()
assert core.backend == "js", core.backend
kernels_work(core, "bundled module")

limit = sync_limit()
bundled = wasmcore.wasm_path().read_bytes()
assert len(bundled) < limit, (len(bundled), limit)

with open("/tmp/at-limit.wasm", "wb") as f:
    f.write(padded(bundled, limit))
kernels_work(wasmcore.load(path="/tmp/at-limit.wasm"), "at the limit, without prepare()")

over = padded(bundled, limit + 1)
with open("/tmp/over.wasm", "wb") as f:
    f.write(over)
compile_refused = refused(lambda: wasmcore.load(path="/tmp/over.wasm"), "WebAssembly.compile")
await wasmcore.prepare("/tmp/over.wasm")  # noqa: F704, PLE1142
compiled = _MODULES[hashlib.sha256(over).hexdigest()]
try:
    js.WebAssembly.Instance.new(compiled, js.Object.new())
except JsException as e:
    assert e.name == "RangeError" and "WebAssembly.instantiate" in e.message, e.message
    instance_refused = f"{e.name}: {e.message}"
else:
    raise AssertionError("a synchronous instantiation over the limit was not refused")
big = wasmcore.load(path="/tmp/over.wasm")
kernels_work(big, "over the limit, after prepare()")
# the instance prepare() made is used up; the next load() needs the next one (a Core makes
# its instance on first use)
again = refused(lambda: wasmcore.load(path="/tmp/over.wasm").fib(1), "WebAssembly.instantiate")
await wasmcore.prepare("/tmp/over.wasm")  # noqa: F704, PLE1142
other = wasmcore.load(path="/tmp/over.wasm")
kernels_work(other, "over the limit, a second instance")
h = big.Sha256()
h.update(b"ab")
g = other.Sha256()
g.update(b"xyz")
h.update(b"c")
assert (h.hexdigest(), g.hexdigest()) == (hashlib.sha256(b"abc").hexdigest(),
                                          hashlib.sha256(b"xyz").hexdigest())
# a trap makes the instance anew, from one made ahead: the one started in the background when
# `other` took its instance (prepare() waits for it)
await wasmcore.prepare("/tmp/over.wasm")  # noqa: F704, PLE1142
other._impl.instance().reset()  # what a trap does
kernels_work(other, "over the limit, made anew as after a trap")

print(json.dumps({"limit": limit, "bundled": len(bundled), "compile refused": compile_refused,
                  "instance refused": instance_refused, "second load refused": again}))
