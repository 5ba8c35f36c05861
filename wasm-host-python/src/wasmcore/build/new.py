"""``wasmcore new NAME``: a complete project that builds as generated.

The files come from ``template/`` next to this module (``*.tmpl``, with ``{{placeholders}}``;
``__package__`` in a path is the import name, ``gitignore`` becomes ``.gitignore``).
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from .dist import runtime_requirement
from .project import BuildError, normalize

TEMPLATE = Path(__file__).resolve().parent / "template"
_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")  # PEP 508


def abi_requirement() -> str:
    """The ``wasmcore-abi`` version requirement matching this runtime (``major.minor``)."""
    from .assemble import _tool_version

    return ".".join(_tool_version().split(".")[:2])


def new_project(name: str, parent: Path, description: str | None = None) -> Path:
    """Writes the project ``parent/name`` and returns its directory."""
    if not _NAME.match(name):
        raise BuildError(f"{name!r} is not a valid project name (letters, digits, '-', '_', "
                         "'.'; starting and ending with a letter or digit)")
    package = normalize(name)
    if not package.isidentifier() or keyword.iskeyword(package):
        raise BuildError(f"{name!r} gives the import name {package!r}, which is not a Python "
                         "identifier: choose a name starting with a letter")
    root = parent / name
    if root.exists() and any(root.iterdir()):
        raise BuildError(f"{root} already exists and is not empty")
    values = {
        "name": name,
        "package": package,
        "crate": package,
        "description": description or f"{name}: Rust functions for Python, built with wasmcore",
        "abi_requirement": abi_requirement(),
        "runtime_requirement": runtime_requirement(),
    }
    for src in sorted(TEMPLATE.rglob("*.tmpl")):
        rel = src.relative_to(TEMPLATE).as_posix()[:-len(".tmpl")]
        rel = rel.replace("__package__", package)
        if rel == "gitignore":
            rel = ".gitignore"
        text = src.read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        if "{{" in text:  # pragma: no cover - a template names a value that is not defined
            raise AssertionError(f"{src}: unreplaced placeholder")
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")
    return root
