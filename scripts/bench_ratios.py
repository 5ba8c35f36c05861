#!/usr/bin/env python3
"""Prints the wasm ÷ native table of the criterion benches (`cargo bench`, `just bench-rs`).

Reads criterion's results, target/criterion/<group>/<function>/new/{benchmark,estimates}.json,
and prints per group (sum/1e6, fib/37, ...) the median time of each function (native, wasm,
wasm-nosimd), the ratios wasm ÷ native and wasm-nosimd ÷ native, and the geometric mean of
wasm ÷ native over the five compute-bound kernels of the speed targets.

Given several criterion directories (copies of target/criterion from separate runs), it
prints per group the median over the runs of each time and of each ratio (each ratio is taken
within one run): on a shared, noisy machine that is steadier than any single run.

usage: scripts/bench_ratios.py [CRITERION_DIR ...] [--markdown]
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


def median(xs: list[float]) -> float | None:
    xs = sorted(xs)
    if not xs:
        return None
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


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
    roots = [Path(a) for a in args] or [target / "criterion"]
    runs = [load(root) for root in roots]
    if not all(runs):
        empty = [str(r) for r, run in zip(roots, runs) if not run]
        print(f"no criterion results under {', '.join(empty)}: run `cargo bench` (or `just bench-rs`) first")
        return 1
    header = ["kernel", "native", "wasm", "wasm-nosimd", "wasm÷native", "nosimd÷native"]
    rows = []
    ratios: dict[str, tuple[float | None, float | None]] = {}
    groups = sorted({g for run in runs for g in run}, key=lambda g: (g not in COMPUTE_BOUND, g))
    for group in groups:
        times = [run.get(group, {}) for run in runs]
        n, w, s = (median([t[v] for t in times if v in t]) for v in VARIANTS)
        ratios[group] = tuple(
            median([r for t in times if (r := ratio(t.get(v), t.get("native"))) is not None])
            for v in VARIANTS[1:]
        )
        rows.append([group, fmt_time(n), fmt_time(w), fmt_time(s), *map(fmt_ratio, ratios[group])])
    if len(runs) > 1:
        print(f"median of {len(runs)} runs ({', '.join(map(str, roots))}); each ratio within one run")
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
    # sha256: native sha2 runs on the CPU's SHA extensions where it has them; wasm has none.
    for kernels in (COMPUTE_BOUND, [g for g in COMPUTE_BOUND if g != "sha256/64MiB"]):
        for i, label in enumerate(["wasm", "wasm-nosimd"]):
            got = [ratios[g][i] for g in kernels if g in ratios]
            if got and all(r is not None for r in got):
                line = f"{label} ÷ native, geometric mean over {', '.join(kernels)}: {geomean(got):.3f}"
                if len(got) < len(kernels):
                    line += f" (only {len(got)} of {len(kernels)} measured)"
                print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
