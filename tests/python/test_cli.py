"""The ``wasmcore`` command line: ``info`` and ``call``, and one exit status per failure."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from wasmcore.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ROOT / "examples" / "plugins" / "hostile"
TEXTSTATS = ROOT / "target" / "dist" / "plugins" / "textstats.wasm"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # argparse
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_info_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "info", TEXTSTATS)
    digest = hashlib.sha256(TEXTSTATS.read_bytes()).hexdigest()
    assert code == 0
    assert f"sha256:  {digest}" in out and f"size:    {TEXTSTATS.stat().st_size} bytes" in out
    assert "count_words(text: bytes) -> u32" in out
    assert "env.log: func (i32, i32) -> ()" in out
    code, out, _ = run(capsys, "info", "--json", HOSTILE / "traps.wat")
    info = json.loads(out)
    assert code == 0 and info["manifest"] is None and info["imports"] == {}
    assert info["exports"]["divide"] == "func (i32, i32) -> (i32)"


@pytest.mark.parametrize(("argv", "status", "needle"), [
    (["traps.wat", "divide", "7", "2"], 0, "3\n"),
    (["traps.wat", "add", "0x10", "0.5"], 0, "16.5\n"),
    (["traps.wat", "divide", "7"], 2, "takes 2 arguments"),
    (["traps.wat", "divide", "7", "x"], 2, "argument 2 must be an integer"),
    (["traps.wat", "nope"], 2, "exports no function 'nope'"),
    (["malformed.wasm", "run"], 3, "ModuleRejected"),
    (["forbidden_import.wat", "run"], 3, "env.system"),
    (["traps.wat", "divide", "1", "0", "--sha256", "00"], 3, "sha256 mismatch"),
    (["traps.wat", "divide", "1", "0"], 4, "integer divide by zero"),
    (["deep_recursion.wat", "run", "0"], 4, "Trap"),
    (["infinite_loop.wat", "run", "--timeout", "0.2"], 5, "Timeout"),
    (["infinite_loop.wat", "run", "--fuel", "100000"], 6, "FuelExhausted"),
    (["memory_bomb.wat", "run", "--max-memory", str(4 << 20)], 7, "MemoryLimitExceeded"),
    (["huge_memory.wat", "run"], 7, "MemoryLimitExceeded"),
])
def test_call_exit_status(capsys: pytest.CaptureFixture[str], argv: list[str], status: int,
                          needle: str) -> None:
    code, out, err = run(capsys, "call", HOSTILE / argv[0], *argv[1:])
    assert code == status, (out, err)
    assert needle in (out if status == 0 else err)


def test_call_typed_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "call", TEXTSTATS, "count_words", "a b  c", "--print-import",
                         "log")
    assert (code, out) == (0, "3\n") and "[log] count_words: 6 bytes, 3 words" in err
    code, out, err = run(capsys, "call", TEXTSTATS, "longest_word", "  ", "--print-import", "log")
    assert code == 8 and "has no words" in err
    code, out, _ = run(capsys, "call", TEXTSTATS, "byte_histogram", f"@{HOSTILE / 'traps.wat'}",
                       "--print-import", "log")
    counts = json.loads(out)
    assert code == 0 and counts[ord("(")] == (HOSTILE / "traps.wat").read_bytes().count(b"(")


def test_call_wasi_prints_captured_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "call", ROOT / "examples" / "plugins" / "wasi_echo.wat",
                         "hello", "--wasi")
    assert code == 0 and out == "hello from wasi\n0\n" and err == "oops\n"


def test_python_dash_m() -> None:
    r = subprocess.run([sys.executable, "-m", "wasmcore", "call", str(HOSTILE / "traps.wat"),
                        "divide", "1", "0"], capture_output=True, text=True, check=False)
    assert r.returncode == 4 and "integer_divide_by_zero" not in r.stdout
    assert "wasmcore: Trap:" in r.stderr
    r = subprocess.run([sys.executable, "-m", "wasmcore", "call", "--help"],
                       capture_output=True, text=True, check=True)
    assert "exit status:" in r.stdout and "5  the call ran past --timeout" in r.stdout
