"""Exported Rust types as Python classes, the same on every backend.

An object holds its handle and the :class:`Context` it was created in. A context is where
handles mean something: one wasm instance (so one thread, and only until a trap replaces the
instance), or the whole native library, or the Python process for the reference backend. Every
method checks that the object is open and its context still alive before the handle crosses, so
a closed or orphaned object is a ``ValueError`` / ``wasmcore.Error``, never a crash or another
object's data. ``close()``, ``with`` and the finalizer free the Rust object.
"""

from __future__ import annotations

import contextlib
import inspect
import keyword
import sys
import threading
from _thread import get_ident
from collections import deque
from collections.abc import Callable
from typing import Any

from .._errors import Error
from .convert import signature
from .manifest import ClassSpec, MethodSpec


class Context:
    """Where handles (and, on the wasm backend, zero-copy arrays) are valid. ``tid`` is the
    owning thread (``None``: any thread); ``live`` turns false when the instance behind it is
    gone.

    Frees never run inside a finalizer (see :mod:`wasmcore._backends.reaper`): a finalizer
    only queues them (:meth:`defer`), and the owning thread runs the queue at its next safe
    point (:meth:`drain`: a constructor, ``empty()``, an explicit ``close()``)."""

    def __init__(self, funcs: Callable[[str], Callable[..., Any]], tid: int | None = None,
                 usable: Callable[[], bool] | None = None) -> None:
        self.funcs = funcs  # export name -> callable in this context
        self.cache: dict[str, Callable[..., Any]] = {}  # funcs' answers for the owning thread
        self.tid = tid
        self.usable = usable  # False once the memory behind the handles is gone
        self.live = True
        # (export name or callable, argument): frees queued by finalizers. A deque: append
        # and popleft are atomic, so neither a finalizer nor a drain ever takes a lock.
        self.pending: deque[tuple[str | Callable[[Any], Any], Any]] = deque()

    def check(self, label: str) -> None:
        """Raises unless the calling thread may use this context's handles now."""
        if not self.live:
            raise ValueError(f"{label}(): the object was lost: its wasm instance was "
                             "re-created after a trap")
        if self.tid is not None and self.tid != threading.get_ident():
            raise Error(f"{label}(): this object belongs to the thread that created it "
                        "(each thread has its own wasm instance)")

    def _open(self) -> bool:
        """Whether handles can still be freed (the instance and its memory are there)."""
        return self.live and not sys.is_finalizing() \
            and (self.usable is None or self.usable())

    def _run(self, free: str | Callable[[Any], Any], what: Any) -> None:
        (self.funcs(free) if isinstance(free, str) else free)(what)

    def defer(self, free: str | Callable[[Any], Any], what: Any) -> None:
        """For finalizers: queues ``free(what)`` (``free`` an export name or a callable) for
        the owning thread's next safe point. Never blocks, never calls into the module."""
        if self.live:
            self.pending.append((free, what))

    def release(self, free: str | Callable[[Any], Any], what: Any) -> None:
        """For an explicit ``close()``: runs ``free(what)`` now on the owning thread (after
        the queued frees), else queues it for the owner."""
        if self.tid is None or self.tid == threading.get_ident():
            self.drain()
            if self._open():
                self._run(free, what)
        else:
            self.defer(free, what)

    def drain(self) -> None:
        """Runs the queued frees (call on the owning thread, at a safe point)."""
        while self.pending:
            if not self._open():  # the memory went (or is going) with the instance
                self.pending.clear()
                return
            try:
                free, what = self.pending.popleft()
            except IndexError:  # another thread (tid None) took the last one
                return
            with contextlib.suppress(Exception):  # a free has nobody to report to
                self._run(free, what)


