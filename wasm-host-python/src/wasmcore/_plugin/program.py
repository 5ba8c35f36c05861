"""Untrusted WASI programs, loaded once and run many times: :class:`Program` and the
:class:`RunResult` of each run.

A :class:`Program` reads, hashes and compiles its module once (through the compile cache).
Each :meth:`Program.run` is a fresh instance of it, from any thread, with its own arguments,
environment, stdin, directories and limits, under everything a :class:`~wasmcore.Plugin`
guarantees (it is a plugin derived from the loaded one: :meth:`Plugin._derive`), and returns
what happened instead of raising it: the exit status, the output (each stream kept to a bound,
with a flag when more was dropped), which limit stopped the program if one did, the time it
took, the fuel it used and its memory at the end (linear memory never shrinks: its peak).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import wasmtime

from .._errors import (
    Cancelled,
    Error,
    FuelExhausted,
    MemoryLimitExceeded,
    Timeout,
)
from .cancel import CancelHandle, handle
from .common import DEFAULT_MAX_MEMORY, check_limit
from .wasi import Wasi, take

if TYPE_CHECKING:
    from .plugin import Plugin

METERED = 1 << 62  # the fuel of a run of a metered program that sets none: never reached
_LIMITS: tuple[tuple[type[Error], str], ...] = (
    (Timeout, "timeout"), (FuelExhausted, "fuel"), (MemoryLimitExceeded, "memory"),
    (Cancelled, "cancelled"))


class CancelToken:
    """Stops runs of programs from any thread: ``token.cancel()`` stops every run given
    ``cancel=token`` that is running now, and makes those started later stop at once; each
    returns a result whose ``limit`` is ``"cancelled"``. Never blocks a run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handles: list[CancelHandle] = []
        self.cancelled = False

    def cancel(self) -> None:
        """Stops the runs (safe from any thread, and from a signal handler on another)."""
        with self._lock:
            self.cancelled = True
            handles = list(self._handles)
        for h in handles:
            h.cancel()

    def _attach(self, h: CancelHandle) -> None:
        with self._lock:
            self._handles.append(h)

    def _detach(self, h: CancelHandle) -> None:
        with self._lock:
            self._handles.remove(h)

    def __repr__(self) -> str:
        return f"<wasmcore.CancelToken {'cancelled' if self.cancelled else 'armed'}>"


@dataclass(frozen=True)
class RunResult:
    """What one run of a :class:`Program` did.

    ``exit_code``: the program's exit status (``proc_exit``'s; 0 when ``_start`` returned; a
    reactor's entry: its ``i32`` result, else 0), or None when it did not exit (a trap, or a
    limit stopped it). ``limit``: ``"timeout"``, ``"fuel"``, ``"memory"`` (a growth of its
    memory was refused, and then it trapped or exited: the exit status is kept), ``"cancelled"``,
    or None. ``error``: the exception the run ended with (a :class:`wasmcore.Timeout`,
    :class:`wasmcore.Trap`, ...; for a ``"memory"`` limit a :class:`wasmcore.MemoryLimitExceeded`
    even when the program exited), else None. ``fuel_used``: None unless the program is
    metered. ``peak_memory``: bytes of linear memory at the end."""

    exit_code: int | None
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    limit: str | None
    error: Error | None
    elapsed: float
    fuel_used: int | None
    peak_memory: int

    @property
    def ok(self) -> bool:
        """Whether the program exited with status 0 and no limit stopped it."""
        return self.exit_code == 0 and self.error is None

    def check(self) -> RunResult:
        """Raises :attr:`error`, or a :class:`wasmcore.Error` for a non-zero exit status
        (``.exit_status`` holds it); returns the result when it is :attr:`ok`."""
        if self.error is not None:
            raise self.error
        if self.exit_code != 0:
            e = Error(f"the program exited with status {self.exit_code}")
            e.exit_status = self.exit_code  # type: ignore[attr-defined]
            raise e
        return self


