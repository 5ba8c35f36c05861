"""The pure-Python reference kernels: the deliberate second copy of every kernel's semantics.

Each function follows KERNELS.md (and the Rust kernel's order of operations where that fixes
the result bit for bit, as for ``sum``), raising :class:`KernelError` with the status and the
message the Rust kernel reports. Arguments arrive already checked and converted by the same
code the other backends use (numpy arrays for buffers, ints, floats).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from .._abi.arrays import from_values
from .._errors import STATUS_VALUE_ERROR, KernelError, value_error

FIB_MAX = 93
SUM_BLOCK = 1024  # mirrors wasmcore::stats::SUM_BLOCK


def fib(n: int) -> int:
    if n > FIB_MAX:
        raise value_error("n", f"must be <= {FIB_MAX}, got {n}")

    def rec(n: int) -> int:
        return n if n < 2 else rec(n - 1) + rec(n - 2)

    return rec(n)


def partitions(cards: Any, subtotal: int) -> int:
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


def sum(x: Any) -> float:
    return _pairwise(x.tolist(), 0, len(x))


# The module defines kernels named sum, min and max: the code below never calls those builtins.

COUNT_PRIMES_MAX = 2**31
MANDELBROT_MAX_PIXELS = 268435456
SIEVE_SEGMENT = 1 << 20  # odd numbers per sieve segment (a 1 MiB bytearray)
# mirrors Rust's Layout::array::<f64> limit (len * 8 <= isize::MAX on a 64-bit host)
MAX_F64_ELEMENTS = (2**63 - 1) // 8


def _alloc_error(param: str, length: int) -> KernelError:
    """The error of ``wasmcore_abi::try_vec`` when an output of ``length`` elements fails."""
    return value_error(param, f"asks for {length} elements, more memory than is available")


def _floats(x: Any) -> list[float]:
    """The values of a converted 1-D array argument (a numpy array, ``array.array`` or
    ``memoryview``)."""
    return list(x.tolist())


def _nonempty(x: Any, param: str = "x") -> list[float]:
    v = _floats(x)
    if not v:
        raise value_error(param, "must not be empty")
    return v


def _has_nan(v: Sequence[float]) -> bool:
    return any(t != t for t in v)


def _as_bytes(data: Any) -> bytes:
    """The bytes of a converted bytes argument (a uint8 numpy array, ``bytes`` or a
    ``memoryview``)."""
    return bytes(data)


# ---------------------------------------------------------------- numeric


def count_primes(n: int) -> int:
    if n > COUNT_PRIMES_MAX:
        raise value_error("n", f"must be <= {COUNT_PRIMES_MAX}, got {n}")
    if n < 3:
        return 0
    # Odd numbers only: index i stands for 2*i + 1; the odd numbers below n are i < n // 2.
    size = n // 2
    root = math.isqrt(n - 1)  # a composite below n has a prime factor <= root
    base = bytearray([1]) * ((root + 1) // 2)  # the odd numbers <= root
    base[0] = 0  # 1 is not prime
    i = 1
    while (2 * i + 1) * (2 * i + 1) <= root:
        if base[i]:
            p = 2 * i + 1
            start = p * p // 2
            base[start::p] = bytes(len(range(start, len(base), p)))
        i += 1
    primes = [2 * j + 1 for j in range(1, len(base)) if base[j]]
    count = 1  # the prime 2
    for lo in range(0, size, SIEVE_SEGMENT):
        hi = lo + SIEVE_SEGMENT if lo + SIEVE_SEGMENT < size else size
        seg = bytearray([1]) * (hi - lo)
        if lo == 0:
            seg[0] = 0  # 1 is not prime
        for p in primes:
            first = p * p // 2  # the index of p*p, the first multiple left to strike
            if first >= hi:
                break
            if first < lo:
                first += (lo - first + p - 1) // p * p
            seg[first - lo :: p] = bytes(len(range(first - lo, hi - lo, p)))
        count += seg.count(1)
    return count


def mandelbrot(
    width: int, height: int, x0: float, y0: float, x1: float, y1: float, max_iter: int
) -> Any:
    if width * height > MANDELBROT_MAX_PIXELS:
        raise value_error(
            "height",
            f"must keep width*height <= {MANDELBROT_MAX_PIXELS}, got {width}*{height}",
        )
    fw = float(width)
    fh = float(height)
    cxs = [x0 + float(c) * (x1 - x0) / fw for c in range(width)]
    out: list[int] = []
    for r in range(height):
        cy = y0 + float(r) * (y1 - y0) / fh
        for cx in cxs:
            zr = 0.0
            zi = 0.0
            n = 0
            while n < max_iter:
                zr2 = zr * zr
                zi2 = zi * zi
                if zr2 + zi2 > 4.0:
                    break
                zi = 2.0 * zr * zi + cy
                zr = zr2 - zi2 + cx
                n += 1
            out.append(n)
    return from_values("u32", out, (height, width))


# ---------------------------------------------------------------- stats


def _mean_m2(v: Sequence[float]) -> tuple[float, float]:
    """Two-pass mean and sum of squared deviations (both pairwise, like ``sum``)."""
    n = len(v)
    m = _pairwise(v, 0, n) / n
    sq = []
    for t in v:
        d = t - m
        sq.append(d * d)
    return m, _pairwise(sq, 0, n)


def _min_of(v: Sequence[float]) -> float:
    best = v[0]
    for t in v:
        if t != t:
            return t
        if t < best:
            best = t
    return best


def _max_of(v: Sequence[float]) -> float:
    best = v[0]
    for t in v:
        if t != t:
            return t
        if t > best:
            best = t
    return best


def mean(x: Any) -> float:
    v = _nonempty(x)
    return _pairwise(v, 0, len(v)) / len(v)


def var(x: Any, ddof: int = 0) -> float:
    v = _nonempty(x)
    n = len(v)
    if n <= ddof:
        raise value_error("ddof", f"must be less than the length of 'x' ({n}), got {ddof}")
    return _mean_m2(v)[1] / (n - ddof)


def std(x: Any, ddof: int = 0) -> float:
    return math.sqrt(var(x, ddof))


def min(x: Any) -> float:
    return _min_of(_nonempty(x))


def max(x: Any) -> float:
    return _max_of(_nonempty(x))


def _arg_extreme(x: Any, better: Callable[[float, float], bool]) -> int:
    """The first index of the extreme under ``better``; the first NaN wins (numpy)."""
    v = _nonempty(x)
    best = 0
    for i, t in enumerate(v):
        if t != t:
            return i
        if better(t, v[best]):
            best = i
    return best


def argmin(x: Any) -> int:
    return _arg_extreme(x, operator.lt)


def argmax(x: Any) -> int:
    return _arg_extreme(x, operator.gt)


def cumsum(x: Any) -> Any:
    v = _floats(x)
    out: list[float] = []
    if v:
        acc = v[0]  # numpy's order: out[0] = x[0], out[i] = out[i-1] + x[i]
        out.append(acc)
        for t in v[1:]:
            acc = acc + t
            out.append(acc)
    return from_values("f64", out)


def _lerp(a: float, b: float, t: float) -> float:
    """numpy's ``_lerp``: ``a + (b-a)*t``, but ``b - (b-a)*(1-t)`` when t >= 0.5."""
    d = b - a
    if t >= 0.5:
        return b - d * (1.0 - t)
    return a + d * t


