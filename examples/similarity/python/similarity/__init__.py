"""String similarity: the Rust crate strsim, compiled to WebAssembly by wasmcore.

The distances come from ``similarity._lib`` (generated from ``src/lib.rs``); :func:`closest`
is plain Python on top of them.
"""

from collections.abc import Iterable

from ._lib import *  # noqa: F403 -- every #[export] of src/lib.rs
from ._lib import levenshtein


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate with the smallest Levenshtein distance to ``word`` (the first of equal
    ones), or ``None`` when there is none."""
    best: tuple[int, str] | None = None
    for c in candidates:
        d = levenshtein(word, c)
        if best is None or d < best[0]:
            best = (d, c)
    return None if best is None else best[1]
