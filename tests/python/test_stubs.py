"""The ``.pyi`` stubs generated from manifests (``wasmcore.build.stubs``) and the typed core.

* mypy --strict runs once, over the core's stub (``wasmcore/_kernels.pyi``), stubs generated
  from the textstats plugin and from a manifest covering every logical type, and scripts that
  use them: a line marked ``# error: CODE`` must be reported with exactly those codes, and no
  other line may be reported. What the runtime accepts (numpy arrays, lists, numpy scalars)
  is used on unmarked lines; what it refuses is on marked lines.
* The stubs agree with the runtime: the parameters (names, order, defaults, annotations) of
  every function and method in a stub equal ``inspect.signature`` of the loaded callable, on
  every backend, and the results have the types the stubs promise.
* ``mypy.stubtest`` checks an author-style module (a core's callables bound at module level)
  against its generated stub.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import wasmcore
import wasmtime
from hypothesis import given
from hypothesis import strategies as st
from test_host import RUNTIME, section
from wasmcore._abi.convert import DTYPES
from wasmcore._abi.manifest import Manifest, ParamType, parse_manifest, read_module
from wasmcore.build import stubs
from wasmcore.build.stubs import render_stub

ROOT = Path(__file__).resolve().parents[2]
KERNELS_PYI = Path(wasmcore.__file__).parent / "_kernels.pyi"
TEXTSTATS = ROOT / "target" / "dist" / "plugins" / "textstats.wasm"

# -- a module covering every logical type -----------------------------------------------------

SCALARS = ["i32", "u32", "i64", "u64", "f32", "f64", "bool"]
ELEMS = ["f64", "f32", "i64", "u32", "u8"]
TRICKY_DOC = 'Quotes "a" ""b"" """c""" and a backslash \\ and \\n, ending in a quote "'


def fn(name: str, params: list[tuple[Any, ...]], returns: str | None, fallible: bool = False,
       doc: str = "") -> dict[str, Any]:
    """A manifest function entry; a parameter is (name, type) or (name, type, default)."""
    return {"name": name, "doc": doc, "returns": returns, "fallible": fallible,
            "params": [{"name": p[0], "type": p[1], **({"default": p[2]} if len(p) > 2 else {})}
                       for p in params]}


def method(name: str, role: str, params: list[tuple[Any, ...]], returns: str | None,
           doc: str = "") -> dict[str, Any]:
    entry = fn(f"counter_{name}", ([] if role == "constructor" else [("self", "handle")])
               + params, returns, True, doc)
    return {**entry, "name": name, "export": entry["name"], "role": role}


ALLTYPES: dict[str, Any] = {
    "abi_version": 1, "module": "alltypes", "imports": [],
    "functions": [
        fn("scalars", [(f"a_{s}", s) for s in SCALARS], None, doc=TRICKY_DOC),
        *(fn(f"ret_{s}", [], s) for s in SCALARS),
        fn("arrays", [(f"x_{e}", f"{e}[]") for e in ELEMS], None),
        fn("inout", [(f"y_{e}", f"inout {e}[]") for e in ELEMS], None),
        fn("matrices", [(f"m_{e}", f"{e}[,]") for e in ELEMS], None),
        *(fn(f"ret_{e}_array", [], f"{e}[]") for e in ELEMS),
        *(fn(f"ret_{e}_matrix", [], f"{e}[,]") for e in ELEMS),
        fn("text", [("data", "bytes"), ("s", "str")], "str", True, "Bytes and str in."),
        # named like a builtin the stub uses: the stub must still mean builtins.bytes
        fn("bytes", [("data", "bytes")], "bytes", doc="Named like a builtin."),
        fn("defaults", [("n", "u32"), ("k", "i64", -3), ("x", "f64", 0.5),
                        ("flag", "bool", True)], "f64", True),
        # named like wasmcore.Plugin.call: a plugin keeps its own call()
        fn("call", [("n", "i32")], "i32"),
    ],
    "classes": [{"name": "Counter", "doc": "A counter.", "drop": "counter_drop", "methods": [
        method("new", "constructor", [("start", "i64", 0)], "handle", "A counter at start."),
        method("from_bytes", "constructor", [("data", "bytes")], "handle"),
        method("add", "method", [("k", "i64"), ("times", "u32", 1)], None, "Adds k, times."),
        method("value", "getter", [], "i64", "The count."),
        method("history", "method", [], "f64[]"),
        method("copy", "method", [], "handle"),
        method("str", "method", [], "str"),  # shadows str in the class body
    ]}],
}


def module_of(manifest: Manifest, raw: dict[str, Any]) -> bytes:
    """A module whose exports have the wasm types the manifest lowers to (each body traps:
    these tests never call them) and the runtime exports."""
    funcs = [f'(func (export "{name}")' + "".join(f" (param {t})" for t in ps)
             + "".join(f" (result {t})" for t in rs) + " unreachable)"
             for name, (ps, rs) in manifest.signatures().items()]
    wasm = wasmtime.wat2wasm("(module\n" + "\n".join(funcs) + RUNTIME + ")")
    return bytes(wasm) + section("wasmcore.abi", json.dumps(raw).encode())


@pytest.fixture(scope="module")
def alltypes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    path = tmp_path_factory.mktemp("alltypes") / "alltypes.wasm"
    manifest = parse_manifest(json.dumps(ALLTYPES))
    path.write_bytes(module_of(manifest, ALLTYPES))
    return path, manifest


def test_alltypes_covers_every_logical_type(alltypes: tuple[Path, Manifest]) -> None:
    _, m = alltypes
    funcs = [*m.functions, *(x.func for c in m.classes for x in c.methods)]
    params = {p.type.name for f in funcs for p in f.params}
    assert params >= {*SCALARS, *(f"{e}[]" for e in ELEMS), *(f"inout {e}[]" for e in ELEMS),
                      *(f"{e}[,]" for e in ELEMS), "bytes", "str", "handle"}
    returns = {f.returns.name for f in funcs}
    assert returns >= {None, *SCALARS, *(f"{e}[]" for e in ELEMS), *(f"{e}[,]" for e in ELEMS),
                       "bytes", "str", "handle"}
    assert {x.role for c in m.classes for x in c.methods} == {"constructor", "method", "getter"}


# -- mypy, once -------------------------------------------------------------------------------

CORE_OK = """
    import array

    import numpy as np
    import wasmcore
    from numpy.typing import NDArray
    from typing_extensions import assert_type
    from wasmcore._kernels import Kernels, RunningStats, Sha256

    core = wasmcore.load()
    assert_type(core, Kernels)
    assert_type(wasmcore.load("native"), Kernels)
    assert_type(wasmcore.load(backend="python"), Kernels)
    assert_type(wasmcore.load("wasm", path="other.wasm"), wasmcore.Core)
    assert_type(core.fib(30), int)
    assert_type(core.fib(np.int64(30)), int)
    assert_type(core.fib(n=np.uint8(3)), int)
    x = np.random.default_rng(0).random(10)
    assert_type(core.sum(x), float)
    assert_type(core.sum([1.0, 2, np.float32(3), True]), float)
    assert_type(core.sum((np.float64(1), 2.5)), float)
    assert_type(core.sum(array.array("d", [1.0])), float)
    assert_type(core.sum(core.empty(3)), float)
    assert_type(core.sum(core.asarray([1.0, 2.0])), float)
    assert_type(core.sha256(b"abc"), bytes)
    assert_type(core.sha256(bytearray(b"abc")), bytes)
    assert_type(core.sha256(memoryview(b"abc")), bytes)
    assert_type(core.sort(x), NDArray[np.float64])
    assert_type(core.argsort([3.0, 1.0]), NDArray[np.int64])
    assert_type(core.mandelbrot(4, 3, -2, -1.0, 1.0, np.float32(1), 50), NDArray[np.uint32])
    assert_type(core.matmul([[1.0, 2.0]], np.eye(2)), NDArray[np.float64])
    assert_type(core.std(x, ddof=1), float)
    assert_type(core.crc32(b"a", value=5), int)
    assert_type(core.partitions([4] * 9 + [16], subtotal=10), int)
    assert_type(core.partitions(np.array([4] * 10, np.uint32), 10), int)
    assert_type(core.quantile(x, np.float64(0.5)), float)
    assert_type(core.axpy(2.0, x, np.zeros(10)), None)
    with core.RunningStats() as rs:
        assert_type(rs, RunningStats)
        rs.push(x)
        rs.push([1, 2.5])
        assert_type(rs.count, int)
        assert_type(rs.mean, float)
        assert_type(rs.var(ddof=1), float)
    h = core.Sha256()
    h.update(b"x")
    assert_type(h.copy(), Sha256)
    assert_type(h.digest(), bytes)
    assert_type(h.hexdigest(), str)
    h.close()
    assert_type(core.backend, str)
    assert_type(core.memory_size(), int)
