"""wasmtime-py's internals (wasmcore._backends.internals): each structural check notices the
change it is there for, a feature whose check fails runs on wasmtime-py's public API with one
warning per process, and nothing aborts the host: not a changed prototype or struct, not an
unknown wasmtime-py release. What could crash runs in a child process, so a crash is a red
test with the child's stderr.

The changes are simulated by tests/python/wasmtime_changes.py (its BREAKAGES): each leaves
wasmtime-py working and changes only what wasmcore checks, as a later release might."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import wasmcore
import wasmtime
import wasmtime_changes
from wasmcore.__main__ import main as cli
from wasmcore._backends import internals

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FEATURES = set(internals.FEATURES)
VERSION = internals.version()
FUTURE = f"{internals.VERIFIED[-1] + 1}.0.0"
CHILD_GUARD = 300  # seconds: a hang guard for the children, not a measurement
# the plugin and core test modules, run under simulated changes
SUITES = ["test_plugin.py", "test_host_callbacks.py", "test_raw_exports.py", "test_cancel.py",
          "test_kernels.py", "test_component.py"]


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("WASMCORE_FAST_PATH", None)  # (the children decide as a user's process would)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), *filter(None, [env.get("PYTHONPATH")])])
    return {**env, **extra}


# -- spelling C types ------------------------------------------------------------------------

P = ctypes.POINTER


@pytest.mark.parametrize(("t", "spelled"), [
    (None, "void"), (ctypes.c_size_t, "u64"), (ctypes.c_uint64, "u64"), (ctypes.c_int32, "i32"),
    (ctypes.c_uint8, "u8"), (ctypes.c_bool, "bool"), (ctypes.c_double, "f64"),
    (ctypes.c_float, "f32"), (ctypes.c_void_p, "void*"), (ctypes.c_char_p, "char*"),
    (P(ctypes.c_char), "char*"), (P(P(internals.TRAP)), "wasm_trap_t**"),
    (ctypes.c_uint8 * 16, "u8[16]"), (internals.FINALIZER, "fn(void*) -> void"),
    (internals.EPOCH_CALLBACK, "fn(wasmtime_context*, void*, u64*, u8*) -> u64"),
])
def test_spelling(t: object, spelled: str) -> None:
    assert internals.spell(t) == spelled


def test_spelling_tells_apart_what_the_abi_does() -> None:
    """Width, signedness, pointer depth and the pointee's name all count."""
    spelled = {internals.spell(t) for t in (ctypes.c_uint32, ctypes.c_int32, ctypes.c_uint64,
                                            P(internals.CONTEXT), P(internals.STORE),
                                            P(P(internals.STORE)))}
    assert len(spelled) == 6


# -- the installed wasmtime-py --------------------------------------------------------------

def test_the_installed_wasmtime_passes_or_falls_back_entirely() -> None:
    """A verified release passes every check (the internals are used); any other uses the
    public API for everything unless asked otherwise: `just test-latest` passes on a release
    past the bound by falling back, not by luck."""
    switch = os.environ.get("WASMCORE_FAST_PATH", "")
    public = internals.decision().public
    if switch == "0":
        assert set(public) == FEATURES
    elif internals.verified(VERSION):
        assert internals.structural_failures() == {}
        assert public == {}
    elif not switch:
        assert set(public) == FEATURES
        assert all("not a verified release" in why for why in public.values())


@pytest.mark.skipif(not internals.verified(VERSION), reason="a verified release's shape")
def test_the_memory_creator_shape_is_the_release_s() -> None:
    """wasmtime 51 changed the memory creator's callback to one request struct."""
    from wasmtime import _bindings

    want = "request" if int(VERSION.split(".")[0]) >= 51 else "args"
    assert internals.creator_shape(_bindings) == (want, "")


