"""Finalizers that never block: they enqueue, and the work is done at a safe point.

The garbage collector runs finalizers (``__del__``, weakref callbacks, and through them the
destructors of wasmtime-py objects) inside any allocation, on any thread, even inside a
wasmtime callback (instantiation, memory growth, a host function). A finalizer that takes a
lock the interrupted code holds deadlocks the process; one that calls into a Store re-enters
wasmtime (or the module's allocator) in the middle of another operation. So, everywhere in
wasmcore:

* a finalizer only appends to a ``collections.deque`` (atomic under the GIL, never blocks,
  runs no Python code): a wasm object's drop or a buffer's free goes on its context's queue
  (:class:`wasmcore._abi.objects.Context`), a Store goes on :data:`_GRAVE`;
* no lock is ever taken by a finalizer, so holding one while allocating is harmless (the
  one lock here, serializing :func:`reap`, is taken only at safe points);
* the queued work is done at safe points: the owning thread's next constructor or
  ``empty()`` (drops and frees), and :func:`reap` (Stores), which runs when an instance is
  created or replaced, when a plugin is created, called or closed, and on every tick of the
  plugins' epoch thread. :func:`reap` does nothing inside a host function
  (:data:`RUNNING` counts those).

Stores. A wasmtime-py ``Store`` deletes itself in its own ``__del__``; were it ever collected
by the GC, that deletion (which frees its linear memories and runs their finalizers) could
happen anywhere. So every Store wasmcore creates is kept in :data:`_KEEP` from birth, and owned
through a :class:`StoreOwner`: the instance and every zero-copy buffer over its memory hold the
owner; the owner's finalizer queues the Store; :func:`reap` closes it explicitly. Only the
Store needs this: the other wasmtime objects' destructors (modules, linkers, traps, errors,
types) free plain heap objects and touch no Store.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

# Stores whose owners are gone, to be closed by reap(); appended to by finalizers only.
_GRAVE: deque[Any] = deque()
# Every Store wasmcore created and has not closed: keeps them reachable, so the GC never
# finalizes one (it would delete it wherever the collection happens to run).
_KEEP: set[Any] = set()


class _Running(threading.local):
    """``depth``: how many host functions run on this thread. A host function adds 1 as it
    starts and takes it back as it ends (in a ``finally``), by attribute arithmetic alone (no
    call, where Python could run a signal handler that raises: see wasmcore._plugin.host)."""

    depth = 0  # (on a thread that never set it)


RUNNING = _Running()
# Serializes reap(): when one returns, every Store queued before it is closed, even those
# another thread (the epoch ticker) had taken. Never taken by a finalizer, and closing a Store
# runs only lock-free finalizers, so holding it there is safe.
_REAP_LOCK = threading.Lock()


class StoreOwner:
    """Owns one wasmtime ``Store``: whoever may still touch the Store's memory holds this
    object; when the last holder goes, its finalizer queues the Store for :func:`reap`."""

    __slots__ = ("__weakref__", "store")

    def __init__(self, store: Any) -> None:
        self.store = store
        _KEEP.add(store)

    def __del__(self) -> None:
        try:  # noqa: SIM105 -- no global lookup (contextlib) that shutdown may have cleared
            _GRAVE.append(self.store)
        except Exception:
            pass


def reap() -> int:
    """Closes the Stores whose owners are gone; returns how many. A safe point: call it only
    from wasmcore's own code, never from a finalizer. Inside a host function it does nothing
    (the Stores wait for the next safe point)."""
    if RUNNING.depth:
        return 0
    n = 0
    with _REAP_LOCK:
        while True:
            try:
                store = _GRAVE.popleft()
            except IndexError:
                return n
            _KEEP.discard(store)
            store.close()  # wasmtime_store_delete: frees the memories (their finalizers run)
            n += 1


def in_callback() -> bool:
    """Whether a host function is running on this thread."""
    return bool(RUNNING.depth)
