"""``wasmcore info`` and ``wasmcore call``: look at a wasm module, run one of its exports in
the sandbox. Each kind of failure has its own exit status (see :data:`EXIT_CODES`)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import wasmtime

from . import __version__
from ._abi import binary
from ._abi.manifest import (
    ABI_VERSION,
    OLDEST_ABI,
    FunctionSpec,
    Manifest,
    ParamType,
    abi_span,
)
from ._backends import internals, wasm
from ._errors import (
    Error,
    FuelExhausted,
    KernelPanic,
    MemoryLimitExceeded,
    ModuleRejected,
    Timeout,
    Trap,
)
from ._plugin import Plugin, Wasi
from ._plugin.common import DEFAULT_MAX_MEMORY
from ._plugin.limits import engine, engine_config
from ._plugin.plugin import describe, plugin_manifest

# exit status per failure kind; the most specific class wins (Timeout before Trap, ...)
EXIT_CODES: list[tuple[type[BaseException], int, str]] = [
    (ModuleRejected, 3, "the module was refused (malformed, hash mismatch, missing import)"),
    (Timeout, 5, "the call ran past --timeout"),
    (FuelExhausted, 6, "the call ran out of --fuel"),
    (MemoryLimitExceeded, 7, "the module needed more than --max-memory"),
    (Trap, 4, "the module trapped (out-of-bounds access, unreachable, stack overflow, ...)"),
    (KernelPanic, 8, "the function reported an error"),
    (ValueError, 8, "the function reported an error"),
    (TypeError, 8, "the function reported an error"),
    (Error, 1, "any other wasmcore error"),
    (KeyboardInterrupt, 130, "interrupted (Ctrl-C), the call stopped"),
]
USAGE_EXIT = 2  # argparse's status for bad command lines, also used for unparsable ARGS


def exit_codes_help() -> str:
    rows = dict.fromkeys(f"  {code:>3}  {text}" for _, code, text in  # in order, once
                         [(None, 0, "success"), (None, USAGE_EXIT, "bad command line or ARGS"),
                          *EXIT_CODES])
    return "exit status:\n" + "\n".join(rows)


def add_commands(sub: Any) -> None:
    info = sub.add_parser("info", help="show a module's manifest, exports, imports, size, sha256",
                          description="Shows what a wasm module is: size, sha256, its wasmcore "
                                      "manifest (if any), exports with signatures, imports.")
    info.add_argument("file", type=Path, help="a .wasm (or .wat) file")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    info.set_defaults(run=run_info)

    stubs = sub.add_parser(
        "stubs", help="write the .pyi of a component's typed API (from its WIT types)",
        description="Writes a .pyi declaring a wasmcore.Component subclass with the "
                    "component's functions, interfaces, resources and types, so that mypy "
                    "checks a host's calls (docs/components.md). A component that imports "
                    "functions is loaded with stand-ins for them (never called).")
    stubs.add_argument("file", type=Path, help="a component (.wasm)")
    stubs.add_argument("-o", "--output", type=Path, default=None,
                       help="the .pyi to write (default: standard output)")
    stubs.add_argument("--name", default="Plugin", help="the class's name (default: Plugin)")
    stubs.set_defaults(run=run_stubs)

    call = sub.add_parser(
        "call", help="run one export of a module in the sandbox and print the result",
        description="Runs FUNC of FILE under wasmcore.Plugin (imports denied unless --wasi) "
                    "and prints its result. ARGS are converted to the parameter types: ints "
                    "(0x.. allowed) and floats; for functions with a manifest also str, bytes "
                    "(the UTF-8 of ARG, or @PATH for a file's bytes) and arrays "
                    "(comma-separated numbers).",
        epilog=exit_codes_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    call.add_argument("file", type=Path, help="a .wasm (or .wat) file")
    call.add_argument("func", help="the exported function to call")
    call.add_argument("args", nargs="*", help="its arguments")
    call.add_argument("--timeout", type=float, default=None, metavar="S",
                      help="wall-clock limit in seconds (default: none)")
    call.add_argument("--fuel", type=int, default=None, metavar="N",
                      help="fuel limit (default: none)")
    call.add_argument("--max-memory", type=int, default=64 << 20, metavar="BYTES",
                      help="memory cap in bytes (default: 64 MiB)")
    call.add_argument("--sha256", default=None, metavar="HEX",
                      help="refuse the module unless its sha256 is HEX")
    call.add_argument("--wasi", action="store_true",
                      help="provide WASI (nothing preopened; output captured and printed)")
    call.add_argument("--dir", action="append", default=[], metavar="GUEST=HOST",
                      help="with --wasi: preopen HOST directory as GUEST (read-only)")
    call.add_argument("--writable", action="store_true", help="with --dir: allow writes")
    call.add_argument("--print-import", action="append", default=[], metavar="NAME",
                      help="provide import NAME (env.NAME, or MODULE.NAME) as a function "
                           "(ptr, len) that prints the UTF-8 text at ptr to stderr, e.g. "
                           "the `log` of the example plugin")
    call.set_defaults(run=run_call)

    run = sub.add_parser(
        "run", help="run a WASI program in the sandbox, with its arguments, stdin and output",
        description="Runs PROGRAM (a WASI command's _start, or with --invoke a reactor's "
                    "export) in a fresh sandboxed instance: ARGS (after --) follow its name, "
                    "stdin is passed through (read to its end first; nothing when it is a "
                    "terminal), stdout and stderr are streamed, nothing else of the host is "
                    "visible. Exits with the program's exit status, or with a status of its "
                    "own when a limit stopped it.",
        epilog=run_exit_codes_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("file", type=Path, metavar="PROGRAM", help="a .wasm (or .wat) file")
    run.add_argument("args", nargs="*", metavar="ARGS", help="its arguments (after --)")
    run.add_argument("--dir", action="append", default=[], metavar="HOST:GUEST[:ro]",
                     help="mount the HOST directory as GUEST, writable unless :ro (repeat)")
    run.add_argument("--env", action="append", default=[], metavar="K=V",
                     help="an environment variable (repeat); the host's are not passed")
    run.add_argument("--timeout", type=float, default=None, metavar="S",
                     help="wall-clock limit in seconds (default: none)")
    run.add_argument("--fuel", type=int, default=None, metavar="N",
                     help="fuel limit (compiles the program with fuel metering)")
    run.add_argument("--max-memory", type=int, default=DEFAULT_MAX_MEMORY, metavar="BYTES",
                     help="memory cap in bytes (default: 64 MiB)")
    run.add_argument("--max-stack", type=int, default=None, metavar="BYTES",
                     help="bytes of wasm stack (default 512 KiB; at most 1 MiB)")
    run.add_argument("--invoke", default=None, metavar="EXPORT",
                     help="run this export (after _initialize) instead of _start; its i32 "
                          "result is the exit status")
    run.add_argument("--trap-unknown-imports", action="store_true",
                     help="link imports nothing provides as functions that trap when "
                          "called (else such a program is refused)")
    run.add_argument("--argv0", default=None, metavar="NAME",
                     help="the program's name in its arguments (default: the file's name)")
    run.add_argument("--sha256", default=None, metavar="HEX",
                     help="refuse the program unless its sha256 is HEX")
    run.set_defaults(run=run_program)

    cache_cmd = sub.add_parser(
        "cache", help="list, fill or clear the compile cache",
        description="The compile cache holds compiled modules (authenticated, bounded by "
                    "$WASMCORE_CACHE_MAX_BYTES, least recently used evicted first).")
    actions = cache_cmd.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("list", help="its entries (the default)")
    add = actions.add_parser("add", help="compile programs into it ahead of their first run "
                                         "(as wasmcore run and wasmcore.Program use them)")
    add.add_argument("files", nargs="+", type=Path, metavar="FILE")
    add.add_argument("--metered", action="store_true",
                     help="compile with fuel metering (for runs with --fuel)")
    actions.add_parser("clear", help="remove every entry")
    cache_cmd.set_defaults(run=run_cache, action="list")


def _exit_code(e: BaseException) -> int:
    for cls, code, _ in EXIT_CODES:
        if isinstance(e, cls):
            return code
    return 1


def _fail(e: BaseException) -> int:
    print(f"wasmcore: {type(e).__name__}: {e}", file=sys.stderr)
    return _exit_code(e)


# -- info -------------------------------------------------------------------------------------

def _spec_line(f: FunctionSpec) -> str:
    params = ", ".join(f"{p.name}: {p.type.name}" + (f" = {p.default!r}" if p.has_default else "")
                       for p in f.params)
    return f"{f.name}({params}) -> {f.returns.name or 'None'}"


def module_info(path: Path) -> dict[str, Any]:
    """What ``wasmcore info`` shows, as a dict."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ModuleRejected(f"cannot read {str(path)!r}: {e.strerror}") from None
    out: dict[str, Any] = {"file": str(path), "size": len(data),
                           "sha256": hashlib.sha256(data).hexdigest(), "manifest": None}
    out.update(_interface(data, path.name))
    manifest: Manifest | None = plugin_manifest(data, path.name)
    if manifest is not None:
        out["manifest"] = {
            "module": manifest.module, "version": manifest.version,
            "abi_version": manifest.abi_version,
            "functions": [{"signature": _spec_line(f), "doc": f.doc} for f in manifest.functions],
            "classes": [c.name for c in manifest.classes],
        }
    out["runtime"] = {"wasmcore": __version__, "abi_versions": [OLDEST_ABI, ABI_VERSION],
                      "wasmtime": internals.version(),
                      "call_path": f"fast ({wasm.call_path()})" if wasm.fast_path()
                      else wasm.PUBLIC,
                      "features": internals.report()}
    return out


