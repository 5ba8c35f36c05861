"""The author toolchain: ``wasmcore new`` / ``build`` / ``develop``, the PEP 517 build backend
(``build-backend = "wasmcore.build"``), and type stubs from the manifest.

An author's project is a crate on ``wasmcore-abi`` next to a ``pyproject.toml``; the backend
builds the crate to WebAssembly with the author's Rust toolchain, post-processes it with the
post-processor shipped in this package (compiled to wasm, run here under wasmtime), and writes
a ``py3-none-any`` wheel holding the author's Python code, the module, a generated Python
module exposing its exports, ``.pyi`` stubs and ``py.typed``. See ``docs/authors.md``.

The hooks (PEP 517 and PEP 660) run with the project directory as the working directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .project import BuildError, Project

__all__ = ["BuildError", "build_editable", "build_sdist", "build_wheel",
           "get_requires_for_build_editable", "get_requires_for_build_sdist",
           "get_requires_for_build_wheel", "prepare_metadata_for_build_editable",
           "prepare_metadata_for_build_wheel"]


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    return []


def get_requires_for_build_sdist(config_settings: dict[str, Any] | None = None) -> list[str]:
    return []


def get_requires_for_build_editable(config_settings: dict[str, Any] | None = None) -> list[str]:
    return []


def prepare_metadata_for_build_wheel(metadata_directory: str,
                                     config_settings: dict[str, Any] | None = None) -> str:
    """The ``.dist-info`` directory without building (no cargo build: pip asks this first)."""
    from .dist import dist_info_files
    from .project import normalize

    project = Project.load(Path.cwd())
    name = f"{normalize(project.name)}-{project.version}.dist-info"
    out = Path(metadata_directory) / name
    for fname, data in dist_info_files(project).items():
        (out / fname).parent.mkdir(parents=True, exist_ok=True)
        (out / fname).write_bytes(data)
    return name


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory: str, config_settings: dict[str, Any] | None = None,
                metadata_directory: str | None = None) -> str:
    from .assemble import compile_project
    from .dist import write_wheel

    project = Project.load(Path.cwd())
    built = compile_project(project)
    return write_wheel(project, built, Path(wheel_directory)).name


def build_editable(wheel_directory: str, config_settings: dict[str, Any] | None = None,
                   metadata_directory: str | None = None) -> str:
    """An editable wheel: the generated files go into the project's python-source directory,
    which a ``.pth`` file puts on ``sys.path``; importing rebuilds when the Rust changed."""
    from .dist import write_wheel
    from .editable import rebuild

    project = rebuild(Path.cwd())
    return write_wheel(project, None, Path(wheel_directory),
                       editable_path=project.python_source).name


def build_sdist(sdist_directory: str, config_settings: dict[str, Any] | None = None) -> str:
    from .dist import write_sdist

    return write_sdist(Project.load(Path.cwd()), Path(sdist_directory)).name
