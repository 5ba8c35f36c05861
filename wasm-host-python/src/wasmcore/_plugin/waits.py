"""WASI's waiting calls done by wasmcore, so that every limit reaches a plugin that waits.

wasmtime implements WASI on the host side: a plugin asleep in ``poll_oneoff`` (C's
``sleep``, ``nanosleep``, ``clock_nanosleep``; Python's ``time.sleep``) waits in Rust, where
epoch interruption cannot reach it, so a timeout, a cancel handle or Ctrl-C would land only
when the sleep ends (``time.sleep(10**9)`` would hold the thread for good). So a WASI
plugin's ``poll_oneoff`` is wasmcore's: it waits in short slices and, between them, stops the
call as the Store's deadline would (:meth:`wasmcore._plugin.cancel.Watch.due`) and lets
Python run signal handlers (Ctrl-C raises there, and is the call's exception). Its
``clock_time_get`` is wasmcore's too, so that a sleep until an absolute time of the
monotonic clock (CPython sleeps that way) is measured on the clock it was read from.

What waits elsewhere cannot block: stdin is a file of the bytes given (a read at its end is
end-of-file), stdout and stderr are drained as they are written (see :mod:`.wasi`), and a
preopened directory holds only files. In ``poll_oneoff``, a subscription to a descriptor is
ready at once (as POSIX says of files); the read or write that follows reports whether the
descriptor exists.

Both calls are the same for ``wasi_snapshot_preview1`` and ``wasi_unstable``, but for the
layout of a clock subscription (``_LAYOUTS``, from the WASI witx files).
"""

from __future__ import annotations

import ctypes
import struct
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import wasmtime

from .wasi import WASI_MODULES

if TYPE_CHECKING:
    from .instance import PluginInstance

# errno values of WASI
SUCCESS, EFAULT, EINVAL = 0, 21, 28
# clock ids: realtime, monotonic, process CPU time, thread CPU time
REALTIME, MONOTONIC = 0, 1
SLICE = 0.005  # seconds of waiting between two looks at the limits
ABSTIME = 1  # subclockflags: the timeout is a time of the clock, not a duration

# module -> (bytes per subscription, offset of (clock id, timeout, flags) in a clock one)
_LAYOUTS = {"wasi_snapshot_preview1": (48, (16, 24, 40)),
            "wasi_unstable": (56, (24, 32, 48))}  # (an 8-byte "identifier" comes first)
_EVENT = struct.Struct("<QHBxxxxxQH6x")  # userdata, error, type, nbytes, flags: 32 bytes
assert _EVENT.size == 32 and set(_LAYOUTS) == set(WASI_MODULES)


class Clock:
    """The clocks of one instance: realtime is the host's; monotonic counts from the
    instance's creation; the CPU-time clocks are the monotonic one (a guest is not told the
    host's CPU time)."""

    def __init__(self) -> None:
        self.origin = time.monotonic_ns()

    def now(self, clock: int) -> int | None:
        if clock == REALTIME:
            return time.time_ns()
        if 0 <= clock <= 3:
            return time.monotonic_ns() - self.origin
        return None


def define(instance: PluginInstance, imported: set[tuple[str, str]]
           ) -> dict[tuple[str, str], tuple[Callable[..., Any], wasmtime.FuncType]]:
    """The host functions replacing wasmtime's ``poll_oneoff`` and ``clock_time_get`` in the
    WASI modules the plugin imports them from (for :func:`wasmcore._plugin.host.define`)."""
    i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
    ref = weakref.ref(instance)
    clock = Clock()
    out: dict[tuple[str, str], tuple[Callable[..., Any], wasmtime.FuncType]] = {}
    for mod in WASI_MODULES:
        if (mod, "poll_oneoff") in imported:
            out[mod, "poll_oneoff"] = (_poll(ref, clock, *_LAYOUTS[mod]),
                                       wasmtime.FuncType([i32, i32, i32, i32], [i32]))
        if (mod, "clock_time_get") in imported:
            out[mod, "clock_time_get"] = (_time(ref, clock),
                                          wasmtime.FuncType([i32, i64, i32], [i32]))
    return out