"""

CORE_BAD = """
    import numpy as np
    import wasmcore

    core = wasmcore.load()
    core.sum("1,2,3")  # error: arg-type
    core.sum(None)  # error: arg-type
    core.sha256("abc")  # error: arg-type
    core.nope(1)  # error: attr-defined
    core.std([1.0], dof=1)  # error: call-arg
    x: str = core.fib(3)  # error: assignment
    core.fib(1.5)  # error: arg-type
    core.fib("3")  # error: arg-type
    core.quantile([1.0], "0.5")  # error: arg-type
    core.matmul([1.0, 2.0], [[1.0]])  # error: list-item
    core.axpy(2.0, [1.0], [1.0])  # error: arg-type
    y32 = np.zeros(1, np.float32)
    core.axpy(2.0, [1.0], y32)  # error: arg-type
    core.Sha256().update("x")  # error: arg-type
    core.RunningStats().count = 3  # error: misc
    core.RunningStats(1)  # error: call-arg
    wasmcore.load(path="other.wasm").fib(3)  # error: attr-defined
"""

MODULE_OK = """
    import array

    import numpy as np
    from numpy.typing import NDArray
    from typing_extensions import assert_type

    import alltypes as m

    m.scalars(1, np.uint32(2), True, 2**63, 1.5, np.float32(1), np.True_)
    m.scalars(a_i32=1, a_u32=1, a_i64=1, a_u64=1, a_f32=1, a_f64=1.0, a_bool=False)
    assert_type(m.ret_i32(), int)
    assert_type(m.ret_u64(), int)
    assert_type(m.ret_f32(), float)
    assert_type(m.ret_bool(), bool)
    m.arrays([1.0], np.zeros(2, np.float32), [1, 2], (np.uint32(1),), array.array("B", b"ab"))
    m.inout(np.zeros(1), np.zeros(1, np.float32), np.zeros(1, np.int64),
            np.zeros(1, np.uint32), np.zeros(1, np.uint8))
    m.matrices([[1.0]], np.eye(2), [[1]], [(1, 2)], np.zeros((2, 2), np.uint8))
    assert_type(m.ret_f64_array(), NDArray[np.float64])
    assert_type(m.ret_f32_array(), NDArray[np.float32])
    assert_type(m.ret_i64_array(), NDArray[np.int64])
    assert_type(m.ret_u32_array(), NDArray[np.uint32])
    assert_type(m.ret_u8_array(), NDArray[np.uint8])
    assert_type(m.ret_f64_matrix(), NDArray[np.float64])
    assert_type(m.ret_u8_matrix(), NDArray[np.uint8])
    assert_type(m.text(b"x", "s"), str)
    assert_type(m.bytes(bytearray(b"x")), bytes)
    assert_type(m.defaults(1), float)
    assert_type(m.defaults(1, k=-1, x=2, flag=np.False_), float)
    assert_type(m.call(1), int)
    with m.Counter(5) as c:
        assert_type(c, m.Counter)
        c.add(1, times=2)
        assert_type(c.value, int)
        assert_type(c.history(), NDArray[np.float64])
        assert_type(c.copy(), m.Counter)
        assert_type(c.str(), str)
    assert_type(m.Counter(start=np.int64(2)), m.Counter)
    assert_type(m.Counter.from_bytes(b"x"), m.Counter)
