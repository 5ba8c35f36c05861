"""The exceptions of wasmcore."""

from __future__ import annotations


class Error(Exception):
    """Base class of every wasmcore error."""


class Trap(Error):
    """The wasm code trapped (``code`` names the trap: ``"unreachable"``, ``"stack_overflow"``,
    ``"memory_out_of_bounds"``, ``"integer_divide_by_zero"``, ...). The instance is re-created
    before the next call."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class Timeout(Trap):
    """The call ran past its wall-clock timeout."""


class FuelExhausted(Trap):
    """The call ran out of fuel."""


class Cancelled(Trap):
    """The call was stopped by a cancel handle (``Plugin.cancel_handle()``)."""


class MemoryLimitExceeded(Error):
    """The module asked for more memory (or table space) than its limit allows."""


class ModuleRejected(Error):
    """The module is malformed, breaks the ABI contract, has the wrong hash, or needs an
    import that is not provided."""


class ComponentError(Error):
    """A component's function returned the ``err`` case of its ``result``: ``value`` is the
    error's payload, converted as any value (``None`` for a ``result`` without one)."""

    def __init__(self, message: str, value: object = None) -> None:
        super().__init__(message)
        self.value = value

    def __reduce__(self) -> tuple[object, ...]:  # (its value crosses too: a Dask task's)
        return (type(self), (str(self), self.value))


class KernelPanic(Error):
    """A kernel panicked. In the native build the panic is caught at the export boundary;
    in wasm it is a :class:`Trap`. Either way it is a bug in the kernel, not in the input."""


class KernelError(Exception):
    """Raised by the pure-Python reference kernels with the status and message a Rust kernel
    would report; the backend turns it into ``ValueError`` / ``TypeError``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


STATUS_VALUE_ERROR = 1
STATUS_TYPE_ERROR = 2
STATUS_PANIC = 3


def value_error(param: str, what: str) -> KernelError:
    """A reference kernel's bad value for ``param`` (mirrors ``wasmcore_abi::Error::value``)."""
    return KernelError(STATUS_VALUE_ERROR, f"parameter '{param}' {what}")


def status_error(func: str, status: int, message: str) -> Exception:
    """The Python exception for a kernel's error status."""
    text = f"{func}(): {message}"
    if status == STATUS_VALUE_ERROR:
        return ValueError(text)
    if status == STATUS_TYPE_ERROR:
        return TypeError(text)
    return KernelPanic(text)
