"""Host functions defined at module level, for the pickling and Dask tests: they pickle by
reference, so the plugins that use them pickle too (a process that unpickles one imports
this module)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEXTSTATS = ROOT / "target" / "dist" / "plugins" / "textstats.wasm"
HOSTILE = ROOT / "examples" / "plugins" / "hostile"
EXAMPLES = ROOT / "examples" / "plugins"

LOGGED: list[tuple[int, int]] = []


def log(ptr: int, n: int) -> None:
    """textstats' ``env.log(ptr, len)``: remembers the call in this process."""
    LOGGED.append((ptr, n))


def pid() -> int:
    """The calling process (what a Dask worker answers to ``client.run(hosts.pid)``)."""
    return os.getpid()


def component_log(message: str) -> None:
    """The component plugin's ``host.log`` (test_component.py's pickling test)."""
    LOGGED.append((len(message), 0))


def component_factor() -> int:
    """The component plugin's ``host.get-factor``."""
    return 6