"""

MODULE_BAD = """
    import numpy as np

    import alltypes as m

    m.scalars("1", 1, 1, 1, 1.0, 1.0, True)  # error: arg-type
    m.scalars(1.5, 1, 1, 1, 1.0, 1.0, True)  # error: arg-type
    m.scalars(1, 1, 1, 1, 1.0, 1.0, "yes")  # error: arg-type
    m.arrays("abc", [1.0], [1], [1], [1])  # error: arg-type
    m.arrays([1.0], [1.0], [1.5], [1], [1])  # error: list-item
    m.matrices([1.0], [[1.0]], [[1]], [[1]], [[1]])  # error: list-item
    f64, f32, i64 = np.zeros(1), np.zeros(1, np.float32), np.zeros(1, np.int64)
    u32, u8 = np.zeros(1, np.uint32), np.zeros(1, np.uint8)
    m.inout([1.0], f32, i64, u32, u8)  # error: arg-type
    m.inout(f64, f64, i64, u32, u8)  # error: arg-type
    m.inout(f64, f32, u32, u32, u8)  # error: arg-type
    m.inout(f64, f32, i64, u32, i64)  # error: arg-type
    m.text("x", "s")  # error: arg-type
    m.text(b"x", b"s")  # error: arg-type
    m.defaults(1, kk=2)  # error: call-arg
    m.nope()  # error: attr-defined
    x: str = m.ret_i32()  # error: assignment
    y: bytes = m.ret_u8_array()  # error: assignment
    m.Counter(start="a")  # error: arg-type
    m.Counter().value = 1  # error: misc
    m.Counter().add()  # error: call-arg
