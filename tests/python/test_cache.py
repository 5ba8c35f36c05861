"""The compile cache (wasmcore._backends.cache): a cached entry is run only if this user's
wasmcore wrote it for this very module; a directory others can write is not trusted.

Entries are swapped, truncated, flipped, planted by another uid and written concurrently: never
the wrong code, never a crash, and loads still work. (The tests run as whichever user runs
them; those that need another user's file make one with ``os.chown`` where that is allowed,
as root, and otherwise check the same owner test on a stat result that says another uid.)"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import textwrap
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import wasmcore
from test_host import TOY, load_bytes, module_with, toy_manifest
from wasmcore._backends import cache

# two plugins and two cores that differ in what they compute
PLUGIN_A = b'(module (func (export "f") (result i32) i32.const 1))'
PLUGIN_B = b'(module (func (export "f") (result i32) i32.const 666))'
CORE_A = module_with(toy_manifest())  # div(7, 2) == 3
CORE_B = module_with(toy_manifest(), TOY.replace("i32.div_u", "i32.sub"))  # div(7, 2) == 5


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cache directory of the test's own, and no module of it loaded yet."""
    d = tmp_path / "cache"
    monkeypatch.setenv("WASMCORE_CACHE_DIR", str(d))
    for name in ("WASMCORE_CACHE_KEY", "WASMCORE_CACHE_KEY_FILE", cache.SHARED):
        monkeypatch.delenv(name, raising=False)
    forget()
    yield d
    forget()


def forget() -> None:
    """As a new process would: nothing deserialized in this one."""
    with cache._MODULES_LOCK:
        cache._MODULES.clear()


def entries(d: Path) -> set[Path]:
    return set(d.glob("*.cwasm"))


def entry_of(d: Path, make: Callable[[], object]) -> Path:
    """The entry ``make()`` writes (it must write one)."""
    before = entries(d)
    make()
    (new,) = entries(d) - before
    return new


def plugin_f(source: bytes) -> int:
    return int(wasmcore.Plugin(source).call("f"))


def core_div(tmp_path: Path, wasm: bytes, sub: str) -> int:
    (tmp_path / sub).mkdir(exist_ok=True)
    return int(load_bytes(tmp_path / sub, wasm).div(7, 2))


def silently(fn: Callable[[], object]) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn()


def refused(entry: Path, fn: Callable[[], object]) -> object:
    """``fn()``, which must warn once that ``entry`` failed its check."""
    forget()
    with pytest.warns(RuntimeWarning, match="failed its check") as caught:
        out = fn()
    assert len(caught) == 1 and str(entry) in str(caught[0].message)
    return out


# -- the swap --------------------------------------------------------------------------

def test_a_swapped_plugin_entry_is_refused_and_recompiled(cache_dir: Path) -> None:
    a = entry_of(cache_dir, lambda: plugin_f(PLUGIN_A))
    b = entry_of(cache_dir, lambda: plugin_f(PLUGIN_B))
    shutil.copyfile(b, a)  # B's machine code under A's key
    assert refused(a, lambda: plugin_f(PLUGIN_A)) == 1
    forget()  # replaced: the next process loads it, silently
    assert silently(lambda: plugin_f(PLUGIN_A)) == 1
    assert a.read_bytes() != b.read_bytes()
    assert silently(lambda: plugin_f(PLUGIN_B)) == 666


def test_a_swapped_core_entry_is_refused_and_recompiled(cache_dir: Path,
                                                        tmp_path: Path) -> None:
    a = entry_of(cache_dir, lambda: core_div(tmp_path, CORE_A, "a"))
    b = entry_of(cache_dir, lambda: core_div(tmp_path, CORE_B, "b"))
    shutil.copyfile(b, a)
    assert refused(a, lambda: core_div(tmp_path, CORE_A, "a")) == 3
    forget()
    assert silently(lambda: core_div(tmp_path, CORE_A, "a")) == 3
    assert silently(lambda: core_div(tmp_path, CORE_B, "b")) == 5


def test_a_cached_entry_is_used(cache_dir: Path) -> None:
    """What the checks let through is used: the second process loads, it compiles nothing."""
    a = entry_of(cache_dir, lambda: plugin_f(PLUGIN_A))
    stamp = a.stat().st_mtime_ns
    forget()
    assert silently(lambda: plugin_f(PLUGIN_A)) == 1
    assert a.stat().st_mtime_ns == stamp and entries(cache_dir) == {a}


