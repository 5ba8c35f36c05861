"""An author's project: ``pyproject.toml`` (the Python side) and ``Cargo.toml`` (the Rust
side, read through ``cargo metadata`` so workspace inheritance and target directories are
cargo's own answers).

``[tool.wasmcore]`` in ``pyproject.toml`` (every key optional):

* ``module-name`` — the generated module, dotted (default ``<package>._lib``, where
  ``<package>`` is the project name with ``-`` as ``_``);
* ``python-source`` — the directory holding the author's Python packages (default
  ``python``); the generated module is placed in the package it names;
* ``sdist-include`` — extra glob patterns (relative to the project) for the sdist.

The version is Cargo's (``[project] dynamic = ["version"]``): one version for the crate, the
wheel, ``__version__`` and the manifest.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


class BuildError(Exception):
    """A build failed for a reason the user can act on; the message says what to do. The CLI
    prints it without a traceback."""


def _cargo() -> str:
    cargo = shutil.which("cargo")
    if cargo is None:
        raise BuildError("cargo was not found on PATH: install Rust (https://rustup.rs), "
                         "then run this again")
    return cargo


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def normalize(name: str) -> str:
    """A distribution name as wheel and sdist file names spell it (PEP 427 / PEP 625)."""
    return re.sub(r"[-_.]+", "_", name).lower()


@dataclass(frozen=True)
class Project:
    root: Path
    pyproject: dict[str, Any]
    name: str  # the distribution name, as written
    version: str  # Cargo's package version
    module: str  # the generated module, dotted ("mypkg._lib")
    python_source: Path  # where the author's packages live
    crate: str  # the Cargo package name
    lib_name: str  # the cdylib target's name: the .wasm file stem
    manifest_path: Path  # Cargo.toml
    target_dir: Path  # cargo's target directory

    @property
    def package(self) -> str:
        """The top-level package the generated module belongs to."""
        return self.module.split(".")[0]

    @property
    def module_path(self) -> Path:
        """The generated module's path without suffix, relative to a site directory."""
        return Path(*self.module.split("."))

    @classmethod
    def load(cls, root: str | os.PathLike[str]) -> Project:
        root = Path(root).resolve()
        try:
            pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BuildError(f"{root} has no pyproject.toml (is this a wasmcore project? "
                             "`wasmcore new NAME` makes one)") from None
        except tomllib.TOMLDecodeError as e:
            raise BuildError(f"{root / 'pyproject.toml'}: {e}") from None
        project = pyproject.get("project")
        if not isinstance(project, dict) or not isinstance(project.get("name"), str):
            raise BuildError(f"{root / 'pyproject.toml'}: [project] needs a name")
        if not (root / "Cargo.toml").is_file():
            raise BuildError(f"{root} has no Cargo.toml: wasmcore builds the crate next to "
                             "pyproject.toml")
        tool = pyproject.get("tool", {}).get("wasmcore", {})
        if not isinstance(tool, dict):
            raise BuildError(f"{root / 'pyproject.toml'}: [tool.wasmcore] must be a table")
        unknown = set(tool) - {"module-name", "python-source", "sdist-include"}
        if unknown:
            raise BuildError(f"{root / 'pyproject.toml'}: unknown [tool.wasmcore] keys: "
                             f"{', '.join(sorted(unknown))} (known: module-name, "
                             "python-source, sdist-include)")
        name = project["name"]
        module = tool.get("module-name", f"{normalize(name)}._lib")
        if not isinstance(module, str) or not all(_IDENT.match(p) for p in module.split(".")):
            raise BuildError(f"[tool.wasmcore] module-name must be a dotted Python name, got "
                             f"{module!r}")
        source = tool.get("python-source", "python")
        if not isinstance(source, str):
            raise BuildError("[tool.wasmcore] python-source must be a directory name")
        crate, version, lib_name, target_dir = _cargo_package(root)
        static = project.get("version")
        if static is not None and static != version:
            raise BuildError(f"pyproject.toml says version {static!r} but Cargo.toml says "
                             f"{version!r}: remove [project] version and list \"version\" in "
                             "[project] dynamic (Cargo's version is the one source)")
        return cls(root=root, pyproject=pyproject, name=name, version=version, module=module,
                   python_source=root / source, crate=crate, lib_name=lib_name,
                   manifest_path=root / "Cargo.toml", target_dir=target_dir)


def _cargo_package(root: Path) -> tuple[str, str, str, Path]:
    """(package name, version, cdylib target name, target directory) of the crate at root."""
    manifest = root / "Cargo.toml"
    r = subprocess.run([_cargo(), "metadata", "--no-deps", "--format-version", "1",
                        "--manifest-path", str(manifest)],
                       capture_output=True, text=True, cwd=root, check=False)
    if r.returncode != 0:
        raise BuildError(f"cargo metadata failed for {manifest}:\n{r.stderr.strip()}")
    meta = json.loads(r.stdout)
    for pkg in meta["packages"]:
        if Path(pkg["manifest_path"]).resolve() == manifest.resolve():
            break
    else:  # pragma: no cover - cargo always lists the package of --manifest-path
        raise BuildError(f"cargo metadata does not list the package of {manifest}")
    libs = [t["name"] for t in pkg["targets"] if "cdylib" in t["kind"]]
    if not libs:
        raise BuildError(f"{manifest}: the crate must build a cdylib (the WebAssembly module):"
                         ' add [lib] crate-type = ["cdylib", "rlib"]')
    return pkg["name"], pkg["version"], libs[0], Path(meta["target_directory"])