def _interface(data: bytes, name: str) -> dict[str, dict[str, str]]:
    """The exports and imports of a module, read from its binary and validated, without
    compiling it (a large program takes a minute to compile); compiled where the binary has
    what wasmcore does not read (the GC proposal's types, 64-bit memories)."""
    try:
        if not data.startswith(b"\0asm"):
            data = wasmtime.wat2wasm(data.decode())
        wasmtime.Module.validate(engine(False, None), data)
    except (wasmtime.WasmtimeError, UnicodeDecodeError) as e:
        raise ModuleRejected(f"{name}: not a valid module: {e}") from None
    try:
        parsed = binary.read(data)
    except ModuleRejected:
        module = wasm.compile_module(data, hashlib.sha256(data).hexdigest(),
                                     engine(False, None), engine_config(False, None))
        return {"exports": {e.name: describe(e.type) for e in module.exports},
                "imports": {f"{i.module}.{i.name}": describe(i.type) for i in module.imports}}

    def kind(k: str, sig: binary.Signature | None) -> str:
        return f"func {binary._sig(*sig)}" if k == "func" and sig is not None else k

    return {"exports": {n: kind(k, sig) for n, (k, sig) in parsed.exports.items()},
            "imports": {f"{i.module}.{i.name}": kind(i.kind, i.type) for i in parsed.imports}}


