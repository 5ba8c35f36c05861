"""Sandboxed plugins: third-party wasm run under limits (see DESIGN.md, "Sandbox model").

A :class:`Plugin` gets nothing it was not given: its imports are checked before it is
instantiated and must all be provided by ``host=`` (or by WASI when ``wasi`` is set); its
memory is capped; a wall-clock timeout (epoch interruption, one shared ticker thread) and
optional fuel bound every call, the start function and instantiation included. Every failure
is its own exception, and after any of them the instance is re-created before the next call.

Memory cap. wasmtime's store limiter makes a refused ``memory.grow`` return -1, which the
plugin cannot tell from any other failure and usually answers with a trap. To report such a
trap as :class:`MemoryLimitExceeded` (not as an ``unreachable`` trap), the plugin engine
gives wasmtime its own linear memories (``wasmtime_config_host_memory_creator_set``): the
same reserved, guarded ``mmap`` layout wasmtime uses, but growth past the cap is refused *and
recorded*. Where that is not available (no POSIX ``mmap``, or the ``memory creator`` feature
on wasmtime-py's public API: :mod:`wasmcore._backends.internals`) the store limiter enforces
the cap alone, and a refused growth is told only by an exported memory grown past half the cap.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from .wasi import Wasi

if TYPE_CHECKING:
    from .plugin import Plugin

__all__ = ["Plugin", "Wasi"]


def __getattr__(name: str) -> Any:
    """``Plugin``, imported on first use: wasmtime's sandbox (:mod:`.plugin`), or under Pyodide
    the JavaScript engine's (:mod:`.js`)."""
    if name != "Plugin":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if sys.platform == "emscripten":
        from .js import Plugin
    else:
        try:
            from .plugin import Plugin
        except ImportError as e:
            raise ImportError(f"wasmcore.Plugin runs modules under wasmtime-py, which cannot be "
                              f"imported here ({e}): pip install wasmtime") from None
    globals()["Plugin"] = Plugin
    return Plugin
