"""Text statistics over bytes, run as a sandboxed plugin.

The Rust (``src/lib.rs``) imports one host function, ``env.log(ptr, len)``, so the package
exposes :class:`Plugin` (a ``wasmcore.Plugin`` running its module) rather than functions: the
host function and the limits are given when it is created. :func:`open_plugin` is a
convenience that collects the log messages.
"""

from __future__ import annotations

from ._lib import Plugin

__all__ = ["Plugin", "open_plugin"]


def open_plugin(log: list[str], *, timeout: float | None = 1.0,
                fuel: int | None = 10**9) -> Plugin:
    """A plugin whose log messages are appended to ``log``."""
    p = Plugin(host={"log": lambda ptr, n: log.append(p.read_str(ptr, n))}, timeout=timeout,
               fuel=fuel)
    return p