"""

PLUGIN_OK = """
    import numpy as np
    import wasmcore
    from numpy.typing import NDArray
    from typing_extensions import assert_type

    from alltypes_plugin import Counter
    from alltypes_plugin import Plugin as AllTypes
    from textstats_plugin import Plugin

    p = Plugin(timeout=1.0, fuel=10**9, max_memory=1 << 20, host={"log": print}, wasi=False)
    assert_type(p.count_words(b"a b"), int)
    assert_type(p.count_lines(text=bytearray(b"a")), int)
    assert_type(p.byte_histogram(memoryview(b"x")), NDArray[np.uint32])
    assert_type(p.longest_word("a bc"), str)
    assert_type(p.mean_word_length(b"ab"), float)
    assert_type(p.read(0, 1), bytes)
    p.call("count_words", 1)
    p.close()
    q: wasmcore.Plugin = Plugin(wasi=wasmcore.Wasi())
    a = AllTypes(timeout=None)
    assert_type(a.Counter(1), Counter)
    assert_type(a.Counter.from_bytes(b"x").value, int)
    assert_type(a.defaults(1, flag=False), float)
    assert_type(a.ret_u8_matrix(), NDArray[np.uint8])
    assert_type(a.bytes(b""), bytes)
"""

PLUGIN_BAD = """
    from alltypes_plugin import Plugin as AllTypes
    from textstats_plugin import Plugin

    p = Plugin()
    Plugin("textstats.wasm")  # error: call-arg, arg-type
    Plugin(timeout="1")  # error: arg-type
    Plugin(host=print)  # error: arg-type
    p.count_words("text")  # error: arg-type
    p.longest_word(b"x")  # error: arg-type
    p.nope()  # error: attr-defined
    n: str = p.count_lines(b"")  # error: assignment
    AllTypes().Counter("x")  # error: arg-type
    AllTypes().call("call", 1, 2).real  # the base class's call(): Any
