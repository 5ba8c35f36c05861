#!/usr/bin/env python3
"""Prints the wasm ÷ native table of the criterion benches (`cargo bench`, `just bench-rs`).

Reads criterion's results, target/criterion/<group>/<function>/new/{benchmark,estimates}.json,
and prints per group (sum/1e6, fib/37, ...) the median time of each function (native, wasm,
wasm-nosimd), the ratios wasm ÷ native and wasm-nosimd ÷ native, and the geometric mean of
wasm ÷ native over the five compute-bound kernels of the speed targets.

usage: scripts/bench_ratios.py [CRITERION_DIR] [--markdown]
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

# The compute-bound kernels of the speed targets (geometric mean <= 1.15, none above 1.4).
COMPUTE_BOUND = ["fib/37", "sort/1e6", "matmul/256", "sha256/64MiB", "count_primes/1e8"]
VARIANTS = ["native", "wasm", "wasm-nosimd"]


def load(root: Path) -> dict[str, dict[str, float]]:
    """{group: {function: median ns}} for every benchmark criterion has results for."""
    out: dict[str, dict[str, float]] = {}
    for bench in sorted(root.glob("*/*/new/benchmark.json")):
        meta = json.loads(bench.read_text())
        est = json.loads((bench.parent / "estimates.json").read_text())
        out.setdefault(meta["group_id"], {})[meta["function_id"]] = est["median"]["point_estimate"]
    return out


def fmt_time(ns: float | None) -> str:
    if ns is None:
        return "-"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def fmt_ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}"


def geomean(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def main(argv: list[str]) -> int:
    markdown = "--markdown" in argv
    args = [a for a in argv if a != "--markdown"]
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path(__file__).resolve().parent.parent / "target"))
    root = Path(args[0]) if args else target / "criterion"
    results = load(root)
    if not results:
        print(f"no criterion results under {root}: run `cargo bench` (or `just bench-rs`) first")
        return 1
    header = ["kernel", "native", "wasm", "wasm-nosimd", "wasm÷native", "nosimd÷native"]
    rows = []
    ratios: dict[str, tuple[float | None, float | None]] = {}
    for group in sorted(results, key=lambda g: (g not in COMPUTE_BOUND, g)):
        t = results[group]
        n, w, s = (t.get(v) for v in VARIANTS)
        ratios[group] = (ratio(w, n), ratio(s, n))
        rows.append([group, fmt_time(n), fmt_time(w), fmt_time(s), *map(fmt_ratio, ratios[group])])
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for r in [header, *rows]:
            print("  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)))
    print()
    for i, label in enumerate(["wasm", "wasm-nosimd"]):
        got = [ratios[g][i] for g in COMPUTE_BOUND if g in ratios]
        if got and all(r is not None for r in got):
            line = f"{label} ÷ native, geometric mean over {', '.join(COMPUTE_BOUND)}: {geomean(got):.3f}"
            if len(got) < len(COMPUTE_BOUND):
                line += f" (only {len(got)} of {len(COMPUTE_BOUND)} measured)"
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
