"""WASI for plugins: what a plugin is given (:class:`Wasi`) and its captured output."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

WASI_MODULES = ("wasi_snapshot_preview1", "wasi_unstable")





# -- WASI -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Wasi:
    """What a WASI plugin is given (``Plugin(..., wasi=Wasi(...))``; ``wasi=True`` is
    ``Wasi()``: nothing at all).

    ``dirs`` maps a guest path to a host directory to preopen: a path, mounted read-only unless
    ``writable``, or a ``(path, mode)`` pair whose mode is ``"ro"`` or ``"rw"`` (so a read-only
    library beside a writable ``/tmp``). ``stdin`` is what the plugin reads (at its end, a read
    is end-of-file; it never waits).

    Its stdout and stderr are captured, never inherited: :meth:`Plugin.take_output` returns
    them, each kept to ``output_limit`` bytes (default: ``min(max_memory, 16 MiB)``), what
    comes beyond counted and dropped. ``stdout`` and ``stderr``, when given, are called with
    every chunk as the plugin writes it, on wasmcore's output thread: keep them quick (the
    plugin's writes wait while they run); what they raise is raised by the next
    ``take_output()``, which then takes nothing (the next one does). ``argv0``: the program's
    name in its arguments (default: the module's name)."""

    args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    dirs: Mapping[str, str | os.PathLike[str] | tuple[str | os.PathLike[str], str]] = \
        field(default_factory=dict)
    writable: bool = False
    stdin: bytes = b""
    stdout: Callable[[bytes], object] | None = None
    stderr: Callable[[bytes], object] | None = None
    output_limit: int | None = None
    argv0: str | None = None

    def __post_init__(self) -> None:
        for guest, host in self.dirs.items():
            if isinstance(host, tuple):
                if len(host) != 2 or host[1] not in ("ro", "rw"):
                    raise ValueError(f"Wasi(): parameter 'dirs': {guest!r} maps to {host!r}; "
                                     "a pair must be (host directory, 'ro' or 'rw')")
                host = host[0]
            if not isinstance(host, (str, os.PathLike)):
                raise TypeError(f"Wasi(): parameter 'dirs': {guest!r} maps to "
                                f"{type(host).__name__}, not a path")
        for name in ("stdout", "stderr"):
            fn = getattr(self, name)
            if fn is not None and not callable(fn):
                raise TypeError(f"Wasi(): parameter {name!r} must be callable or None, "
                                f"got {type(fn).__name__}")
        limit = self.output_limit
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)
                                  or limit < 0):
            raise ValueError(f"Wasi(): parameter 'output_limit' must be a byte count >= 0, "
                             f"got {limit!r}")

    def mounts(self) -> Iterator[tuple[str, str, bool]]:
        """(guest path, host directory, writable) of each directory."""
        for guest, host in self.dirs.items():
            if isinstance(host, tuple):
                yield guest, os.fspath(host[0]), host[1] == "rw"
            else:
                yield guest, os.fspath(host), self.writable


class Output:
    """Captured stdout or stderr of one thread's instances, bounded: at most :attr:`cap`
    bytes are kept, what comes beyond them is counted (:attr:`dropped`) and dropped; ``stream``
    (optional) is given every chunk as it is written, on wasmcore's output thread.

    Where the platform has named pipes (POSIX), WASI writes into a pipe that wasmcore's output
    thread (:class:`_Pump`) drains as it is written: nothing reaches the disk, and a plugin
    flooding its output never waits long in a write (where no limit could stop it). Elsewhere
    it writes into an unlinked temporary file, read back when the output is taken. Not through
    a Python callback of wasmtime's either way: wasmtime may drop its output streams on a
    runtime thread, which must never need the GIL while the interpreter shuts down."""

    def __init__(self, cap: int, stream: Callable[[bytes], object] | None = None) -> None:
        self.cap = cap
        self.stream = stream
        self.data = bytearray()
        self.dropped = 0
        self.fd = -1  # the temporary file (no named pipes): closing it in the finalizer
        self.pipes: list[int] = []  # the read ends the output thread drains for this
        self.busy = 0  # chunks the output thread has read and not yet given to stream
        self.cond = threading.Condition(threading.Lock())  # never taken by a finalizer
        self.error: BaseException | None = None  # what stream raised (take() raises it)

    def attach(self, set_path: Callable[[str], None]) -> None:
        """A fresh pipe or file for a new instance (what the previous one wrote is kept)."""
        if hasattr(os, "mkfifo"):
            PUMP.open(self, set_path)
            return
        import tempfile

        self.collect()
        self.close()
        fd, path = tempfile.mkstemp(prefix="wasmcore-out-")
        try:
            set_path(path)  # wasmtime opens it now
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self.fd = fd

    def add(self, chunk: bytes) -> None:  # under cond
        room = max(self.cap - len(self.data), 0)
        self.data += chunk[:room]
        self.dropped += max(len(chunk) - room, 0)

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def collect(self) -> None:
        """Everything written so far is in :attr:`data` (or counted) when this returns."""
        if self.fd >= 0:
            while chunk := os.read(self.fd, 1 << 16):
                self.add(chunk)
        if threading.get_ident() == PUMP.ident:  # (stream asks: it is that thread's chunk)
            return
        with self.cond:
            if self.stream is None:  # what is in the pipes is read here (the output thread
                # reads under the same lock): no wait for that thread
                for fd in self.pipes:
                    with contextlib.suppress(BlockingIOError):
                        while chunk := os.read(fd, 1 << 16):  # (at the end: that thread's)
                            self.add(chunk)
                return
            # stream gets every chunk in order, from the output thread: it reads all that is
            # in the pipes, then says so
            while self.busy or any(_unread(fd) for fd in self.pipes):
                self.cond.wait(0.05)

    def check(self) -> None:
        """Raises what ``stream`` raised up to the last :meth:`collect` (once)."""
        error, self.error = self.error, None
        if error is not None:
            raise error

    def take_raw(self) -> tuple[bytes, int]:
        """What was kept up to the last :meth:`collect`, and how many bytes more were
        dropped (both cleared)."""
        with self.cond:
            out, dropped = bytes(self.data), self.dropped
            self.data.clear()
            self.dropped = 0
        return out, dropped