"""

SCRIPTS = {"core_ok.py": CORE_OK, "core_bad.py": CORE_BAD, "module_ok.py": MODULE_OK,
           "module_bad.py": MODULE_BAD, "plugin_ok.py": PLUGIN_OK, "plugin_bad.py": PLUGIN_BAD}
_REPORT = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: .*\[(?P<code>[\w-]+)\]$")


def expected_errors(name: str, text: str) -> dict[tuple[str, int], set[str]]:
    out = {}
    for i, line in enumerate(text.splitlines(), 1):
        if "# error: " in line:
            out[(name, i)] = set(line.split("# error: ")[1].split(", "))
    return out


@pytest.fixture(scope="module")
def mypy_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
             alltypes: tuple[Path, Manifest]) -> tuple[dict[tuple[str, int], set[str]], str]:
    """Runs mypy --strict once over every stub and script; returns the error codes it reports
    by (file, line), and its output."""
    if not KERNELS_PYI.is_file():
        pytest.fail(f"{KERNELS_PYI} is missing: run `just build`")
    if not TEXTSTATS.is_file():
        pytest.fail(f"{TEXTSTATS} is missing: run `just build`")
    # a fixed directory: mypy's cache replays the messages of unchanged files with the paths
    # they had, and a warm cache saves most of mypy's time
    cache = getattr(request.config, "cache", None)  # (none with -p no:cacheprovider)
    base = cache.mkdir("stubs") if cache is not None \
        else tmp_path_factory.mktemp("stubs")
    d = base / "src"
    d.mkdir(exist_ok=True)
    _, manifest = alltypes
    (d / "alltypes.pyi").write_text(render_stub(manifest, "module"))
    (d / "alltypes_plugin.pyi").write_text(render_stub(manifest, "plugin"))
    (d / "textstats_plugin.pyi").write_text(render_stub(read_module(TEXTSTATS)[2], "plugin"))
    # a copy of the core's stub, so that mypy reports its errors (not those of an installed
    # package, which it silences); the scripts use the real one, through wasmcore.load()
    (d / "kernels.pyi").write_text(KERNELS_PYI.read_text())
    for name, text in SCRIPTS.items():
        (d / name).write_text(textwrap.dedent(text))
    (d / "mypy.ini").write_text("[mypy]\n")
    files = ["kernels.pyi", "alltypes.pyi", "alltypes_plugin.pyi", "textstats_plugin.pyi",
             *SCRIPTS]
    r = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--config-file", "mypy.ini",
                        "--cache-dir", str(base / "mypy"), "--no-error-summary", "--show-error-codes",
                        "--hide-error-context", "--no-pretty", "--show-absolute-path",
                        *files],
                       cwd=d, capture_output=True, text=True, check=False,
                       env={**os.environ, "MYPY_FORCE_COLOR": "0"})
    assert r.returncode in (0, 1), r.stderr + r.stdout
    found: dict[tuple[str, int], set[str]] = {}
    for line in r.stdout.splitlines():
        m = _REPORT.match(line)
        if m:
            path = Path(m["file"])
            key = (path.name if path.parent.resolve() == d.resolve() else str(path),
                   int(m["line"]))
            found.setdefault(key, set()).add(m["code"])
        else:
            assert ": note: " in line, r.stdout
    return found, r.stdout


def _errors_in(found: dict[tuple[str, int], set[str]], names: tuple[str, ...]
               ) -> dict[tuple[str, int], set[str]]:
    return {k: v for k, v in found.items() if k[0] in names}


def test_stubs_pass_mypy_strict(mypy_run: tuple[dict[tuple[str, int], set[str]], str]) -> None:
    """The stubs themselves (the core's, a module's, plugins') have no error under --strict."""
    found, out = mypy_run
    assert not {k for k in found if k[0].endswith(".pyi")}, out


@pytest.mark.parametrize("kind", ["core", "module", "plugin"])
def test_mypy_accepts_what_the_runtime_accepts(
        mypy_run: tuple[dict[tuple[str, int], set[str]], str], kind: str) -> None:
    found, out = mypy_run
    assert not _errors_in(found, (f"{kind}_ok.py",)), out


@pytest.mark.parametrize("kind", ["core", "module", "plugin"])
def test_mypy_refuses_what_the_runtime_refuses(
        mypy_run: tuple[dict[tuple[str, int], set[str]], str], kind: str) -> None:
    found, out = mypy_run
    name = f"{kind}_bad.py"
    expected = expected_errors(name, textwrap.dedent(SCRIPTS[name]))
    assert len(expected) >= 8
    assert _errors_in(found, (name,)) == expected, out


# -- the stubs agree with the runtime ---------------------------------------------------------

def _unalias(text: str) -> str:
    """An annotation of a stub without its private aliases (``_bytes`` -> ``bytes``)."""
    return re.sub(r"(?<![\w.])_(?=[A-Za-z])", "", text)


def stub_params(f: ast.FunctionDef, receiver: bool = True) -> list[tuple[str, object, str]]:
    """(name, default or inspect's empty, annotation) of a stub's def (positional-or-keyword
    and keyword-only), without its receiver (self or cls)."""
    args = f.args
    assert not args.posonlyargs and args.vararg is None and args.kwarg is None
    defaults = [inspect.Parameter.empty] * (len(args.args) - len(args.defaults)) \
        + [ast.literal_eval(d) for d in args.defaults] \
        + [inspect.Parameter.empty if d is None else ast.literal_eval(d)
           for d in args.kw_defaults]
    return [(a.arg, d, _unalias(ast.unparse(a.annotation)) if a.annotation else "")
            for a, d in zip(args.args + args.kwonlyargs, defaults, strict=True)][receiver:]


def runtime_params(fn: Callable[..., Any], bound: bool) -> list[tuple[str, object, str]]:
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())[0 if bound else 1:]
    assert all(p.kind == p.POSITIONAL_OR_KEYWORD for p in params), sig
    return [(p.name, p.default, p.annotation) for p in params]


