"""Stopping a plugin call while it runs: cancel handles, signal handlers (Ctrl-C), timeouts.

Every Store of a plugin has an epoch-deadline callback (``wasmtime_store_epoch_deadline_callback``):
wasmtime calls it, on the thread running the call, when the engine's epoch reaches the Store's
deadline. It either lets the call go on, with a new deadline, or stops it by returning an error:
the call fails, and the instance is re-created before the next call, as after any trap. It
stops a call (:meth:`Watch.decide`) when

* the cancel handle of the call's thread was used after the call began (:class:`CancelHandle`);
* the call's timeout has passed, by the ticker's clock (:attr:`.limits.Ticker.count`);
* a signal handler raised while the call ran: Python runs signal handlers on the main thread
  only, between bytecodes, so none runs while the main thread is in wasm; the callback is
  Python code on that thread, and the handlers run in it. Ctrl-C's handler raises
  ``KeyboardInterrupt``: the call stops and raises it. Handlers are never replaced: whatever
  the application installed runs, and a handler that does not raise lets the call go on.

Reaching a deadline. No Store's deadline is ever more than :data:`.limits.LONGEST_DEADLINE`
ticks ahead of the engine's epoch (:attr:`Watch.deadline`), so :meth:`Cancels.cancel`
advancing the epoch by that much (safe from any thread) reaches the deadline of the call it
cancels, and of every other Store of the engine: those run their callback once and go on. A
Store on the main thread has a deadline at most :data:`MAIN_DEADLINE` ticks ahead, and the
ticker thread keeps the epoch moving while an instance exists on the main thread, so a signal
is noticed within about 50 ms of wasm. A call between two deadlines costs nothing; the
callback runs at most once per deadline (a few µs).

Why the callback is a trampoline. A ctypes callback calls a Python function, and Python runs
the pending signal handlers as that function starts, before its first ``try``: an exception
raised there (Ctrl-C's) is printed as "Exception ignored", and ctypes returns whatever was on
the stack, which wasmtime would take as an error pointer. So the C callback is ``max(0,
error_1, ..., error_k, context, data, delta, kind, key=generator.send)``: built-in functions
only, up to a generator resumed at a ``yield`` inside its ``try``. The pending handlers run as
the generator resumes, in its own frame (3.10's check on entering a frame, the ``RESUME``
after a ``yield`` since 3.11), so what they raise is caught there (:func:`_trampoline`). ``max``
sends the items in order; the keys sent back (:meth:`_Hook.key`) make it return 0 (go on: no
error) or one of the errors made in advance (stop: wasmtime takes it). Only a second signal
arriving during the callback's own few microseconds, while the first one's exception is being
handled, could still escape.
"""

from __future__ import annotations

import ctypes
import functools
import signal
import threading
import weakref
from collections.abc import Callable, Generator
from typing import Any

import wasmtime

from .._backends import internals
from .._errors import Cancelled, Timeout
from .limits import LONGEST_DEADLINE, TICKER, epoch_advancer

MAIN_DEADLINE = 10  # ticks: the main thread's Stores run their callback every 50 ms of wasm
SPARE = 2  # errors made in advance per Store: a Store stops one call, then is replaced
STOP = b"wasmcore: the plugin call was stopped"


class _C:
    """The C functions of the deadline callbacks (made at first use, where the
    ``interrupts`` feature uses wasmtime-py's internals), every pointer an integer."""

    def __init__(self) -> None:
        # (context, data, epoch delta *, update kind *) -> wasmtime_error_t *
        restype, argtypes = internals.int_form(internals.EPOCH_CALLBACK._restype_,
                                               internals.EPOCH_CALLBACK._argtypes_)
        self.callback = ctypes.CFUNCTYPE(restype, *argtypes)
        self.set_callback = internals.c_function(
            "wasmtime_store_epoch_deadline_callback", None, ctypes.c_void_p, ctypes.c_void_p,
            ctypes.c_void_p, ctypes.c_void_p)
        self.error_new = internals.c_function("wasmtime_error_new", ctypes.c_void_p,
                                              ctypes.c_char_p)
        self.error_delete = internals.c_function("wasmtime_error_delete", None,
                                                 ctypes.c_void_p)


@functools.cache
def _c() -> _C:
    return _C()


