"""``.pyi`` stubs generated from a module's manifest, so that mypy, pyright and IDEs see the
real types of a wasm module's exports. Stubs are never written by hand.

One kind of stub per way a module is used from Python (:func:`render_stub`):

* ``"module"`` — an author's generated module: each function at module level, each exported
  class as a class (constructor, methods, getters as properties, ``close()``, ``with``);
* ``"plugin"`` — a module that imports host functions, so it is loaded only through
  ``class Plugin(wasmcore.Plugin)``, whose constructor takes the sandbox's limits; the
  module's functions are its methods and its classes are class attributes;
* ``"core"`` — ``wasmcore/_kernels.pyi``: ``class Kernels(Core)``, what ``wasmcore.load()``
  returns for the bundled core.

The Python type of each logical ABI type is decided once, in :mod:`wasmcore._abi.annotations`
(:func:`param_annotation`, :func:`return_annotation`); the runtime's ``inspect.signature`` of
every callable (``wasmcore._abi.convert.signature``) takes its annotations from the same two
functions.

Command line: ``python -m wasmcore.build.stubs FILE.wasm --kind {module,plugin,core} -o OUT.pyi``.
"""

from __future__ import annotations

import argparse
import builtins
import math
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal, get_args

from .._abi.annotations import param_annotation, return_annotation
from .._abi.manifest import (
    ClassSpec,
    FunctionSpec,
    Manifest,
    MethodSpec,
    Param,
    read_module,
)
from .._errors import ModuleRejected
from .._plugin import Plugin

Kind = Literal["module", "plugin", "core"]
KINDS: tuple[str, ...] = get_args(Kind)

# -- rendering --------------------------------------------------------------------------------

# Names the annotations use, and where they come from (None: the name is the module itself).
_IMPORTS: dict[str, tuple[str, str | None]] = {
    "Callable": ("collections.abc", "Callable"),
    "Mapping": ("collections.abc", "Mapping"),
    "Sequence": ("collections.abc", "Sequence"),
    "Any": ("typing", "Any"),
    "SupportsFloat": ("typing", "SupportsFloat"),
    "SupportsIndex": ("typing", "SupportsIndex"),
    "np": ("numpy", None),
    "NDArray": ("numpy.typing", "NDArray"),
    "Buffer": ("typing_extensions", "Buffer"),
    "Self": ("typing_extensions", "Self"),
    "wasmcore": ("wasmcore", None),
    "Core": ("wasmcore", "Core"),
}
_STDLIB = frozenset({"builtins", "collections.abc", "typing"})
_BUILTINS = frozenset(dir(builtins))
_NAME = re.compile(r"(?<![\w.])[A-Za-z_]\w*")
# What a wasmcore.Plugin has already: an export of the same name stays in p.functions only.
PLUGIN_TAKEN = frozenset(n for n in dir(Plugin) if not n.startswith("_")) | {
    "closed", "name", "timeout", "fuel", "max_memory", "wasi", "sha256", "manifest",
    "functions"}
LINE = 100
# The keyword parameters of a plugin's constructor: those of wasmcore.Plugin but its source.
_PLUGIN_INIT = [("timeout", "float | None", "None"), ("fuel", "int | None", "None"),
                ("max_memory", "int", "..."),
                ("host", "Mapping[str, Callable[..., Any]] | None", "None"),
                ("wasi", "bool | wasmcore.Wasi", "False")]


def _default(v: object) -> str:
    if isinstance(v, float) and not math.isfinite(v):
        return "..."
    return repr(v)


def _isort_key(what: str) -> tuple[int, str]:
    """isort's (and ruff's) order of the names of one ``from`` import: constants, classes,
    then the rest."""
    name = what.split()[0]
    return (0 if name.isupper() and len(name) > 1 else 1 if name[0].isupper() else 2, what)