# -- damaged entries ---------------------------------------------------------------------------

def _truncate(data: bytes) -> bytes:
    return data[:len(data) // 2]


def _flip(at: Callable[[bytes], int]) -> Callable[[bytes], bytes]:
    def flip(data: bytes) -> bytes:
        i = at(data)
        return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]
    return flip


DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "empty": lambda data: b"",
    "garbage": lambda data: b"garbage",
    "truncated": _truncate,
    "header only": lambda data: data[:len(cache.MAGIC) + cache.MAC_SIZE],
    "magic flipped": _flip(lambda data: 3),
    "mac flipped": _flip(lambda data: len(cache.MAGIC) + 5),
    "code flipped": _flip(lambda data: len(data) // 2),
    "last byte flipped": _flip(lambda data: len(data) - 1),
    "a byte more": lambda data: data + b"\0",
    "unauthenticated (an old wasmcore's entry)":
        lambda data: data[len(cache.MAGIC) + cache.MAC_SIZE:],
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_entry_is_refused_and_replaced(cache_dir: Path, damage: str) -> None:
    a = entry_of(cache_dir, lambda: plugin_f(PLUGIN_A))
    good = a.read_bytes()
    a.write_bytes(DAMAGE[damage](good))
    assert refused(a, lambda: plugin_f(PLUGIN_A)) == 1
    forget()
    assert silently(lambda: plugin_f(PLUGIN_A)) == 1


def test_a_damaged_entry_never_crashes_a_process(cache_dir: Path) -> None:
    """Every damage, each in a fresh process (a crash would be a red test, not a dead run)."""
    a = entry_of(cache_dir, lambda: plugin_f(PLUGIN_A))
    good = a.read_bytes()
    script = textwrap.dedent(f"""
        import sys, warnings, wasmcore
        warnings.simplefilter("ignore")
        print(wasmcore.Plugin({PLUGIN_A!r}).call("f"))
    """)
    for name, damage in DAMAGE.items():
        a.write_bytes(damage(good))
        r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=120, check=False)
        assert (r.returncode, r.stdout) == (0, "1\n"), (name, r.stderr)


# -- who wrote it, and where ---------------------------------------------------------------------

def test_the_cache_directory_and_its_key_are_private(cache_dir: Path) -> None:
    plugin_f(PLUGIN_A)
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    key = cache_dir / "key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == cache.KEY_SIZE
    (entry,) = entries(cache_dir)
    assert stat.S_IMODE(entry.stat().st_mode) & 0o077 == 0


def test_an_entry_of_another_key_is_refused(cache_dir: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Another user's wasmcore (another secret) writing the same directory."""
    monkeypatch.setenv("WASMCORE_CACHE_KEY", "one cluster's secret, 32 chars.")
    a = entry_of(cache_dir, lambda: plugin_f(PLUGIN_A))
    monkeypatch.setenv("WASMCORE_CACHE_KEY", "another secret, also long enough")
    assert refused(a, lambda: plugin_f(PLUGIN_A)) == 1
    monkeypatch.setenv("WASMCORE_CACHE_KEY", "one cluster's secret, 32 chars.")
    assert refused(a, lambda: plugin_f(PLUGIN_A)) == 1  # (replaced under the other one)
    forget()
    assert silently(lambda: plugin_f(PLUGIN_A)) == 1


def _not_trusted(fn: Callable[[], object], what: str) -> object:
    forget()
    with pytest.warns(RuntimeWarning, match=f"compile cache is not used .*{what}") as caught:
        out = fn()
    assert len(caught) == 1
    return out


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o722])
def test_a_directory_others_can_write_is_not_trusted(cache_dir: Path, mode: int) -> None:
    a = entry_of(cache_dir, lambda: plugin_f(PLUGIN_A))
    cache_dir.chmod(mode)
    planted = a.read_bytes()
    assert _not_trusted(lambda: plugin_f(PLUGIN_A), "its group or others may write it") == 1
    assert a.read_bytes() == planted  # neither read nor written
    cache_dir.chmod(0o755)  # others may read it: that is fine
    forget()
    assert silently(lambda: plugin_f(PLUGIN_A)) == 1


