"""Calls of sandboxed plugins and of an author's package, run under wasmtime (CPython: the
expected results) and in Pyodide (the JavaScript engine), which must agree.

Plugins are the repository's examples as binaries (the text format is converted on the CPython
side: Pyodide has no WAT reader): typed calls with a host function (textstats), raw numeric
exports (counter, traps), and the failures both sandboxes report alike. An exception is
compared by its type and trap code (the engines word a trap differently); what only one of
them does (timeouts, fuel, a refused memory.grow reported as MemoryLimitExceeded) is checked
by check.py.

Only the standard library is used here (and the module under test), so it runs in Pyodide.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cases import encode

MODULES = ("textstats.wasm", "traps.wasm", "counter.wasm", "deep_recursion.wasm",
           "out_of_bounds.wasm", "host_exception.wasm", "forbidden_import.wasm",
           "huge_memory.wasm", "huge_table.wasm", "malformed.wasm", "memory_bomb.wasm")
TEXT = b"the quick  brown fox\njumps over\n\nthe lazy dog \xc3\xa9t\xc3\xa9\n"


def outcome(v: Any) -> Any:
    """A result as compared here: exceptions by type and trap code."""
    if isinstance(v, BaseException):
        return {"error": type(v).__name__, "code": getattr(v, "code", None)}
    return encode(v)


def calls(wasmcore: Any, path: Callable[[str], str]) -> dict[str, Callable[[], Any]]:
    """Name -> a call; ``path(file)``: where module ``file`` of :data:`MODULES` is."""
    def textstats() -> Any:
        logs: list[str] = []
        p = wasmcore.Plugin(path("textstats.wasm"),
                            host={"log": lambda ptr, n: logs.append(p.read_str(ptr, n))})
        out = [p.count_words(TEXT), p.count_lines(TEXT), p.mean_word_length(TEXT),
               p.byte_histogram(TEXT), p.longest_word(TEXT.decode()), sorted(p.functions)]
        try:
            p.longest_word("  ")
        except ValueError as e:
            out.append(str(e))
        return [*out, logs]

    def traps() -> Any:
        p = wasmcore.Plugin(path("traps.wasm"))
        out: list[Any] = [p.divide(7, 2), p.call("divide", -7, 2), p.add(2**62, 0.5),
                          p.divide(2**32 - 1, 1)]
        for name, args in (("divide", (1, 0)), ("overflow", ()), ("unreachable", ()),
                           ("to_int", (1e300,)), ("divide", (1.5, 1)), ("divide", (2**40, 1)),
                           ("nothing", ())):
            try:
                out.append(p.call(name, *args))
            except Exception as e:  # noqa: BLE001  # an exception is a result to compare
                out.append(outcome(e))
        out.append(p.divide(9, 3))  # works after the traps
        return [out, sorted(p.exports.items()), p.imports]

    def counter() -> Any:
        p = wasmcore.Plugin(path("counter.wasm"))
        return [p.inc(5), p.inc(2**63), p.inc(-1), p.spin(1000), p.call("inc", 0)]

    def failing(name: str, call: str, *args: Any, host: Any = None) -> Callable[[], Any]:
        def run() -> Any:
            p = wasmcore.Plugin(path(name), host=host)
            try:
                first = p.call(call, *args)
            except Exception as e:  # noqa: BLE001  # an exception is a result to compare
                first = outcome(e)
            return [first, p.call("ok") if "ok" in p.exports else None]
        return run

    def fail(x: int) -> None:
        raise KeyError(f"no {x}")

    def constructed(name: str, **kw: Any) -> Callable[[], Any]:
        return lambda: wasmcore.Plugin(path(name), **kw).exports

    return {
        "textstats": textstats,
        "traps": traps,
        "counter": counter,
        "deep recursion": failing("deep_recursion.wasm", "run", 0),
        "out of bounds": failing("out_of_bounds.wasm", "run", 1 << 20),
        "host exception": failing("host_exception.wasm", "run", 3, host={"fail": fail}),
        "host result of the wrong type": failing("host_exception.wasm", "run", 3,
                                                 host={"fail": lambda x: "x"}),
        "host function missing": constructed("host_exception.wasm"),
        "host function of the wrong arity": constructed("host_exception.wasm",
                                                        host={"fail": lambda: None}),
        "forbidden import": constructed("forbidden_import.wasm"),
        "huge memory": constructed("huge_memory.wasm"),
        "huge table": constructed("huge_table.wasm"),
        "malformed": constructed("malformed.wasm"),
        "sha256 pinned, wrong": constructed("counter.wasm", sha256="0" * 64),
        "max_memory 0": constructed("counter.wasm", max_memory=0),
    }


def similarity_calls(similarity: Any) -> dict[str, Callable[[], Any]]:
    """An author's package (examples/similarity, strsim): its functions and errors."""
    pairs = [("kitten", "sitting"), ("", "abc"), ("flaw", "lawn"), ("ça", "ca"), ("ab", "ba")]
    return {
        "distances": lambda: [[f(a, b) for a, b in pairs] for f in (
            similarity.levenshtein, similarity.osa_distance, similarity.damerau_levenshtein,
            similarity.normalized_levenshtein, similarity.jaro, similarity.jaro_winkler)],
        "hamming": lambda: similarity.hamming("karolin", "kathrin"),
        "hamming lengths": lambda: similarity.hamming("ab", "abc"),
        "levenshtein bytes": lambda: similarity.levenshtein(b"bytes", "str"),
        "closest": lambda: [similarity.closest("aple", ["apple", "maple", "ample", "apply"]),
                            similarity.closest("x", [])],
    }


def run(calls: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    out = {}
    for name, call in calls.items():
        try:
            value = call()
        except Exception as e:  # noqa: BLE001  # an exception is a result to compare
            value = e
        out[name] = outcome(value) if isinstance(value, BaseException) else encode(value)
    return out
