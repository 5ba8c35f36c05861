"""The classic experiment, side by side in one run: fib(32) and the sum of 10^7 float64 on
the pure-Python reference, the wasm module and the native library; then the per-call cost of
fib(1) through each backend against one bare ctypes call of the native export.

Times are the median (heavy kernels) or the best (per-call loop) of --repeat runs; ratios are
what to read, since the machines this runs on are shared and noisy.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import wasmcore
from wasmcore._bench import bare_fib, fmt, median_time, per_call_ns


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5, help="repetitions per measurement")
    ap.add_argument("--fib", type=int, default=32)
    ap.add_argument("--n", type=int, default=10**7, help="length of the sum's input")
    args = ap.parse_args()
    r = max(args.repeat, 1)

    t0 = time.perf_counter()
    cores = {b: wasmcore.load(b) for b in ("python", "wasm", "native")}
    print(f"wasmcore demo on {platform.machine()} / {platform.python_implementation()} "
          f"{platform.python_version()} (loaded 3 backends in {fmt(time.perf_counter() - t0)})")
    x = np.random.default_rng(0).random(args.n)

    rows = []
    for label, call, reps in [
        (f"fib({args.fib})", lambda c: c.fib(args.fib), {"python": 1}),
        (f"sum of {args.n:.0e} f64", lambda c: c.sum(x), {"python": 1}),
    ]:
        times = {b: median_time(lambda c=c, call=call: call(c), reps.get(b, r))
                 for b, c in cores.items()}
        results = {b: call(c) for b, c in cores.items() if b != "python"}
        assert len(set(results.values())) == 1, results  # same answer on every backend
        rows.append((label, times))

    print()
    print(f"{'kernel':<22}{'python':>14}{'wasm':>14}{'native':>14}"
          f"{'python/wasm':>13}{'wasm/native':>13}")
    for label, t in rows:
        print(f"{label:<22}{fmt(t['python']):>14}{fmt(t['wasm']):>14}{fmt(t['native']):>14}"
              f"{t['python'] / t['wasm']:>12.1f}x{t['wasm'] / t['native']:>12.2f}x")

    # per-call cost: one bare ctypes call of the native export vs each backend's callable
    bare = bare_fib(Path(cores["native"]._impl.lib._name))
    fibs = {b: c.fib for b, c in cores.items()}
    calls: dict[str, Callable[[], object]] = {
        "bare ctypes call": bare,
        "wasm fib(1)": lambda: fibs["wasm"](1),
        "native fib(1)": lambda: fibs["native"](1),
        "python fib(1)": lambda: fibs["python"](1),
    }
    best: dict[str, float] = {k: float("inf") for k in calls}
    for _ in range(r):  # interleaved, so drift on a shared machine hits all alike
        for k, f in calls.items():
            best[k] = min(best[k], per_call_ns(f, 1))
    base = best["bare ctypes call"]
    print()
    print(f"{'per call':<22}{'ns':>10}{'÷ bare ctypes':>16}")
    for k, v in best.items():
        print(f"{k:<22}{v:>10.0f}{v / base:>15.2f}x")
    print("\n(bare ctypes call = the native export called through ctypes with preset "
          "argtypes and no checks;\n the wasm/native/python rows include wasmcore's argument "
          "checks and error handling)")


if __name__ == "__main__":
    main()
