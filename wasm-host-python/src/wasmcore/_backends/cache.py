"""The compile cache: compiled modules on disk, authenticated before they are run.

A compiled module (``.cwasm``) is native machine code, and wasmtime documents loading one as
unsafe on untrusted input: whoever can put an entry where wasmcore reads it chooses the code
the host process runs, outside every sandbox limit. So an entry is trusted only on two counts:

* **its writer**: every entry carries an HMAC-SHA256 (:func:`_mac`) over its cache key (the
  module's sha256, the wasmtime version, the engine configuration) and its bytes, made with a
  secret (:func:`secret`) that only its writer has. It is checked on the bytes read, and
  exactly those bytes are deserialized (never the file again, which could have changed since).
  An entry that fails is never deserialized: the module is compiled again and the entry
  replaced, with one warning naming the file. An entry of another module, another user's, a
  truncated or flipped one: all fail.
* **its directory**: the cache directory is created ``0700``. A directory (or an entry) owned
  by another user, or that its group or others may write, is not read (nor written): modules
  are compiled instead, with one warning, unless ``WASMCORE_CACHE_SHARED=1`` says to use it
  anyway, with a secret from outside it.

The secret: ``$WASMCORE_CACHE_KEY`` (the secret itself, e.g. shared by a cluster's workers),
else the file ``$WASMCORE_CACHE_KEY_FILE``, else ``key`` in the cache directory (32 random
bytes, made ``0600`` at first use; never in a shared directory, where others could replace it).

Size: after each write the least recently used entries (by their access time, set when an
entry is loaded) are removed until the cache is within ``$WASMCORE_CACHE_MAX_BYTES`` (default 2
GiB); the entry just written stays. ``wasmcore cache`` lists and clears it.

An entry is ``MAGIC``, the 32-byte MAC, then the serialized module. Entries are written to a
temporary file and renamed into place, so concurrent writers never leave a mixed entry; a
reader of a half-replaced directory sees one whole entry or the other.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import os
import secrets
import stat
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

MAGIC = b"wasmcore compiled module 1\n"
MAX_BYTES = "WASMCORE_CACHE_MAX_BYTES"  # the cache's size bound (default: DEFAULT_MAX)
DEFAULT_MAX = 2 << 30
MAC_SIZE = 32
KEY_SIZE = 32
SHARED = "WASMCORE_CACHE_SHARED"


def cache_dir() -> Path:
    """Where compiled modules are cached: ``$WASMCORE_CACHE_DIR``, else the user cache dir."""
    if d := os.environ.get("WASMCORE_CACHE_DIR"):
        return Path(d)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "wasmcore"


class Untrusted(Exception):
    """The cache directory, or its secret, cannot be trusted (the message says why)."""


_WARNED: set[str] = set()
_WARN_LOCK = threading.Lock()


def _warn_once(message: str) -> None:
    with _WARN_LOCK:
        if message in _WARNED:
            return
        _WARNED.add(message)
    warnings.warn(message, RuntimeWarning, stacklevel=4)


def _shared() -> bool:
    return os.environ.get(SHARED, "") == "1"


def _private(st: os.stat_result, what: str, secret: bool = False) -> None:
    """Raises :class:`Untrusted` unless ``st`` is this user's and nobody else may write it
    (nor read it, for a ``secret``)."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    if uid is not None and st.st_uid != uid:
        raise Untrusted(f"{what} belongs to uid {st.st_uid}, not to this user (uid {uid})")
    bits = 0o077 if secret else 0o022
    if st.st_mode & bits:
        who = "others may read or write it" if secret else "its group or others may write it"
        raise Untrusted(f"{what} has mode {stat.S_IMODE(st.st_mode):04o}: {who}")


def _directory(create: bool) -> Path:
    """The cache directory, checked (made ``0700`` when ``create`` and missing)."""
    d = cache_dir()
    if create:
        with contextlib.suppress(FileExistsError):
            d.mkdir(mode=0o700, parents=True)
    st = os.stat(d)  # (a link is followed: the directory it names is checked)
    if not stat.S_ISDIR(st.st_mode):
        raise Untrusted(f"{d} is not a directory")
    if not _shared():
        _private(st, f"the cache directory {d}")
    return d


