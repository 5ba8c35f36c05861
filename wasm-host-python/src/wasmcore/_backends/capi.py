"""The few functions of wasmtime's C API that the fast call path calls itself, through ctypes,
through cffi, or through the optional compiled module wasmcore-speedups, behind one interface
(:class:`CApi`).

All three bind to the library wasmtime-py ships and has loaded, at the addresses
:mod:`.internals` gives, and only for the features whose prototypes it checked (cffi opens the
same file, so the same copy: checked by comparing the functions' addresses; its declarations
are derived from the prototypes in :mod:`.internals` too). Nothing here needs a C compiler:
cffi runs in ABI mode, and wasmcore-speedups comes as a prebuilt wheel or not at all. Every
per-call argument is converted once, when a call is bound (:meth:`CApi.bind`): a bound call is a
``functools.partial`` over the C function with prebuilt arguments, and costs what one foreign
call costs; with wasmcore-speedups, a ``BoundCall``, which costs what calling a built-in costs
(about 70 ns against ctypes' 155). Pointers come back as plain ints (0 or None: none).

A host function is a C callback (:meth:`CApi.callback`) of wasmtime's unchecked signature,
``(env, caller, args_and_results, nargs) -> wasm_trap_t*``, here with the pointers passed as
ints. It must never raise: the handler catches everything and returns a trap instead. Only an
exception raised as the handler starts, before its ``try``, can escape it: a signal handler's
(Python runs pending signal handlers as a function starts; on the main thread, Ctrl-C's
``KeyboardInterrupt``). cffi catches that one too (``onerror``: the host function fails with
it); ctypes cannot (it prints the exception and returns an undefined value).
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable
from typing import Any

from . import internals

# the C functions called here (their prototypes: internals.PROTOTYPES); every pointer is passed
# and returned as an integer of pointer size (internals.int_form)
FUNCTIONS = ("wasmtime_func_call_unchecked", "wasmtime_context_set_fuel",
             "wasmtime_linker_define_func_unchecked", "wasmtime_trap_new",
             "wasmtime_component_func_call")
Handler = Callable[[Any, Any, int, int], int]
Escaped = Callable[[BaseException], None]


class CApi:
    """wasmtime's C API through one foreign-function library (see the subclasses)."""

    name = ""

    def fn(self, name: str) -> Any:
        """The C function ``name``, callable with the arguments :meth:`ptr` and :meth:`u64`
        prepare."""
        raise NotImplementedError

    def ptr(self, address: int) -> Any:
        """``address`` as a prebuilt pointer argument."""
        raise NotImplementedError

    def u64(self, value: int) -> Any:
        """``value`` as a prebuilt 64-bit integer argument (also a ``size_t``)."""
        raise NotImplementedError

    def callback(self, handler: Handler, escaped: Escaped) -> tuple[Any, int]:
        """A C callback calling ``handler(env, caller, args_and_results, nargs)``: the object
        to keep alive while wasmtime may call it, and its address. ``escaped`` gets what
        escaped the handler, where the library can catch it (see the module's doc)."""
        raise NotImplementedError

    def bind(self, name: str, *args: tuple[str, int]) -> Callable[[], Any]:
        """C function ``name`` with every argument bound: ``("ptr", address)`` or
        ``("u64", value)``."""
        prepared = [self.ptr(v) if kind == "ptr" else self.u64(v) for kind, v in args]
        return functools.partial(self.fn(name), *prepared)

    def call(self, ctx: int, func: int, raw: int, nslots: int, trap: int) -> Callable[[], Any]:
        """``wasmtime_func_call_unchecked`` of ``func`` (a ``wasmtime_func_t *``) in store
        context ``ctx``, on the raw value array ``raw`` of ``nslots`` slots, the trap going to
        ``*trap``; returns the ``wasmtime_error_t *`` (0 or None when there is none)."""
        return self.bind("wasmtime_func_call_unchecked", ("ptr", ctx), ("ptr", func),
                         ("ptr", raw), ("u64", nslots), ("ptr", trap))

    def define(self, linker: int, module: str, name: str, functype: int,
               callback: int) -> int:
        """Defines ``module.name`` in ``linker`` as the host function at address ``callback``
        (of type ``functype``); returns the ``wasmtime_error_t *`` (0: none). No finalizer:
        the caller keeps the callback alive as long as the Stores that may call it."""
        m, n = module.encode(), name.encode()
        err = self.fn("wasmtime_linker_define_func_unchecked")(
            self.ptr(linker), m, self.u64(len(m)), n, self.u64(len(n)), self.ptr(functype),
            self.ptr(callback), self.ptr(0), self.ptr(0))
        return int(err or 0)

    def trap(self, message: bytes) -> int:
        """A new ``wasm_trap_t *`` with ``message`` (what a failed host function returns;
        wasmtime takes ownership)."""
        return int(self.fn("wasmtime_trap_new")(message, self.u64(len(message))))


