"""WASI for plugins: what a plugin is given (:class:`Wasi`) and its captured output."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

WASI_MODULES = ("wasi_snapshot_preview1", "wasi_unstable")





# -- WASI -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Wasi:
    """What a WASI plugin is given (``Plugin(..., wasi=Wasi(...))``; ``wasi=True`` is
    ``Wasi()``: nothing at all). ``dirs`` maps a guest path to a host directory to preopen,
    read-only unless ``writable``. ``stdin`` is what the plugin reads. Its stdout and stderr are
    captured, never inherited: :meth:`Plugin.take_output` returns them."""

    args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    dirs: Mapping[str, str | os.PathLike[str]] = field(default_factory=dict)
    writable: bool = False
    stdin: bytes = b""


class Output:
    """Captured stdout or stderr of one thread's instances, bounded (a plugin cannot exhaust
    the host's memory by printing).

    WASI writes into an unlinked temporary file (not through a Python callback: wasmtime may
    drop its output streams on a runtime thread, which must never need the GIL while the
    interpreter shuts down); the file is read back when the output is taken."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data = bytearray()
        self.dropped = 0
        self.fd = -1  # a plain descriptor: closing it in the finalizer takes no lock

    def attach(self, set_path: Callable[[str], None]) -> None:
        """A fresh file for a new instance (what the previous one wrote is kept)."""
        import tempfile

        self.collect()
        self.close()
        fd, path = tempfile.mkstemp(prefix="wasmcore-out-")
        try:
            set_path(path)  # wasmtime opens it now
        finally:
            with contextlib.suppress(OSError):  # POSIX: the open files live on unlinked
                os.unlink(path)
        self.fd = fd

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def collect(self) -> None:
        if self.fd < 0:
            return
        while chunk := os.read(self.fd, 1 << 16):
            room = max(self.cap - len(self.data), 0)
            self.data += chunk[:room]
            self.dropped += max(len(chunk) - room, 0)

    def take(self) -> bytes:
        self.collect()
        out = bytes(self.data)
        if self.dropped:
            out += f"\n[wasmcore: {self.dropped} more bytes dropped]\n".encode()
        self.data.clear()
        self.dropped = 0
        return out



@contextlib.contextmanager
def stdin_file(data: bytes) -> Iterator[str]:
    import tempfile

    fd, path = tempfile.mkstemp(prefix="wasmcore-stdin-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        yield path
    finally:
        os.unlink(path)