def run_info(args: argparse.Namespace) -> int:
    try:
        info = module_info(args.file)
    except Error as e:
        return _fail(e)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"file:    {info['file']}")
    print(f"size:    {info['size']} bytes")
    print(f"sha256:  {info['sha256']}")
    m = info["manifest"]
    if m is None:
        print("manifest: none (numeric exports only: `wasmcore call` passes ints and floats)")
    else:
        version = f" {m['version']}" if m["version"] is not None else ""
        print(f"manifest: module {m['module']!r}{version}, abi_version {m['abi_version']}")
        for f in m["functions"]:
            doc = f["doc"].strip().splitlines()[0] if f["doc"].strip() else ""
            print(f"  {f['signature']}" + (f"\n      {doc}" if doc else ""))
        if m["classes"]:
            print(f"  classes: {', '.join(m['classes'])}")
    print("exports:")
    for name, ty in info["exports"].items():
        print(f"  {name}: {ty}")
    print("imports:" + ("" if info["imports"] else " none"))
    for name, ty in info["imports"].items():
        print(f"  {name}: {ty}")
    r = info["runtime"]
    print(f"runtime: wasmcore {r['wasmcore']} (reads {abi_span()}), wasmtime-py "
          f"{r['wasmtime']}, {r['call_path']} call path")
    width = max(map(len, r["features"])) + 2
    for feature, how in r["features"].items():
        print(f"  {feature + ':':{width}s}{how}")
    return 0


