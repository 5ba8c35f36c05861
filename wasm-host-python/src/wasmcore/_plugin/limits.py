"""The plugin sandbox's limits: the shared epoch ticker (timeouts), linear memories that
record a refused growth (the memory cap), and the plugin engines configured for both."""

from __future__ import annotations

import ctypes
import itertools
import mmap
import os
import threading
from collections import deque
from typing import Any

import wasmtime

from .._backends import reaper

TICK = 0.005  # seconds per epoch tick of the shared ticker thread
NO_DEADLINE = 1 << 62


# -- the epoch ticker -------------------------------------------------------------------------

class Ticker:
    """One daemon thread that advances the epoch of the plugin engines every :data:`TICK`
    seconds while some plugin with a timeout is alive, and closes the Stores of dropped
    instances (:func:`wasmcore._backends.reaper.reap`) as it goes.

    :meth:`release` is called from ``Plugin.__del__``, so from wherever the garbage collector
    runs: it only queues (lock-free); the queue is counted under the lock by the ticker and by
    :meth:`acquire`, which the finalizer never takes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._released: deque[None] = deque()
        self._engines: list[wasmtime.Engine] = []
        self._thread: threading.Thread | None = None

    def _count_released(self) -> None:  # under self._lock
        while self._released:
            self._released.popleft()
            self._users -= 1

    def acquire(self, eng: wasmtime.Engine) -> None:
        with self._lock:
            self._count_released()
            if all(e is not eng for e in self._engines):
                self._engines.append(eng)
            self._users += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="wasmcore-epoch",
                                                daemon=True)
                self._thread.start()

    def release(self) -> None:
        """One user fewer. Safe in a finalizer: never blocks."""
        self._released.append(None)

    def _run(self) -> None:
        stop = threading.Event()
        while not stop.wait(TICK):
            with self._lock:
                self._count_released()
                if self._users <= 0:
                    self._thread = None
                    return
                engines = list(self._engines)
            for eng in engines:
                eng.increment_epoch()
            if reaper._GRAVE:
                reaper.reap()


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
