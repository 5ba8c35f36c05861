"""The "components" group of ``wasmcore bench``: calls into a WebAssembly component (WIT) through
``wasmcore.Component`` against wasmtime-py's dynamic ``Func.__call__`` on the same component
(the example plugin's Rust guest, ``target/components/plugin-rust.wasm``: ``just components``).

Rows: a trivial export (``add(1, 2)``); a string round-trip (``first-word``); a record argument
(``process``, whose result is a ``result<string, string>``); one host callback (``scaled(x)``
calls the import ``get-factor`` once: the row is the call, the callback included, and the
target is taken on its difference from ``add``); a ``list<u32>`` of 1,000 results
(``range(1000)``); and a hostile call, ``hostile.spin()`` (an infinite loop) until its
timeout stops it. wasmtime-py gets the values in its own forms (a ``Record``; it returns
``Variant('ok', ...)``), on an engine configured as the plugin engine (epoch interruption)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ._bench import Row, Sizes, Target

HOST = "demo:plugin/host@0.1.0"
SPIN_TIMEOUT = 0.1  # seconds: the timeout of the hostile row
TEXT = "hello component world"


def _path() -> Path | None:
    here = Path(__file__).resolve()
    for root in here.parents:
        candidate = root / "target" / "components" / "plugin-rust.wasm"
        if candidate.is_file():
            return candidate
    return None


def _factor() -> int:
    return 3


def rows(s: Sizes) -> tuple[list[Row], list[str]]:
    """The rows of the group, and notes for the report (no component built)."""
    import wasmtime
    from wasmtime import component as cm

    import wasmcore

    path = _path()
    if path is None:
        return [], ["components: no target/components/plugin-rust.wasm (`just components`): "
                    "no components rows"]
    logs: list[str] = []
    c: Any = wasmcore.Component(path, host={HOST: {"log": logs.append, "get-factor": _factor}})
    opts = {"scale": 2, "reverse": True, "tag": "t"}
    ours: dict[str, Any] = {
        "add": lambda: c.add(1, 2),
        "first_word": lambda: c.first_word(TEXT),
        "process": lambda: c.process("abc", opts),
        "scaled": lambda: c.scaled(7),
        "range": lambda: c.range(1000),
    }

    cfg = wasmtime.Config()
    cfg.epoch_interruption = True
    engine = wasmtime.Engine(cfg)
    store = wasmtime.Store(engine)
    store.set_epoch_deadline(1 << 62)
    linker = cm.Linker(engine)
    with linker.root() as root, root.add_instance(HOST) as host:
        host.add_func("log", lambda _store, msg: logs.append(msg))
        host.add_func("get-factor", lambda _store: _factor())
    inst = linker.instantiate(store, cm.Component(engine, path.read_bytes()))
    funcs: dict[str, Any] = {name: inst.get_func(store, name) for name in (
        "add", "first-word", "process", "scaled", "range")}
    record = cm.Record()
    for k, v in opts.items():
        setattr(record, k, v)
    theirs: dict[str, Any] = {
        "add": lambda: funcs["add"](store, 1, 2),
        "first_word": lambda: funcs["first-word"](store, TEXT),
        "process": lambda: funcs["process"](store, "abc", record).payload,
        "scaled": lambda: funcs["scaled"](store, 7),
        "range": lambda: funcs["range"](store, 1000),
    }
    out = []
    for key, label, size in (("add", "add(1, 2)", ""), ("first_word", "first_word(str)", ""),
                             ("process", "process(str, record)", ""),
                             ("scaled", "scaled(x): one host callback", ""),
                             ("range", "range(n) -> list<u32>", "n = 1000")):
        if ours[key]() != theirs[key]():
            raise AssertionError(f"bench components {label}: wasmcore gives {ours[key]()!r}, "
                                 f"wasmtime-py {theirs[key]()!r}")
        out.append(Row("components", label, size,
                       {"component": ours[key], "wasmtime_py": theirs[key]},
                       [("component", "wasmtime_py")]))
    # a hostile call: an infinite loop, stopped at the timeout (the time until Timeout)
    spinner: Any = wasmcore.Component(path, host={HOST: {"log": logs.append,
                                                         "get-factor": _factor}},
                                      timeout=SPIN_TIMEOUT)

    def spin() -> float:
        t0 = time.perf_counter()
        try:
            spinner.hostile.spin()
        except wasmcore.Timeout:
            return time.perf_counter() - t0
        raise AssertionError("bench components: spin() returned")

    out.append(Row("components", "spin() until its timeout", f"timeout {SPIN_TIMEOUT} s",
                   {"component": spin}, [], self_timed=True, once=True))
    return out, []


def targets(rows: list[Row]) -> list[Target]:
    """Issue 24's targets, in µs: a trivial call, a host callback (the callback's share:
    ``scaled`` minus ``add``) and a 1,000-element ``list<u32>`` result."""
    by = {r.name: r for r in rows if r.group == "components"}

    def us(name: str) -> float | None:
        r = by.get(name)
        return r.median("component") * 1e6 if r is not None and r.samples.get("component") \
            else None

    add, scaled, ranged = us("add(1, 2)"), us("scaled(x): one host callback"), \
        us("range(n) -> list<u32>")
    spun = us("spin() until its timeout")
    return [Target("component call: c.add(1, 2) (µs)", add, "<=", 3.0),
            Target("component infinite loop: time to Timeout ÷ the timeout",
                   None if spun is None else spun / 1e6 / SPIN_TIMEOUT, "<=", 2.0),
            Target("component host callback (µs: scaled - add)",
                   None if add is None or scaled is None else scaled - add, "<=", 3.0),
            Target("component list<u32> of 1000 result (µs)", ranged, "<=", 50.0)]
