"""The scratch area: where a call's buffer arguments are copied into the module's memory.

Shared by the instances of the wasm backend (wasmtime; ``scratch`` is a ``memoryview`` of
linear memory) and of the js backend (Pyodide; ``scratch`` a :class:`wasmcore._backends.js.
JsBytes` that copies through views of the instance's memory): every argument crosses as a
``memoryview`` of its bytes (:func:`wasmcore._abi.arrays.byte_view`), whether it is a numpy
array, an ``array.array``, a ``memoryview`` or ``bytes``.
"""

from __future__ import annotations

from typing import Any

from .._abi.arrays import byte_view


class ScratchArea:
    """A block of the module's memory, allocated by the module's allocator and grown as
    needed, that a call's arguments are copied into (16-byte aligned each)."""

    scratch_ptr = 0
    scratch_cap = 0
    bytes_copied = 0
    scratch: Any  # the area's bytes: slices are assigned from and read as memoryviews

    def alloc(self, size: int, align: int) -> int:
        raise NotImplementedError

    def free(self, ptr: int, size: int, align: int) -> Any:
        raise NotImplementedError

    def address(self, a: Any) -> int:
        """The wasm address of ``a`` when it lives in the module's memory already, else 0."""
        return 0

    def copied(self) -> int:
        """Bytes copied into the module's memory so far (``Core.bytes_copied``)."""
        return self.bytes_copied

    def scratch_at(self, ptr: int, size: int) -> Any:
        """The bytes of a new scratch area of ``size`` bytes at ``ptr``."""
        raise NotImplementedError

    def place(self, *args: Any) -> tuple[int, ...]:
        """The wasm addresses of converted arguments (arrays, bytes): their own for numpy
        arrays already in linear memory, else of copies of their bytes in the scratch area
        (16-byte aligned each), which grows first when they do not all fit."""
        m: Any
        if len(args) == 1:  # the common case, kept short: one argument, not in the memory
            a = args[0]
            if a.__class__ is bytes or getattr(a, "base", None) is None:
                m = a if a.__class__ is bytes else byte_view(a)
                n = len(m)
                if n <= self.scratch_cap:
                    self.scratch[0:n] = m
                    self.bytes_copied += n
                    return (self.scratch_ptr,)
        out = []
        off = copied = 0
        for a in args:
            if a.__class__ is bytes:  # (never in the module's memory; sliced as it is)
                m = a
            elif getattr(a, "base", None) is not None and (ptr := self.address(a)):
                out.append(ptr)
                continue
            else:
                m = byte_view(a)
            n = len(m)
            if off + n > self.scratch_cap:
                self._grow(args)
                return self.place(*args)  # (fits now: the copies made so far are redone)
            self.scratch[off:off + n] = m
            copied += n
            out.append(self.scratch_ptr + off)
            off += (n + 15) & ~15
        self.bytes_copied += copied
        return tuple(out)

    def _grow(self, args: tuple[Any, ...]) -> None:
        """A scratch area that holds the copies of ``args`` (at least twice the old one)."""
        total = sum((len(a if a.__class__ is bytes else byte_view(a)) + 15) & ~15
                    for a in args)
        if self.scratch_ptr:
            self.free(self.scratch_ptr, self.scratch_cap, 16)
            self.scratch_ptr = self.scratch_cap = 0
        cap = max(total, 2 * self.scratch_cap, 1 << 16)
        self.scratch_ptr = self.alloc(cap, 16)
        self.scratch_cap = cap
        self.scratch = self.scratch_at(self.scratch_ptr, cap)

    def copy_back(self, a: Any, ptr: int) -> None:
        """Copies an in/out buffer back from the scratch area into the caller's array (not
        needed when the array lives in linear memory itself)."""
        off = ptr - self.scratch_ptr
        if 0 <= off < self.scratch_cap and not self.address(a):
            m = byte_view(a)
            m[:] = self.scratch[off:off + len(m)]