def lean(m: MethodSpec, method: Callable[..., Any], adopt: Callable[..., Any]
         ) -> Callable[..., Any] | None:
    """The method ``m`` as a function of its own parameters (none with a default, all of
    them Python names), so that a call builds no argument tuple and dict: in the common case
    (an open object, its context alive, used by its thread, the callable looked up before) it
    makes the call itself, else it is ``method`` (the checks, their errors, the lookup). None
    where ``m`` does not qualify."""
    params = [p for p in m.func.params if p.type.kind != "handle"]
    if any(p.has_default or not p.name.isidentifier() or keyword.iskeyword(p.name)
           or p.name.startswith("_w_") for p in params):
        return None
    names = ", ".join(p.name for p in params)
    call = f"_w_fn(_w_h{', ' if names else ''}{names})"
    if m.func.returns.kind == "handle":
        call = f"_w_adopt(type(self), _w_ctx, {call})"
    src = "\n".join([
        "def _w_make(_w_ident, _w_export, _w_method, _w_adopt):",
        f"    def method(self{', ' if names else ''}{names}):",
        "        _w_h, _w_ctx = self._h, self._ctx",
        "        if _w_h is not None and _w_ctx.live and (_w_ctx.tid is None"
        " or _w_ctx.tid == _w_ident()):",
        "            _w_fn = _w_ctx.cache.get(_w_export)",
        "            if _w_fn is not None:",
        f"                return {call}",
        f"        return _w_method(self{', ' if names else ''}{names})",
        "    return method"])
    ns: dict[str, Any] = {}
    exec(compile(src, f"<wasmcore {m.func.label}>", "exec"), ns)
    return ns["_w_make"](get_ident, m.func.name, method, adopt)  # type: ignore[no-any-return]


def class_owner(obj: object) -> Any:
    """The owner (a ``wasmcore._pickle.Anchor``) of a class made by :func:`make_class` with
    one, else None."""
    return vars(obj).get("_w_owner") if isinstance(obj, type) else None