class CtypesApi(CApi):
    """Through ctypes: each function without argtypes (so prebuilt arguments pass as they
    are, without a conversion per call; a converted argument is built, and allocated, on
    every call otherwise). Functions are resolved at first use, each only for a feature that
    uses wasmtime-py's internals (:func:`internals.address` refuses the others)."""

    name = "ctypes"

    def __init__(self) -> None:
        self._fns: dict[str, Any] = {}
        restype, argtypes = internals.int_form(internals.HOST_CALLBACK._restype_,
                                               internals.HOST_CALLBACK._argtypes_)
        self._cb_type = ctypes.CFUNCTYPE(restype, *argtypes)

    def fn(self, name: str) -> Any:
        fn = self._fns.get(name)
        if fn is None:
            # results: pointers come back as ints (None for NULL)
            restype = None if internals.PROTOTYPES[name][1] is None else ctypes.c_void_p
            fn = self._fns[name] = ctypes.CFUNCTYPE(restype)(internals.address(name))
        return fn

    def ptr(self, address: int) -> Any:
        # c_void_p.from_param gives the converted form ctypes would otherwise build on every
        # call (about 25 ns per argument). It holds no reference: the caller keeps the memory
        return ctypes.c_void_p.from_param(address) if address else None

    def u64(self, value: int) -> Any:
        return ctypes.c_uint64.from_param(value)

    def callback(self, handler: Handler, escaped: Escaped) -> tuple[Any, int]:
        cb = self._cb_type(handler)  # (ctypes has no error handler: nothing reaches escaped)
        return cb, ctypes.cast(cb, ctypes.c_void_p).value or 0


class SpeedupsApi(CtypesApi):
    """Through the optional compiled module ``wasmcore_speedups`` (``pip install
    wasmcore[speedups]``) for the bound calls, the per-call ones: each is a
    ``wasmcore_speedups.BoundCall``, the C function with its arguments held as integers, called
    with the GIL released as ctypes does. The rest (calls made once, host-function callbacks)
    as :class:`CtypesApi`."""

    name = "speedups"
    INTERFACE = 1  # the module's interface this code is written against

    def __init__(self, module: Any) -> None:
        if getattr(module, "INTERFACE", None) != self.INTERFACE:
            raise ImportError(f"wasmcore_speedups {getattr(module, '__version__', '?')} has "
                              f"interface {getattr(module, 'INTERFACE', None)}, not "
                              f"{self.INTERFACE}")
        super().__init__()
        self._bound = module.BoundCall
        # compiled kernels (see kernel()), unless the module is of another interface or
        # WASMCORE_COMPILED=0 turned them off
        base = module.Kernel if getattr(module, "KERNEL_INTERFACE", None) == \
            self.KERNEL_INTERFACE else None
        self.kernels = base is not None and os.environ.get("WASMCORE_COMPILED", "1") != "0"
        self._kernel = None if base is None else _kernel_class(base)
        self.scratch = module.Scratch  # an instance's scratch area, as its kernels see it

    KERNEL_INTERFACE = 3  # and the interface of its compiled kernels

    def kernel(self, fallback: Callable[..., Any],
               fail: Callable[[int, int], BaseException | None],
               *, raw: int, nslots: int, trap: int, tid: int, params: list[str],
               returns: str | None, fallible: bool, scratch: Any = None,
               free: Any = None, defaults: list[Any] | None = None,
               armed: bool = False, hold_gil: bool = False, keep_max: int = 0) -> Any:
        """The compiled call (``wasmcore_speedups.Kernel``) of a generated callable
        ``fallback`` whose parameter types (their manifest names) are ``params`` and result
        type ``returns``: it converts arguments of exactly the types it takes, writes them into
        the raw value array ``raw`` (bytes, str and arrays copied into the scratch area of
        ``scratch``, a ``wasmcore_speedups.Scratch``), calls ``wasmtime_func_call_unchecked``
        and makes the result (an owned one copied out of linear memory, then freed by
        ``free``, the instance's compiled ``wasmcore_free``, when larger than ``keep_max``
        bytes: the module keeps smaller ones); anything else it hands to
        ``fallback`` as given, and a failed call to ``fail(error, status)``, whose exception
        it raises. ``defaults``: the values of the last parameters when a call leaves them
        out; ``armed``: ``_w_arm()`` (a plugin's limits) runs before each call; ``hold_gil``:
        the GIL is kept through the wasm call (else released). ``params``
        ``raw i32`` and ``returns`` ``raw i32 f64`` are an export's wasm types as they are (a
        plugin's export without a manifest). Bind it with ``.rebind(context, func,
        result_slot)`` before calling; give it ``_w_take`` (the Python path's taking of an owned
        result) when it has one."""
        assert self._kernel is not None
        k = self._kernel(internals.address("wasmtime_func_call_unchecked"), raw, nslots,
                         trap, tid, params, returns, fallible, scratch, free, defaults or [],
                         armed, hold_gil, keep_max)
        k._w_fallback, k._w_fail = fallback, fail
        for attr in ("__doc__", "__module__", "__qualname__", "__name__", "__signature__",
                     "_w_method"):  # (no _w_method for the methods of exported classes)
            if hasattr(fallback, attr):
                setattr(k, attr, getattr(fallback, attr))
        return k

    def bind(self, name: str, *args: tuple[str, int]) -> Callable[[], Any]:
        return self._bound(internals.address(name), [v for _, v in args],  # type: ignore[no-any-return]
                           internals.PROTOTYPES[name][1] is not None)