class Cancels:
    """How many times the cancel handle of one thread's calls of one plugin was used, and how
    it reaches the call: advancing the epoch of the instance's engine (``advance``) by
    ``bump`` ticks, or by what ``left()`` says, enough to reach any deadline of its Stores."""

    __slots__ = ("advance", "bump", "count", "left")

    def __init__(self, advance: Callable[[int], None], bump: int,
                 left: Callable[[], int] | None = None) -> None:
        self.count = 0
        self.advance = advance
        self.bump = bump
        self.left = left

    def cancel(self) -> None:
        # (two racing cancels may count once: the count changes all the same)
        self.count += 1
        self.advance(self.bump if self.left is None else self.left())


class CancelHandle:
    """Stops a plugin call from any thread: ``handle.cancel()`` makes the call that the thread
    which took the handle (``p.cancel_handle()``) is running in the plugin raise
    :class:`wasmcore.Cancelled`, within milliseconds of wasm; the plugin is re-created, as after
    any trap. When that thread is not in a call of the plugin, nothing happens: later calls run
    as usual. Calls on other threads and other plugins go on."""

    __slots__ = ("_cancels", "_what")

    def __init__(self, cancels: Cancels, plugin: str, thread: str) -> None:
        self._cancels = cancels
        self._what = f"{plugin!r} on thread {thread!r}"

    def cancel(self) -> None:
        """Stops the call running now, if there is one. Never blocks; safe from any thread,
        a signal handler, or the plugin's own host functions."""
        self._cancels.cancel()

    def __repr__(self) -> str:
        return f"<wasmcore.CancelHandle of {self._what}>"


