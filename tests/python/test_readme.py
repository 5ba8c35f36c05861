"""Every command README.md shows is run here, or listed in NOT_RUN / NOT_RUN_BLOCKS with the
reason and where it is exercised instead. A block or a command this file does not know fails
``test_every_block_and_command_is_covered``.

The README's conventions, by the language of the fenced block:

``python``
    Each block runs top to bottom in a fresh namespace, in the repository root. A top-level
    statement whose last line ends in a marker comment is checked:

    * ``expr  # -> VALUE``: the expression's value equals the Python literal VALUE, and has its
      type (a numpy array is compared as ``.tolist()``, a numpy scalar as ``.item()``);
    * ``stmt  # raises NAME: MESSAGE``: the statement raises exactly the exception class NAME
      (evaluated in the block's namespace: ``ValueError``, ``wasmcore.Timeout``) with the
      message MESSAGE.

    Any other comment is prose. A marker anywhere but on the last line of a top-level statement
    (inside a ``with`` body, on a continuation line) fails the test.
``sh``
    One command per line; a trailing ``# ...`` is a comment. Commands ``runnable()`` accepts run
    in bash in the repository root, with the venv's ``bin/`` (``wasmcore``, ``just``) first on
    PATH. ``# -> TEXT`` means exit status 0 and TEXT as the whole of stdout (stripped);
    ``# exit N`` means exit status N; any other comment means exit status 0. Every other
    command must be in NOT_RUN, and carries no marker.
``rust``
    The first line is ``// PATH``, a file in RUST_SOURCES; the rest of the block is a verbatim
    excerpt of that file, which the workspace compiles and tests.
``js``
    The block must be exactly one of NOT_RUN_BLOCKS (it cannot run here).

The docs pages in DOCS run the same way, except that only their Python blocks and their
``runnable()`` shell commands are checked (the others show build and benchmark steps, which the
recipes and CI run).
"""

from __future__ import annotations

import ast
import builtins
import io
import os
import re
import subprocess
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("docs/kernels.md", "docs/plugins.md", "docs/dask.md", "docs/components.md")

# Shell commands that cannot run inside the test suite: why, and where they are exercised.
NOT_RUN = {
    "pip install rust-just":
        "installs into whatever Python is active; scripts/setup.sh (`just setup`) installs "
        "rust-just into .venv from requirements-dev.txt, and .ci/run installs it when `just` "
        "is missing",
    "just test":
        "runs this very suite after building everything; CI runs it (.ci/run)",
    "just bench":
        "takes minutes and measures the machine; tests/python/test_bench.py runs the same "
        "harness (`wasmcore bench --sizes tiny`) and checks the report it writes",
    "just test-latest":
        "makes a venv and installs the newest wasmtime-py from the registry; `just test` runs "
        "it (scripts/test-latest.sh), and tests/python/test_internals.py checks the fallback it "
        "relies on",
    "just web":
        "needs wasm-bindgen-cli (`just setup-web`) and a cargo build; `just test` runs it "
        "(through `just test-web`) before tests/web/test_page.py loads web/pkg/",
    "wasmcore new my-pkg":
        "creates a project in the repository root; tests/python/test_author.py runs the whole "
        "cycle (wasmcore new, develop, build, pip wheel, python -m build, a fresh venv) in a "
        "temporary directory",
    "cd my-pkg":
        "part of the author cycle that tests/python/test_author.py runs",
    "wasmcore develop":
        "installs the new project into the active environment; tests/python/test_author.py "
        "runs it in a fresh venv",
    "wasmcore build":
        "tests/python/test_author.py runs it in a project made by `wasmcore new`",
    "just serve-web":
        "a server that runs until Ctrl-C; tests/web/test_page.py serves web/ the same way (a "
        "localhost http.server) and drives the page in Chromium",
}