def test_an_entry_others_can_write_is_not_trusted(cache_dir: Path) -> None:
    a = entry_of(cache_dir, lambda: plugin_f(PLUGIN_A))
    a.chmod(0o666)
    assert _not_trusted(lambda: plugin_f(PLUGIN_A), "its group or others may write it") == 1


def _chown_or_skip(path: Path, uid: int) -> None:
    try:
        os.chown(path, uid, -1)
    except PermissionError:
        pytest.skip("this user cannot give a file away (test_owner_check covers the check)")


OTHER_UID = 54321


def test_an_entry_planted_by_another_uid_is_not_trusted(cache_dir: Path) -> None:
    a = entry_of(cache_dir, lambda: plugin_f(PLUGIN_A))
    _chown_or_skip(a, OTHER_UID)
    assert _not_trusted(lambda: plugin_f(PLUGIN_A), f"belongs to uid {OTHER_UID}") == 1


def test_a_directory_of_another_uid_is_not_trusted(cache_dir: Path) -> None:
    entry_of(cache_dir, lambda: plugin_f(PLUGIN_A))
    _chown_or_skip(cache_dir, OTHER_UID)
    assert _not_trusted(lambda: plugin_f(PLUGIN_A), f"belongs to uid {OTHER_UID}") == 1


def test_owner_check() -> None:
    """The owner test itself, on a stat result of another uid (for runs that cannot chown)."""
    st = os.stat_result((0o40700, 0, 0, 0, os.getuid() + 1, 0, 0, 0, 0, 0))
    with pytest.raises(cache.Untrusted, match=f"belongs to uid {os.getuid() + 1}"):
        cache._private(st, "it")
    cache._private(os.stat_result((0o40755, 0, 0, 0, os.getuid(), 0, 0, 0, 0, 0)), "it")


def test_a_key_others_can_read_is_not_used(cache_dir: Path) -> None:
    entry_of(cache_dir, lambda: plugin_f(PLUGIN_A))
    (cache_dir / "key").chmod(0o644)
    assert _not_trusted(lambda: plugin_f(PLUGIN_A), "others may read or write it") == 1


def test_a_shared_directory_is_used_only_when_asked_with_an_outside_secret(
        cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cluster's volume, writable by its group: WASMCORE_CACHE_SHARED=1 and the secret from
    the environment (never from the shared directory, where others could replace it)."""
    cache_dir.mkdir(mode=0o700)
    cache_dir.chmod(0o770)
    monkeypatch.setenv(cache.SHARED, "1")
    assert _not_trusted(lambda: plugin_f(PLUGIN_A), "needs a secret from outside") == 1
    assert entries(cache_dir) == set()
    monkeypatch.setenv("WASMCORE_CACHE_KEY", "the cluster's secret, at least 16")
    a = entry_of(cache_dir, lambda: silently(lambda: plugin_f(PLUGIN_A)))
    forget()
    assert silently(lambda: plugin_f(PLUGIN_A)) == 1
    b = entry_of(cache_dir, lambda: plugin_f(PLUGIN_B))
    shutil.copyfile(b, a)
    assert refused(a, lambda: plugin_f(PLUGIN_A)) == 1


def test_a_key_file(cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "cluster.key"
    key.write_text("a secret from a file, long enough\n")
    key.chmod(0o600)
    monkeypatch.setenv("WASMCORE_CACHE_KEY_FILE", str(key))
    a = entry_of(cache_dir, lambda: plugin_f(PLUGIN_A))
    assert not (cache_dir / "key").exists()
    forget()
    assert silently(lambda: plugin_f(PLUGIN_A)) == 1
    monkeypatch.setenv("WASMCORE_CACHE_KEY", "the same bytes? no: another secret")
    assert refused(a, lambda: plugin_f(PLUGIN_A)) == 1


# -- concurrent writers ----------------------------------------------------------------------

def test_concurrent_writers_never_give_the_wrong_code(cache_dir: Path) -> None:
    """Processes compiling A and B into one cold cache at once, threads in each, while a
    thread keeps swapping the entries: every call answers its own module's value."""
    script = textwrap.dedent(f"""
        import threading, warnings, wasmcore
        warnings.simplefilter("ignore")
        out = []
        def run(src, want):
            for _ in range(15):
                got = wasmcore.Plugin(src).call("f")
                out.append(got == want)
        ts = [threading.Thread(target=run, args=a) for a in
              [({PLUGIN_A!r}, 1), ({PLUGIN_B!r}, 666)] * 2]
        for t in ts: t.start()
        for t in ts: t.join()
        print(all(out), len(out))
    """)
    children = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(3)]
    stop = threading.Event()

    def swapper() -> None:  # another writer of the directory: copies one entry over another
        while not stop.is_set():
            found = sorted(entries(cache_dir))
            if len(found) == 2:
                try:
                    shutil.copyfile(found[0], found[1])
                except OSError:
                    pass
            stop.wait(0.002)

    t = threading.Thread(target=swapper)
    t.start()
    try:
        results = [c.communicate(timeout=300) for c in children]
    finally:
        stop.set()
        t.join()
        for c in children:
            c.kill()
            c.wait()
    for c, (out, err) in zip(children, results, strict=True):
        assert (c.returncode, out) == (0, "True 60\n"), err


