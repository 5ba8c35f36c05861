"""The benchmark harness behind ``wasmcore bench`` and ``just bench`` (being written)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="a short pass")


def run(args: argparse.Namespace) -> int:
    raise SystemExit("wasmcore bench: not implemented yet")