# Code blocks that cannot run here, by language and exact text: why, and where instead.
NOT_RUN_BLOCKS = {
    ("js", """\
import init, { wasmcore } from "./pkg/wasmcore.js";
await init();
wasmcore.fib(20);                               // 6765n (a BigInt)
wasmcore.sort(new Float64Array([3, NaN, 1]));   // Float64Array [1, 3, NaN]
wasmcore.fib(94);   // throws Error("fib(): parameter 'n' must be <= 93, got 94")
"""):
        "needs web/pkg/ (`just web`) and a browser; tests/web/test_page.py (`just test-web`, "
        "part of `just test`) runs web/demo.js in Chromium, which computes fib(20), the sort of "
        "an array with NaNs and the error of fib(94) with the same API, and compares them with "
        "the Python host and the oracles",
}

# Files a README Rust block may quote, and what compiles and tests them.
RUST_SOURCES = {
    "src/numeric.rs":
        "the root crate: `cargo test --workspace` (in `just test`) compiles it and its unit "
        "test fib_small_values_and_limit checks fib; `cargo xtask dist` builds it for wasm",
}


def runnable(command: str) -> bool:
    """Shell commands this test runs itself."""
    return (command.startswith("wasmcore ") and command not in NOT_RUN) \
        or command in ("just --list", "just demo")


# -- the README's blocks ----------------------------------------------------------------------

@dataclass(frozen=True)
class Block:
    file: str
    lang: str
    line: int  # of the first line of code (1-based)
    text: str


def blocks(file: str) -> list[Block]:
    out, lines, i = [], (ROOT / file).read_text().splitlines(), 0
    while i < len(lines):
        m = re.match(r"^```(.*)$", lines[i])
        if m:
            end = lines.index("```", i + 1)  # ValueError: an unclosed block
            text = "".join(f"{ln}\n" for ln in lines[i + 1:end])
            out.append(Block(file, m.group(1).strip(), i + 2, text))
            i = end
        i += 1
    return out


@dataclass(frozen=True)
class Command:
    file: str
    line: int
    command: str
    comment: str  # without the '#', stripped


def commands(block: Block) -> list[Command]:
    out = []
    for k, raw in enumerate(block.text.splitlines()):
        command, _, comment = raw.partition(" #")
        if command.strip():
            out.append(Command(block.file, block.line + k, command.strip(), comment.strip()))
    return out


BLOCKS = blocks("README.md")
DOCS_BLOCKS = [b for f in DOCS for b in blocks(f)]
SHELL = [c for b in BLOCKS if b.lang == "sh" for c in commands(b)]


def ids(block: Block) -> str:
    return f"{block.file}:{block.line}"


# -- coverage ---------------------------------------------------------------------------------

def test_every_block_and_command_is_covered() -> None:
    assert BLOCKS, "no code blocks found in README.md"
    for b in BLOCKS:
        assert b.lang in ("python", "sh", "rust", "js"), \
            f"{ids(b)}: a ```{b.lang} block: this test knows python, sh, rust and js"
        if b.lang == "js":
            assert (b.lang, b.text) in NOT_RUN_BLOCKS, \
                f"{ids(b)}: a js block this test does not know; add it to NOT_RUN_BLOCKS " \
                "with the reason and where it is checked"
    for c in SHELL:
        if not runnable(c.command):
            assert c.command in NOT_RUN, \
                f"README.md:{c.line}: {c.command!r} is neither run here nor in NOT_RUN"
            assert not c.comment.startswith(("->", "exit ")), \
                f"README.md:{c.line}: {c.command!r} is not run, so it may not claim a result"
    shown = {c.command for c in SHELL}
    assert not set(NOT_RUN) - shown, f"NOT_RUN lists commands the README no longer shows: " \
        f"{sorted(set(NOT_RUN) - shown)}"
    texts = {(b.lang, b.text) for b in BLOCKS}
    assert set(NOT_RUN_BLOCKS) <= texts, "NOT_RUN_BLOCKS lists a block the README no longer has"


def test_readme_has_the_kinds_of_example_it_promises() -> None:
    """The front page shows Python, the command line and the browser (a guard against a block
    silently turning into something this test skips)."""
    langs = [b.lang for b in BLOCKS]
    assert langs.count("python") >= 2 and "js" in langs
    assert any(c.command.startswith("wasmcore call") for c in SHELL)