def _memory(inst: PluginInstance | None) -> tuple[int, int]:
    """The host address and the length of the instance's memory ((0, 0) when it has none
    yet: instantiation)."""
    exports = getattr(inst, "exports", None)
    mem = exports.get("memory") if exports is not None else None
    if not isinstance(mem, wasmtime.Memory) or inst is None:
        return 0, 0
    return ctypes.addressof(mem.data_ptr(inst.store).contents), mem.data_len(inst.store)


def _at(memory: tuple[int, int], ptr: int, size: int) -> int | None:
    """The host address of ``size`` bytes at ``ptr`` of ``memory``, or None when they are
    not all inside it."""
    base, length = memory
    return base + ptr if ptr >= 0 and size >= 0 and ptr + size <= length else None


def _time(ref: Callable[[], PluginInstance | None], clock: Clock) -> Callable[..., int]:
    def clock_time_get(clock_id: int, precision: int, at: int) -> int:
        now = clock.now(clock_id)
        if now is None:
            return EINVAL
        address = _at(_memory(ref()), at & 0xFFFFFFFF, 8)
        if address is None:
            return EFAULT
        ctypes.c_uint64.from_address(address).value = now
        return SUCCESS

    return clock_time_get


def _poll(ref: Callable[[], PluginInstance | None], clock: Clock, size: int,
          offsets: tuple[int, int, int]) -> Callable[..., int]:
    at_id, at_timeout, at_flags = offsets

    def poll_oneoff(subs: int, events: int, n: int, count: int) -> int:
        inst = ref()
        n &= 0xFFFFFFFF
        if n == 0:
            return EINVAL
        memory = _memory(inst)
        src = _at(memory, subs & 0xFFFFFFFF, n * size)
        dst = _at(memory, events & 0xFFFFFFFF, n * _EVENT.size)
        counted = _at(memory, count & 0xFFFFFFFF, 4)
        if src is None or dst is None or counted is None or inst is None:
            return EFAULT
        raw = ctypes.string_at(src, n * size)
        ready: list[bytes] = []  # the events, packed
        timers: list[tuple[int, int]] = []  # (monotonic deadline in ns, subscription)
        start = time.monotonic_ns()
        for k in range(n):
            base = k * size
            userdata, tag = struct.unpack_from("<QB", raw, base)
            if tag != 0:  # fd_read (1), fd_write (2): ready at once; else not a subscription
                error = SUCCESS if tag in (1, 2) else EINVAL
                ready.append(_EVENT.pack(userdata, error, tag, 0, 0))
                continue
            clock_id, = struct.unpack_from("<I", raw, base + at_id)
            timeout, = struct.unpack_from("<Q", raw, base + at_timeout)
            flags, = struct.unpack_from("<H", raw, base + at_flags)
            now = clock.now(clock_id)
            if now is None:
                ready.append(_EVENT.pack(userdata, EINVAL, 0, 0, 0))
                continue
            wait = timeout - now if flags & ABSTIME else timeout
            timers.append((start + max(wait, 0), k))
        if not ready and timers:
            deadline = min(t for t, _ in timers)
            _wait(inst, deadline)
            now = time.monotonic_ns()
            for t, k in timers:
                if t <= now:
                    userdata, = struct.unpack_from("<Q", raw, k * size)
                    ready.append(_EVENT.pack(userdata, SUCCESS, 0, 0, 0))
        ctypes.memmove(dst, b"".join(ready), len(ready) * _EVENT.size)
        ctypes.c_uint32.from_address(counted).value = len(ready)
        return SUCCESS

    return poll_oneoff


def _wait(inst: PluginInstance, deadline: int) -> None:
    """Sleeps until the monotonic ``deadline`` (ns), in slices; between them stops the call
    (raises) when a limit says so, and runs signal handlers (which may raise)."""
    watch, signals = inst.watch, inst.signals
    while True:
        if signals is not None and signals.pending:
            signals.deliver()  # (the application's handler: Ctrl-C's raises)
        if watch.due():
            raise Stopped
        left = deadline - time.monotonic_ns()
        if left <= 0:
            return
        time.sleep(min(left / 1e9, SLICE))  # (Python runs signal handlers here)


class Stopped(Exception):
    """Raised by a waiting call that a limit stopped: the call reports what the instance's
    :class:`.cancel.Watch` recorded (a timeout, a cancel, a signal handler's exception)."""