class Program:
    """A WASI program (a command with ``_start``, or a reactor with an entry export), read,
    hashed and compiled once, run many times, each run in a fresh instance (any thread).

    ``metered``: compiled with fuel metering, so that runs may set ``fuel`` and report
    ``fuel_used`` (wasmtime compiles the metering into the code: a metered and an unmetered
    program are two compilations, so choose once). ``sha256`` pins the module's bytes. Imports
    other than WASI's refuse the module (:class:`wasmcore.ModuleRejected`), unless
    ``trap_unknown_imports``: then each function import nothing provides is a function that
    traps when called (:class:`wasmcore.Trap` with code ``"unknown_import"``). ``max_stack``:
    bytes of wasm stack (default wasmtime's 512 KiB; 64 KiB to 1 MiB: wasmtime refuses more
    than its async stack size, and wasm runs on the calling thread's stack); deeper recursion
    is a ``stack_overflow`` trap."""

    def __init__(self, source: str | os.PathLike[str] | bytes | bytearray | memoryview, *,
                 metered: bool = False, sha256: str | None = None,
                 trap_unknown_imports: bool = False, max_stack: int | None = None) -> None:
        from .limits import MAX_STACK
        from .plugin import Plugin

        if max_stack is not None and (not isinstance(max_stack, int) or isinstance(
                max_stack, bool) or not 64 << 10 <= max_stack <= MAX_STACK):
            raise ValueError(f"Program(): parameter 'max_stack' must be a byte count from "
                             f"{64 << 10} to {MAX_STACK}, got {max_stack!r}")
        self.metered = bool(metered)
        self._loaded: Plugin = object.__new__(Plugin)
        self._loaded._load(source, None, METERED if metered else None, DEFAULT_MAX_MEMORY,
                           None, sha256, True, trap_unknown=bool(trap_unknown_imports),
                           stack=max_stack)
        self.name = self._loaded.name
        self.sha256 = self._loaded.sha256
        # it was instantiated once (a module that cannot start fails here); each run is a
        # plugin derived from it, so its own instance goes now (a large program's memory)
        self._loaded.close()

    @property
    def exports(self) -> dict[str, str]:
        """Export name -> its wasm type (as :attr:`Plugin.exports`)."""
        return self._loaded.exports

    def run(self, args: Sequence[str] = (), *, env: Mapping[str, str] | None = None,
            stdin: bytes = b"",
            dirs: Mapping[str, str | os.PathLike[str] | tuple[str | os.PathLike[str], str]]
            | None = None,
            timeout: float | None = None, fuel: int | None = None,
            max_memory: int = DEFAULT_MAX_MEMORY, entry: str | None = None,
            argv0: str | None = None, output_limit: int = 4 << 20,
            stdout: Callable[[bytes], object] | None = None,
            stderr: Callable[[bytes], object] | None = None,
            cancel: CancelToken | None = None) -> RunResult:
        """Runs the program once in a fresh instance: ``_start``, or (``entry``) a reactor's
        export after its ``_initialize``. ``args`` follow ``argv0`` (default: the program's
        name); ``dirs`` as in :class:`wasmcore.Wasi` (a bare path is read-only); stdout and
        stderr are each kept to ``output_limit`` bytes and, when given, streamed to
        ``stdout``/``stderr`` as written; ``cancel`` (a :class:`CancelToken`) stops the run
        from another thread. Failures of the program are in the result; Ctrl-C
        (``KeyboardInterrupt``) and wrong arguments are raised."""
        if cancel is not None and not isinstance(cancel, CancelToken):
            raise TypeError(f"run(): parameter 'cancel' must be a wasmcore.CancelToken, got "
                            f"{type(cancel).__name__}")
        if isinstance(args, (str, bytes)):
            raise TypeError("run(): parameter 'args' must be a sequence of strings, not one "
                            "string")
        if fuel is not None and not self.metered:
            raise ValueError(f"run(): parameter 'fuel': {self.name} was loaded without fuel "
                             "metering; load it with Program(..., metered=True)")
        check_limit("fuel", fuel, int)
        name = entry if entry is not None else "_start"
        ty = self._loaded._exports.get(name)
        if not isinstance(ty, wasmtime.FuncType) or ty.params \
                or [str(t) for t in ty.results] not in ([], ["i32"]):
            raise ValueError(f"run(): parameter 'entry': {self.name} exports no function "
                             f"{name!r} without parameters and with at most an i32 result")
        w = Wasi(args=list(args), env=dict(env or {}), dirs=dict(dirs or {}), stdin=stdin,
                 stdout=stdout, stderr=stderr, output_limit=output_limit, argv0=argv0)
        p = self._loaded._derive(timeout=timeout, max_memory=max_memory, wasi=w,
                                 fuel=(fuel if fuel is not None else METERED)
                                 if self.metered else None)
        try:
            return _run(p, name, entry is not None, cancel)
        finally:
            p.close()


