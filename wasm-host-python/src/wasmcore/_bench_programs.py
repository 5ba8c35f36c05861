"""The "programs" group of ``wasmcore bench``: whole WASI programs, run many times.

One small command (:data:`WAT`: copies stdin to stdout, exits with its argument count) is run
through :class:`wasmcore.Program` (a fresh instance per run, output captured in memory) and
through wasmtime-py directly, doing what a host must do for each run of a program: a Store, a
WASI configuration with the run's arguments, stdin and output files, the instantiation (the
Linker made once), ``_start``, and the output read back. The second row loads the program from
the warm compile cache (nothing of it in memory yet: read, hash, authenticate, deserialize,
instantiate) against wasmtime-py's ``Module.deserialize_file`` of the same compiled code.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

from ._bench import Row, Sizes, Target

WAT = r"""(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $argc (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 4096))
    (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 4) (i32.load (i32.const 8)))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (drop (call $argc (i32.const 16) (i32.const 20)))
    (call $exit (i32.sub (i32.load (i32.const 16)) (i32.const 1)))))
"""
ARGS, STDIN = ["a", "b"], b"the program's input\n"


def rows(s: Sizes) -> tuple[list[Row], list[str]]:
    import wasmtime

    import wasmcore
    from wasmcore._backends import cache

    work = tempfile.mkdtemp(prefix="wasmcore-bench-")
    path = os.path.join(work, "echo.wasm")
    with open(path, "wb") as f:
        f.write(wasmtime.wat2wasm(WAT))
    prog = wasmcore.Program(path)

    def program_run() -> Any:
        r = prog.run(ARGS, stdin=STDIN)
        return r.exit_code, r.stdout

    engine = wasmtime.Engine()
    module = wasmtime.Module.from_file(engine, path)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    files = {k: os.path.join(work, k) for k in ("in", "out", "err")}

    def direct_run() -> Any:
        cfg = wasmtime.WasiConfig()
        cfg.argv = ["echo.wasm", *ARGS]
        with open(files["in"], "wb") as f:
            f.write(STDIN)
        cfg.stdin_file = files["in"]
        cfg.stdout_file = files["out"]
        cfg.stderr_file = files["err"]
        store = wasmtime.Store(engine)
        store.set_wasi(cfg)
        start = linker.instantiate(store, module).exports(store)["_start"]
        code = 0
        try:
            start(store)
        except wasmtime.ExitTrap as e:
            code = e.code
        with open(files["out"], "rb") as f:
            return code, f.read()

    compiled = os.path.join(work, "echo.cwasm")
    with open(compiled, "wb") as f:
        f.write(module.serialize())

    def program_load() -> Any:
        with cache._MODULES_LOCK:  # (as in a new process: nothing of it in memory)
            cache._MODULES.clear()
        return wasmcore.Program(path).sha256

    runs: dict[str, Callable[[], Any]] = {"program": program_run, "wasmtime_run": direct_run}
    want = (2, STDIN)
    for col, f in runs.items():
        if f() != want:
            raise AssertionError(f"bench programs: {col} gives {f()!r}, not {want!r}")
    return [Row("programs", "warm run of a small command", "", runs,
                [("program", "wasmtime_run")]),
            Row("programs", "load from the compile cache", "",
                {"program_load": program_load,
                 "wasmtime_load": lambda: wasmtime.Module.deserialize_file(engine, compiled)},
                [("program_load", "wasmtime_load")])], []


def targets(rows: list[Row]) -> list[Target]:
    """Issue 23's target: a warm run costs at most twice wasmtime-py's own."""
    r = next((r for r in rows if r.group == "programs" and r.name.startswith("warm run")), None)
    return [Target("program: warm run ÷ the same with wasmtime-py directly",
                   r.ratio_values().get("program/wasmtime_run") if r else None, "<=", 2.0)]