def take(stdout: Output, stderr: Output) -> tuple[tuple[bytes, int], tuple[bytes, int]]:
    """(kept, dropped) of each stream, all written so far; what a ``stream`` callback raised
    is raised first, and the output then stays for the next take."""
    for o in (stdout, stderr):
        o.collect()
    for o in (stdout, stderr):
        o.check()
    return stdout.take_raw(), stderr.take_raw()


def noted(kept: bytes, dropped: int) -> bytes:
    """``kept``, followed by a note of what was dropped, if anything was."""
    return kept + f"\n[wasmcore: {dropped} more bytes dropped]\n".encode() if dropped else kept


def _unread(fd: int) -> int:
    """Bytes waiting in the pipe ``fd``."""
    import array
    import fcntl
    import termios

    n = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, n)
    return n[0]


class _Pump:
    """wasmcore's output thread: drains every output pipe as it is written (into its
    :class:`Output`, given to its ``stream``), closes a pipe when its writer (a Store's WASI
    context) is gone. Started with the first pipe, a daemon thread; anew in a forked child."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = -1
        self.ident = -1  # the thread's
        self._new: deque[tuple[int, Output]] = deque()

    def open(self, out: Output, set_path: Callable[[str], None]) -> None:
        """A new pipe for ``out``: its read end kept (not blocking), the write end handed to
        wasmtime by a path that opens it (``/dev/fd/N``; else a named pipe in a private
        directory, removed once both ends are open)."""
        fd = _open_pipe(set_path)
        import fcntl

        if hasattr(fcntl, "F_SETPIPE_SZ"):  # (Linux: room for bursts, 1 MiB)
            with contextlib.suppress(OSError):
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
        with out.cond:
            out.pipes.append(fd)
        with self._lock:
            if self._pid != os.getpid():
                self._start()
            if self._direct:  # (epoll, kqueue: a descriptor registered now is watched now)
                self._sel.register(fd, 1, out)
                return
            self._new.append((fd, out))
        os.write(self._wake_w, b"x")

    def _start(self) -> None:  # under self._lock
        import selectors

        self._pid = os.getpid()
        self._sel = selectors.DefaultSelector()
        self._direct = type(self._sel).__name__ in ("EpollSelector", "KqueueSelector")
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._sel.register(self._wake_r, 1, None)
        threading.Thread(target=self._run, args=(self._sel, self._wake_r),
                         name="wasmcore-output", daemon=True).start()

    def _run(self, sel: Any, wake: int) -> None:
        self.ident = threading.get_ident()
        while True:
            for key, _ in sel.select():
                if key.fd == wake:
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake, 4096)
                    while self._new:
                        fd, out = self._new.popleft()
                        sel.register(fd, 1, out)
                    continue
                self._drain(sel, key.fd, key.data)

    def _drain(self, sel: Any, fd: int, out: Output) -> None:
        with out.cond:
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                return
            if not chunk:  # the writer is gone
                sel.unregister(fd)
                out.pipes.remove(fd)
                os.close(fd)
                out.cond.notify_all()
                return
            out.add(chunk)
            stream = out.stream
            if stream is None:
                out.cond.notify_all()
                return
            out.busy += 1
        try:
            stream(chunk)
        except BaseException as e:  # the application's: raised by the next take()
            if out.error is None:
                out.error = e
        finally:
            with out.cond:
                out.busy -= 1
                out.cond.notify_all()


PUMP = _Pump()
DEV_FD = os.path.isdir("/dev/fd") and sys.platform.startswith(("linux", "darwin"))


def _open_pipe(set_path: Callable[[str], None]) -> int:
    """A pipe whose write end wasmtime opened through ``set_path``; returns the read end."""
    if DEV_FD:
        r, w = os.pipe()
        try:
            set_path(f"/dev/fd/{w}")  # (wasmtime opens its own descriptor of the pipe)
        except BaseException:
            os.close(r)
            raise
        finally:
            os.close(w)
        os.set_blocking(r, False)
        return r
    import tempfile

    where = tempfile.mkdtemp(prefix="wasmcore-out-")  # (0700)
    path = os.path.join(where, "pipe")
    try:
        os.mkfifo(path, 0o600)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            set_path(path)
        except BaseException:
            os.close(fd)
            raise
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        with contextlib.suppress(OSError):
            os.rmdir(where)
    return fd


@contextlib.contextmanager
def stdin_file(data: bytes) -> Iterator[str]:
    """A path wasmtime opens to read ``data`` (it opens it at once): an anonymous file in
    memory where the platform has one (Linux), else an unlinked temporary file."""
    if hasattr(os, "memfd_create") and DEV_FD:
        fd = os.memfd_create("wasmcore-stdin")
        try:
            _write_all(fd, data)
            yield f"/dev/fd/{fd}"
        finally:
            os.close(fd)
        return
    import tempfile

    fd, path = tempfile.mkstemp(prefix="wasmcore-stdin-")
    try:
        _write_all(fd, data)
        os.close(fd)
        yield path
    finally:
        os.unlink(path)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
