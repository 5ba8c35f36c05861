"""Building an author's crate to WebAssembly with their Rust toolchain.

* The wasm target: present in the toolchain's sysroot, else installed with
  ``rustup target add wasm32-unknown-unknown`` (as ``just setup`` does), else a clear message.
* The wasmcore crates (``wasmcore-abi``, ``-macros``, ``-schema``): until they are published,
  their sources come with this package (or with the source checkout it runs from) and replace
  the crates.io entries through ``--config patch.crates-io...`` on cargo's command line, so the
  author's ``Cargo.toml`` just says ``wasmcore-abi = "0.1"`` and always gets the sources that
  match the runtime. ``wasmcore cargo ...`` runs any cargo command (``test``, ``clippy``) the
  same way.
* Cargo's own output (progress, errors) goes to stderr as it comes; its JSON messages on stdout
  name the ``.wasm`` it wrote.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .project import BuildError, Project, _cargo

TARGET = "wasm32-unknown-unknown"
CRATES = ("wasmcore-abi", "wasmcore-macros", "wasmcore-schema")


def log(message: str) -> None:
    print(f"wasmcore: {message}", file=sys.stderr, flush=True)


def crate_sources() -> dict[str, Path]:
    """Where the sources of the wasmcore crates are: ``$WASMCORE_CRATES`` (a directory with one
    folder per crate), the copies inside this package (an installed wheel), or the crates of the
    source checkout this package runs from."""
    here = Path(__file__).resolve().parent
    candidates = []
    if env := os.environ.get("WASMCORE_CRATES"):
        candidates.append(Path(env))
    candidates.append(here / "crates")
    for parent in here.parents:
        if (parent / "Cargo.toml").is_file() and (parent / "crates" / "wasmcore-abi").is_dir():
            candidates.append(parent / "crates")
            break
    for base in candidates:
        if all((base / c / "Cargo.toml").is_file() for c in CRATES):
            return {c: base / c for c in CRATES}
    raise BuildError("the sources of the wasmcore crates are missing from this installation "
                     f"(looked in {', '.join(map(str, candidates))}): reinstall wasmcore")


def patch_args() -> list[str]:
    """cargo ``--config`` arguments that use the bundled wasmcore crates."""
    args = []
    for name, path in crate_sources().items():
        # a TOML basic string: JSON's escapes are TOML's
        args += ["--config", f"patch.crates-io.{name}.path={json.dumps(str(path))}"]
    return args


def ensure_wasm_target(cwd: Path, say: Callable[[str], None] = log) -> None:
    """Makes sure the toolchain cargo uses in ``cwd`` can build for wasm32."""
    _cargo()
    rustc = shutil.which("rustc")
    if rustc is None:
        raise BuildError("rustc was not found on PATH: install Rust (https://rustup.rs)")
    r = subprocess.run([rustc, "--print", "sysroot"], capture_output=True, text=True, cwd=cwd,
                       check=False)
    sysroot = Path(r.stdout.strip())
    if (sysroot / "lib" / "rustlib" / TARGET).is_dir():
        return
    if shutil.which("rustup"):
        say(f"installing the {TARGET} target: rustup target add {TARGET}")
        if subprocess.run(["rustup", "target", "add", TARGET], cwd=cwd,
                          check=False).returncode == 0:
            return
    raise BuildError(f"the Rust toolchain at {sysroot} cannot build for {TARGET}. With rustup: "
                     f"`rustup target add {TARGET}`; without rustup, install a toolchain that "
                     f"has the {TARGET} standard library (https://rustup.rs)")


def run_cargo(project: Project, args: Sequence[str]) -> int:
    """``cargo ARGS`` in the project with the bundled wasmcore crates; returns its status.
    The ``--config`` arguments go right after the subcommand: after a ``--`` they would be the
    subcommand's own (``wasmcore cargo clippy -- -D warnings``), and before it an external
    subcommand such as clippy would not pass them on to the cargo it runs."""
    args = list(args)
    # the subcommand: the first argument that is not an option or a +toolchain
    at = next((i + 1 for i, a in enumerate(args) if not a.startswith(("-", "+"))), len(args))
    cmd = [_cargo(), *args[:at], *patch_args(), *args[at:]]
    return subprocess.run(cmd, cwd=project.root, check=False).returncode


def build_wasm(project: Project, say: Callable[[str], None] = log) -> Path:
    """``cargo build --release --target wasm32-unknown-unknown`` of the project's library;
    returns the raw ``.wasm`` it wrote."""
    ensure_wasm_target(project.root, say)
    cmd = [_cargo(), "build", "--release", "--lib", "--target", TARGET, "--manifest-path",
           str(project.manifest_path), "--message-format=json-render-diagnostics",
           *patch_args()]
    say(f"building {project.crate} {project.version} for {TARGET} (cargo build --release)")
    wasm: Path | None = None
    with subprocess.Popen(cmd, cwd=project.root, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            target = msg.get("target", {})
            if msg.get("reason") == "compiler-artifact" and target.get("name") == \
                    project.lib_name and "cdylib" in target.get("kind", ()):
                found = [f for f in msg.get("filenames", ()) if f.endswith(".wasm")]
                wasm = Path(found[0]) if found else wasm
    if proc.returncode != 0:
        raise BuildError(f"cargo build failed (exit status {proc.returncode}); cargo's "
                         "messages are above")
    if wasm is None or not wasm.is_file():
        raise BuildError(f"cargo built {project.crate} but reported no .wasm for its cdylib "
                         f"target {project.lib_name!r}")
    return wasm


def dep_files(wasm: Path) -> list[Path]:
    """The source files the last build of ``wasm`` read, from cargo's dep-info file beside it
    (``<name>.d``: ``target: dep dep ...``, spaces in paths escaped)."""
    try:
        text = wasm.with_suffix(".d").read_text(encoding="utf-8")
    except OSError:
        return []
    _, _, deps = text.partition(": ")
    files, cur = [], ""
    for part in deps.replace("\\\n", " ").split(" "):
        if part.endswith("\\"):  # an escaped space: the path goes on
            cur += part[:-1] + " "
            continue
        cur += part
        if cur.strip():
            files.append(Path(cur.strip()))
        cur = ""
    return files