def run_stubs(args: argparse.Namespace) -> int:
    from ._component.stubs import load_for_stubs, render

    try:
        comp = load_for_stubs(args.file)
        text = render(comp, args.file.name, args.name)
    except (OSError, Error, TypeError, ValueError) as e:
        print(f"wasmcore stubs: {args.file}: {e}", file=sys.stderr)
        return 1
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


# -- call -------------------------------------------------------------------------------------

class _BadArg(Exception):
    pass


def _parse_number(text: str, kind: str, what: str) -> int | float:
    try:
        if kind in ("f32", "f64"):
            return float(text)
        return int(text, 0)
    except ValueError:
        want = "a number" if kind in ("f32", "f64") else "an integer"
        raise _BadArg(f"{what} must be {want} ({kind}), got {text!r}") from None


def _parse_typed(text: str, t: ParamType, what: str) -> Any:
    if t.kind == "scalar":
        assert t.scalar is not None
        if t.scalar == "bool":
            if text.lower() not in ("true", "false", "1", "0"):
                raise _BadArg(f"{what} must be true or false, got {text!r}")
            return text.lower() in ("true", "1")
        return _parse_number(text, "f64" if t.scalar.startswith("f") else "i64", what)
    if t.kind == "str":
        return text
    if t.kind == "bytes" or (t.kind == "buffer" and t.elem == "u8" and text.startswith("@")):
        if text.startswith("@"):
            try:
                return Path(text[1:]).read_bytes()
            except OSError as e:
                raise _BadArg(f"{what}: cannot read {text[1:]!r}: {e.strerror}") from None
        return text.encode()
    if t.kind == "buffer":
        assert t.elem is not None
        kind = "f64" if t.elem.startswith("f") else "i64"
        items = [s for s in text.split(",") if s.strip()]
        return np.array([_parse_number(s.strip(), kind, what) for s in items])
    raise _BadArg(f"{what} has type {t.name}, which the command line cannot pass")


def _show(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, np.ndarray):
        return json.dumps(value.tolist())
    if isinstance(value, np.generic):
        return repr(value.item())
    if isinstance(value, tuple):
        return " ".join(_show(v) for v in value)
    return str(value) if isinstance(value, str) else repr(value)


def run_call(args: argparse.Namespace) -> int:
    return _interruptible(_call, args)


def _interruptible(command: Callable[[argparse.Namespace], int],
                   args: argparse.Namespace) -> int:
    if internals.usable("interrupts"):
        return command(args)  # Ctrl-C stops the call on this thread (the deadline callback)
    # Without the deadline callback nothing stops wasm running on the main thread at Ctrl-C:
    # the call runs on a thread of its own while this one waits, and Ctrl-C ends the process
    # as an interrupted one (output written so far is flushed)
    done: list[int] = []
    worker = threading.Thread(target=lambda: done.append(command(args)), daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.05)
    except KeyboardInterrupt as e:
        print("wasmcore: interrupted", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_code(e))
    return done[0] if done else _fail(Error("the call ended without a result"))