@pytest.mark.parametrize("name", list(wasmtime_changes.BREAKAGES))
def test_each_change_is_noticed(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The checks alone (no plugin runs here): each change fails exactly its features, with a
    reason naming what changed."""
    features, apply = wasmtime_changes.BREAKAGES[name]
    from wasmtime import _bindings

    for attr in list(vars(_bindings)):  # (undone at the end of the test)
        monkeypatch.setattr(_bindings, attr, getattr(_bindings, attr))
    apply()
    failed = internals.structural_failures()
    assert set(failed) == features, failed
    assert all(why for why in failed.values())


@pytest.mark.parametrize(("owner", "name", "features"), [
    (wasmtime.Store, "_context", {"calls", "fuel"}),
    (wasmtime.Trap, "_from_ptr", {"calls", "host functions"}),
    (wasmtime.WasmtimeError, "_from_ptr", {"calls", "host functions"}),
])
def test_a_missing_private_attribute_is_noticed(monkeypatch: pytest.MonkeyPatch, owner: object,
                                                name: str, features: set[str]) -> None:
    monkeypatch.delattr(owner, name)
    failed = internals.structural_failures()
    assert features <= set(failed), failed
    assert "memory creator" not in failed


def test_a_pointer_of_another_type_is_noticed(monkeypatch: pytest.MonkeyPatch) -> None:
    real = wasmtime.Linker.ptr
    monkeypatch.setattr(wasmtime.Linker, "ptr",
                        lambda self: ctypes.cast(real(self), ctypes.c_void_p))
    failed = internals.structural_failures()
    assert set(failed) == {"host functions"}
    assert "Linker.ptr() gives void*, written for wasmtime_linker*" in failed["host functions"]


# -- deciding ----------------------------------------------------------------------------------

VERIFIED = f"{internals.VERIFIED[-1]}.0.0"
OLDER = f"{internals.VERIFIED[0] - 1}.0.0"


def never() -> dict[str, str]:
    raise AssertionError("the internals were checked where they may not be used")


@pytest.mark.parametrize(("switch", "version", "failures", "public", "warning"), [
    ("", VERIFIED, {}, set(), ""),
    ("", FUTURE, None, FEATURES, "is not among the releases wasmcore is verified against"),
    ("", OLDER, None, FEATURES, "is not among the releases"),
    ("", VERIFIED, {"memory creator": "x"}, {"memory creator"}, "so memory creator use"),
    ("", VERIFIED, {"calls": "a", "fuel": "b"}, {"calls", "fuel"}, "calls and fuel use"),
    ("0", VERIFIED, None, FEATURES, ""),  # asked for: no warning
    ("0", FUTURE, None, FEATURES, ""),
    ("1", FUTURE, {}, set(), ""),  # trusting the checks on any release
    ("1", FUTURE, {"interrupts": "x"}, {"interrupts"}, "interrupts use"),
    ("ctypes", FUTURE, {}, set(), ""),  # a named call path trusts them too
])
def test_decision(switch: str, version: str, failures: dict[str, str] | None,
                  public: set[str], warning: str) -> None:
    decided, text = internals.decide(switch, version,
                                     never if failures is None else lambda: failures)
    assert set(decided) == public
    assert (warning in text) if warning else text == ""
    if text:
        assert version in text and "public API" in text
        assert all(f in text for f in public)


def test_a_bad_switch_is_an_error() -> None:
    with pytest.raises(ValueError, match="WASMCORE_FAST_PATH must be speedups, ctypes, cffi, "
                                         "1 or 0"):
        internals.decide("yes", VERIFIED, never)


def test_each_feature_is_shown_by_info(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["info", str(wasmcore.wasm_path())]) == 0
    out = capsys.readouterr().out
    assert f"wasmtime-py {VERSION}" in out
    width = max(map(len, FEATURES)) + 2  # (the longest name, its colon and a space)
    for feature, how in internals.report().items():
        assert f"  {feature + ':':{width}s}{how}\n" in out
    assert internals.report().keys() == FEATURES


# -- in a child process: nothing aborts, everything works on the fallback ---------------------

# A user's program after `what` (a change of BREAKAGES, "broken" for all, or a version): the
# core, and plugins using every limit (a host function, fuel, a timeout, the memory cap, a
# cancel from another thread); it prints what fell back and the one warning it got.
SMOKE = textwrap.dedent("""
    import faulthandler, json, sys, threading, time, warnings
    faulthandler.dump_traceback_later({guard}, exit=True)
    import wasmtime_changes
    warning = wasmtime_changes.simulate({what!r})
    warnings.simplefilter("error")  # one warning per process: no second one from here on
    import numpy as np, wasmcore
    from wasmcore._backends import internals

    core = wasmcore.load()
    assert core.fib(30) == 832040 and core.sum(np.arange(10.0)) == 45.0
    assert wasmcore.load().sha256(b"abc").hex().startswith("ba7816bf")
    WAT = '''(module
      (import "env" "twice" (func $twice (param i32) (result i32)))
      (import "env" "tick" (func $tick))
      (memory (export "memory") 1)
      (func (export "relay") (param i32) (result i32) (call $twice (local.get 0)))
      (func (export "spin") (call $tick) (loop $l (br $l)))
      (func (export "bomb") (loop $g (br_if $g (i32.ne (memory.grow (i32.const 16))
                                                        (i32.const -1)))) unreachable)
      (func (export "ok") (result i32) (i32.const 42)))'''
    ticked = threading.Event()
    host = {{"twice": lambda x: 2 * x, "tick": ticked.set}}
    p = wasmcore.Plugin(WAT.encode(), host=host, max_memory=2 << 20)
    assert p.relay(21) == 42
    for kwargs, exc in [({{"timeout": 0.2}}, wasmcore.Timeout),
                        ({{"fuel": 10**6}}, wasmcore.FuelExhausted)]:
        q = wasmcore.Plugin(WAT.encode(), host=host, **kwargs)
        try:
            q.spin()
        except exc:
            assert q.ok() == 42
        else:
            raise AssertionError(f"no {{exc.__name__}}")
    try:
        p.bomb()
    except wasmcore.MemoryLimitExceeded:
        assert p.ok() == 42
    box = []
    ticked.clear()
    def loop():
        box.append(p.cancel_handle())
        try:
            p.spin()
        except wasmcore.Cancelled:
            box.append("cancelled")
    t = threading.Thread(target=loop)
    t.start()
    assert ticked.wait(30)
    box[0].cancel()
    t.join(30)
    assert box[1:] == ["cancelled"], box
    print(json.dumps({{"public": sorted(internals.decision().public), "warning": warning}}))
""")


# (the children decide as a user's process would, whatever this run's WASMCORE_FAST_PATH: so they
# run once, in the default run of `just test`)
once = pytest.mark.skipif(bool(os.environ.get("WASMCORE_FAST_PATH")),
                          reason="a child's decision does not depend on this run's path: "
                                 "it runs in the default run")


def run_smoke(what: str) -> dict[str, object]:
    r = subprocess.run([sys.executable, "-c", SMOKE.format(guard=CHILD_GUARD - 10, what=what)],
                       capture_output=True, text=True, timeout=CHILD_GUARD, env=child_env(),
                       check=False)
    assert r.returncode == 0, f"exit status {r.returncode}\n{r.stderr}"
    assert "Exception ignored" not in r.stderr, r.stderr
    return json.loads(r.stdout.splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", list(wasmtime_changes.BREAKAGES))
@once
def test_each_change_falls_back_and_everything_works(name: str) -> None:
    if not internals.verified(VERSION):
        pytest.skip("an unverified release falls back entirely anyway")
    features = wasmtime_changes.BREAKAGES[name][0]
    got = run_smoke(name)
    assert set(got["public"]) == features  # type: ignore[arg-type]
    warning = str(got["warning"])
    assert "differs from what wasmcore was written for" in warning
    assert all(f in warning for f in features), warning


@once
def test_an_unknown_future_release_falls_back_entirely() -> None:
    got = run_smoke(FUTURE)
    assert set(got["public"]) == FEATURES  # type: ignore[arg-type]
    assert f"wasmtime-py {FUTURE} is not among the releases" in str(got["warning"])


def run_suites(what: str) -> subprocess.CompletedProcess[str]:
    """The plugin and core test modules in a child process under ``what`` (see
    wasmtime_changes.pytest_configure)."""
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "wasmtime_changes",
                           "-p", "no:cacheprovider", *(str(HERE / m) for m in SUITES)],
                          capture_output=True, text=True, timeout=20 * CHILD_GUARD, cwd=ROOT,
                          env=child_env(WASMCORE_SIMULATE=what), check=False)


@once
def test_the_plugin_and_core_suites_pass_with_every_check_failing() -> None:
    r = run_suites("broken")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    said = next(ln for ln in r.stdout.splitlines() if ln.startswith("wasmcore simulates"))
    assert "differs from what wasmcore was written for" in said
    assert all(f in said for f in FEATURES), said


@once
def test_the_plugin_and_core_suites_pass_on_an_unknown_future_release() -> None:
    r = run_suites(FUTURE)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    said = next(ln for ln in r.stdout.splitlines() if ln.startswith("wasmcore simulates"))
    assert f"wasmtime-py {FUTURE} is not among the releases" in said


def test_switch_0_uses_the_public_api_everywhere_silently() -> None:
    r = subprocess.run([sys.executable, "-W", "error", "-c", textwrap.dedent("""
        import wasmcore
        from wasmcore._backends import internals, wasm
        p = wasmcore.Plugin(b'(module (memory 1) (func (export "f") (result i32) i32.const 1))',
                            timeout=5, fuel=10**6)
        assert p.f() == 1 and wasmcore.load().fib(20) == 6765
        assert p._creator is None and not p._interrupts and wasm.call_path() == "public API"
        print(sorted(internals.decision().public))
    """)], capture_output=True, text=True, timeout=CHILD_GUARD,
        env=child_env(WASMCORE_FAST_PATH="0"), check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(sorted(FEATURES))