@functools.lru_cache(maxsize=16)
def _key_file(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            data = f.read()
    except OSError as e:
        raise Untrusted(f"the cache key file {path} cannot be read: {e.strerror}") from None
    uid = os.getuid() if hasattr(os, "getuid") else None
    if uid is not None and st.st_uid not in (uid, 0):
        raise Untrusted(f"the cache key file {path} belongs to uid {st.st_uid}")
    if st.st_mode & 0o022:
        raise Untrusted(f"the cache key file {path} is writable by its group or others")
    key = data.strip()
    if len(key) < 16:
        raise Untrusted(f"the cache key file {path} holds fewer than 16 bytes")
    return key


def _own_key(d: Path) -> bytes:
    """``key`` in the (private) cache directory ``d``, made at first use."""
    path = d / "key"
    for _ in range(2):
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            # written whole to a private temporary file, then linked into place: a
            # concurrent reader sees no key or the whole key; a concurrent maker's wins
            fd, tmp = tempfile.mkstemp(dir=d, prefix=".key-")
            try:
                os.write(fd, secrets.token_bytes(KEY_SIZE))
                os.close(fd)
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, path)
            finally:
                os.unlink(tmp)
            continue
        with os.fdopen(fd, "rb") as f:
            _private(os.fstat(f.fileno()), f"the cache key {path}", secret=True)
            key = f.read()
        if len(key) != KEY_SIZE:
            raise Untrusted(f"the cache key {path} is not {KEY_SIZE} bytes")
        return key
    raise Untrusted(f"the cache key {path} cannot be made")  # pragma: no cover


def secret(d: Path) -> bytes:
    """The secret entries in ``d`` are authenticated with (see the module's doc)."""
    if key := os.environ.get("WASMCORE_CACHE_KEY"):
        if len(key) < 16:
            raise Untrusted("WASMCORE_CACHE_KEY has fewer than 16 characters")
        return key.encode()
    if path := os.environ.get("WASMCORE_CACHE_KEY_FILE"):
        return _key_file(os.path.abspath(path))
    if _shared():
        raise Untrusted(f"{SHARED}=1 needs a secret from outside the directory "
                        "(WASMCORE_CACHE_KEY or WASMCORE_CACHE_KEY_FILE)")
    return _own_key(d)


def _mac(key: bytes, name: str, payload: Any) -> bytes:
    h = hmac.new(key, digestmod=hashlib.sha256)
    h.update(MAGIC + name.encode() + b"\0")
    h.update(payload)
    return h.digest()


def _untrusted(e: Untrusted) -> None:
    _warn_once(f"wasmcore: the compile cache is not used ({e}): modules are compiled in "
               f"each process (see docs/plugins.md, 'The compile cache')")


# Modules already deserialized in this process, by their cache entry as it is on disk (path,
# inode, size, mtime): a later load of the same module reuses the Module (wasmtime shares its
# code between Stores) instead of reading the entry again. An entry replaced or damaged on
# disk no longer matches, so it is read (and checked) as on a first load.
_MODULES: dict[tuple[str, int, int, int], Any] = {}
_MODULES_LOCK = threading.Lock()


def _stamp(st: os.stat_result, path: Path) -> tuple[str, int, int, int]:
    return str(path), st.st_ino, st.st_size, st.st_mtime_ns


