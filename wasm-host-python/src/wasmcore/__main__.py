"""The ``wasmcore`` command line (``python -m wasmcore``).

* ``wasmcore info FILE.wasm`` — the manifest, exports with signatures, imports, size, sha256.
* ``wasmcore call FILE.wasm FUNC ARGS... [--timeout S] [--fuel N] [--max-memory BYTES]`` —
  runs one export of an untrusted module under :class:`wasmcore.Plugin` and prints the result.
* ``wasmcore run PROGRAM.wasm [--dir HOST:GUEST[:ro]] [--env K=V] [--timeout S] ... -- ARGS`` —
  runs a WASI program under :class:`wasmcore.Program`, with stdin passed through and its exit
  status as the command's.
* ``wasmcore bench [--quick]`` — the benchmark table, written to ``target/bench/``.
* ``wasmcore new NAME`` / ``build`` / ``develop`` / ``cargo ARGS`` — ship your own Rust as a
  pure wheel (:mod:`wasmcore.build`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="wasmcore", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from . import _bench, _cli

    _cli.add_commands(sub)
    from .build import cli as build_cli

    build_cli.add_commands(sub)

    bench = sub.add_parser("bench", help="benchmark the backends side by side and write a report")
    _bench.add_arguments(bench)
    bench.set_defaults(run=_bench.run)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    rest: list[str] | None = None
    if words[:1] == ["run"] and "--" in words:  # the program's arguments: all after --
        at = words.index("--")
        words, rest = words[:at], words[at + 1:]
    args = build_parser().parse_args(words)
    if rest is not None:
        args.args = [*args.args, *rest]
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
