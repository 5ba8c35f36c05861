"""The plugin sandbox's limits: the shared epoch ticker (timeouts), linear memories that
record a refused growth (the memory cap), and the plugin engines configured for both."""

from __future__ import annotations

import ctypes
import itertools
import mmap
import os
import threading
import time
from collections import deque
from typing import Any

import wasmtime
from wasmtime import _bindings

from .._backends import reaper

TICK = 0.005  # seconds per epoch tick of the shared ticker thread
SLOW = 10  # ticks per wake-up while no plugin has a timeout (the ticker only watches signals)
# The furthest epoch deadline a Store is ever given, in ticks (see cancel.py): so this many
# epoch increments reach every Store's deadline
LONGEST_DEADLINE = 100


# -- the epoch ticker -------------------------------------------------------------------------

class Ticker:
    """One daemon thread that advances the epoch of the plugin engines while it has users, and
    closes the Stores of dropped instances (:func:`wasmcore._backends.reaper.reap`) as it goes.

    Its users: every plugin with a timeout (a tick every :data:`TICK` seconds), and every
    plugin instance on the main thread (a wake-up every :data:`SLOW` ticks is enough there:
    its Store's deadline callback runs the signal handlers, see cancel.py). :attr:`count` is
    the clock of the timeouts: ticks since the ticker first started, not counting the time it
    was stopped; the epoch itself also advances when a call is cancelled, so it is no clock.

    :meth:`release` is called from finalizers, so from wherever the garbage collector runs: it
    only queues (lock-free); the queue is counted under the lock by the ticker and by
    :meth:`acquire`, which the finalizer never takes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = {True: 0, False: 0}  # timeout: plugins with a timeout; else watchers
        self._released: deque[bool] = deque()
        self._engines: list[int] = []  # wasm_engine_t addresses (the engines are immortal)
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._origin = time.monotonic()
        self.count = 0

    def _count_released(self) -> None:  # under self._lock
        while self._released:
            self._users[self._released.popleft()] -= 1

    def acquire(self, eng: wasmtime.Engine, timeout: bool = True) -> None:
        addr = engine_address(eng)
        with self._lock:
            self._count_released()
            if addr not in self._engines:
                self._engines.append(addr)
            self._users[timeout] += 1
            if self._thread is None:
                self._origin = time.monotonic() - self.count * TICK  # the clock goes on
                self._thread = threading.Thread(target=self._run, name="wasmcore-epoch",
                                                daemon=True)
                self._thread.start()
            elif timeout:
                self._wake.set()  # from slow to a tick every TICK at once

    def release(self, timeout: bool = True) -> None:
        """One user fewer. Safe in a finalizer: never blocks."""
        self._released.append(timeout)

    def _run(self) -> None:
        while True:
            with self._lock:
                self._count_released()
                if self._users[True] <= 0 and self._users[False] <= 0:
                    self._thread = None
                    return
                step = 1 if self._users[True] > 0 else SLOW
                engines = list(self._engines)
            self._wake.wait(TICK * step)
            self._wake.clear()
            now = int((time.monotonic() - self._origin) / TICK)
            if now > self.count:
                n = min(now - self.count, LONGEST_DEADLINE)
                self.count = now
                for addr in engines:
                    increment_epoch(addr, n)
            if reaper._GRAVE:
                reaper.reap()


def engine_address(eng: wasmtime.Engine) -> int:
    return ctypes.cast(eng.ptr(), ctypes.c_void_p).value or 0


def increment_epoch(engine: int, n: int) -> None:
    """Advances the epoch of the engine at address ``engine`` by ``n`` (the C function is
    thread-safe and called without releasing the GIL: ~0.1 µs an increment)."""
    for _ in range(n):
        _INCREMENT(engine)


def c_function(name: str, restype: Any, *argtypes: Any) -> Any:
    """wasmtime's C function ``name`` from wasmtime-py's library, called with the GIL held
    (for the short calls here, cheaper than releasing it and taking it back)."""
    address = ctypes.cast(getattr(_bindings, "_" + name), ctypes.c_void_p).value
    assert address, name
    return ctypes.PYFUNCTYPE(restype, *argtypes)(address)


_INCREMENT = c_function("wasmtime_engine_increment_epoch", None, ctypes.c_void_p)
TICKER = Ticker()


# -- linear memories that record a refused growth ---------------------------------------------

class Limits:
    """The memory budget of one plugin instance: bytes in use, the cap, and the size a refused
    growth asked for (``denied``; 0 when nothing was refused since the last call began)."""

    __slots__ = ("cap", "denied", "used")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.used = 0
        self.denied = 0


class Mapping:
    """One linear memory: ``span`` bytes of address space it may grow into, then a guard."""

    __slots__ = ("base", "limits", "size", "span", "total")

    def __init__(self, base: int, size: int, span: int, total: int, limits: Limits) -> None:
        self.base, self.size, self.span, self.total = base, size, span, total
        self.limits = limits


class MemoryCreator:
    """Gives wasmtime linear memories from ``mmap``: ``reserved + guard`` bytes of address
    space mapped ``PROT_NONE`` (so out-of-bounds accesses fault into wasmtime's trap handler,
    exactly as with its own memories), the accessible prefix made read-write as it grows.
    Growth beyond the instance's :class:`Limits` is refused and recorded. The limits come from
    the instance being instantiated on this thread (memories are created during
    instantiation)."""

    def __init__(self) -> None:
        from wasmtime import _bindings as B

        libc = ctypes.CDLL(None, use_errno=True)
        self._mmap = libc.mmap
        self._mmap.restype = ctypes.c_void_p
        self._mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                               ctypes.c_int, ctypes.c_long]
        self._mprotect = libc.mprotect
        self._mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        self._munmap = libc.munmap
        self._munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        self._flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_NORESERVE", 0)
        self._rw = mmap.PROT_READ | mmap.PROT_WRITE
        self._new_error = B.wasmtime_error_new
        self.current = threading.local()  # .limits while this thread instantiates a plugin
        # No lock: the callbacks run inside wasmtime, where the garbage collector may run a
        # finalizer at any allocation; every step here is one dict operation or next(),
        # which the GIL makes atomic (as wasmtime-py's own Slab does).
        self._maps: dict[int, Mapping] = {}
        self._keys = itertools.count(1)
        fin = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
        # the callbacks must outlive every memory: they are kept on this (immortal) object
        self._get = B.wasmtime_memory_get_callback_t(self._get_memory)
        self._grow = B.wasmtime_memory_grow_callback_t(self._grow_memory)
        self._fin = fin(self._finalize)
        self._new = B.wasmtime_new_memory_callback_t(self._new_memory)
        self._nofin = fin(lambda env: None)
        self.struct = B.wasmtime_memory_creator(None, self._new, self._nofin)
        self._linear_memory = B.wasmtime_linear_memory_t

    def _error(self, message: str) -> int:
        return ctypes.cast(self._new_error(message.encode()), ctypes.c_void_p).value or 0

    def _new_memory(self, env: int, ty: Any, minimum: int, maximum: int, reserved: int,
                    guard: int, out: Any) -> int:
        try:
            limits: Limits | None = getattr(self.current, "limits", None)
            if limits is None:  # a memory made outside instantiation: no plugin to charge
                limits = Limits(1 << 64)
            if limits.used + minimum > limits.cap:
                limits.denied = max(limits.denied, minimum)
                return self._error(f"memory minimum size of {minimum} bytes exceeds the "
                                   f"plugin's max_memory of {limits.cap} bytes")
            span = max(reserved, minimum, min(maximum, limits.cap))
            total = span + guard
            base = self._mmap(None, total, 0, self._flags, -1, 0)
            if base is None or base == ctypes.c_void_p(-1).value:
                return self._error(f"cannot reserve {total} bytes of address space")
            if minimum and self._mprotect(base, minimum, self._rw) != 0:
                self._munmap(base, total)
                return self._error("cannot make linear memory accessible")
            key = next(self._keys)
            self._maps[key] = Mapping(base, minimum, span, total, limits)
            limits.used += minimum
            mem = out[0]
            mem.env = key
            mem.get_memory = self._get
            mem.grow_memory = self._grow
            mem.finalizer = self._fin
            return 0
        except BaseException as e:  # never unwind into wasmtime
            return self._error(f"wasmcore memory creator failed: {e!r}")

    def _get_memory(self, env: int, size: Any, max_size: Any) -> int:
        m = self._maps[env]
        size[0] = m.size
        max_size[0] = m.span
        return m.base

    def _grow_memory(self, env: int, new_size: int) -> int:
        try:
            m = self._maps[env]
            lim = m.limits
            if new_size <= m.size:
                return 0
            if lim.used - m.size + new_size > lim.cap or new_size > m.span:
                lim.denied = max(lim.denied, new_size)
                return self._error(f"growing memory to {new_size} bytes exceeds the plugin's "
                                   f"max_memory of {lim.cap} bytes")
            if self._mprotect(m.base, new_size, self._rw) != 0:
                return self._error("cannot make linear memory accessible")
            lim.used += new_size - m.size
            m.size = new_size
            return 0
        except BaseException as e:
            return self._error(f"wasmcore memory creator failed: {e!r}")

    def _finalize(self, env: int) -> None:
        m = self._maps.pop(env, None)
        if m is not None:
            m.limits.used -= m.size
            self._munmap(m.base, m.total)


def memory_creator() -> MemoryCreator | None:
    if os.name != "posix" or not hasattr(mmap, "MAP_ANONYMOUS"):
        return None
    try:
        return MemoryCreator()
    except (AttributeError, OSError):  # pragma: no cover - depends on the platform
        return None


CREATOR = memory_creator()
ENGINES: dict[bool, wasmtime.Engine] = {}
ENGINES_LOCK = threading.Lock()


def engine_config(fuel: bool) -> str:
    return f"plugin;epoch;fuel={int(fuel)};creator={int(CREATOR is not None)};opt=speed"


def engine(fuel: bool) -> wasmtime.Engine:
    """The engine for plugins (epoch interruption; fuel metering when ``fuel``), shared."""
    with ENGINES_LOCK:
        eng = ENGINES.get(fuel)
        if eng is None:
            cfg = wasmtime.Config()
            cfg.epoch_interruption = True
            cfg.consume_fuel = fuel
            cfg.cranelift_opt_level = "speed"
            if CREATOR is not None:
                from wasmtime import _bindings as B

                B.wasmtime_config_host_memory_creator_set(cfg.ptr(), ctypes.byref(CREATOR.struct))
                # copy-on-write initialisation needs wasmtime's own mmap memories
                B.wasmtime_config_memory_init_cow_set(cfg.ptr(), False)
            else:  # pragma: no cover - non-POSIX
                cfg.memory_may_move = False
            eng = ENGINES[fuel] = wasmtime.Engine(cfg)
        return eng