class Watch:
    """What stops the calls of one plugin instance (one thread): the state its Stores'
    deadline callbacks read (:meth:`decide`), armed before every call (:meth:`begin`, or
    inlined in ``PluginInstance.arm``).

    Without the deadline callback (where the ``interrupts`` feature uses wasmtime-py's public
    API: ``callbacks`` False), ``eng`` is the instance's own engine, and a deadline stops a
    call outright: each call gets the deadline :attr:`deadline` (its timeout in ticks, the
    ticker advancing this engine; else 1, which only a cancel reaches), set by the
    instance's :meth:`deadline_setter`; a cancel advances this engine alone by as much, so it
    reaches this instance's call and no other; a trap at the deadline is told apart by
    :meth:`stopped` (the cancel count moved: cancelled; else timed out). No callback runs, so
    signal handlers (Ctrl-C) run only when the call returns."""

    __slots__ = ("__weakref__", "_ticket", "callbacks", "cancels", "deadline", "expires",
                 "mark", "pending", "seen", "stop", "ticked", "ticks")

    def __init__(self, eng: wasmtime.Engine, ticks: int | None, callbacks: bool) -> None:
        self.callbacks = callbacks
        self.seen = 0  # the cancel count when the call began
        self.ticks = ticks  # the timeout, in ticks
        self.expires = 0  # when the call times out (ticker clock), if it has a timeout
        self.pending: BaseException | None = None  # a signal handler's, not yet acted on
        self.stop: type[BaseException] | BaseException | None = None  # why a call was stopped
        # (without the callback) the ticker's increments of this instance's engine, and their
        # count when the call's deadline was set
        self.ticked = [0]
        self.mark = 0
        self._ticket: list[tuple[int, bool]] = []
        if not self.callbacks:
            self.deadline = 1 if ticks is None else ticks
            self.cancels = Cancels(epoch_advancer(eng)[1], self.deadline,
                                   None if ticks is None else _left(weakref.ref(self), ticks))
            if ticks is not None:  # the ticker advances this engine: its deadlines time out
                self._ticket.append((TICKER.acquire(eng, True, self.ticked), True))
            return
        self.cancels = Cancels(epoch_advancer(eng)[1], LONGEST_DEADLINE)
        main = threading.current_thread() is threading.main_thread()
        cap = MAIN_DEADLINE if main else LONGEST_DEADLINE
        self.deadline = cap if ticks is None else min(cap, ticks)
        if main:  # the ticker keeps the epoch moving: signals are noticed during long calls
            self._ticket.append((TICKER.acquire(eng, timeout=False), False))

    def begin(self) -> None:
        """A call begins (not one made by a host function during another call of this
        instance: that one is part of the outer call)."""
        self.seen = self.cancels.count
        if self.ticks is not None:
            self.expires = TICKER.count + self.ticks

    def attach(self, store: wasmtime.Store) -> _Hook | None:
        """Gives a new Store of this instance its deadline callback (where there is one), and
        its first deadline, before it runs anything (the start function is a call too). The
        Store must keep what this returns."""
        hook = None
        if self.callbacks:
            hook = _Hook(self)
            _c().set_callback(internals.store_address(store), hook.address, None, None)
            store.set_epoch_deadline(self.deadline)
        else:
            self._set_deadline(store)
        self.begin()
        return hook

    def deadline_setter(self, store: wasmtime.Store) -> Callable[[], None] | None:
        """What sets the deadline of each call in ``store``, when that takes a call (without
        the callback: the deadline is relative to the epoch when it is set); else None."""
        if self.callbacks:
            return None
        return functools.partial(self._set_deadline, store)

    def _set_deadline(self, store: wasmtime.Store) -> None:
        self.mark = self.ticked[0]  # (read before the epoch: see stopped())
        store.set_epoch_deadline(self.deadline)

    def decide(self, can_stop: bool) -> int:
        """At a deadline, in the callback: 0 to stop the call (:attr:`stop` says why), else the
        ticks to the next deadline. (No calls in here: see the module's doc.)"""
        why: type[BaseException] | BaseException
        left = self.deadline
        if self.pending is not None:
            why = self.pending
        elif self.cancels.count != self.seen:
            why = Cancelled
        elif self.ticks is not None and (left := self.expires - TICKER.count) <= 0:
            why = Timeout
        else:
            return left if left < self.deadline else self.deadline  # (min() is a call)
        if not can_stop:  # this Store has no error left to stop with (see _Hook): go on
            return 1
        self.pending = None
        self.stop = why
        return 0

    def due(self) -> bool:
        """Whether the running call must stop now, asked by a host-side wait (see
        :mod:`.waits`): records why, as :meth:`decide` does, for :meth:`stopped`."""
        if self.pending is not None:
            return True
        if self.cancels.count != self.seen:
            self.stop = Cancelled
            return True
        if self.ticks is not None and self.expires - TICKER.count <= 0:
            self.stop = Timeout
            return True
        return False

    def stopped(self, where: str, timeout: float | None,
                interrupted: bool = False) -> BaseException | None:
        """The exception of a call that failed because the callback stopped it (None when it
        did not), or that failed while a signal handler's exception waited; clears both.
        Without the callback, a call that trapped at its deadline (``interrupted``)."""
        if interrupted and not self.callbacks:
            # The deadline was the timeout's if the ticker advanced the epoch that far since it
            # was set (its count follows each increment, so it may be one behind the epoch;
            # it was read before the epoch). Else a cancel's advance reached it, which may
            # land just after the call began: it stops that call.
            timed_out = self.ticks is not None and self.ticked[0] - self.mark >= self.ticks - 1
            self.stop = Timeout if timed_out and self.cancels.count == self.seen else Cancelled
        why, self.stop = self.stop, None
        if self.pending is not None:
            why, self.pending = self.pending, None
        if why is None:
            return None
        if why is Cancelled:
            return Cancelled(f"{where} was cancelled", "cancelled")
        if why is Timeout:
            return Timeout(f"{where} ran past its timeout of {timeout} s", "interrupt")
        assert isinstance(why, BaseException)
        return why  # what a signal handler raised: KeyboardInterrupt for Ctrl-C

    def retire(self) -> None:
        """The instance is closed or gone: the ticker need not watch for it (nor advance its
        own engine). Idempotent, and safe in a finalizer (one atomic pop, one lock-free
        release)."""
        try:
            key, timeout = self._ticket.pop()
        except IndexError:
            return
        TICKER.release(key, timeout)

    def __del__(self) -> None:
        try:  # noqa: SIM105 -- no global lookup (contextlib) that shutdown may have cleared
            self.retire()
        except Exception:
            pass


def _left(watch: Callable[[], Watch | None], ticks: int) -> Callable[[], int]:
    """How far a cancel must advance the epoch of an instance's own engine to reach the
    deadline of the call running there: what the ticker has not advanced of it yet (and one
    more: its count may be one behind), no further than the whole timeout (a cancel costs
    about a microsecond a tick)."""
    def left() -> int:
        w = watch()
        return ticks if w is None else min(ticks, max(1, ticks - (w.ticked[0] - w.mark) + 1))

    return left


