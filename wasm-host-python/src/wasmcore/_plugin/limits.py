"""The plugin sandbox's limits: the shared epoch ticker (timeouts), linear memories that
record a refused growth (the memory cap), and the plugin engines configured for both.

Where the ``interrupts`` feature uses wasmtime-py's internals (:mod:`wasmcore._backends.
internals`), plugins share one engine per configuration and the ticker advances its epoch
through the C function; elsewhere each plugin instance has an engine of its own (see
cancel.py), advanced through ``Engine.increment_epoch``. Where the ``memory creator`` feature
uses them, linear memories come from :class:`MemoryCreator`; elsewhere from wasmtime, capped
by ``Store.set_limits``."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import itertools
import mmap
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import wasmtime

from .._backends import internals, reaper

TICK = 0.005  # seconds per epoch tick of the shared ticker thread
SLOW = 10  # ticks per wake-up while no plugin has a timeout (the ticker only watches signals)
# The furthest epoch deadline a Store is ever given, in ticks (see cancel.py): so this many
# epoch increments reach every Store's deadline
LONGEST_DEADLINE = 100


# -- the epoch ticker -------------------------------------------------------------------------

class Ticker:
    """One daemon thread that advances the epoch of the plugin engines while they have users,
    and closes the Stores of dropped instances (:func:`wasmcore._backends.reaper.reap`) as it
    goes.

    Its users: every plugin with a timeout (a tick every :data:`TICK` seconds), and every
    plugin instance on the main thread (a wake-up every :data:`SLOW` ticks is enough there:
    its Store's deadline callback runs the signal handlers, see cancel.py). :attr:`count` is
    the clock of the timeouts: ticks since the ticker first started, not counting the time it
    was stopped; the epoch itself also advances when a call is cancelled, so it is no clock.
    An engine is advanced while it has users (an engine of one plugin instance is dropped
    with its last user).

    :meth:`release` is called from finalizers, so from wherever the garbage collector runs: it
    only queues (lock-free); the queue is counted under the lock by the ticker and by
    :meth:`acquire`, which the finalizer never takes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = {True: 0, False: 0}  # timeout: plugins with a timeout; else watchers
        self._released: deque[tuple[bool, int]] = deque()
        # engine key -> [advance(n), users] (see epoch_advancer)
        self._engines: dict[int, list[Any]] = {}
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._origin = time.monotonic()
        self.count = 0

    def _count_released(self) -> None:  # under self._lock
        while self._released:
            timeout, key = self._released.popleft()
            self._users[timeout] -= 1
            entry = self._engines.get(key)
            if entry is not None:
                entry[1] -= 1
                if entry[1] <= 0:
                    del self._engines[key]

    def acquire(self, eng: wasmtime.Engine, timeout: bool = True,
                ticked: list[int] | None = None) -> int:
        """One user more of ``eng``; returns the key :meth:`release` takes. ``ticked``: a
        counter of this ticker's increments of the engine's epoch (see
        :func:`epoch_advancer`)."""
        key, advance = epoch_advancer(eng, ticked)
        with self._lock:
            self._count_released()
            self._engines.setdefault(key, [advance, 0])[1] += 1
            self._users[timeout] += 1
            if self._thread is None:
                self._origin = time.monotonic() - self.count * TICK  # the clock goes on
                self._thread = threading.Thread(target=self._run, name="wasmcore-epoch",
                                                daemon=True)
                self._thread.start()
            elif timeout:
                self._wake.set()  # from slow to a tick every TICK at once
        return key

    def release(self, key: int, timeout: bool = True) -> None:
        """One user fewer of the engine ``key``. Safe in a finalizer: never blocks."""
        self._released.append((timeout, key))

    def _run(self) -> None:
        while True:
            with self._lock:
                self._count_released()
                if self._users[True] <= 0 and self._users[False] <= 0:
                    self._thread = None
                    return
                step = 1 if self._users[True] > 0 else SLOW
                engines = [advance for advance, _ in self._engines.values()]
            self._wake.wait(TICK * step)
            self._wake.clear()
            now = int((time.monotonic() - self._origin) / TICK)
            if now > self.count:
                n = min(now - self.count, LONGEST_DEADLINE)
                for advance in engines:
                    advance(n)
                # the clock moves after the epochs: whoever reads the clock and then an epoch
                # (a call setting its deadline and its expiry) never sees the epoch behind it
                self.count = now
            if reaper._GRAVE:
                reaper.reap()


def _advance_c(increment: Callable[[int], None], engine: int, n: int) -> None:
    for _ in range(n):
        increment(engine)


def _advance_public(eng: wasmtime.Engine, ticked: list[int] | None, n: int) -> None:
    for _ in range(n):
        eng.increment_epoch()
        if ticked is not None:  # (after each increment: never ahead of the epoch)
            ticked[0] += 1


@functools.cache
def _increment() -> Callable[[int], None]:
    """``wasmtime_engine_increment_epoch`` (thread-safe; called with the GIL held: ~0.1 µs)."""
    return internals.c_function("wasmtime_engine_increment_epoch", None,  # type: ignore[no-any-return]
                                ctypes.c_void_p)


def epoch_advancer(eng: wasmtime.Engine, ticked: list[int] | None = None
                   ) -> tuple[int, Callable[[int], None]]:
    """A key for ``eng`` and the function advancing its epoch by ``n``: the C function where
    the ``interrupts`` feature uses the internals (the key: the engine's address), else
    ``Engine.increment_epoch`` (the key: the object's id; the function keeps it alive), which
    also counts its increments in ``ticked[0]``."""
    if internals.usable("interrupts"):
        address = internals.engine_address(eng)
        return address, functools.partial(_advance_c, _increment(), address)
    return id(eng), functools.partial(_advance_public, eng, ticked)


TICKER = Ticker()


def release_ticking(owner: Any) -> None:
    """Releases what ``owner`` (a plugin or a component) holds of the ticker (its ``_ticking``
    key), if anything; idempotent, and safe in a finalizer."""
    with contextlib.suppress(Exception):
        key = getattr(owner, "_ticking", None)
        if key is not None:
            owner._ticking = None
            TICKER.release(key)


# -- linear memories that record a refused growth ---------------------------------------------

class Limits:
    """The memory budget of one plugin instance: bytes in use, the cap, and the size a refused
    growth asked for (``denied``; 0 when nothing was refused since the last call began); and
    the instance's :class:`.cancel.Watch`, which stops the call that a signal handler's
    exception escaped into the memory creator in (:meth:`escaped`)."""

    __slots__ = ("cap", "denied", "used", "watch")

    def __init__(self, cap: int, watch: Any = None) -> None:
        self.cap = cap
        self.used = 0
        self.denied = 0
        self.watch = watch

    def escaped(self, e: BaseException) -> None:
        if self.watch is not None and self.watch.pending is None:
            self.watch.pending = e


class Mapping:
    """One linear memory: ``span`` bytes of address space it may grow into, then a guard; and
    its own callbacks (``keep``)."""

    __slots__ = ("base", "keep", "limits", "size", "span", "total")

    def __init__(self, base: int, size: int, span: int, total: int, limits: Limits) -> None:
        self.base, self.size, self.span, self.total = base, size, span, total
        self.limits = limits
        self.keep: list[Any] = []


class MemoryCreator:
    """Gives wasmtime linear memories from ``mmap``: ``reserved + guard`` bytes of address
    space mapped ``PROT_NONE`` (so out-of-bounds accesses fault into wasmtime's trap handler,
    exactly as with its own memories), the accessible prefix made read-write as it grows.
    Growth beyond the instance's :class:`Limits` is refused and recorded. The limits come from
    the instance being instantiated on this thread (memories are created during
    instantiation).

    wasmtime calls it through the callback shape its C API has (``shape``, see
    :data:`wasmcore._backends.internals.NEW_MEMORY`): seven arguments up to wasmtime 50, one
    ``wasmtime_memory_request_t *`` since 51; both come to :meth:`_create`.

    Nothing unwinds into wasmtime, and wasmtime never gets an undefined value back. Every
    callback catches everything and returns an error instead; but Python runs pending signal
    handlers as a function starts, before its ``try``, so on the main thread Ctrl-C may raise
    there. A ctypes callback then hands wasmtime whatever was on the stack (seen: the process
    aborted, "double free or corruption", with SIGINT arriving during a plugin's growing
    memory). So the callbacks are cffi's where cffi is installed (a dependency): cffi hands
    such an exception to :meth:`_onerror`, which runs the callback again with the arguments
    from its frame and lets the call raise the exception (through the instance's
    :class:`.cancel.Watch`), and should that be interrupted too, returns a value safe for
    wasmtime fixed in advance: each memory has callbacks of its own, whose fixed value is its
    base address (``get_memory``) or success (``grow_memory``: the memory has not grown, which
    the next access finds out, a trap)."""

    def __init__(self, shape: str) -> None:
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
        # (the error pointer as an int: what the callbacks return)
        self._new_error = internals.c_function("wasmtime_error_new", ctypes.c_size_t,
                                               ctypes.c_char_p)
        self.current = threading.local()  # .limits while this thread instantiates a plugin
        # No lock: the callbacks run inside wasmtime, where the garbage collector may run a
        # finalizer at any allocation; every step here is one dict operation or next(),
        # which the GIL makes atomic (as wasmtime-py's own Slab does).
        self._maps: dict[int, Mapping] = {}
        self._keys = itertools.count(1)
        try:
            import cffi

            self._ffi: Any = cffi.FFI()
        except ImportError:  # pragma: no cover - cffi is a dependency
            self._ffi = None
        # the callbacks must outlive every memory: they are kept on this (immortal) object
        self._keep: list[Any] = []
        self._fin = self._callback(internals.FINALIZER, self._finalize, None, self._keep)
        new = self._new_memory_request if shape == "request" else self._new_memory_args
        # (fixed in advance: an error of its own, wasmtime frees it when it gets it)
        self._new = self._callback(internals.NEW_MEMORY[shape], new,
                                   self._error("wasmcore: instantiation was interrupted"),
                                   self._keep)
        self._nofin = self._callback(internals.FINALIZER, lambda env: None, None, self._keep)
        self.struct = internals.CREATORS[shape](None, self._new, self._nofin)

    def _callback(self, ctype: Any, fn: Callable[..., Any], fixed: int | None,
                  keep: list[Any]) -> Any:
        """``fn`` as a C callback of type ``ctype`` (pointers passed as ints), through cffi
        with ``fixed`` as its value where all else failed (see the class's doc), else through
        ctypes; what must stay alive goes to ``keep``."""
        restype, argtypes = internals.int_form(ctype._restype_, ctype._argtypes_)
        if self._ffi is None:
            cb: Any = ctypes.CFUNCTYPE(restype, *argtypes)(fn)
            keep.append(cb)
            return ctypes.cast(cb, ctype)
        cb = self._ffi.callback(internals.cffi_signature(ctype), fn,
                                **({} if fixed is None else {"error": fixed}),
                                onerror=functools.partial(self._onerror, fn, fixed))
        keep.append(cb)
        return ctypes.cast(int(self._ffi.cast("uintptr_t", cb)), ctype)

    def _onerror(self, fn: Callable[..., Any], fixed: int | None, kind: Any, e: Any,
                 tb: Any) -> int | None:
        """What escaped ``fn`` as it started (a signal handler's exception): it is handed to
        the instance, and ``fn`` runs again with the arguments its frame got."""
        frame = tb.tb_frame if tb is not None else None
        code = fn.__code__ if hasattr(fn, "__code__") else fn.__func__.__code__  # type: ignore[attr-defined]
        names = code.co_varnames[:code.co_argcount]
        limits: Limits | None = getattr(self.current, "limits", None)
        if frame is not None and frame.f_code is code:
            args = [frame.f_locals[n] for n in names if n != "self"]
            m = self._maps.get(args[0]) if fn is not self._new else None  # (env, for a memory)
            limits = m.limits if m is not None else limits
            if limits is not None:
                limits.escaped(e)
            return fn(*args)  # type: ignore[no-any-return]
        if limits is not None:
            limits.escaped(e)
        return fixed

    def _error(self, message: str) -> int:
        return int(self._new_error(message.encode()))

    def _failed(self, e: BaseException, limits: Limits | None) -> int:
        """The error for a callback that raised ``e``; a signal handler's exception (not an
        ``Exception``: Ctrl-C's ``KeyboardInterrupt``) is the call's to raise."""
        if limits is not None and not isinstance(e, Exception):
            limits.escaped(e)
        return self._error(f"wasmcore memory creator failed: {e!r}")

    def _new_memory_args(self, env: int, ty: int, minimum: int, maximum: int, reserved: int,
                         guard: int, out: int) -> int:
        return self._create(minimum, maximum, reserved, guard, out)

    def _new_memory_request(self, env: int, request: int, out: int) -> int:
        try:
            r = internals.wasmtime_memory_request.from_address(request)
            return self._create(r.minimum, r.maximum, r.reserved_size_in_bytes,
                                r.guard_size_in_bytes, out)
        except BaseException as e:  # never unwind into wasmtime
            return self._failed(e, getattr(self.current, "limits", None))

    def _create(self, minimum: int, maximum: int, reserved: int, guard: int, out: int) -> int:
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
            m = self._maps[key] = Mapping(base, minimum, span, total, limits)
            limits.used += minimum
            # this memory's own callbacks (their fixed values are its own: see the class)
            get = self._callback(internals.MEMORY_GET, self._get_memory, base, m.keep)
            grow = self._callback(internals.MEMORY_GROW, self._grow_memory, 0, m.keep)
            mem = internals.wasmtime_linear_memory.from_address(out)
            mem.env = key
            mem.get_memory = get
            mem.grow_memory = grow
            mem.finalizer = self._fin
            return 0
        except BaseException as e:  # never unwind into wasmtime
            return self._failed(e, getattr(self.current, "limits", None))

    def _get_memory(self, env: int, size: int, max_size: int) -> int:
        m = self._maps[env]
        ctypes.c_size_t.from_address(size).value = m.size
        ctypes.c_size_t.from_address(max_size).value = m.span
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
            m = self._maps.get(env)
            return self._failed(e, m.limits if m is not None else None)

    def _finalize(self, env: int) -> None:
        m = self._maps.pop(env, None)
        if m is not None:
            m.limits.used -= m.size
            self._munmap(m.base, m.total)


_CREATORS: dict[str, MemoryCreator] = {}  # by callback shape; never freed (memories call it)
_CREATORS_LOCK = threading.Lock()


def creator() -> MemoryCreator | None:
    """The memory creator, where the ``memory creator`` feature uses wasmtime-py's internals
    (made at first use; None elsewhere, and off POSIX). A plugin takes it (or None) once, and
    its engine and instances keep to that."""
    shape = internals.decision().shape
    if shape is None or os.name != "posix" or not hasattr(mmap, "MAP_ANONYMOUS"):
        return None
    with _CREATORS_LOCK:
        made = _CREATORS.get(shape)
        if made is None:
            try:
                made = _CREATORS[shape] = MemoryCreator(shape)
            except (AttributeError, OSError):  # pragma: no cover - depends on the platform
                return None
        return made


ENGINES: dict[str, wasmtime.Engine] = {}
ENGINES_LOCK = threading.Lock()


# The largest wasm stack a plugin may ask for (see new_engine): wasmtime's engine refuses
# one over its async stack size (2 MiB by default), and wasmtime-py's Engine() aborts the
# process on that refusal, so it is never asked for more
MAX_STACK = 1 << 20


def engine_config(fuel: bool, made: MemoryCreator | None, stack: int | None = None) -> str:
    """The configuration of the plugin engine (part of the compile cache's key)."""
    extra = "" if stack is None else f";stack={stack}"
    return f"plugin;epoch;fuel={int(fuel)};creator={int(made is not None)};opt=speed{extra}"


def new_engine(fuel: bool, made: MemoryCreator | None,
               stack: int | None = None) -> wasmtime.Engine:
    """A plugin engine: epoch interruption; fuel metering when ``fuel``; linear memories
    from the memory creator ``made`` (None: wasmtime's own); ``stack`` bytes of wasm stack
    (None: wasmtime's default, 512 KiB), at most :data:`MAX_STACK` (wasm runs on the calling
    thread's own stack too: threads get 8 MiB on Linux, the main thread ``ulimit -s``)."""
    cfg = wasmtime.Config()
    cfg.epoch_interruption = True
    cfg.consume_fuel = fuel
    cfg.cranelift_opt_level = "speed"
    if stack is not None:
        cfg.max_wasm_stack = stack
    if made is not None:
        config = internals.pointer(cfg)
        internals.c_function("wasmtime_config_host_memory_creator_set", None, ctypes.c_void_p,
                             ctypes.c_void_p)(config, ctypes.addressof(made.struct))
        # copy-on-write initialisation needs wasmtime's own mmap memories
        internals.c_function("wasmtime_config_memory_init_cow_set", None, ctypes.c_void_p,
                             ctypes.c_bool)(config, False)
    else:  # the zero-copy views and the scratch area need memory that never moves
        cfg.memory_may_move = False
    return wasmtime.Engine(cfg)


def engine(fuel: bool, made: MemoryCreator | None, stack: int | None = None) -> wasmtime.Engine:
    """The plugin engine of that configuration (see :func:`new_engine`), shared."""
    key = engine_config(fuel, made, stack)
    with ENGINES_LOCK:
        eng = ENGINES.get(key)
        if eng is None:
            eng = ENGINES[key] = new_engine(fuel, made, stack)
        return eng
