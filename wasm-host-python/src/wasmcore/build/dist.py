"""Writing the wheel and the sdist of an author's project.

The wheel is ``py3-none-any``: the author's Python files, the generated module with its
``.wasm``, ``.pyi`` and ``py.typed``, and ``.dist-info`` (``METADATA`` from ``[project]``
through ``pyproject-metadata``, with a requirement on a compatible ``wasmcore`` runtime added;
``WHEEL``; ``entry_points.txt``; ``RECORD``). The zip is written here with the standard library
(as flit-core does): the format is a zip with three text files, not worth a dependency.

The sdist (``.tar.gz``, PEP 625 name) carries what rebuilds the wheel: ``pyproject.toml``, the
crate (``Cargo.toml``, ``Cargo.lock``, ``src/``, ``build.rs``, ``.cargo/config.toml``,
``rust-toolchain*``), the Python sources, tests, README and license files, and the globs of
``[tool.wasmcore] sdist-include``; never ``target/`` or the generated files. Archives are
reproducible: sorted entries and fixed timestamps (``SOURCE_DATE_EPOCH`` when set).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import time
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from .assemble import STAMP_SUFFIX, Built, write_module
from .project import BuildError, Project, normalize

_EXCLUDED_DIRS = {"__pycache__", ".git", ".hg", ".svn", "target", ".venv", "venv", ".tox",
                  ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", "dist",
                  "build", ".eggs"}
_SDIST_FILES = ("pyproject.toml", "Cargo.toml", "Cargo.lock", "build.rs", ".cargo/config.toml",
                ".cargo/config", "rust-toolchain", "rust-toolchain.toml")
_SDIST_GLOBS = ("README*", "LICENSE*", "LICENCE*", "COPYING*", "NOTICE*", "AUTHORS*",
                "CHANGELOG*")
_SDIST_DIRS = ("src", "tests", "benches", "examples")


def _epoch() -> int:
    return int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))  # 1980-01-01: zip's earliest


def metadata_text(project: Project) -> str:
    """Core metadata (``METADATA`` / ``PKG-INFO``) from ``[project]``, Cargo's version, and the
    runtime requirement."""
    import packaging.version
    from pyproject_metadata import ConfigurationError, StandardMetadata

    project_table = dict(project.pyproject["project"])
    dynamic = [d for d in project_table.get("dynamic", []) if d != "version"]
    if "version" not in project_table.get("dynamic", []) and "version" not in project_table:
        raise BuildError('pyproject.toml: [project] needs dynamic = ["version"] (the version '
                         "is Cargo's)")
    project_table["dynamic"] = dynamic
    project_table["version"] = project.version
    try:
        meta = StandardMetadata.from_pyproject({"project": project_table}, project.root)
    except ConfigurationError as e:
        raise BuildError(f"pyproject.toml: {e}") from None
    meta.version = packaging.version.Version(project.version)
    requirement = runtime_requirement()
    if not any(normalize(str(r.name)) == "wasmcore" for r in meta.dependencies):
        from packaging.requirements import Requirement

        meta.dependencies.append(Requirement(requirement))
    return str(meta.as_rfc822())


def runtime_requirement() -> str:
    """What an author's wheel requires of the runtime: at least this wasmcore's major.minor
    (the manifest it reads was written by this version's post-processor; newer runtimes read
    every older ABI version, see docs/compatibility.md)."""
    from .assemble import _tool_version

    parts = _tool_version().split(".")
    return f"wasmcore>={parts[0]}.{parts[1] if len(parts) > 1 else 0}"


def entry_points_text(project: Project) -> str:
    table = project.pyproject["project"]
    groups: dict[str, dict[str, str]] = {}
    if table.get("scripts"):
        groups["console_scripts"] = table["scripts"]
    if table.get("gui-scripts"):
        groups["gui_scripts"] = table["gui-scripts"]
    for name, eps in table.get("entry-points", {}).items():
        groups[name] = eps
    return "".join(f"[{g}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
                   for g, eps in groups.items())


def _python_files(project: Project) -> Iterator[tuple[Path, Path]]:
    """(file, path relative to the python-source directory) of the author's Python code,
    without the generated module's files."""
    src = project.python_source
    if not src.is_dir():
        return
    base = project.module_path
    generated = {str(base.with_suffix(s)) for s in (".py", ".pyi", ".wasm")}
    generated.add(str(base) + STAMP_SUFFIX)
    for path in _walk(src):
        rel = path.relative_to(src)
        if str(rel) not in generated and not rel.name.endswith((".pyc", ".pyo")):
            yield path, rel


def _walk(top: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d not in _EXCLUDED_DIRS
                             and not d.endswith(".egg-info"))
        for name in sorted(filenames):
            yield Path(dirpath) / name


