"""``wasmcore new`` / ``build`` / ``develop`` / ``cargo``: the author workflow on the command
line (maturin's new / build / develop). A failure prints what went wrong (cargo's own errors
are already on stderr) and exits with status 1, without a Python traceback."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .project import BuildError, Project


def add_commands(sub: Any) -> None:
    new = sub.add_parser("new", help="create a project: a Rust crate and its Python package",
                         description="Creates ./NAME: Cargo.toml and src/lib.rs (a crate on "
                                     "wasmcore-abi with example exports), pyproject.toml "
                                     "(build-backend wasmcore.build), python/<package>/, "
                                     "tests/, README.md and .gitignore. It builds as is.")
    new.add_argument("name", help="the project (and distribution) name, e.g. my-pkg")
    new.add_argument("--description", default=None, help="one line for the package metadata")
    new.set_defaults(run=_guard(run_new))

    build = sub.add_parser("build", help="build the wheel and the sdist (no pip needed)",
                           description="Builds the project's py3-none-any wheel and its sdist "
                                       "into <cargo target dir>/wheels/ (or --out).")
    build.add_argument("path", nargs="?", type=Path, default=Path("."),
                       help="the project directory (default: .)")
    build.add_argument("--out", type=Path, default=None, metavar="DIR",
                       help="where to write them (default: target/wheels)")
    build.add_argument("--no-sdist", action="store_true", help="only the wheel")
    build.add_argument("--wasm", type=Path, default=None, metavar="FILE",
                       help="also write the post-processed module there (e.g. a plugin for "
                            "another application to load)")
    build.set_defaults(run=_guard(run_build))

    develop = sub.add_parser("develop", help="build and install into this environment, editable",
                             description="Builds the project and installs it into the running "
                                         "Python's environment as an editable install (pip): "
                                         "importing it later rebuilds when the Rust changed.")
    develop.add_argument("path", nargs="?", type=Path, default=Path("."),
                         help="the project directory (default: .)")
    develop.set_defaults(run=_guard(run_develop))

    cargo = sub.add_parser("cargo", help="run cargo with the wasmcore crates this runtime ships",
                           description="Runs `cargo ARGS` in the project (the current "
                                       "directory) with the bundled wasmcore crates patched in,"
                                       " e.g. `wasmcore cargo test`, `wasmcore cargo clippy`.")
    cargo.add_argument("args", nargs=argparse.REMAINDER, help="cargo's arguments")
    cargo.set_defaults(run=_guard(run_cargo))


def _guard(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except BuildError as e:
            print(f"wasmcore: error: {e}", file=sys.stderr)
            return 1
    return guarded


def run_new(args: argparse.Namespace) -> int:
    from .new import new_project

    root = new_project(args.name, Path.cwd(), args.description)
    print(f"created {root}\n  cd {args.name}\n  wasmcore develop   # build and install, "
          "editable\n  pytest             # its tests\n  wasmcore build     # the wheel and "
          "sdist")
    return 0


def run_build(args: argparse.Namespace) -> int:
    from .assemble import compile_project
    from .dist import write_sdist, write_wheel

    project = Project.load(args.path)
    out = args.out.resolve() if args.out else project.target_dir / "wheels"
    built = compile_project(project)
    print(write_wheel(project, built, out))
    if args.wasm is not None:
        args.wasm.parent.mkdir(parents=True, exist_ok=True)
        args.wasm.write_bytes(built.wasm)
        print(args.wasm)
    if not args.no_sdist:
        print(write_sdist(project, out))
    return 0


def run_develop(args: argparse.Namespace) -> int:
    from .editable import rebuild

    project = rebuild(args.path.resolve())  # cargo's output shows here, not inside pip's
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                        "--no-build-isolation", "--editable", str(project.root)], check=False)
    if r.returncode != 0:
        raise BuildError(f"pip could not install {project.root} (exit status {r.returncode}; "
                         "no pip in this environment? `python -m ensurepip`)")
    print(f"installed {project.name} {project.version} in editable mode: `import "
          f"{project.package}` rebuilds it when the Rust sources change")
    return 0


def run_cargo(args: argparse.Namespace) -> int:
    from .cargo import run_cargo as cargo

    return cargo(Project.load(Path.cwd()), args.args)