# -- python -----------------------------------------------------------------------------------

MARKER = re.compile(r"#\s*(->|raises)\s*(.*)$")


def markers(source: str) -> dict[int, tuple[str, str]]:
    """Line (1-based, in the block) -> (kind, rest) of each marker comment."""
    out = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT and (m := MARKER.match(tok.string)):
            out[tok.start[0]] = (m.group(1), m.group(2).strip())
    return out


def plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


PYTHON = [b for b in BLOCKS + DOCS_BLOCKS if b.lang == "python"]


@pytest.mark.parametrize("block", PYTHON, ids=ids)
def test_python_block(block: Block, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    tree = ast.parse(block.text)
    marks = markers(block.text)
    last_on_line: dict[int, ast.stmt] = {}
    for stmt in tree.body:
        assert stmt.end_lineno is not None
        last_on_line[stmt.end_lineno] = stmt  # several on one line: the last one
    stray = sorted(set(marks) - set(last_on_line))
    assert not stray, f"markers not on the last line of a top-level statement: " \
        f"{[f'{block.file}:{block.line + n - 1}' for n in stray]}"
    namespace: dict[str, Any] = {"__name__": "readme"}
    checked = 0
    for stmt in tree.body:
        where = f"{block.file}:{block.line + stmt.lineno - 1}"
        mark = marks.get(stmt.end_lineno or 0) if last_on_line.get(stmt.end_lineno or 0) is stmt \
            else None
        code = compile(ast.Module([stmt], []), where, "exec")
        # exec and eval: running the README's own code is what this test is for
        if mark is None:
            exec(code, namespace)  # noqa: S102
        elif mark[0] == "->":
            assert isinstance(stmt, ast.Expr), f"{where}: '# ->' needs an expression"
            expected = ast.literal_eval(mark[1])
            actual = plain(eval(compile(ast.Expression(stmt.value), where, "eval"), namespace))
            assert (actual, type(actual)) == (expected, type(expected)), where
            checked += 1
        else:
            name, sep, message = mark[1].partition(": ")
            assert sep, f"{where}: write '# raises NAME: MESSAGE'"
            cls = eval(name, {**vars(builtins), **namespace})
            with pytest.raises(cls) as info:
                exec(code, namespace)  # noqa: S102
            assert type(info.value) is cls and str(info.value) == message, where
            checked += 1
    assert checked == len(marks)
    capsys.readouterr()  # help() and prints are not part of the check


# -- shell ------------------------------------------------------------------------------------

def shell_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


DOCS_SHELL = [c for b in DOCS_BLOCKS if b.lang == "sh" for c in commands(b)]


@pytest.mark.parametrize("cmd", [c for c in SHELL + DOCS_SHELL if runnable(c.command)],
                         ids=lambda c: f"{c.file}:{c.line}")
def test_shell_command(cmd: Command) -> None:
    want_status, want_out = 0, None
    if cmd.comment.startswith("->"):
        want_out = cmd.comment[2:].strip()
    elif m := re.match(r"exit (\d+)\b", cmd.comment):
        want_status = int(m.group(1))
    # a hang guard, not a measurement: the slowest command takes a few seconds
    r = subprocess.run(["bash", "-c", cmd.command], cwd=ROOT, env=shell_env(),
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == want_status, (cmd.command, r.stdout, r.stderr)
    if want_out is not None:
        assert r.stdout.strip() == want_out, (cmd.command, r.stdout, r.stderr)


# -- rust -------------------------------------------------------------------------------------

@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "rust"], ids=ids)
def test_rust_block_is_an_excerpt_of_compiled_source(block: Block) -> None:
    first, _, excerpt = block.text.partition("\n")
    path = first.removeprefix("//").strip()
    assert first.startswith("// ") and path in RUST_SOURCES, \
        f"{ids(block)}: a Rust block starts with `// PATH`, PATH one of {sorted(RUST_SOURCES)}"
    assert excerpt.strip() and excerpt in (ROOT / path).read_text(), \
        f"{ids(block)}: the block is not a verbatim excerpt of {path}"