def _call(args: argparse.Namespace) -> int:
    try:
        wasi: bool | Wasi = False
        if args.wasi or args.dir:
            dirs = {}
            for d in args.dir:
                guest, sep, host = d.partition("=")
                if not sep or not guest or not host:
                    raise _BadArg(f"--dir must be GUEST=HOST, got {d!r}")
                dirs[guest] = host
            wasi = Wasi(dirs=dirs, writable=args.writable)
        host = {name: _printer(lambda: plugin, name) for name in args.print_import}
        plugin = Plugin(args.file, timeout=args.timeout, fuel=args.fuel,
                        max_memory=args.max_memory, sha256=args.sha256, wasi=wasi, host=host)
        spec = plugin.manifest.function(args.func) \
            if plugin.manifest and args.func in plugin.functions else None
        if spec is not None:
            if len(args.args) > len(spec.params):
                raise _BadArg(f"{args.func}() takes {len(spec.params)} arguments, got "
                              f"{len(args.args)}")
            values = [_parse_typed(a, p.type, f"argument '{p.name}'")
                      for a, p in zip(args.args, spec.params, strict=False)]
        else:
            ty = plugin.exports.get(args.func, "")
            params = _param_kinds(ty)
            if params is None:
                funcs = ", ".join(n for n, t in plugin.exports.items() if t.startswith("func"))
                raise _BadArg(f"{plugin.name} exports no function {args.func!r} (its "
                              f"functions: {funcs or 'none'})")
            if len(args.args) != len(params):
                raise _BadArg(f"{args.func}() takes {len(params)} arguments ({ty}), got "
                              f"{len(args.args)}")
            values = [_parse_number(a, k, f"argument {i + 1}")
                      for i, (a, k) in enumerate(zip(args.args, params, strict=True))]
        try:
            result = plugin.call(args.func, *values)
        finally:
            if plugin.wasi is not None:
                out, err = plugin.take_output()
                sys.stdout.buffer.write(out)
                sys.stderr.buffer.write(err)
                sys.stdout.flush()
    except _BadArg as e:
        print(f"wasmcore call: {e}", file=sys.stderr)
        return USAGE_EXIT
    except (Error, ValueError, TypeError) as e:
        return _fail(e)
    except KeyboardInterrupt as e:  # Ctrl-C stops the plugin's call (docs/plugins.md)
        print("wasmcore: interrupted", file=sys.stderr)
        return _exit_code(e)
    if result is not None:
        print(_show(result))
    return 0


def _printer(plugin: Callable[[], Any], name: str) -> Callable[[int, int], None]:
    def show(ptr: int, size: int) -> None:
        print(f"[{name}] {plugin().read_str(ptr, size)}", file=sys.stderr)

    return show


def _param_kinds(ty: str) -> list[str] | None:
    """The parameter types of a ``func (a, b) -> (c)`` description, or None for a non-func."""
    if not ty.startswith("func ("):
        return None
    inner = ty[len("func ("):ty.index(")")]
    return [p.strip() for p in inner.split(",") if p.strip()]


# -- run --------------------------------------------------------------------------------------

# the exit status of `wasmcore run` when the program did not exit by itself
RUN_EXIT_CODES: list[tuple[str, int, str]] = [
    ("usage", USAGE_EXIT, "bad command line"),
    ("timeout", 124, "the program ran past --timeout (as GNU timeout's)"),
    ("fuel", 125, "the program ran out of --fuel"),
    ("refused", 126, "the program was refused (malformed, hash mismatch, an import not "
                     "provided)"),
    ("missing", 127, "no such file"),
    ("interrupted", 130, "interrupted (Ctrl-C), the program stopped"),
    ("trap", 134, "the program trapped (as wasmtime's CLI: 128 + SIGABRT)"),
    ("memory", 137, "the program needed more than --max-memory (128 + SIGKILL, as an "
                    "out-of-memory kill; also when it exited after a refused growth)"),
]
RUN_EXIT = {key: code for key, code, _ in RUN_EXIT_CODES}


