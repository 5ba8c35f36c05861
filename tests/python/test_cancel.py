"""Stopping a plugin call while it runs: a cancel handle used from another thread, Ctrl-C
(SIGINT) on the main thread, and the command line's exit status 130.

No test asserts a duration. A stop that does not happen leaves a call looping forever, so
everything runs under a hang guard: calls on worker threads are joined with a timeout, a
child process is waited for with a timeout (and dumps its stacks and exits on its own,
``faulthandler``), and a call on the test's own thread is guarded by ``faulthandler`` too
(the :func:`hang_guard` fixture: it ends the test process, with every thread's stack). A
guard that fires fails the test; it measures nothing.

A test stops a call only once it knows the call is running: the loops call the host function
``tick`` (counted per thread by :class:`Ticks`) before they spin, or on every iteration.
"""

from __future__ import annotations

import faulthandler
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import wasmcore
from wasmcore._backends import internals

HANG_GUARD = 60.0  # seconds; the calls here stop within milliseconds

# `run` ticks once, then spins; `tick_forever` ticks on every iteration (so a test sees it
# is still running), `work_tick_forever` after a million wasm steps (a millisecond or so: a
# signal then arrives in wasm, and is first seen as `tick` starts, almost always); `busy(n)` counts to n and returns it (a call that ends on its own)
LOOP_WAT = """(module
  (import "env" "tick" (func $tick))
  (func (export "run") (call $tick) (loop $spin (br $spin)))
  (func (export "tick_forever") (loop $spin (call $tick) (br $spin)))
  (func (export "work_tick_forever") (local $i i32)
    (loop $spin
      (local.set $i (i32.const 0))
      (loop $work
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $work (i32.lt_u (local.get $i) (i32.const 1000000))))
      (call $tick) (br $spin)))
  (func (export "busy") (param $n i32) (result i32) (local $i i32)
    (block $done (loop $count
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $count)))
    (local.get $i))
  (func (export "trap") unreachable)
  (func (export "ok") (result i32) (i32.const 42)))"""
# instantiation is a call too: the start function ticks and spins when `start_mode()` says so
START_WAT = """(module
  (import "env" "start_mode" (func $mode (result i32)))
  (import "env" "tick" (func $tick))
  (func $start (if (call $mode) (then (call $tick) (loop $spin (br $spin)))))
  (start $start)
  (func (export "trap") unreachable)
  (func (export "ok") (result i32) (i32.const 42)))"""
# host functions inside a call: `cb` may call the plugin back, `wait` blocks in Python
NESTED_WAT = """(module
  (import "env" "cb" (func $cb))
  (import "env" "wait" (func $wait))
  (func (export "outer") (call $cb))
  (func (export "wait_then_spin") (call $wait) (loop $spin (br $spin)))
  (func (export "spin") (loop $spin (br $spin)))
  (func (export "ok") (result i32) (i32.const 42)))"""

LIMITS = [{}, {"fuel": 10**15}, {"timeout": 10 * HANG_GUARD},
          {"fuel": 10**15, "timeout": 10 * HANG_GUARD}]


def limits_id(limits: dict[str, Any]) -> str:
    return "+".join(limits) or "no limits"