def stub_classes(text: str) -> dict[str, dict[str, ast.FunctionDef]]:
    """The defs of each class of a stub, by class; module-level defs under ``""``."""
    tree = ast.parse(text)
    out: dict[str, dict[str, ast.FunctionDef]] = {"": {}}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out[""][node.name] = node
        elif isinstance(node, ast.ClassDef):
            out[node.name] = {n.name: n for n in node.body if isinstance(n, ast.FunctionDef)}
    return out


def class_attrs(text: str, cls: str) -> set[str]:
    node = next(n for n in ast.parse(text).body if isinstance(n, ast.ClassDef) and n.name == cls)
    return {n.target.id for n in node.body
            if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}


def returns(f: ast.FunctionDef) -> str:
    """The return annotation of a stub's def, as written."""
    assert f.returns is not None, f.name
    return ast.unparse(f.returns)


def _decorators(f: ast.FunctionDef) -> list[str]:
    return [_unalias(ast.unparse(d)) for d in f.decorator_list]


def check_functions(defs: dict[str, ast.FunctionDef], obj: object, names: tuple[str, ...],
                    methods: bool) -> None:
    """Every function ``names`` of ``obj`` (a core, a plugin or a module) has the stub's
    parameters and return annotation (in the stub: ``methods`` of a class, or functions)."""
    for name in names:
        f = defs[name]
        fn = getattr(obj, name)
        assert stub_params(f, methods) == runtime_params(fn, bound=True), name
        assert _unalias(returns(f)) == inspect.signature(fn).return_annotation, name


def check_class(defs: dict[str, ast.FunctionDef], cls: type) -> None:
    """A runtime class has exactly the stub's members, with the stub's signatures."""
    public = {n for n in dir(cls) if not n.startswith("_")}
    assert set(defs) == public | {"__new__", "__enter__", "__exit__", "__del__"}, cls
    for name, f in defs.items():
        member = inspect.getattr_static(cls, name)
        if _decorators(f) == ["property"]:
            assert isinstance(member, property), name
            assert stub_params(f) == [], name
        elif _decorators(f) == ["classmethod"] or name == "__new__":
            assert returns(f) == "Self", name
            assert stub_params(f) == runtime_params(getattr(cls, name), bound=name != "__new__")
            if name == "__new__":  # calling the class
                assert stub_params(f) == runtime_params(cls, bound=True)
        elif name == "__exit__":
            assert f.args.vararg is not None and ast.unparse(f.args.vararg) == "exc: object"
            assert inspect.getfullargspec(member).varargs is not None
        else:
            assert not f.decorator_list, name
            assert stub_params(f) == runtime_params(member, bound=False), name
            ann = inspect.signature(member).return_annotation
            if name in ("close", "__enter__", "__del__"):
                continue  # the runtime's plain Python methods carry their own annotations
            assert _unalias(returns(f)) == ann, name


def test_core_stub_is_current() -> None:
    """``_kernels.pyi`` is what the generator writes for the core module (``just build``)."""
    assert KERNELS_PYI.is_file(), f"{KERNELS_PYI} is missing: run `just build`"
    _, _, manifest = read_module(wasmcore.wasm_path())
    assert KERNELS_PYI.read_text() == render_stub(manifest, "core"), \
        f"{KERNELS_PYI} is stale: run `just build`"


def test_core_stub_agrees_with_every_backend(cores: dict[str, wasmcore.Core]) -> None:
    text = KERNELS_PYI.read_text()
    defs = stub_classes(text)
    for backend, core in cores.items():
        kernels = {n for n in defs["Kernels"] if not n.startswith("_")}
        assert kernels == set(core.functions), backend
        assert class_attrs(text, "Kernels") == set(core.classes), backend
        check_functions(defs["Kernels"], core, core.functions, methods=True)
        for c in core.classes:
            check_class(defs[c], getattr(core, c))


def test_module_stub_agrees_with_the_runtime(alltypes: tuple[Path, Manifest]) -> None:
    path, manifest = alltypes
    core = wasmcore.load("wasm", path=path)
    defs = stub_classes(render_stub(manifest, "module"))
    assert set(defs[""]) == set(core.functions)
    assert set(defs) - {""} == set(core.classes)
    check_functions(defs[""], core, core.functions, methods=False)
    check_class(defs["Counter"], core.Counter)  # type: ignore[attr-defined]


