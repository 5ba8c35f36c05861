"""The "plugins" group of ``wasmcore bench``: calling into a sandboxed plugin and back.

One WAT module (:data:`WAT`) serves every runtime: wasmcore's ``Plugin``, wasmtime-py's public
API (``Func.__call__``) and Extism's Python SDK (``extism`` on PyPI; its columns stay empty
without it). Its ``add`` and ``callback`` exports are plain wasm functions; Extism can only
call functions of its own calling convention (no parameters; input and output through its
kernel), so the module also has ``extism_add`` and ``extism_callback``, which read their
arguments from Extism's input, call the same ``add`` / ``callback`` and set the output. Its
kernel imports (``extism:host/env``) are given to wasmcore and wasmtime-py as functions that
are never called.

Rows: ``add(1, 2)``; the same on a plugin with fuel and a timeout (wasmtime-py sets both on
its Store before every call, as wasmcore does; Extism gets a timeout, its Python SDK has no
fuel); and a host function called from wasm: ``callback(n)`` calls the import ``env.cb`` n
times, so its time over n is the time per callback (the target divides).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._bench import COLUMNS, Row, Sizes, Target

WAT = r"""(module
  (import "env" "cb" (func $cb (param i32) (result i32)))
  (import "extism:host/env" "input_load_u64" (func $input_u64 (param i64) (result i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func $add (export "add") (param $a i32) (param $b i32) (result i32)
    (i32.add (local.get $a) (local.get $b)))
  ;; calls env.cb(n), env.cb(n - 1), ..., env.cb(1); returns the sum of what they return
  (func $callback (export "callback") (param $n i32) (result i32) (local $s i32)
    (block $done (loop $next
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $s (i32.add (local.get $s) (call $cb (local.get $n))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $next)))
    (local.get $s))
  ;; Extism's convention: the output is an 8-byte value in its memory
  (func $reply (param $v i32) (local $at i64)
    (local.set $at (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $at) (i64.extend_i32_s (local.get $v)))
    (call $output_set (local.get $at) (i64.const 8)))
  ;; input: a (low 32 bits) and b (high 32 bits) of one u64
  (func (export "extism_add") (result i32) (local $in i64)
    (local.set $in (call $input_u64 (i64.const 0)))
    (call $reply (call $add (i32.wrap_i64 (local.get $in))
                            (i32.wrap_i64 (i64.shr_u (local.get $in) (i64.const 32)))))
    (i32.const 0))
  ;; input: n (one u64)
  (func (export "extism_callback") (result i32)
    (call $reply (call $callback (i32.wrap_i64 (call $input_u64 (i64.const 0)))))
    (i32.const 0)))
"""
EXTISM_KERNEL = {"input_load_u64": (1, 1), "alloc": (1, 1), "store_u64": (2, 0),
                 "output_set": (2, 0)}  # name -> (parameters, results), all i64
FUEL, TIMEOUT = 10**9, 10.0  # the limits of the "with limits" row: never reached
CALLBACKS = {"full": 1000, "quick": 1000, "tiny": 10}  # host callbacks per call, by sizes



def _stub(*args: int) -> int:
    """An import that is there but never called (Extism's kernel, for the other runtimes)."""
    return 0


def rows(s: Sizes) -> tuple[list[Row], list[str]]:
    """The rows of the group, and notes for the report (a runtime that is missing)."""
    import wasmtime

    import wasmcore

    notes = []
    n = CALLBACKS[s.name]
    wasm = bytes(wasmtime.wat2wasm(WAT))
    kernel = {f"extism:host/env.{name}": _stub for name in EXTISM_KERNEL}
    host: dict[str, Callable[..., Any]] = {"cb": lambda x: x, **kernel}
    p = wasmcore.Plugin(wasm, host=host)
    limited = wasmcore.Plugin(wasm, host=host, fuel=FUEL, timeout=TIMEOUT)
    add: dict[str, dict[str, Callable[[], Any]]] = {
        "plain": {"plugin": lambda: p.add(1, 2), "plugin_call": lambda: p.call("add", 1, 2)},
        "limits": {"plugin": lambda: limited.add(1, 2),
                   "plugin_call": lambda: limited.call("add", 1, 2)}}
    # n callbacks, whose results sum to 1 + ... + n
    callback: dict[str, Callable[[], Any]] = {"plugin": lambda: p.callback(n)}

    # wasmtime-py's public API, on the engine configurations the plugins use
    for key, fuel in (("plain", False), ("limits", True)):
        cfg = wasmtime.Config()
        cfg.epoch_interruption = True
        cfg.consume_fuel = fuel
        engine = wasmtime.Engine(cfg)
        store = wasmtime.Store(engine)
        store.set_epoch_deadline(1 << 62)
        linker = wasmtime.Linker(engine)
        i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
        linker.define_func("env", "cb", wasmtime.FuncType([i32], [i32]), lambda x: x)
        for name, (k, r) in EXTISM_KERNEL.items():
            linker.define_func("extism:host/env", name, wasmtime.FuncType([i64] * k, [i64] * r),
                               _stub)
        exports = linker.instantiate(store, wasmtime.Module(engine, wasm)).exports(store)
        func, cb_func = exports["add"], exports["callback"]
        if fuel:
            def armed(store: Any = store, func: Any = func) -> Any:
                store.set_fuel(FUEL)
                store.set_epoch_deadline(1 << 62)
                return func(store, 1, 2)
            add[key]["wasmtime_py"] = armed
        else:
            add[key]["wasmtime_py"] = lambda store=store, func=func: func(store, 1, 2)
            callback["wasmtime_py"] = lambda store=store, f=cb_func: f(store, n)

    try:
        import extism
    except ImportError:
        notes.append("extism is not installed: no Extism columns (pip install extism)")
    else:
        @extism.host_fn(name="cb", namespace="env",
                        signature=([extism.ValType.I32], [extism.ValType.I32]))
        def cb(plugin: Any, params: Any, results: Any) -> None:
            results[0].value = params[0].value

        ex = extism.Plugin(wasm, functions=[cb])
        ex_limited = extism.Plugin({"wasm": [{"data": wasm}], "timeout_ms": int(TIMEOUT * 1e3)},
                                   functions=[cb])
        pair = (1 | 2 << 32).to_bytes(8, "little")
        add["plain"]["extism"] = lambda: ex.call("extism_add", pair)
        add["limits"]["extism"] = lambda: ex_limited.call("extism_add", pair)
        count = n.to_bytes(8, "little")
        callback["extism"] = lambda: ex.call("extism_callback", count)

    ratios = [(c, b) for c in ("plugin", "plugin_call") for b in ("wasmtime_py", "extism")]
    out = [Row("plugins", "add(1, 2)", "", add["plain"], ratios),
           Row("plugins", "add(1, 2), fuel and timeout", "", add["limits"], ratios),
           Row("plugins", "host callback", f"x {n}", callback,
               [("plugin", "wasmtime_py"), ("plugin", "extism")])]
    for label, calls, want in ((out[0].label, add["plain"], 3), (out[1].label, add["limits"], 3),
                               (out[2].label, callback, n * (n + 1) // 2)):
        _check(label, calls, want)
    return out, notes


def _check(label: str, calls: dict[str, Callable[[], Any]], want: int) -> None:
    """Every runtime computes the same (so the table never compares calls that failed);
    Extism's result is its output, the value's 8 bytes."""
    for col, f in calls.items():
        got = f()
        if isinstance(got, bytes):
            got = int.from_bytes(got, "little", signed=True)
        if got != want:
            raise AssertionError(f"bench {label}: {COLUMNS[col]} gives {got!r}, not {want}")


def targets(rows: list[Row]) -> list[Target]:
    """Issue 12's targets, in µs: a plugin call, with limits, and a host callback."""
    by = {r.name: r for r in rows if r.group == "plugins"}
    out = []
    for row, col, what, limit in (
            ("add(1, 2)", "plugin", "plugin call: p.add(1, 2) (µs)", 2.0),
            ("add(1, 2)", "plugin_call", "plugin call: p.call('add', 1, 2) (µs)", 2.0),
            ("add(1, 2), fuel and timeout", "plugin", "plugin call with fuel and timeout (µs)",
             3.0),
            ("host callback", "plugin", "host callback from wasm (µs per callback)", 3.0)):
        r = by.get(row)
        value = None
        if r is not None and r.samples.get(col):
            per = int(r.size.split()[-1]) if row == "host callback" else 1  # "x 1000"
            value = r.median(col) / per * 1e6
        out.append(Target(what, value, "<=", limit))
    return out