def _docstring(doc: str, indent: str) -> list[str]:
    """``doc`` as the lines of a docstring literal at ``indent`` whose value, cleaned as
    ``inspect.getdoc`` cleans it, is ``inspect.cleandoc(doc)`` (what ``inspect.getdoc`` gives
    at run time)."""
    first, *rest = doc.expandtabs().split("\n")  # as cleandoc: no tab is left to move
    # lines after the first are indented when cleandoc will remove the indentation again,
    # that is when one of them has text; the closing quotes then get a line of their own
    indented = any(line.strip() for line in rest)
    text = "\n".join([first, *(indent + line if indented and line else line for line in rest),
                      *([indent] if indented else [])])
    out = []
    run = 0  # quotes in a row: a third, or one closing the text, is escaped
    for i, c in enumerate(text):
        if c == '"':
            escape = run == 2 or i == len(text) - 1
            out.append('\\"' if escape else c)
            run = 0 if escape else run + 1
            continue
        run = 0
        out.append("\\\\" if c == "\\" else c if c == "\n" or c.isprintable()
                   else c.encode("unicode_escape").decode("ascii"))
    return f'{indent}"""{"".join(out)}"""'.split("\n")


class _Stub:
    """One stub being written. Annotations name types by their usual names (``np``,
    ``Sequence``, ``bytes``, the module's classes); where the stub itself defines that name in
    the scope of use (a function named ``bytes``, the class attribute ``Counter`` of
    ``Plugin``), the annotation uses a private alias instead (``_bytes``, ``_Counter``), which
    no export can be named (manifest names never start with ``_``)."""

    def __init__(self, manifest: Manifest, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"render_stub(): parameter 'kind' must be one of "
                             f"{', '.join(KINDS)}, got {kind!r}")
        self.m = manifest
        self.kind = kind
        self.container = {"plugin": "Plugin", "core": "Kernels"}.get(kind)
        self.classes = {c.name for c in manifest.classes}
        if kind == "plugin":
            self.functions = [f for f in manifest.functions if f.name not in PLUGIN_TAKEN]
            self.attrs = [c for c in manifest.classes if c.name not in PLUGIN_TAKEN]
        else:
            self.functions = list(manifest.functions)
            self.attrs = list(manifest.classes)
        self.module_names = self.classes | ({self.container} if self.container
                                            else {f.name for f in self.functions})
        self.imports: set[tuple[str, str | None, str]] = set()  # (module, attribute, bound as)
        self.aliases: set[str] = set()  # classes of the stub that need a private alias

    # -- names --------------------------------------------------------------------------

    def resolve(self, text: str, scope: frozenset[str] = frozenset()) -> str:
        """``text`` (an annotation or decorator) with each name it uses imported, or aliased
        where ``scope`` (the names of the enclosing class) or the module shadows it."""
        def name(m: re.Match[str]) -> str:
            n = m.group(0)
            if n == "None":
                return n
            if n in self.classes:
                if n in scope:
                    self.aliases.add(n)
                    return f"_{n}"
                return n
            shadowed = n in scope or n in self.module_names
            bound = f"_{n}" if shadowed else n
            if n in _BUILTINS:
                if shadowed:
                    self.imports.add(("builtins", n, bound))
                return bound
            module, attr = _IMPORTS[n]
            self.imports.add((module, attr, bound))
            return bound
        return _NAME.sub(name, text)

    def header(self) -> list[str]:
        """The import block in isort's (ruff's) order: the standard library, third parties,
        then wasmcore if the stub is part of it; in each, ``import m`` before ``from m``."""
        sections: list[tuple[list[str], list[str]]] = [([], []), ([], []), ([], [])]
        for module in sorted({m for m, _, _ in self.imports}):
            plain, froms = sections[0 if module in _STDLIB
                                    else 2 if self.kind == "core" and module == "wasmcore"
                                    else 1]
            entries = [(attr, bound) for m, attr, bound in self.imports if m == module]
            plain += [f"import {module}" + ("" if bound == module else f" as {bound}")
                      for attr, bound in entries if attr is None]
            names = sorted((attr if bound == attr else f"{attr} as {bound}"
                            for attr, bound in entries if attr is not None), key=_isort_key)
            if [n for n in names if " as " not in n]:
                froms.append(f"from {module} import "
                             + ", ".join(n for n in names if " as " not in n))
            froms += [f"from {module} import {n}" for n in names if " as " in n]
        return [line for plain, froms in sections if plain or froms
                for line in [*plain, *froms, ""]]

    # -- pieces -------------------------------------------------------------------------

    def params(self, f: FunctionSpec, scope: frozenset[str], method: bool) -> list[str]:
        out = []
        for i, p in enumerate(f.params):
            if p.type.kind == "handle" and method and i == 0 and p.name == "self":
                continue
            out.append(self.param(p, f, scope))
        return out

    def param(self, p: Param, f: FunctionSpec, scope: frozenset[str]) -> str:
        try:
            ann = self.resolve(param_annotation(p.type), scope)
        except ValueError as e:
            raise ValueError(f"{f.label}(): parameter '{p.name}': {e}") from None
        return f"{p.name}: {ann}" + (f" = {_default(p.default)}" if p.has_default else "")

    def define(self, indent: str, name: str, params: Sequence[str], ret: str, doc: str,
               decorators: Iterable[str] = ()) -> list[str]:
        out = [f"{indent}@{d}" for d in decorators]
        line = f"{indent}def {name}({', '.join(params)}) -> {ret}:"
        if len(line) <= LINE:
            out.append(line)
        else:
            out += [f"{indent}def {name}(", *(f"{indent}    {p}," for p in params),
                    f"{indent}) -> {ret}:"]
        if doc:
            return out + _docstring(doc, indent + "    ")
        out[-1] += " ..."
        return out

    def receiver(self, f: FunctionSpec, name: str) -> str:
        """``self``/``cls``, or ``_self``/``_cls`` if the function has a parameter so named."""
        return f"_{name}" if any(p.name == name for p in f.params) else name

    def function(self, f: FunctionSpec, indent: str = "", scope: frozenset[str] = frozenset(),
                 receiver: bool = False) -> list[str]:
        params = self.params(f, scope, method=False)
        if receiver:
            params.insert(0, self.receiver(f, "self"))
        ret = self.resolve(return_annotation(f.returns), scope)
        return self.define(indent, f.name, params, ret, f.doc)

    def method(self, c: ClassSpec, m: MethodSpec, scope: frozenset[str]) -> list[str]:
        f = m.func
        params = self.params(f, scope, method=m.role != "constructor")
        if m.role == "constructor":
            ret, decorators = self.resolve("Self", scope), []
            params.insert(0, self.receiver(f, "cls"))
            name = "__new__" if m.name == "new" else m.name
            if name != "__new__":
                decorators.append(self.resolve("classmethod", scope))
        else:
            ret = self.resolve(return_annotation(f.returns, c.name), scope)
            params.insert(0, "self")
            name = m.name
            decorators = [self.resolve("property", scope)] if m.role == "getter" else []
        return self.define("    ", name, params, ret, f.doc, decorators)

    def klass(self, c: ClassSpec) -> list[str]:
        scope = frozenset({m.name for m in c.methods} | {"close", "__new__", "__enter__",
                                                         "__exit__", "__del__"})
        out = [f"class {c.name}:", *(_docstring(c.doc, "    ") if c.doc else [])]
        for m in sorted(c.methods, key=lambda m: m.role != "constructor"):
            out += ["", *self.method(c, m, scope)] if len(out) > 1 else self.method(c, m, scope)
        none, self_ = self.resolve("None", scope), self.resolve("Self", scope)
        out += ["", *self.define("    ", "close", ["self"], none,
                                 "Frees the object now; using it afterwards is a ValueError. "
                                 "Idempotent.")]
        out += ["", *self.define("    ", "__enter__", ["self"], self_, "")]
        exc = f"*exc: {self.resolve('object', scope)}"
        out += ["", *self.define("    ", "__exit__", ["self", exc], none, "Calls close().")]
        out += ["", *self.define("    ", "__del__", ["self"], none, "")]
        return out

    def container_class(self) -> list[str]:
        assert self.container is not None
        scope = frozenset({f.name for f in self.functions} | {c.name for c in self.attrs}
                          | {"__init__"})
        if self.kind == "plugin":
            base = self.resolve("wasmcore.Plugin", scope)
            doc = (f"The wasm module {self.m.module!r} in a wasmcore.Plugin sandbox.\n\n"
                   "Its functions are methods, its classes attributes; the arguments are the\n"
                   "sandbox's limits and host functions (see wasmcore.Plugin).")
        else:
            base = self.resolve("Core", scope)
            doc = ("What wasmcore.load() returns for the bundled core: its kernels and classes,\n"
                   "typed. A name for type checkers only (this module exists only as a stub):\n"
                   "at run time the object is a wasmcore.Core.")
        out = [f"class {self.container}({base}):", *_docstring(doc, "    ")]
        if self.attrs:
            out.append("")
        out += [f"    {c.name}: {self.resolve(f'type[{c.name}]', scope)}" for c in self.attrs]
        if self.kind == "plugin":
            init = ["*", *(f"{n}: {self.resolve(ann, scope)} = {default}"
                           for n, ann, default in _PLUGIN_INIT)]
            none = self.resolve("None", scope)
            out += ["", *self.define("    ", "__init__", ["self", *init], none, "")]
        for f in self.functions:
            out += ["", *self.function(f, "    ", scope, receiver=True)]
        skipped = sorted({f.name for f in self.m.functions} - {f.name for f in self.functions}
                         | self.classes - {c.name for c in self.attrs})
        if skipped:
            out += ["", f"    # named like attributes of wasmcore.Plugin, so only in "
                        f"p.functions: {', '.join(skipped)}"]
        return out

    def render(self) -> str:
        body: list[str] = []
        for c in self.m.classes:
            body += ["", *self.klass(c)]
        if self.container is None:
            for f in self.functions:
                body += ["", *self.function(f)]
        else:
            container = self.container_class()
            if self.aliases:
                body += ["", *(f"_{n} = {n}" for n in sorted(self.aliases))]
            body += ["", *container]
        what = {"module": f"the wasm module {self.m.module!r}",
                "plugin": f"the wasm plugin {self.m.module!r}",
                "core": "the kernels of the bundled core (wasmcore.wasm)"}[self.kind]
        doc = (f"Types of {what}.\n\nGenerated from its manifest by wasmcore.build.stubs; "
               "do not edit.")
        head = [*_docstring(doc, ""), "", *self.header()]
        while head[-1] == "":
            head.pop()
        return "\n".join(head + body) + "\n"


