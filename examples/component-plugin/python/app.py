"""The Python guest of the example component plugin: the world ``demo:plugin/plugin`` of
``../wit/plugin.wit``, built with componentize-py (``scripts/components.sh``). It gives the same
results as the Rust guest (``../rust``). The exported resource ``counters.counter`` is the class
``Counter`` of the module ``counters`` (``counters.py``), where componentize-py looks for it.

``wit_world`` is the bindings module componentize-py generates at build time (not committed).
"""

from __future__ import annotations

import math

import wit_world  # type: ignore[import-not-found]
from componentize_py_types import Err  # type: ignore[import-not-found]
from wit_world import exports  # type: ignore[import-not-found]
from wit_world.imports import host  # type: ignore[import-not-found]

U32 = 0xFFFF_FFFF
I32_MIN = -(2**31)


def _ascii_upper(text: str) -> str:
    return "".join(chr(ord(c) - 32) if "a" <= c <= "z" else c for c in text)


class WitWorld(wit_world.WitWorld):
    def add(self, a: int, b: int) -> int:
        return (a + b) & U32

    def process(self, text: str, opts: wit_world.Options) -> str:
        if opts.scale == 0:
            raise Err("scale must be positive")
        s = text * opts.scale
        if opts.reverse:
            s = s[::-1]
        if opts.tag is not None:
            s = f"[{opts.tag}]{s}"
        return s

    def echo(self, data: bytes) -> bytes:
        return data

    def sum(self, xs: list[int]) -> int:
        return sum(xs)

    def range(self, n: int) -> list[int]:
        return list(range(n))

    def area(self, s: wit_world.Shape) -> float:
        if isinstance(s, wit_world.Shape_Circle):
            return math.pi * s.value * s.value
        if isinstance(s, wit_world.Shape_Rect):
            w, h = s.value
            return w * h
        return 0.0

    def describe(self, text: str, m: wit_world.Mode) -> wit_world.Stats:
        words = text.split()
        return wit_world.Stats(count=len(words), max_len=max(map(len, words), default=0), mode=m)

    def toggle(self, p: wit_world.Perms) -> wit_world.Perms:
        return p ^ wit_world.Perms.EXEC

    def scaled(self, x: int) -> int:
        return (x * host.get_factor()) & U32

    def shout(self, text: str) -> str:
        host.log(text)
        return _ascii_upper(text)

    def divide(self, a: int, b: int) -> int:
        if b == 0:
            raise Err("division by zero")
        if a == I32_MIN and b == -1:
            raise Err("overflow")
        q = abs(a) // abs(b)  # truncation toward zero, as Rust's `/`
        return q if (a < 0) == (b < 0) else -q

    def first_word(self, text: str) -> str | None:
        words = text.split(maxsplit=1)
        return words[0] if words else None


class Counters(exports.Counters):
    pass


_hoard: list[bytearray] = []


class Hostile(exports.Hostile):
    def spin(self) -> None:
        while True:
            pass

    def bomb(self) -> int:
        # 1 MiB buffers, every byte written, all kept alive: ends when memory.grow is refused
        while True:
            _hoard.append(bytearray(b"\x01") * (1 << 20))

    def crash(self) -> None:
        raise RuntimeError("crash requested")