def textstats_plugin() -> wasmcore.Plugin:
    return wasmcore.Plugin(TEXTSTATS, host={"log": lambda ptr, n: None})


def test_plugin_stub_agrees_with_the_runtime(alltypes: tuple[Path, Manifest]) -> None:
    text = render_stub(read_module(TEXTSTATS)[2], "plugin")
    p = textstats_plugin()
    defs = stub_classes(text)["Plugin"]
    assert {n for n in defs if not n.startswith("_")} == set(p.functions)
    check_functions(defs, p, tuple(p.functions), methods=True)
    init = stub_params(defs["__init__"])
    own = inspect.signature(wasmcore.Plugin).parameters
    assert [(n, a.replace("wasmcore.", "")) for n, _, a in init] \
        == [(n, own[n].annotation) for n, _, _ in init]
    assert all(own[n].kind == own[n].KEYWORD_ONLY for n, _, _ in init)
    assert [(n, d) for n, d, _ in init if d is not ...] \
        == [(n, own[n].default) for n, d, _ in init if d is not ...]
    assert [n for n in own if n not in {n for n, _, _ in init}] == ["source", "sha256"]
    p.close()
    # an export named like an attribute of wasmcore.Plugin stays in p.functions only
    path, manifest = alltypes
    q = wasmcore.Plugin(path)
    text = render_stub(manifest, "plugin")
    defs = stub_classes(text)["Plugin"]
    assert "call" in q.functions and q.call.__func__ is wasmcore.Plugin.call  # type: ignore[attr-defined]
    assert {n for n in defs if not n.startswith("_")} == set(q.functions) - {"call", "Counter"}
    assert class_attrs(text, "Plugin") == {"Counter"}
    check_functions(defs, q, tuple(n for n in defs if not n.startswith("_")), methods=True)
    check_class(stub_classes(text)["Counter"], q.Counter)  # type: ignore[attr-defined]
    q.close()


def test_plugin_attributes_are_known() -> None:
    """The generator knows every attribute a Plugin has, so no method of the stub hides one."""
    p = textstats_plugin()
    assert {n for n in dir(p) if not n.startswith("_")} - set(p.functions) <= stubs.PLUGIN_TAKEN
    p.close()


# results have the types the stubs promise: each function and method of the core is called
# on each backend with small valid arguments (by type; a few kernels need particular values)
SAMPLES: dict[str, object] = {"f64[]": [0.5, 1.5, 2.5], "u32[]": [1, 2, 3], "bytes": b"aGk=",
                              "f64[,]": [[1.0, 2.0], [3.0, 4.0]], "u32": 3, "u64": 3,
                              "f64": 0.5}
SPECIAL: dict[str, tuple[object, ...]] = {
    "partitions": ([4] * 9 + [16], 10), "histogram": ([0.5, 1.5], 3, 0.0, 2.0),
    "mandelbrot": (4, 3, -2.0, -1.0, 1.0, 1.0, 20),
    "running_stats_merge_state": ([0.0] * 8,)}  # the state of an empty RunningStats


def sample_args(params: list[inspect.Parameter], manifest_types: dict[str, ParamType]
                ) -> list[object]:
    out = []
    for p in params:
        if p.default is not p.empty:
            break
        t = manifest_types[p.name]
        out.append(np.zeros(3, str(DTYPES[t.elem or ""])) if t.inout else SAMPLES[t.name])
    return out


def has_type(value: object, annotation: str) -> bool:
    simple = {"int": int, "float": float, "bool": bool, "bytes": bytes, "str": str,
              "None": type(None)}
    if annotation in simple:
        return type(value) is simple[annotation]
    m = re.fullmatch(r"NDArray\[np\.(\w+)\]", annotation)
    if m:
        return isinstance(value, np.ndarray) and value.dtype == np.dtype(m[1])
    return type(value).__name__ == annotation