@pytest.fixture(autouse=True)
def hang_guard() -> Iterator[None]:
    """A call that never stops on the test's own thread ends the test process (with every
    thread's stack on stderr) instead of hanging it."""
    faulthandler.dump_traceback_later(4 * HANG_GUARD, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


class Ticks:
    """The host function ``tick``: counts each thread's calls of it."""

    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()
        self.changed = threading.Condition()

    def __call__(self) -> None:
        with self.changed:
            self.counts[threading.get_ident()] += 1
            self.changed.notify_all()

    def past(self, ident: int, n: int) -> int:
        """Waits until thread ``ident`` has ticked more than ``n`` times; returns its count."""
        with self.changed:
            if not self.changed.wait_for(lambda: self.counts[ident] > n, HANG_GUARD):
                pytest.fail(f"thread {ident} stopped ticking (at {self.counts[ident]})")
            return self.counts[ident]


class Looping:
    """``plugin.call(export)`` on a thread of its own. The thread takes its cancel handle
    (:attr:`handle`: a handle stops the calls of the thread that took it), records what the
    call raised (:attr:`error`), then calls ``ok`` (:attr:`after`: the plugin recovered)."""

    def __init__(self, plugin: wasmcore.Plugin, ticks: Ticks, export: str = "run") -> None:
        self.plugin, self.ticks, self.export = plugin, ticks, export
        self.handle: Any = None
        self.ident = 0
        self.error: BaseException | None = None
        self.after: object = None
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.ident = threading.get_ident()
        self.handle = self.plugin.cancel_handle()
        self._ready.set()
        try:
            self.plugin.call(self.export)
        except BaseException as e:  # noqa: BLE001 - reported to the test
            self.error = e
        try:
            self.after = self.plugin.call("ok")
        except BaseException as e:  # noqa: BLE001
            self.after = e

    def start(self) -> Looping:
        """Starts the call; returns once it is running (it has ticked)."""
        self.thread.start()
        assert self._ready.wait(HANG_GUARD), "the thread never started"
        self.ticks.past(self.ident, 0)
        return self

    def still_running(self) -> None:
        """The call goes on: it ticks twice more (``tick_forever``), so at least one loop
        iteration, with its epoch check, began after this was called."""
        assert self.thread.is_alive() and self.error is None, self.error
        self.ticks.past(self.ident, self.ticks.past(self.ident, 0) + 1)

    def join(self) -> BaseException | None:
        self.thread.join(HANG_GUARD)
        if self.thread.is_alive():
            pytest.fail(f"the call was not stopped within {HANG_GUARD} s (hang guard)")
        return self.error


def loop_plugin(ticks: Ticks, **limits: Any) -> wasmcore.Plugin:
    return wasmcore.Plugin(LOOP_WAT.encode(), host={"tick": ticks}, **limits)


def assert_cancelled(e: BaseException | None, where: str = "run()") -> None:
    assert isinstance(e, wasmcore.Cancelled), f"expected Cancelled, got {e!r}"
    assert isinstance(e, wasmcore.Trap) and e.code == "cancelled"
    assert str(e) == f"plugin: {where} was cancelled"


# -- a cancel handle, from another thread ----------------------------------------------------

@pytest.mark.parametrize("export", ["run", "tick_forever"])
@pytest.mark.parametrize("limits", LIMITS, ids=limits_id)
def test_cancel_from_another_thread_stops_the_loop(limits: dict[str, Any], export: str) -> None:
    ticks = Ticks()
    run = Looping(loop_plugin(ticks, **limits), ticks, export).start()
    run.handle.cancel()
    assert_cancelled(run.join(), f"{export}()")
    assert run.after == 42  # the plugin recovered on that thread, as after any trap


@pytest.mark.parametrize("limits", LIMITS, ids=limits_id)
def test_cancel_stops_a_call_on_the_main_thread(limits: dict[str, Any]) -> None:
    ticks = Ticks()
    p = loop_plugin(ticks, **limits)
    handle = p.cancel_handle()  # this thread's
    me = threading.get_ident()
    for _ in range(2):  # and again: the handle outlives the instance the cancel replaced
        seen = ticks.counts[me]
        canceller = threading.Thread(target=lambda n=seen: (ticks.past(me, n), handle.cancel()))
        canceller.start()
        with pytest.raises(wasmcore.Cancelled) as info:
            p.run()
        canceller.join(HANG_GUARD)
        assert_cancelled(info.value)
        assert p.ok() == 42


def test_cancel_reaches_only_the_handles_thread_and_plugin() -> None:
    ticks = Ticks()
    shared = loop_plugin(ticks)
    # the same plugin on two threads, another plugin of the same engine, one of the metered
    # engine (fuel): each loop ticks on every iteration, so each shows it goes on
    runs = [Looping(p, ticks, "tick_forever").start()
            for p in (shared, shared, loop_plugin(ticks), loop_plugin(ticks, fuel=10**15))]
    while runs:
        victim = runs.pop(random.randrange(len(runs)))
        victim.handle.cancel()
        assert_cancelled(victim.join(), "tick_forever()")
        assert victim.after == 42
        for other in runs:  # not stopped, though the cancel reached their epoch deadlines
            other.still_running()


def test_cancel_when_no_call_runs_reaches_nothing() -> None:
    """The rule: a cancel stops the call its thread is running in the plugin, else nothing;
    it is not kept for a later call."""
    ticks = Ticks()
    p = loop_plugin(ticks)
    handle = p.cancel_handle()
    handle.cancel()  # from this thread, between calls
    assert p.busy(1000) == 1000
    other = threading.Thread(target=handle.cancel)  # from another, between calls
    other.start()
    other.join(HANG_GUARD)
    assert p.busy(1000) == 1000 and p.ok() == 42
    assert repr(handle) == f"<wasmcore.CancelHandle of 'plugin' on thread " \
                           f"{threading.current_thread().name!r}>"
    p.close()
    handle.cancel()  # harmless after close
    with pytest.raises(ValueError, match="closed"):
        p.cancel_handle()


@pytest.mark.parametrize("limits", LIMITS, ids=limits_id)
def test_cancel_racing_calls_that_just_finished(limits: dict[str, Any]) -> None:
    """Calls that end on their own while another thread cancels again and again: each one
    returns its result or raises Cancelled (the cancel came while it ran); once the cancels
    have stopped, the next call returns its result."""
    ticks = Ticks()
    p = loop_plugin(ticks, **limits)
    rng = random.Random(17)
    sizes = [rng.choice([0, 1, 10, 1000, 100_000]) for _ in range(1500)]
    handle: list[Any] = []
    outcomes: list[object] = []
    finished = threading.Event()
    took = threading.Event()

    def caller() -> None:
        handle.append(p.cancel_handle())
        took.set()
        for n in sizes:
            try:
                outcomes.append(p.busy(n))
            except wasmcore.Cancelled as e:
                outcomes.append(e)
        finished.set()

    def canceller() -> None:
        took.wait(HANG_GUARD)
        while not finished.is_set():
            handle[0].cancel()
            finished.wait(rng.choice([0, 0, 1e-5, 1e-4]))

    threads = [threading.Thread(target=caller), threading.Thread(target=canceller)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG_GUARD)
        assert not t.is_alive(), "hang guard"
    assert len(outcomes) == len(sizes)
    for n, got in zip(sizes, outcomes, strict=True):
        assert got == n or isinstance(got, wasmcore.Cancelled), (n, got)
    # no cancel is pending: the calls after the last one succeed, on that thread and here
    after: list[int] = []
    t = threading.Thread(target=lambda: after.extend(p.busy(n) for n in (5, 100_000)))
    t.start()
    t.join(HANG_GUARD)
    assert after == [5, 100_000] and p.busy(7) == 7


# -- where a call may be: instantiation, host functions ---------------------------------------

def test_cancel_during_instantiation() -> None:
    """A start function that spins: the instance re-created after a trap is stopped by the
    handle taken before; the next call instantiates again."""
    ticks = Ticks()
    mode = [0]
    p = wasmcore.Plugin(START_WAT.encode(), host={"start_mode": lambda: mode[0], "tick": ticks})
    outcome: dict[str, Any] = {}
    ready = threading.Event()
    ident: list[int] = []

    def worker() -> None:
        ident.append(threading.get_ident())
        handle = p.cancel_handle()  # instantiates this thread's instance (mode 0: no spin)
        outcome["handle"] = handle
        with pytest.raises(wasmcore.Trap):
            p.trap()
        mode[0] = 1
        ready.set()
        try:
            p.ok()  # re-instantiates: the start function spins
        except BaseException as e:  # noqa: BLE001
            outcome["error"] = e
        outcome["after"] = p.ok()

    t = threading.Thread(target=worker, daemon=True)
    t.start()
    assert ready.wait(HANG_GUARD)
    ticks.past(ident[0], 0)
    mode[0] = 0  # the next instantiation does not spin
    outcome["handle"].cancel()
    t.join(HANG_GUARD)
    assert not t.is_alive(), "hang guard"
    assert_cancelled(outcome.get("error"), "instantiation")
    assert outcome["after"] == 42 and p.ok() == 42


def test_cancel_during_a_host_function_calling_back_into_the_plugin() -> None:
    """`outer` calls host function `cb`, which calls the plugin's `spin`: the cancel stops
    the nested call (raised in `cb`), and `cb` lets it through, so `outer` raises it, as it
    raises whatever a host function raises."""
    ticks = Ticks()
    nested: list[BaseException] = []

    def cb() -> None:
        ticks()
        try:
            p.spin()
        except BaseException as e:
            nested.append(e)
            raise

    p = wasmcore.Plugin(NESTED_WAT.encode(), host={"cb": cb, "wait": lambda: None})
    run = Looping(p, ticks, "outer").start()
    run.handle.cancel()
    error = run.join()
    assert len(nested) == 1 and error is nested[0]
    assert_cancelled(error, "spin()")
    assert run.after == 42


def test_cancel_while_a_host_function_runs_python() -> None:
    """A cancel while the call is in Python code (a host function): the call stops once
    back in wasm."""
    inside, go = threading.Event(), threading.Event()

    def wait() -> None:
        inside.set()
        assert go.wait(HANG_GUARD)

    p = wasmcore.Plugin(NESTED_WAT.encode(), host={"cb": lambda: None, "wait": wait})
    ticks = Ticks()
    run = Looping(p, ticks, "wait_then_spin")
    run.thread.start()
    assert inside.wait(HANG_GUARD)
    run.handle.cancel()
    go.set()
    assert_cancelled(run.join(), "wait_then_spin()")
    assert run.after == 42


# -- Ctrl-C (SIGINT) ---------------------------------------------------------------------------

# The child: a looping plugin on its main thread, interrupted by the parent's SIGINTs. argv:
# "default" (Python's own handler) or "own" (the application's handler, which raises only on
# the second signal), the plugin's limits as JSON, and the export that loops. It prints what
# happens, line by line ("running" once per call: the first tick).
CHILD = textwrap.dedent("""
    import faulthandler, json, signal, sys
    faulthandler.dump_traceback_later({guard}, exit=True)
    import wasmcore

    mode, limits, export = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    seen = []
    ticked = [False]

    def tick():
        if not ticked[0]:
            ticked[0] = True
            print("running", flush=True)

    def own(signum, frame):
        seen.append(signum)
        print(f"handler {{len(seen)}}", flush=True)
        if len(seen) % 2 == 0:
            raise KeyboardInterrupt

    handler = own if mode == "own" else signal.default_int_handler
    signal.signal(signal.SIGINT, handler)  # (as the application wants it, whatever it got)
    p = wasmcore.Plugin({loop!r}.encode(), host={{"tick": tick}}, **limits)
    for _ in range(2):
        ticked[0] = False
        try:
            p.call(export)
        except KeyboardInterrupt:
            print("KeyboardInterrupt", flush=True)
        print("after", p.ok(), flush=True)
    print("handler kept", signal.getsignal(signal.SIGINT) is handler, flush=True)
    ticked[0] = False
    try:  # a start function that spins: Plugin() itself is interrupted
        wasmcore.Plugin({start!r}.encode(), host={{"start_mode": lambda: 1, "tick": tick}},
                        **limits)
    except KeyboardInterrupt:
        print("Plugin() KeyboardInterrupt", flush=True)
    print("after", p.ok(), flush=True)
    raise KeyboardInterrupt  # and the process ends as an interrupted one does
""").format(guard=HANG_GUARD, loop=LOOP_WAT, start=START_WAT)


@pytest.mark.parametrize(("mode", "limits", "export", "path"), [
    ("default", {}, "run", None),
    ("own", {}, "run", None),
    ("own", {"fuel": 10**15, "timeout": 600.0}, "run", None),
    # a loop that calls a host function: the signal may first be seen as that function
    # starts, before its `try`; host functions are cffi callbacks, which hand the exception
    # over, on the default fast path ("1": speedups calls, ctypes ones without the module) and
    # the cffi one (docs/plugins.md)
    ("default", {}, "tick_forever", "1"),
    ("own", {}, "tick_forever", "1"),
    ("default", {}, "work_tick_forever", "1"),
    ("own", {}, "work_tick_forever", "1"),
    ("default", {}, "work_tick_forever", "cffi"),
    ("own", {}, "tick_forever", "cffi"),
], ids=["default handler", "own handler", "own handler+fuel+timeout",
        "default handler, host calls", "own handler, host calls",
        "default handler, work and host calls", "own handler, work and host calls",
        "default handler, work and host calls, cffi", "own handler, host calls, cffi"])
def test_sigint_interrupts_a_plugin_on_the_main_thread(mode: str, limits: dict[str, Any],
                                                       export: str, path: str | None) -> None:
    env = dict(os.environ, **({"WASMCORE_FAST_PATH": path} if path else {}))
    if not deadline_callback(env):
        pytest.skip("Ctrl-C stops wasm on the main thread through the epoch-deadline "
                    "callback, which this run's child does without (interrupts on wasmtime-py's "
                    "public API): test_sigint_without_the_deadline_callback is that path's")
    child = subprocess.Popen([sys.executable, "-c", CHILD, mode, json.dumps(limits), export],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    handled = [0]  # how many times the application's handler ran

    def expect(line: str) -> None:
        lines.append(child.stdout.readline().rstrip("\n") if child.stdout else "")
        if lines[-1] != line:  # (the child's own account, then its end)
            child.kill()
            _, err = child.communicate()
            raise AssertionError(f"{lines}: expected {line!r}; the child's stderr:\n{err}")

    def interrupt() -> None:
        expect("running")
        child.send_signal(signal.SIGINT)
        if mode == "own":  # the handler runs; it does not raise, so the call goes on ...
            expect(f"handler {handled[0] + 1}")
            child.send_signal(signal.SIGINT)  # ... until the next signal: now it raises
            expect(f"handler {handled[0] + 2}")
            handled[0] += 2

    try:
        for _ in range(2):
            interrupt()
            expect("KeyboardInterrupt")
            expect("after 42")
        expect("handler kept True")
        interrupt()
        expect("Plugin() KeyboardInterrupt")
        expect("after 42")
        _, err = child.communicate(timeout=HANG_GUARD)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGINT, err
    assert err.rstrip().endswith("KeyboardInterrupt")
    assert "Exception ignored" not in err, err  # nothing escaped a callback


def deadline_callback(env: dict[str, str], feature: str = "interrupts") -> bool:
    """Whether a child with environment ``env`` stops calls through the epoch-deadline
    callback (the ``interrupts`` feature on wasmtime-py's internals; or ``feature``), as it
    will decide."""
    public, _ = internals.decide(env.get("WASMCORE_FAST_PATH", ""), internals.version(),
                                 internals.structural_failures)
    return feature not in public


# Without the deadline callback no Python code runs while the main thread is in wasm: a
# SIGINT's handler runs when the call returns, at its timeout here (`run`), or as a host
# function starts (`tick_forever`), whose exception then ends the call at once.
PUBLIC_CHILD = textwrap.dedent("""
    import faulthandler, sys
    faulthandler.dump_traceback_later({guard}, exit=True)
    import wasmcore
    from wasmcore._backends import internals

    export = sys.argv[1]
    assert not internals.usable("interrupts")
    ticked = [False]

    def tick():
        if not ticked[0]:
            ticked[0] = True
            print("running", flush=True)

    p = wasmcore.Plugin({loop!r}.encode(), host={{"tick": tick}}, timeout=1.0)
    try:
        p.call(export)
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
    print("after", p.ok(), flush=True)
""").format(guard=HANG_GUARD, loop=LOOP_WAT)


def interrupt_after(child: subprocess.Popen[str], stream: Any, line: str) -> tuple[str, str]:
    """Once ``line`` came on the child's ``stream``, a SIGINT; then the child's (remaining)
    stdout and stderr when it has ended (killed at the hang guard)."""
    try:
        assert (stream.readline() if stream else "") == line
        child.send_signal(signal.SIGINT)
        return child.communicate(timeout=HANG_GUARD)
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize("export", ["run", "tick_forever"])
def test_sigint_without_the_deadline_callback(export: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", PUBLIC_CHILD, export],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, WASMCORE_FAST_PATH="0"))
    out, err = interrupt_after(child, child.stdout, "running\n")
    assert child.returncode == 0, err
    assert out == "KeyboardInterrupt\nafter 42\n", err
    assert "Exception ignored" not in err, err


# A signal handler's exception raised as one of the memory creator's callbacks starts (before
# its `try`), injected deterministically with a trace function: a ctypes callback would hand
# wasmtime an undefined value (the process aborted, "double free or corruption", under Ctrl-C);
# the callbacks are cffi's, whose error handler runs the callback again and lets the call
# raise the exception.
CALLBACK_CHILD = textwrap.dedent("""
    import faulthandler, random, sys
    faulthandler.dump_traceback_later({guard}, exit=True)
    import wasmcore
    from wasmcore._plugin import limits

    W = (b'(module (memory (export "memory") 1)'
         b' (func (export "run") (loop $l (drop (memory.grow (i32.const 1)))'
         b'   (br_if $l (i32.lt_u (memory.size) (i32.const 64)))))'
         b' (func (export "bomb") (loop $l (br_if $l (i32.ne (memory.grow (i32.const 16))'
         b'   (i32.const -1)))) unreachable)'
         b' (func (export "ok") (result i32) (i32.const 42)))')
    C = limits.MemoryCreator
    targets = {{f.__code__ for f in (C._get_memory, C._grow_memory, C._new_memory_args,
                                    C._new_memory_request)}}
    rng = random.Random(7)

    def tracer(frame, event, arg):
        if event == "call" and frame.f_code in targets and rng.random() < 0.03:
            sys.settrace(None)
            raise KeyboardInterrupt  # as a signal handler does, as the callback starts
        return None

    p = wasmcore.Plugin(W, max_memory=8 << 20)
    outcomes = {{"ok": 0, "KeyboardInterrupt": 0, "MemoryLimitExceeded": 0}}
    for i in range(300):
        sys.settrace(tracer)
        try:
            (p.run if i % 3 else p.bomb)()
            outcomes["ok"] += 1
        except (KeyboardInterrupt, wasmcore.MemoryLimitExceeded) as e:
            outcomes[type(e).__name__] += 1
        finally:
            sys.settrace(None)
        for _ in range(2):  # (a late KeyboardInterrupt comes with the next call at the latest)
            try:
                assert p.ok() == 42
                break
            except KeyboardInterrupt:
                outcomes["KeyboardInterrupt"] += 1
    print(sorted(k for k, n in outcomes.items() if n))
""").format(guard=HANG_GUARD)


def test_an_exception_as_a_memory_callback_starts_is_the_call_s() -> None:
    env = {k: v for k, v in os.environ.items() if k != "WASMCORE_FAST_PATH"}
    if not (deadline_callback(env, "memory creator") and deadline_callback(env)):
        pytest.skip("wasmcore's memory creator and deadline callback are not used here")
    r = subprocess.run([sys.executable, "-c", CALLBACK_CHILD], capture_output=True, text=True,
                       timeout=HANG_GUARD + 30, check=False, env=env)
    assert r.returncode == 0, r.stderr
    assert "Exception ignored" not in r.stderr, r.stderr
    # every outcome happened: calls that ran, calls the injected exception stopped, refusals
    assert r.stdout.split("\n")[0] == str(["KeyboardInterrupt", "MemoryLimitExceeded", "ok"])


# the command line: a module that says it is running (its `log` import, printed with
# --print-import) and spins
LOG_LOOP_WAT = """(module
  (import "env" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "looping")
  (func (export "run") (call $log (i32.const 0) (i32.const 7)) (loop $spin (br $spin))))"""
# SIGINT as an interactive shell leaves it, whatever the test runner's was (an ignored signal
# stays ignored across exec)
DEFAULT_SIGINT = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                  "os.execv(sys.executable, [sys.executable, '-m', 'wasmcore', *sys.argv[1:]])")


@pytest.mark.parametrize("path", [None, "0"], ids=["this run's path", "public API"])
@pytest.mark.parametrize("limits", [[], ["--fuel", str(10**15), "--timeout", "600"]],
                         ids=["no limits", "fuel+timeout"])
def test_cli_call_exits_130_on_sigint(tmp_path: Path, limits: list[str],
                                      path: str | None) -> None:
    """Through the deadline callback, or, without it, by the process ending as an
    interrupted one (the call runs on a thread of its own: docs/plugins.md)."""
    module = tmp_path / "loop.wat"
    module.write_text(LOG_LOOP_WAT)
    child = subprocess.Popen([sys.executable, "-c", DEFAULT_SIGINT, "call", str(module), "run",
                              "--print-import", "log", *limits],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, **({"WASMCORE_FAST_PATH": path} if path
                                                     else {})))
    out, err = interrupt_after(child, child.stderr, "[log] looping\n")
    assert child.returncode == 130, err
    assert out == "" and err == "wasmcore: interrupted\n"


def test_cli_help_lists_exit_status_130() -> None:
    r = subprocess.run([sys.executable, "-m", "wasmcore", "call", "--help"],
                       capture_output=True, text=True, check=True)
    assert "130  interrupted (Ctrl-C), the call stopped" in r.stdout