def _run(p: Plugin, name: str, reactor: bool, token: CancelToken | None) -> RunResult:
    inst = p._instance()
    code: int | None = None
    error: Error | None = None
    h = handle(inst.watch, p.name)
    if token is not None:
        token._attach(h)
    start = time.monotonic()
    try:
        if reactor and isinstance(p._exports.get("_initialize"), wasmtime.FuncType):
            _call(inst, "_initialize", token)
        out = _call(inst, name, token)
        code = out if isinstance(out, int) else 0
    except Error as e:
        status = getattr(e, "exit_status", None)
        if status is not None:
            code = int(status)
        else:
            error = e
    finally:
        if token is not None:
            token._detach(h)
    elapsed = time.monotonic() - start
    # it exited after a growth was refused (known from the memory creator; else guessed from
    # its memory, only when it failed: see PluginInstance.refused)
    if code is not None and (inst.limits.denied or (code != 0 and inst.refused())):
        error = MemoryLimitExceeded(
            f"{p.name}: a growth of its memory past max_memory ({p.max_memory} bytes) was "
            f"refused, and it exited with status {code}")
    limit = next((label for cls, label in _LIMITS if isinstance(error, cls)), None)
    fuel_used = None
    if p.fuel is not None:
        try:
            fuel_used = p.fuel - inst.store.get_fuel()
        except wasmtime.WasmtimeError:  # pragma: no cover - a closed Store
            fuel_used = None
    (out_bytes, out_dropped), (err_bytes, err_dropped) = take(inst.stdout, inst.stderr)
    return RunResult(exit_code=code, stdout=out_bytes, stderr=err_bytes,
                     stdout_truncated=out_dropped > 0, stderr_truncated=err_dropped > 0,
                     limit=limit, error=error, elapsed=elapsed, fuel_used=fuel_used,
                     peak_memory=_memory_in_use(inst))


def _call(inst: Any, name: str, token: CancelToken | None) -> Any:
    """One call of the export ``name`` of a fresh instance, under its limits, through
    wasmtime-py's public call (binding the fast path's call costs more than it saves once)."""
    inst.arm()  # (a cancel from now on stops the call)
    if token is not None and token.cancelled:
        raise Cancelled(f"{inst.backend.plugin.name}: {name}() was cancelled", "cancelled")
    func = inst.exports[name]
    try:
        return inst.guard(lambda: func(inst.store))()
    except Exception as e:  # (each becomes the run's: see raised())
        raise inst.raised(e, name) from None


def _memory_in_use(inst: Any) -> int:
    if inst.backend.plugin._creator is not None:
        return int(inst.limits.used)
    try:
        return sum(m.data_len(inst.store) for m in inst.exports.values()
                   if isinstance(m, wasmtime.Memory))
    except Exception:  # (no exports: it failed to instantiate)
        return 0
