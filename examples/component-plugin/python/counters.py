"""The exported resource ``counters.counter`` of the Python guest: componentize-py looks for an
exported interface's resources in the top-level module named after the interface."""

from __future__ import annotations

from wit_world.exports import counters  # type: ignore[import-not-found]

U32 = 0xFFFF_FFFF


class Counter(counters.Counter):
    def __init__(self, start: int) -> None:
        self._value = start

    def inc(self) -> int:
        self._value = (self._value + 1) & U32
        return self._value

    def value(self) -> int:
        return self._value