class _Wheel:
    def __init__(self, path: Path) -> None:
        self.zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED)
        self.records: list[str] = []
        self.date = time.gmtime(max(_epoch(), 315532800))[:6]

    def add(self, arcname: str, data: bytes, executable: bool = False) -> None:
        info = zipfile.ZipInfo(arcname, date_time=self.date)
        info.external_attr = (0o755 if executable else 0o644) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        self.records.append(f"{arcname},sha256={digest},{len(data)}")

    def close(self, record: str) -> None:
        self.records.append(f"{record},,")
        self.zip.writestr(zipfile.ZipInfo(record, date_time=self.date),
                          "\n".join(self.records) + "\n")
        self.zip.close()


def dist_info_files(project: Project) -> dict[str, bytes]:
    """The ``.dist-info`` files other than RECORD, by name."""
    out = {
        "METADATA": metadata_text(project).encode(),
        "WHEEL": (b"Wheel-Version: 1.0\nGenerator: wasmcore.build\nRoot-Is-Purelib: true\n"
                  b"Tag: py3-none-any\n"),
    }
    if ep := entry_points_text(project):
        out["entry_points.txt"] = ep.encode()
    for lic in _license_files(project):
        out[f"licenses/{lic.relative_to(project.root).as_posix()}"] = lic.read_bytes()
    return out


def _license_files(project: Project) -> list[Path]:
    patterns = project.pyproject["project"].get("license-files")
    if patterns is None:
        patterns = ["LICEN[CS]E*", "COPYING*", "NOTICE*", "AUTHORS*"]
    found: set[Path] = set()
    for pattern in patterns:
        found.update(p for p in project.root.glob(pattern) if p.is_file())
    return sorted(found)


def write_wheel(project: Project, built: Built | None, out_dir: Path, *,
                editable_path: Path | None = None) -> Path:
    """The wheel of ``project`` in ``out_dir``. With ``editable_path``, an editable wheel: a
    ``.pth`` file putting that directory on ``sys.path`` instead of the package files."""
    name = f"{normalize(project.name)}-{project.version}"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}-py3-none-any.whl"
    wheel = _Wheel(path)
    try:
        if editable_path is not None:
            wheel.add(f"_{normalize(project.name)}_editable.pth",
                      f"{editable_path}\n".encode())
        else:
            assert built is not None
            import tempfile

            with tempfile.TemporaryDirectory(prefix="wasmcore-wheel-") as tmp:
                site = Path(tmp)
                for file, rel in _python_files(project):
                    dest = site / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(file.read_bytes())
                write_module(project, built, site, develop=False)
                for file in _walk(site):
                    wheel.add(file.relative_to(site).as_posix(), file.read_bytes(),
                              os.access(file, os.X_OK))
        for fname, data in dist_info_files(project).items():
            wheel.add(f"{name}.dist-info/{fname}", data)
        wheel.close(f"{name}.dist-info/RECORD")
    except BaseException:
        wheel.zip.close()
        path.unlink(missing_ok=True)
        raise
    return path


def sdist_files(project: Project) -> list[Path]:
    """The files of the sdist, relative to the project root."""
    root = project.root
    files: set[Path] = set()
    for name in _SDIST_FILES:
        if (root / name).is_file():
            files.add(Path(name))
    for pattern in _SDIST_GLOBS:
        files.update(p.relative_to(root) for p in root.glob(pattern) if p.is_file())
    for d in _SDIST_DIRS:
        if (root / d).is_dir():
            files.update(p.relative_to(root) for p in _walk(root / d))
    files.update((project.python_source / rel).relative_to(root)
                 for _, rel in _python_files(project))
    extra = project.pyproject.get("tool", {}).get("wasmcore", {}).get("sdist-include", [])
    for pattern in _strings(extra, "sdist-include"):
        matched = [p for p in root.glob(pattern) if p.is_file()]
        if not matched:
            raise BuildError(f"[tool.wasmcore] sdist-include: {pattern!r} matches no file")
        files.update(p.relative_to(root) for p in matched)
    return sorted(f for f in files if not f.name.endswith((".pyc", ".pyo")))


def _strings(value: object, key: str) -> Iterable[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BuildError(f"[tool.wasmcore] {key} must be a list of glob patterns")
    return value


def write_sdist(project: Project, out_dir: Path) -> Path:
    name = f"{normalize(project.name)}-{project.version}"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.tar.gz"
    mtime = _epoch()

    def add(tar: tarfile.TarFile, arcname: str, data: bytes, mode: int = 0o644) -> None:
        info = tarfile.TarInfo(f"{name}/{arcname}")
        info.size, info.mtime, info.mode = len(data), mtime, mode
        info.uname = info.gname = ""
        tar.addfile(info, io.BytesIO(data))

    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for rel in sdist_files(project):
            file = project.root / rel
            add(tar, rel.as_posix(), file.read_bytes(), 0o755 if os.access(file, os.X_OK)
                else 0o644)
        add(tar, "PKG-INFO", metadata_text(project).encode())
    return path