def test_results_have_the_stub_types(cores: dict[str, wasmcore.Core]) -> None:
    defs = stub_classes(KERNELS_PYI.read_text())
    for backend, core in cores.items():
        for f in core.manifest.functions:
            types = {p.name: p.type for p in f.params}
            params = list(inspect.signature(getattr(core, f.name)).parameters.values())
            args = SPECIAL.get(f.name) or sample_args(params, types)
            value = getattr(core, f.name)(*args)
            assert has_type(value, returns(defs["Kernels"][f.name])), \
                (backend, f.name, value)
        for c in core.manifest.classes:
            obj = getattr(core, c.name)()
            for m in c.methods:
                if m.role == "constructor":
                    continue
                types = {p.name: p.type for p in m.func.params}
                member = getattr(obj, m.name)
                if m.role == "method":
                    params = list(inspect.signature(member).parameters.values())
                    member = member(*(SPECIAL.get(m.func.name) or sample_args(params, types)))
                ann = _unalias(returns(defs[c.name][m.name]))
                assert has_type(member, ann), (backend, c.name, m.name, member)
            obj.close()


# -- stubtest ---------------------------------------------------------------------------------

def test_stubtest_on_an_author_style_module(tmp_path: Path, request: pytest.FixtureRequest,
                                            alltypes: tuple[Path, Manifest]) -> None:
    """Runtime modules that bind a loaded module's callables at module level, as an author's
    generated module does, checked against their generated stubs by mypy.stubtest."""
    path, manifest = alltypes
    for name, wasm, m in (("coremod", wasmcore.wasm_path(), read_module(wasmcore.wasm_path())[2]),
                          ("alltypesmod", path, manifest)):
        pkg = tmp_path / name
        pkg.mkdir()
        (pkg / "__init__.py").write_text(
            "import wasmcore\n\n"
            f"_core = wasmcore.load('wasm', path={str(wasm)!r})\n"
            "globals().update({n: getattr(_core, n) for n in _core.functions + _core.classes})\n")
        (pkg / "__init__.pyi").write_text(render_stub(m, "module"))
    (tmp_path / "mypy.ini").write_text("[mypy]\n")
    pytest_cache = getattr(request.config, "cache", None)  # (none with -p no:cacheprovider)
    cache = pytest_cache.mkdir("mypy") if pytest_cache is not None else tmp_path / "cache"
    r = subprocess.run([sys.executable, "-m", "mypy.stubtest", "coremod", "alltypesmod",
                        "--mypy-config-file", "mypy.ini"],
                       cwd=tmp_path, capture_output=True, text=True, check=False,
                       env={**os.environ, "PYTHONPATH": str(tmp_path), "MYPY_CACHE_DIR": str(cache)})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Success: no issues found in 2 modules" in r.stdout, r.stdout


# -- the generator ----------------------------------------------------------------------------

@given(st.text())
def test_docstrings_round_trip(doc: str) -> None:
    src = "\n".join(["def f() -> None:", *stubs._docstring(doc, "    ")])
    f = ast.parse(src).body[0]
    assert isinstance(f, ast.FunctionDef)
    assert ast.get_docstring(f) == inspect.cleandoc(doc)


def test_tricky_docstring_survives(alltypes: tuple[Path, Manifest]) -> None:
    _, manifest = alltypes
    for kind in stubs.KINDS:
        tree = ast.parse(render_stub(manifest, kind))  # type: ignore[arg-type]
        f = next(n for n in ast.walk(tree)
                 if isinstance(n, ast.FunctionDef) and n.name == "scalars")
        assert ast.get_docstring(f) == TRICKY_DOC


def test_cli_writes_the_stub(alltypes: tuple[Path, Manifest], tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    path, manifest = alltypes
    out = tmp_path / "out.pyi"
    assert stubs.main([str(path), "--kind", "plugin", "-o", str(out)]) == 0
    assert out.read_text() == render_stub(manifest, "plugin")
    assert stubs.main([str(path), "--kind", "module"]) == 0
    assert capsys.readouterr().out == render_stub(manifest, "module")
    bad = tmp_path / "bad.wasm"
    bad.write_bytes(b"not wasm")
    assert stubs.main([str(bad), "--kind", "module"]) == 1
    assert "not a WebAssembly binary" in capsys.readouterr().err


def test_objects_only_as_self() -> None:
    raw = {**ALLTYPES, "classes": [], "functions": [fn("f", [("h", "handle")], None)]}
    with pytest.raises(ValueError, match=r"f\(\): parameter 'h'"):
        render_stub(parse_manifest(json.dumps(raw)), "module")
    with pytest.raises(ValueError, match="kind"):
        render_stub(parse_manifest(json.dumps(ALLTYPES)), "class")  # type: ignore[arg-type]