def make_class(spec: ClassSpec, context: Callable[[], Context], owner: Any = None) -> type:
    """The Python class of an exported type; ``context()`` gives the calling thread's.

    A type with a ``state()`` method and a ``from_state()`` constructor pickles as its state:
    with ``owner`` (the :class:`wasmcore._pickle.Anchor` of its core or plugin) when given,
    else with the class itself, which must then be importable by name. An unpickled object is
    made from its state in the first thread that uses it (``_w_state`` holds it until then).
    """
    ns: dict[str, Any] = {"__doc__": spec.doc or None, "__module__": "wasmcore",
                          "__slots__": ("_h", "_ctx", "_w_state", "__weakref__")}
    ctor = next(m for m in spec.methods if m.role == "constructor" and m.name == "new") \
        if any(m.name == "new" for m in spec.methods) else None
    label = spec.name
    state_of = next((m.func.name for m in spec.methods
                     if m.name == "state" and m.role == "method"), None)
    from_state = next((m.func.name for m in spec.methods
                       if m.name == "from_state" and m.role == "constructor"), None)
    carries_state = state_of is not None and from_state is not None

    def revive(self: Any, mlabel: str) -> Any:
        """The handle of an object unpickled but not used yet: made now, in this thread."""
        state = getattr(self, "_w_state", None)
        if state is None:
            raise ValueError(f"{mlabel}(): the object is closed")
        assert from_state is not None
        ctx = context()
        ctx.drain()
        self._h, self._ctx, self._w_state = ctx.funcs(from_state)(state), ctx, None
        return self._h

    def adopt(cls: type, ctx: Context, handle: Any) -> Any:
        obj = object.__new__(cls)
        obj._h = handle
        obj._ctx = ctx
        return obj

    def wrap(m: MethodSpec) -> Callable[..., Any]:
        export = m.func.name
        mlabel = m.func.label
        returns_object = m.func.returns.kind == "handle"
        if m.role == "constructor":
            def construct(cls: type, *args: Any, **kwargs: Any) -> Any:
                ctx = context()
                ctx.drain()
                return adopt(cls, ctx, ctx.funcs(export)(*args, **kwargs))
            return construct

        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            h, ctx = self._h, self._ctx
            # an open object of a live context, in the context's thread: its callable as
            # looked up before (else the checks, and their errors)
            if h is not None and ctx.live and (ctx.tid is None or ctx.tid == get_ident()):
                fn = ctx.cache.get(export)
                if fn is None:
                    fn = ctx.cache[export] = ctx.funcs(export)
            else:
                if h is None:
                    h = revive(self, mlabel)
                ctx = self._ctx
                ctx.check(mlabel)
                fn = ctx.funcs(export)
            r = fn(h, *args, **kwargs)
            return adopt(type(self), ctx, r) if returns_object else r
        return lean(m, method, adopt) or method

    for m in spec.methods:
        fn = wrap(m)
        fn.__doc__ = m.func.doc or None
        fn.__name__ = m.name
        fn.__qualname__ = m.func.label
        sig = signature(m.func)
        if m.role == "getter":
            ns[m.name] = property(fn, doc=m.func.doc or None)
        elif m.role == "constructor":
            # cls first, as Python passes it (inspect drops it for the class and classmethods)
            cls_name = "_cls" if "cls" in sig.parameters else "cls"
            fn.__signature__ = sig.replace(parameters=[  # type: ignore[attr-defined]
                inspect.Parameter(cls_name, inspect.Parameter.POSITIONAL_ONLY),
                *sig.parameters.values()])
            if m is ctor:
                ns["__new__"] = fn  # staticmethod-like: Python passes cls first
            else:
                ns[m.name] = classmethod(fn)
        else:
            fn.__signature__ = sig.replace(parameters=[  # type: ignore[attr-defined]
                inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY),
                *sig.parameters.values()])
            if m.func.returns.kind == "handle":
                fn.__signature__ = fn.__signature__.replace(  # type: ignore[attr-defined]
                    return_annotation=label)
            ns[m.name] = fn

    if ctor is None:
        def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
            raise TypeError(f"{label} objects cannot be created directly")
        ns["__new__"] = __new__

    drop = spec.drop

    def close(self: Any) -> None:
        """Frees the object now; using it afterwards is a ``ValueError``. Idempotent."""
        h, self._h, self._w_state = self._h, None, None
        if h is not None:
            self._ctx.release(drop, h)

    def __del__(self: Any) -> None:
        # a finalizer only queues the drop (see wasmcore._backends.reaper): it may run inside any
        # allocation, even in the middle of another call into the same instance
        with contextlib.suppress(Exception):  # never raise from a finalizer (interpreter exit)
            h, self._h = self._h, None
            if h is not None:
                self._ctx.defer(drop, h)

    def __enter__(self: Any) -> Any:
        return self

    def __exit__(self: Any, *exc: object) -> None:
        close(self)

    def __repr__(self: Any) -> str:
        closed = self._h is None and getattr(self, "_w_state", None) is None
        return f"<wasmcore.{label} ({'closed' if closed else 'open'}) at {id(self):#x}>"

    def __reduce__(self: Any) -> Any:
        if not carries_state:
            raise TypeError(f"{label} objects cannot be pickled: the type exports no state() "
                            "and from_state() to carry its state")
        state = getattr(self, "_w_state", None)
        if state is None:
            if self._h is None:
                raise ValueError(f"{label}: a closed object cannot be pickled")
            state = tuple(self.state().tolist())
        from .._pickle import restore_object

        return restore_object, (owner, label, state) if owner is not None \
            else (type(self), None, state)

    def pending(cls: type, state: tuple[float, ...]) -> Any:
        """An unpickled object: made from ``state`` when first used (see ``revive``)."""
        obj: Any = object.__new__(cls)
        obj._h = obj._ctx = None
        obj._w_state = state
        return obj

    ns.update(close=close, __del__=__del__, __enter__=__enter__, __exit__=__exit__,
              __repr__=__repr__, __reduce__=__reduce__, _w_pending=classmethod(pending),
              _w_owner=owner)
    return type(spec.name, (), ns)