# -- its size bound ---------------------------------------------------------------------------

def plugin_returning(k: int) -> bytes:
    return f'(module (func (export "f") (result i32) i32.const {k}))'.encode()


def test_the_least_recently_used_entries_go_past_the_bound(
        cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = [entry_of(cache_dir, lambda k=k: plugin_f(plugin_returning(k))) for k in range(4)]
    size = max(p.stat().st_size for p in made)
    # the first is used again (a new process loads it: its last use moves)
    for k, path in enumerate(made):
        os.utime(path, (1000 + k, path.stat().st_mtime))
    forget()
    assert plugin_f(plugin_returning(0)) == 0
    assert entries(cache_dir) == set(made)
    # room for three and a half entries: the next write evicts the least recently used (the
    # second and the third)
    monkeypatch.setenv(cache.MAX_BYTES, str(3 * size + size // 2))
    fifth = entry_of(cache_dir, lambda: plugin_f(plugin_returning(4)))
    assert entries(cache_dir) == {made[0], made[3], fifth}
    # an evicted module compiles again, and runs
    forget()
    assert [plugin_f(plugin_returning(k)) for k in range(5)] == list(range(5))
    # a bound smaller than one entry keeps just the one written
    monkeypatch.setenv(cache.MAX_BYTES, "1")
    last = entry_of(cache_dir, lambda: plugin_f(plugin_returning(5)))
    assert entries(cache_dir) == {last}


def test_a_bad_bound_warns_once_and_keeps_the_default(cache_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.MAX_BYTES, "lots")
    monkeypatch.setattr(cache, "_WARNED", set(), raising=False)
    with pytest.warns(RuntimeWarning, match="not a byte count"):
        assert cache.max_bytes() == cache.DEFAULT_MAX


def test_the_cache_command_lists_adds_and_clears(cache_dir: Path) -> None:
    def cli(*args: str) -> str:
        r = subprocess.run([sys.executable, "-m", "wasmcore", "cache", *args],
                           capture_output=True, text=True, check=False, env=os.environ)
        assert r.returncode == 0, r.stderr
        return r.stdout

    program = str(Path(__file__).resolve().parents[2] / "examples" / "plugins"
                  / "wasi_command.wat")
    assert "0 entries" in cli("list")
    assert "compiled" in cli("add", program)
    assert "compiled" in cli("add", "--metered", program)  # (another engine: another entry)
    assert len(entries(cache_dir)) == 2
    listing = cli()
    assert "2 entries" in listing and all(p.name[:16] in listing for p in entries(cache_dir))
    forget()
    before = entries(cache_dir)
    wasmcore.Program(program).run()  # runs from the entry the command made
    assert entries(cache_dir) == before
    assert "removed 2 entries" in cli("clear")
    assert entries(cache_dir) == set() and (cache_dir / "key").exists()


def test_a_long_compile_says_so_on_stderr(cache_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                         capfd: pytest.CaptureFixture[str]) -> None:
    from wasmcore._backends import wasm

    monkeypatch.setattr(wasm._Progress, "AFTER", 0.0)
    source = plugin_returning(77)
    wasmcore.Plugin(source)
    err = capfd.readouterr().err
    assert "wasmcore: compiling a 0.0 MB module (sha256 " in err and "compiled in" in err
    forget()
    wasmcore.Plugin(source)  # from the cache: nothing compiles, nothing is said
    assert capfd.readouterr().err == ""