def run_exit_codes_help() -> str:
    return "exit status: the program's own (0-255; a larger one is 1), else\n" + "\n".join(
        f"  {code:>3}  {text}" for _, code, text in RUN_EXIT_CODES)


def run_program(args: argparse.Namespace) -> int:
    return _interruptible(_run_program, args)


def _run_program(args: argparse.Namespace) -> int:
    from ._plugin.program import Program

    def stream(out: Any) -> Callable[[bytes], None]:
        def write(chunk: bytes) -> None:
            out.buffer.write(chunk)
            out.flush()

        return write

    try:
        dirs: dict[str, tuple[str, str]] = {}
        for d in args.dir:
            host, sep, rest = d.partition(":")
            guest, _, mode = rest.partition(":")
            if not sep or not host or not guest or mode not in ("", "ro"):
                raise _BadArg(f"--dir must be HOST:GUEST or HOST:GUEST:ro, got {d!r}")
            if not os.path.isdir(host):
                raise _BadArg(f"--dir {d!r}: {host!r} is not a directory")
            dirs[guest] = (host, "ro" if mode else "rw")
        env = {}
        for kv in args.env:
            key, sep, value = kv.partition("=")
            if not sep or not key:
                raise _BadArg(f"--env must be K=V, got {kv!r}")
            env[key] = value
        if not args.file.exists():
            print(f"wasmcore run: no such file: {args.file}", file=sys.stderr)
            return RUN_EXIT["missing"]
        stdin = b"" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()
        program = Program(args.file, metered=args.fuel is not None, sha256=args.sha256,
                          trap_unknown_imports=args.trap_unknown_imports,
                          max_stack=args.max_stack)
        r = program.run(args.args, env=env, stdin=stdin, dirs=dirs, timeout=args.timeout,
                        fuel=args.fuel, max_memory=args.max_memory, entry=args.invoke,
                        argv0=args.argv0, output_limit=0, stdout=stream(sys.stdout),
                        stderr=stream(sys.stderr))
    except _BadArg as e:
        print(f"wasmcore run: {e}", file=sys.stderr)
        return USAGE_EXIT
    except ModuleRejected as e:
        print(f"wasmcore run: {type(e).__name__}: {e}", file=sys.stderr)
        return RUN_EXIT["refused"]
    except (ValueError, TypeError) as e:
        print(f"wasmcore run: {e}", file=sys.stderr)
        return USAGE_EXIT
    except KeyboardInterrupt:
        print("wasmcore: interrupted", file=sys.stderr)
        return RUN_EXIT["interrupted"]
    if r.error is not None:
        print(f"wasmcore run: {type(r.error).__name__}: {r.error}", file=sys.stderr)
        return RUN_EXIT.get(r.limit or "trap", RUN_EXIT["trap"])
    assert r.exit_code is not None
    return r.exit_code if 0 <= r.exit_code <= 255 else 1


# -- cache ------------------------------------------------------------------------------------

def run_cache(args: argparse.Namespace) -> int:
    import time

    from ._backends import cache

    d = cache.cache_dir()
    if args.action == "clear":
        print(f"removed {cache.clear(d)} entries from {d}")
        return 0
    if args.action == "add":
        from ._plugin.program import Program

        for f in args.files:
            try:
                p = Program(f, metered=args.metered)
            except (Error, OSError) as e:
                return _fail(e)
            print(f"{f}: compiled (sha256 {p.sha256[:12]}...)")
        return 0
    found = cache.entries(d)
    total = sum(size for _, size, _ in found)
    print(f"{d}: {len(found)} entries, {_size(total)} of at most {_size(cache.max_bytes())}")
    for path, size, used in reversed(found):  # (the most recently used first)
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(used))
        print(f"  {path.name[:16]}...  {_size(size):>9}  last used {when}")
    return 0


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"
