"""The pure-Python reference kernels: the deliberate second copy of every kernel's semantics.

Each function follows KERNELS.md (and the Rust kernel's order of operations where that fixes
the result bit for bit, as for ``sum``), raising :class:`KernelError` with the status and the
message the Rust kernel reports. Arguments arrive already checked and converted by the same
code the other backends use (numpy arrays for buffers, ints, floats).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._errors import value_error

FIB_MAX = 93
SUM_BLOCK = 1024  # mirrors wasmcore::stats::SUM_BLOCK


def fib(n: int) -> int:
    if n > FIB_MAX:
        raise value_error("n", f"must be <= {FIB_MAX}, got {n}")

    def rec(n: int) -> int:
        return n if n < 2 else rec(n - 1) + rec(n - 2)

    return rec(n)


def partitions(cards: np.ndarray, subtotal: int) -> int:
    if len(cards) != 10:
        raise value_error("cards", f"must hold 10 counts, got {len(cards)}")
    if subtotal > 21:
        raise value_error("subtotal", f"must be <= 21, got {subtotal}")
    deck = [int(c) for c in cards]  # the caller's cards are not changed

    def rec(subtotal: int) -> int:
        result = 0
        for i in range(10):
            if deck[i] > 0:
                total = subtotal + i + 1
                if total < 21:
                    result += 1
                    deck[i] -= 1
                    result += rec(total)
                    deck[i] += 1
                elif total == 21:
                    result += 1
        return result

    return rec(subtotal)


def _block_sum(x: Sequence[float], lo: int, hi: int) -> float:
    acc = [0.0] * 8
    end = lo + (hi - lo) // 8 * 8
    for i in range(lo, end, 8):
        acc[0] += x[i]
        acc[1] += x[i + 1]
        acc[2] += x[i + 2]
        acc[3] += x[i + 3]
        acc[4] += x[i + 4]
        acc[5] += x[i + 5]
        acc[6] += x[i + 6]
        acc[7] += x[i + 7]
    s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
    for i in range(end, hi):
        s += x[i]
    return s


def _pairwise(x: Sequence[float], lo: int, hi: int) -> float:
    n = hi - lo
    if n <= SUM_BLOCK:
        return _block_sum(x, lo, hi)
    mid = lo + n // 2
    return _pairwise(x, lo, mid) + _pairwise(x, mid, hi)


def sum(x: np.ndarray) -> float:
    return _pairwise(x.tolist(), 0, len(x))