class _Hook:
    """The deadline callback of one Store: the C callback, the generator behind it, and the
    errors it may return (wasmtime frees the one it gets; the others are freed with this)."""

    __slots__ = ("__weakref__", "address", "at", "choice", "delta", "errors", "fn", "gen",
                 "spent", "watch")

    def __init__(self, watch: Watch) -> None:
        self.watch = watch
        self.choice = self.delta = self.at = 0
        self.errors: list[int] = []
        self.spent = 0  # errors[:spent] were returned: wasmtime owns them
        for _ in range(SPARE):
            err = _c().error_new(STOP)
            if not err:
                raise MemoryError("wasmcore: cannot make a wasmtime error")
            self.errors.append(err)
        self.gen = _trampoline(self.key, self.failed, SPARE + 5)
        next(self.gen)
        self.fn = _c().callback(functools.partial(max, 0, *self.errors, key=self.gen.send))
        self.address = ctypes.cast(self.fn, ctypes.c_void_p).value

    def key(self, pos: int, item: int) -> int:
        """The key of the item at ``pos``. Items: 0 (go on), the errors (stop), then the
        callback's arguments: context, data, the delta's address, the update kind's address.
        The key 1 marks the one to return; the decision is taken at the first item."""
        if pos == 0:
            delta = self.watch.decide(self.spent < SPARE)
            choice = 0
            if not delta:
                self.spent += 1
                choice = self.spent
            self.choice, self.delta = choice, delta
            return 1 if choice == 0 else 0
        if pos <= SPARE:
            return 1 if pos == self.choice else 0
        if pos == SPARE + 3:
            self.at = item
        elif pos == SPARE + 4 and self.delta and self.at:  # (left at 0: called again at once)
            ctypes.c_uint64.from_address(self.at).value = self.delta
        return -1

    def failed(self, pos: int, e: BaseException) -> int:
        """A signal handler raised ``e`` as the item at ``pos`` was sent (the item is lost):
        the call stops at the first item, or at the next callback, which comes at once (the
        deadline is not moved)."""
        if self.watch.pending is None:
            self.watch.pending = e
        if pos:
            self.delta = 0
        return self.key(pos, 0)

    def __del__(self) -> None:
        try:  # never raise from a finalizer (interpreter exit)
            for err in self.errors[self.spent:]:
                _c().error_delete(err)
        except Exception:
            pass


def _trampoline(key: Callable[[int, int], int], failed: Callable[[int, BaseException], int],
                items: int) -> Generator[int, int, None]:
    """The generator the C callback's ``max`` sends its ``items`` items to, one callback after
    the other (see the module's doc). The position of each item is counted here, so that an
    exception anywhere cannot shift it."""
    answer = pos = 0
    while True:
        try:
            while True:
                item = yield answer  # (where pending signal handlers run: inside the try)
                answer = key(pos, item)
                pos = pos + 1 if pos + 1 < items else 0
        except GeneratorExit:
            return
        except BaseException as e:  # a signal handler's, raised at the yield or in key()
            answer = failed(pos, e)
            pos = pos + 1 if pos + 1 < items else 0


class SignalGuard:
    """SIGINT on the main thread while a plugin calls wasmtime-py's own host functions (the
    ``host functions`` feature on its public API). wasmtime-py's trampoline does Python work
    before its ``try``, where Python runs a pending signal handler: an exception raised there
    escapes a ctypes callback, which then hands wasmtime an undefined value (seen: "double
    free or corruption", the process aborted). So during such a call the SIGINT handler is one
    that only records the signal; the application's handler runs in the next host function,
    inside wasmcore's own ``try`` (:meth:`deliver`: what it raises fails the call and is
    raised by it, as a signal's exception is on every path), or once the call has returned.
    The application's handler is put back after every call. (Re-entrant: a host function may
    call the plugin again.)"""

    __slots__ = ("depth", "pending", "previous")

    def __init__(self) -> None:
        self.depth = 0
        self.pending: list[Any] = []  # the frames the signals arrived in
        self.previous: Any = None

    def __enter__(self) -> None:
        if self.depth == 0:
            previous = signal.getsignal(signal.SIGINT)
            if callable(previous):  # (SIG_DFL and SIG_IGN run no Python code)
                self.previous = previous
                signal.signal(signal.SIGINT, self._record)
        self.depth += 1

    def _record(self, signum: int, frame: Any) -> None:
        self.pending.append(frame)

    def deliver(self) -> None:
        """Runs the application's handler for each signal recorded (it may raise)."""
        while self.pending:
            frame = self.pending.pop(0)
            if self.previous is not None:
                self.previous(signal.SIGINT, frame)

    def __exit__(self, *exc: object) -> None:
        self.depth -= 1
        if self.depth == 0 and self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            try:
                self.deliver()
            finally:
                self.previous = None
                self.pending.clear()


def handle(watch: Watch, plugin: str) -> CancelHandle:
    """A cancel handle of the calling thread's calls, ``watch`` being its instance's."""
    return CancelHandle(watch.cancels, plugin, threading.current_thread().name)