def render_stub(manifest: Manifest, kind: Kind) -> str:
    """The ``.pyi`` text typing ``manifest``'s module when used as ``kind``: ``"module"`` (an
    author's generated module), ``"plugin"`` (its ``Plugin`` subclass) or ``"core"``
    (``wasmcore/_kernels.pyi``). A function taking an object other than as ``self`` (which
    ``#[export]`` never produces) is a ``ValueError``."""
    return _Stub(manifest, kind).render()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m wasmcore.build.stubs",
        description="Writes the .pyi stub of a wasm module from the manifest it carries.")
    ap.add_argument("wasm", type=Path, help="a module post-processed by wasmcore (FILE.wasm)")
    ap.add_argument("--kind", choices=KINDS, required=True,
                    help="module: an author's generated module; plugin: its Plugin subclass "
                         "(modules that import host functions); core: wasmcore/_kernels.pyi")
    ap.add_argument("-o", "--output", type=Path, default=None,
                    help="the .pyi to write (default: standard output)")
    args = ap.parse_args(argv)
    try:
        _, _, manifest = read_module(args.wasm)
        text = render_stub(manifest, args.kind)
        if args.output is None:
            sys.stdout.write(text)
        else:
            args.output.write_text(text, encoding="utf-8")
    except (OSError, ModuleRejected, ValueError) as e:
        print(f"wasmcore.build.stubs: {args.wasm}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
