"""Editable installs rebuild on import, as nimporter does.

``pip install -e .`` (or ``wasmcore develop``) builds the module once and writes the generated
files into the project's python-source directory, which the install puts on ``sys.path``. The
generated module then calls :func:`refresh` each time it is imported: it compares the files
the last build read (cargo's dep-info, plus ``Cargo.toml``) with what is on disk now, by
modification time and size — a few ``stat`` calls — and when something changed, says so on
stderr, rebuilds with cargo (whose progress and errors go to stderr as they come), and writes
the new module before it is loaded. A failed build is an ``ImportError`` whose message points
at cargo's errors above it (:func:`wasmcore._extension.bind` raises it).
"""

from __future__ import annotations

import json
from pathlib import Path

from .assemble import STAMP_SUFFIX, _tool_version, compile_project, fingerprint, write_module
from .cargo import log
from .project import Project


def is_fresh(base: Path) -> bool:
    """Whether the module at ``base`` (its path without suffix) was built from the files as
    they are now, by this version of wasmcore."""
    try:
        stamp = json.loads(base.with_name(base.name + STAMP_SUFFIX).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if stamp.get("tool") != _tool_version() or not base.with_suffix(".wasm").is_file():
        return False
    recorded = stamp.get("files", {})
    return bool(recorded) and fingerprint([Path(f) for f in recorded]) == recorded


def rebuild(root: Path) -> Project:
    """Builds the project and writes its generated module into its python-source directory
    (an editable install's files)."""
    project = Project.load(root)
    built = compile_project(project)
    write_module(project, built, project.python_source, develop=True)
    return project


def refresh(root: Path, module: str, base: Path) -> None:
    """Called by an editable install's generated module ``module`` (whose path without suffix
    is ``base``) before it loads: rebuilds when the Rust sources changed."""
    if is_fresh(base):
        return
    log(f"{module}: the Rust sources changed since the last build; rebuilding {root}")
    rebuild(root)  # a BuildError becomes the ImportError of the module being imported
    log(f"{module}: rebuilt")