def load(name: str, deserialize: Callable[[bytearray], Any]) -> Any | None:
    """The module cached under ``name`` (a hex digest), deserialized by ``deserialize`` from
    the entry's checked bytes; None when there is none, or none that may be run."""
    try:
        d = _directory(create=False)
    except FileNotFoundError:
        return None
    except Untrusted as e:
        _untrusted(e)
        return None
    path = d / f"{name}.cwasm"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None  # (none yet; or a link, which wasmcore never writes)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        stamp = _stamp(st, path)
        with _MODULES_LOCK:
            module = _MODULES.get(stamp)
        if module is not None:
            return module
        try:
            if not _shared():
                _private(st, f"the cache entry {path}")
            key = secret(d)
        except Untrusted as e:
            _untrusted(e)
            return None
        data = bytearray(st.st_size)
        if f.readinto(data) != st.st_size:
            data = bytearray()
    head = len(MAGIC) + MAC_SIZE
    view = memoryview(data)
    good = len(data) > head and data.startswith(MAGIC) and hmac.compare_digest(
        bytes(view[len(MAGIC):head]), _mac(key, name, view[head:]))
    view.release()
    if not good:  # (each time: each is a refusal, and the entry is replaced after it)
        warnings.warn(f"wasmcore: the compile-cache entry {path} failed its check (damaged, "
                      "or not written by this user's wasmcore): it is not run; the module is "
                      "compiled again and the entry replaced", RuntimeWarning, stacklevel=3)
        return None
    del data[:head]
    try:
        module = deserialize(data)
    except Exception:  # written by another wasmtime or configuration: compiled again
        return None
    with _MODULES_LOCK:
        _MODULES[stamp] = module
    with contextlib.suppress(OSError):  # used now: the last to be evicted (the access time
        # only: the modification time is part of the stamp)
        os.utime(path, ns=(time.time_ns(), st.st_mtime_ns), follow_symlinks=False)
    return module


def store(name: str, payload: bytes | bytearray, module: Any) -> None:
    """Writes ``payload`` (``module``, serialized) as the entry ``name``; an unusable cache
    only costs speed (nothing is raised)."""
    try:
        d = _directory(create=True)
        key = secret(d)
    except Untrusted as e:
        _untrusted(e)
        return
    except OSError:
        return
    path = d / f"{name}.cwasm"
    try:
        fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")  # (0600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC)
                f.write(_mac(key, name, payload))
                f.write(payload)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        st = os.stat(path)
    except OSError:
        return
    with _MODULES_LOCK:
        _MODULES[_stamp(st, path)] = module
    evict(d, keep=path)


def max_bytes() -> int:
    """The cache's size bound: ``$WASMCORE_CACHE_MAX_BYTES``, else :data:`DEFAULT_MAX`."""
    text = os.environ.get(MAX_BYTES)
    if not text:
        return DEFAULT_MAX
    try:
        value = int(text)
        if value < 0:
            raise ValueError
    except ValueError:
        _warn_once(f"wasmcore: {MAX_BYTES}={text!r} is not a byte count; the cache keeps to "
                   f"{DEFAULT_MAX} bytes")
        return DEFAULT_MAX
    return value


def entries(d: Path | None = None) -> list[tuple[Path, int, float]]:
    """(path, size, last use) of each entry, the least recently used first."""
    d = cache_dir() if d is None else d
    found = []
    try:
        names = os.listdir(d)
    except OSError:
        return []
    for name in names:
        if not name.endswith(".cwasm"):
            continue
        with contextlib.suppress(OSError):
            st = os.stat(d / name, follow_symlinks=False)
            found.append((d / name, st.st_size, st.st_atime))
    return sorted(found, key=lambda e: e[2])


def evict(d: Path, keep: Path | None = None) -> int:
    """Removes the least recently used entries until the cache is within :func:`max_bytes`
    (never ``keep``, the entry just written); returns how many."""
    bound = max_bytes()
    found = entries(d)
    total = sum(size for _, size, _ in found)
    n = 0
    for path, size, _ in found:
        if total <= bound:
            break
        if path == keep:
            continue
        with contextlib.suppress(FileNotFoundError):  # (another process evicted it)
            path.unlink()
            n += 1
        total -= size
    return n


def clear(d: Path | None = None) -> int:
    """Removes every entry (not the secret); returns how many."""
    n = 0
    for path, _, _ in entries(d):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            n += 1
    return n