def _kernel_class(base: type) -> type:
    """The Python class of compiled kernels: ``wasmcore_speedups.Kernel`` with what a
    function has (name, doc, signature, set per object by :meth:`SpeedupsApi.kernel`) and
    its pickling: a core's function as ``getattr(<its core, restored>, name)``, the core being
    ``_w_owner`` (set when the core binds it; :class:`wasmcore._pickle.Anchor`), a module's
    (an author's package binds them as module globals) by its module and name."""

    class CompiledKernel(base):  # type: ignore[misc]
        _w_owner: Any = None

        def __reduce__(self) -> tuple[Any, ...]:
            if self._w_owner is None:  # a module's function (an author's): by its name
                return self.__qualname__  # type: ignore[no-any-return]
            return getattr, (self._w_owner, self.__name__)

        @property
        def __self__(self) -> Any:
            """What the function is bound to, as for the method it stands for: its core's or
            plugin's anchor (None for a module's function)."""
            return self._w_owner

        def __dask_tokenize__(self) -> object:
            return ("wasmcore.function", self._w_owner.__dask_tokenize__()
                    if self._w_owner is not None else id(self), self.__name__)

        def __repr__(self) -> str:
            return f"<compiled wasm function {self.__qualname__}>"

    CompiledKernel.__module__ = "wasmcore"
    return CompiledKernel


class CffiApi(CApi):
    """Through cffi in ABI mode (``ffi.dlopen`` of wasmtime-py's library; no compiler)."""

    name = "cffi"

    def __init__(self, path: str) -> None:
        import cffi

        self.ffi = ffi = cffi.FFI()
        ffi.cdef("\n".join(internals.cffi_declaration(name) for name in FUNCTIONS))
        self.lib = ffi.dlopen(path)
        self._fns: dict[str, Any] = {}
        self._callback = internals.cffi_signature(internals.HOST_CALLBACK)

    def fn(self, name: str) -> Any:
        fn = self._fns.get(name)
        if fn is None:
            fn = getattr(self.lib, name)
            # the same copy of the library as wasmtime-py's (and a usable feature's function)
            if int(self.ffi.cast("uintptr_t", fn)) != internals.address(name):
                raise ImportError(f"cffi opened another copy of {internals.library_path()}")
            self._fns[name] = fn
        return fn

    def ptr(self, address: int) -> Any:
        return self.ffi.cast("void *", address)

    def u64(self, value: int) -> Any:
        return value  # cffi converts an int argument in C, without building an object

    def callback(self, handler: Handler, escaped: Escaped) -> tuple[Any, int]:
        ffi = self.ffi
        trap = self.trap

        def onerror(_: Any, e: BaseException, *__: Any) -> int:
            escaped(e)  # what escaped the handler: still a trap, never 0
            return trap(b"wasmcore: a host function failed")

        cb = ffi.callback(self._callback, handler, onerror=onerror)
        return cb, int(ffi.cast("uintptr_t", cb))


def load(name: str) -> CApi | None:
    """The C API through ``name`` (``"speedups"``, ``"ctypes"`` or ``"cffi"``), or None when
    that library (or the interface of it this code knows), or the library file it needs, is
    not there. (Which of its functions may be called is :mod:`.internals`' decision.)"""
    if name not in internals.CALL_PATHS:
        raise ValueError(f"unknown C API binding {name!r}")
    try:
        if name == "speedups":
            import wasmcore_speedups

            return SpeedupsApi(wasmcore_speedups)
        if name == "ctypes":
            return CtypesApi()
        api = CffiApi(internals.library_path())
        if internals.usable("calls"):
            api.fn("wasmtime_func_call_unchecked")  # the same copy of the library
        return api
    except Exception:  # a library missing or unusable here (its own errors included)
        return None