def median(x: Any) -> float:
    v = _nonempty(x)
    if _has_nan(v):
        return math.nan
    s = sorted(v)
    n = len(s)
    if n % 2:
        return s[n // 2]
    return (s[n // 2 - 1] + s[n // 2]) / 2.0


def quantile(x: Any, q: float) -> float:
    v = _nonempty(x)
    if not 0.0 <= q <= 1.0:  # also rejects NaN
        raise value_error("q", "must be between 0 and 1")
    if _has_nan(v):
        return math.nan
    s = sorted(v)
    n = len(s)
    virtual = (n - 1) * q
    if virtual >= n - 1:
        # numpy takes the last value for both neighbours, with gamma = virtual - (-1)
        return _lerp(s[n - 1], s[n - 1], virtual + 1.0)
    lo = math.floor(virtual)
    return _lerp(s[lo], s[lo + 1], virtual - lo)


def histogram(x: Any, bins: int, lo: float, hi: float) -> Any:
    if bins == 0:
        raise value_error("bins", "must be >= 1, got 0")
    if not math.isfinite(lo):
        raise value_error("lo", "must be finite")
    if not math.isfinite(hi):
        raise value_error("hi", "must be finite")
    if lo >= hi:
        raise value_error("hi", "must be greater than 'lo'")
    # numpy: edges = linspace(lo, hi, bins + 1), i.e. i * step + lo with the last edge = hi
    step = (hi - lo) / bins
    width = hi - lo
    last = bins - 1
    try:
        counts = [0] * bins
    except MemoryError:
        raise _alloc_error("bins", bins) from None
    for v in _floats(x):
        if not lo <= v <= hi:  # also drops NaN
            continue
        # numpy >= 2 (the oracle): ((v - lo) / (hi - lo)) * bins, truncated
        f = (v - lo) / width * bins
        if f != f:  # only when hi - lo overflows to inf: take bin 0 (Rust's NaN as usize)
            idx = 0
        elif f >= bins:
            idx = bins
        else:
            idx = int(f)
        if idx == bins:
            idx -= 1
        if v < idx * step + lo:
            idx -= 1
        elif idx != last and v >= (idx + 1) * step + lo:
            idx += 1
        counts[idx] += 1
    return from_values("i64", counts)


STATE_LEN = 8  # mirrors wasmcore::stats::STATE_LEN
STATE_MAX_COUNT = 2.0**53


def _two_sum(a: float, b: float) -> tuple[float, float]:
    """``a + b`` rounded and its rounding error (Knuth's TwoSum)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _add_compensated(s: float, c: float, v: float) -> tuple[float, float]:
    """Neumaier's compensated addition of ``v`` to ``(s, c)``."""
    t = s + v
    c += (s - t) + v if abs(s) >= abs(v) else (v - t) + s
    return t, c


def _min2(acc: float, v: float) -> float:
    """numpy's minimum with NaN propagation (a NaN accumulator sticks)."""
    return acc if acc != acc or acc < v else v


def _max2(acc: float, v: float) -> float:
    return acc if acc != acc or acc > v else v


class RunningStats:
    """Count, mean, M2, min and max of every value pushed: the Rust type's fields and order of
    operations (Chan et al.'s merge of per-batch two-pass statistics, the mean as a
    double-double ``shift + resid``, a compensated M2), so its ``state()`` is the same."""

    def __init__(self) -> None:
        self._count = 0
        self._total = 0.0
        self._shift = 0.0
        self._resid = 0.0
        self._m2 = 0.0
        self._m2_comp = 0.0
        self._min = 0.0
        self._max = 0.0

    def push(self, x: Any) -> None:
        v = _floats(x)
        nb = len(v)
        if nb == 0:
            return
        bsum = _pairwise(v, 0, nb)
        if self._count == 0:
            m = bsum / nb
            self._shift = m if math.isfinite(m) else 0.0
        k = self._shift
        bres = _pairwise([t - k for t in v], 0, nb) / nb
        sq = []
        for t in v:
            d = (t - k) - bres
            sq.append(d * d)
        bm2 = _pairwise(sq, 0, nb)
        if self._count == 0:
            self._count, self._total, self._resid = nb, bsum, bres
            self._m2, self._m2_comp = bm2, 0.0
            self._min, self._max = _min_of(v), _max_of(v)
        else:
            self._merge(nb, bsum, bres, bm2, 0.0, _min_of(v), _max_of(v))
        self._normalize()

    def _merge(self, nb: int, total: float, resid: float, m2: float, m2_comp: float,
               lo: float, hi: float) -> None:
        """Chan et al.'s merge into a non-empty accumulator (``resid`` relative to its shift)."""
        na = self._count
        n = na + nb if na + nb < 2**64 else 2**64 - 1  # saturating, as the Rust u64
        w = nb / n
        delta = resid - self._resid
        self._resid += delta * w
        self._m2, self._m2_comp = _add_compensated(self._m2, self._m2_comp, m2)
        self._m2, self._m2_comp = _add_compensated(self._m2, self._m2_comp,
                                                   delta * delta * na * w)
        self._m2_comp += m2_comp
        self._total += total
        self._min = _min2(self._min, lo)
        self._max = _max2(self._max, hi)
        self._count = n

    def _normalize(self) -> None:
        s, r = _two_sum(self._shift, self._resid)
        if math.isfinite(s) and math.isfinite(r):
            self._shift, self._resid = s, r

    def state(self) -> Any:
        return from_values("f64", [float(self._count), self._total, self._shift, self._resid,
                                   self._m2, self._m2_comp, self._min, self._max])

    @staticmethod
    def from_state(state: Any) -> RunningStats:
        v = _floats(state)
        if len(v) != STATE_LEN:
            raise value_error("state", f"must hold {STATE_LEN} numbers (a RunningStats.state()), "
                                       f"got {len(v)}")
        count, total, shift, resid, m2, m2_comp, lo, hi = v
        if not (0.0 <= count <= STATE_MAX_COUNT and count == math.floor(count)):
            raise value_error("state", "must start with a count (a whole number from 0 to "
                                       f"2**53), got {_rust_float(count)}")
        rs = RunningStats()
        if count == 0.0:
            return rs
        if not math.isfinite(shift):
            raise value_error("state", "is not a RunningStats.state(): its shift (state[2]) "
                                       f"is {_rust_float(shift)}")
        rs._count, rs._total, rs._shift, rs._resid = int(count), total, shift, resid
        rs._m2, rs._m2_comp, rs._min, rs._max = m2, m2_comp, lo, hi
        return rs

    def merge_state(self, state: Any) -> None:
        other = RunningStats.from_state(state)
        if other._count == 0:
            return
        if self._count == 0:
            self.__dict__.update(other.__dict__)
            return
        d, e = _two_sum(other._shift, -self._shift)
        self._merge(other._count, other._total, d + (e + other._resid), other._m2,
                    other._m2_comp, other._min, other._max)
        self._normalize()

    def _check(self) -> None:
        if self._count == 0:
            raise KernelError(STATUS_VALUE_ERROR, "no values pushed yet")

    def count(self) -> int:
        return self._count

    def mean(self) -> float:
        self._check()
        m = self._shift + self._resid
        if math.isfinite(self._total) and math.isfinite(m):
            return m
        return self._total / self._count

    def var(self, ddof: int = 0) -> float:
        self._check()
        if self._count <= ddof:
            raise value_error("ddof", f"must be less than the count ({self._count}), got {ddof}")
        if not (math.isfinite(self._min) and math.isfinite(self._max)) \
                or self._total != self._total:
            return math.nan
        if math.isinf(self._total) or not math.isfinite(self._m2):
            return math.inf
        return (self._m2 + self._m2_comp) / (self._count - ddof)

    def std(self, ddof: int = 0) -> float:
        return math.sqrt(self.var(ddof))

    def min(self) -> float:
        self._check()
        return self._min

    def max(self) -> float:
        self._check()
        return self._max


def _rust_float(v: float) -> str:
    """``v`` as Rust's ``{}`` formats an f64: the shortest digits that round-trip, never an
    exponent, no ``.0`` (``inf``, ``NaN``, ``0.5``, ``-1``, ``0.000001``)."""
    if v != v:
        return "NaN"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    text = format(Decimal(repr(v)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# ---------------------------------------------------------------- sort


def sort(x: Any) -> Any:
    v = _floats(x)
    # list.sort is stable and -0.0 == 0.0 under <, so they keep their input order; NaN last
    out = [t for t in v if t == t]
    out.sort()
    out.extend(t for t in v if t != t)
    return from_values("f64", out)


def argsort(x: Any) -> Any:
    v = _floats(x)
    order = [i for i, t in enumerate(v) if t == t]
    order.sort(key=v.__getitem__)  # stable
    order.extend(i for i, t in enumerate(v) if t != t)
    return from_values("i64", order)


# ---------------------------------------------------------------- linalg


def _same_length(n: int, m: int) -> None:
    if m != n:
        raise value_error("y", f"must have the same length as 'x' ({n}), got {m}")


def dot(x: Any, y: Any) -> float:
    xv = _floats(x)
    yv = _floats(y)
    _same_length(len(xv), len(yv))
    return _pairwise([a * b for a, b in zip(xv, yv, strict=True)], 0, len(xv))


def norm(x: Any) -> float:
    v = _floats(x)
    s = _pairwise([t * t for t in v], 0, len(v))
    if s == math.inf or s < 2.2250738585072014e-308:  # overflow, or underflow to 0/subnormal
        scale = 0.0
        for t in v:
            a = abs(t)
            if a > scale:
                scale = a
        if 0.0 < scale < math.inf:
            scaled = [(t / scale) * (t / scale) for t in v]
            return math.sqrt(_pairwise(scaled, 0, len(v))) * scale
    return math.sqrt(s)


def axpy(a: float, x: Any, y: Any) -> None:
    xv = _floats(x)
    yv = _floats(y)
    _same_length(len(xv), len(yv))
    for i, (xi, yi) in enumerate(zip(xv, yv, strict=True)):  # y: any writable array
        y[i] = yi + a * xi


def matmul(a: Any, b: Any) -> Any:
    m, k = a.shape
    r, n = b.shape
    if r != k:
        raise value_error("b", f"must have {k} rows (the columns of 'a'), got {r}")
    if m * n > MAX_F64_ELEMENTS:
        raise _alloc_error("b", m * n)
    av = a.tolist()
    bv = b.tolist()
    try:
        out: list[float] = []
        for i in range(m):  # i-k-j order
            row = [0.0] * n
            ai = av[i]
            for p in range(k):
                aip = ai[p]
                bp = bv[p]
                for j in range(n):
                    row[j] += aip * bp[j]
            out.extend(row)
        return from_values("f64", out, (m, n))
    except MemoryError:
        raise _alloc_error("b", m * n) from None


def convolve(x: Any, k: Any) -> Any:
    xv = _nonempty(x, "x")
    kv = _nonempty(k, "k")
    out = [0.0] * (len(xv) + len(kv) - 1)
    for i, xi in enumerate(xv):
        for j, kj in enumerate(kv):
            out[i + j] += xi * kj
    return from_values("f64", out)


# ---------------------------------------------------------------- bytes


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table.append(c)
    return table


CRC_TABLE = _crc_table()


def crc32(data: Any, value: int = 0) -> int:
    table = CRC_TABLE
    crc = value ^ 0xFFFFFFFF
    for byte in _as_bytes(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = 0xFFFFFFFFFFFFFFFF


def fnv1a64(data: Any) -> int:
    h = FNV_OFFSET
    for byte in _as_bytes(data):
        h = ((h ^ byte) * FNV_PRIME) & MASK64
    return h


SHA256_K = (
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
    0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
    0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
    0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
    0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
    0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
    0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
)  # fmt: skip
SHA256_H0 = (
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
)  # fmt: skip
M32 = 0xFFFFFFFF


def _sha256_block(state: list[int], block: bytes | bytearray, off: int) -> None:
    """Compresses the 64 bytes of ``block`` at ``off`` into ``state`` (in place)."""
    w = [int.from_bytes(block[off + 4 * t : off + 4 * t + 4], "big") for t in range(16)]
    for t in range(16, 64):
        x = w[t - 15]
        s0 = ((x >> 7) | (x << 25)) ^ ((x >> 18) | (x << 14)) ^ (x >> 3)
        x = w[t - 2]
        s1 = ((x >> 17) | (x << 15)) ^ ((x >> 19) | (x << 13)) ^ (x >> 10)
        w.append((w[t - 16] + (s0 & M32) + w[t - 7] + (s1 & M32)) & M32)
    a, b, c, d, e, f, g, h = state
    for t in range(64):
        s1 = ((e >> 6) | (e << 26)) ^ ((e >> 11) | (e << 21)) ^ ((e >> 25) | (e << 7))
        ch = (e & f) ^ (~e & g)
        t1 = (h + (s1 & M32) + ch + SHA256_K[t] + w[t]) & M32
        s0 = ((a >> 2) | (a << 30)) ^ ((a >> 13) | (a << 19)) ^ ((a >> 22) | (a << 10))
        maj = (a & b) ^ (a & c) ^ (b & c)
        t2 = ((s0 & M32) + maj) & M32
        h = g
        g = f
        f = e
        e = (d + t1) & M32
        d = c
        c = b
        b = a
        a = (t1 + t2) & M32
    for i, v in enumerate((a, b, c, d, e, f, g, h)):
        state[i] = (state[i] + v) & M32


class Sha256:
    """Streaming SHA-256 (FIPS 180-4) with hashlib's semantics: ``digest`` does not finish
    the stream, so ``update`` after ``digest`` continues it."""

    def __init__(self) -> None:
        self._state = list(SHA256_H0)
        self._pending = bytearray()  # < 64 bytes not yet compressed
        self._length = 0  # bytes fed so far

    def update(self, data: Any) -> None:
        chunk = _as_bytes(data)
        self._length += len(chunk)
        buf = self._pending + chunk
        full = len(buf) - len(buf) % 64
        for off in range(0, full, 64):
            _sha256_block(self._state, buf, off)
        self._pending = buf[full:]

    def digest(self) -> bytes:
        state = list(self._state)
        tail = self._pending + b"\x80"
        tail += bytes((55 - len(self._pending)) % 64)
        tail += (self._length * 8 & MASK64).to_bytes(8, "big")
        for off in range(0, len(tail), 64):
            _sha256_block(state, tail, off)
        return b"".join(v.to_bytes(4, "big") for v in state)

    def hexdigest(self) -> str:
        return self.digest().hex()

    def copy(self) -> Sha256:
        other = Sha256()
        other._state = list(self._state)
        other._pending = bytearray(self._pending)
        other._length = self._length
        return other


def sha256(data: Any) -> bytes:
    h = Sha256()
    h.update(data)
    return h.digest()


B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
B64_VALUES = [-1] * 256
for _i, _c in enumerate(B64_ALPHABET):
    B64_VALUES[_c] = _i
del _i, _c


def base64_encode(data: Any) -> bytes:
    d = _as_bytes(data)
    abc = B64_ALPHABET
    out = bytearray()
    full = len(d) - len(d) % 3
    for i in range(0, full, 3):
        v = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2]
        out += bytes((abc[v >> 18], abc[(v >> 12) & 63], abc[(v >> 6) & 63], abc[v & 63]))
    rest = len(d) - full
    if rest == 1:
        v = d[full] << 16
        out += bytes((abc[v >> 18], abc[(v >> 12) & 63])) + b"=="
    elif rest == 2:
        v = (d[full] << 16) | (d[full + 1] << 8)
        out += bytes((abc[v >> 18], abc[(v >> 12) & 63], abc[(v >> 6) & 63])) + b"="
    return bytes(out)


def base64_decode(data: Any) -> bytes:
    # canonical padding only (what Python >= 3.13's b64decode(validate=True) accepts)
    d = _as_bytes(data)
    end = len(d)
    while end > 0 and d[end - 1] == 0x3D:  # every trailing b"="
        end -= 1
    pad = len(d) - end
    values = B64_VALUES
    digits = [values[c] for c in d[:end]]
    for i, v in enumerate(digits):
        if v < 0:
            raise value_error("data", f"is not valid base64: invalid character at offset {i}")
    rem = end % 4
    if rem == 1:
        raise value_error(
            "data", f"is not valid base64: {end} data characters is 1 more than a multiple of 4"
        )
    if pad != (0, None, 2, 1)[rem]:
        raise value_error("data", "is not valid base64: incorrect padding")
    out = bytearray()
    full = end - rem
    for i in range(0, full, 4):
        v = (digits[i] << 18) | (digits[i + 1] << 12) | (digits[i + 2] << 6) | digits[i + 3]
        out += bytes((v >> 16, (v >> 8) & 0xFF, v & 0xFF))
    if rem == 2:  # one byte; the low 4 bits of the second digit are ignored
        out.append(((digits[full] << 18) | (digits[full + 1] << 12)) >> 16)
    elif rem == 3:  # two bytes; the low 2 bits of the third digit are ignored
        v = (digits[full] << 18) | (digits[full + 1] << 12) | (digits[full + 2] << 6)
        out += bytes((v >> 16, (v >> 8) & 0xFF))
    return bytes(out)


# ---------------------------------------------------------------- special


# scipy (cephes) computes gamma(x) for x < -33 as pi / (|q sin(pi z)| * stirf(q)), q = -x, with
# stirf(q) = inf from q >= MAXGAM on: where that denominator overflows, scipy returns a signed 0
# where the true value is a tiny (< ~5e-308) number. The reference does the same.
CEPHES_MAXGAM = 171.624376956302725


def _cephes_gamma_underflows(q: float) -> bool:
    """Whether scipy's gamma(-q) (q > 33, not an integer) comes out as a signed zero."""
    if q >= CEPHES_MAXGAM:
        return True
    p = math.floor(q)
    z = q - p
    if z > 0.5:
        z = q - (p + 1)
    try:
        return abs(q * math.sin(math.pi * z)) * math.gamma(q) == math.inf
    except OverflowError:
        return True


def _gamma1(t: float) -> float:
    if t != t:
        return t
    if t == 0.0:
        return math.copysign(math.inf, t)  # gamma(0.0) = inf, gamma(-0.0) = -inf
    if t < 0.0 and (t == -math.inf or t == math.floor(t)):
        return math.nan  # negative integers and -inf
    if t < -33.0 and _cephes_gamma_underflows(-t):
        return -0.0 if math.floor(-t) % 2 == 0 else 0.0
    try:
        return math.gamma(t)
    except OverflowError:
        if t > 0.0:
            return math.inf
        # tiny negative t: gamma is negative on (-1, 0), and its sign alternates per interval
        return -math.inf if math.floor(t) % 2 else math.inf


def _lgamma1(t: float) -> float:
    if t != t:
        return t
    if t == math.inf or t == -math.inf:
        return t  # as scipy: gammaln(inf) = inf, gammaln(-inf) = -inf
    if t <= 0.0 and t == math.floor(t):
        return math.inf  # the poles: 0, -0 and the negative integers
    if 1.0 / abs(t) == math.inf:
        return math.inf  # like scipy (cephes lgam starts from 1/x): |x| < 1/DBL_MAX gives inf
    try:
        return math.lgamma(t)
    except OverflowError:
        return math.inf


def gamma(x: Any) -> Any:
    return from_values("f64", [_gamma1(t) for t in _floats(x)])


def lgamma(x: Any) -> Any:
    return from_values("f64", [_lgamma1(t) for t in _floats(x)])


def erf(x: Any) -> Any:
    return from_values("f64", [math.erf(t) for t in _floats(x)])
