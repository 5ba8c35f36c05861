"""The example author projects, built with the author workflow (``just build`` runs
``wasmcore build`` on each into target/wheels) and checked against outside oracles.

* ``examples/similarity``: the crates.io crate strsim behind ``#[export]``; every distance is
  compared with rapidfuzz on random Unicode strings (hypothesis).
* ``examples/plugins/textstats``: a crate importing a host function, so its package exposes a
  sandboxed ``Plugin`` class; compared with Python's ``bytes.split`` and ``collections.Counter``.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import wasmcore
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import (
    OSA,
    DamerauLevenshtein,
    Hamming,
    Jaro,
    JaroWinkler,
    Levenshtein,
)

ROOT = Path(__file__).resolve().parents[2]
WHEELS = ROOT / "target" / "wheels"


def install(name: str, dest: Path) -> ModuleType:
    """The example's wheel from target/wheels, installed into ``dest`` and imported."""
    wheels = sorted(WHEELS.glob(f"{name}-*-py3-none-any.whl"))
    if not wheels:
        pytest.fail(f"no {name} wheel in target/wheels: run `just build` (just test does)")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(dest), str(wheels[-1])], check=True)
    sys.path.insert(0, str(dest))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(dest))


@pytest.fixture(scope="module")
def similarity(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return install("similarity", tmp_path_factory.mktemp("similarity"))


# short strings over a small alphabet (so edits and transpositions happen), and any Unicode
words = st.one_of(st.text(alphabet="abcde", max_size=12),
                  st.text(alphabet=st.characters(codec="utf-8"), max_size=30))


@settings(max_examples=300, deadline=None)
@given(a=words, b=words)
def test_distances_match_rapidfuzz(similarity: ModuleType, a: str, b: str) -> None:
    assert similarity.levenshtein(a, b) == Levenshtein.distance(a, b)
    assert similarity.osa_distance(a, b) == OSA.distance(a, b)
    assert similarity.damerau_levenshtein(a, b) == DamerauLevenshtein.distance(a, b)
    for ours, theirs in [
        (similarity.normalized_levenshtein(a, b), Levenshtein.normalized_similarity(a, b)),
        (similarity.jaro(a, b), Jaro.similarity(a, b)),
        (similarity.jaro_winkler(a, b), JaroWinkler.similarity(a, b)),
    ]:
        assert ours == pytest.approx(theirs, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_hamming_matches_rapidfuzz(similarity: ModuleType, data: st.DataObject) -> None:
    a = data.draw(words)
    b = data.draw(st.text(alphabet=st.sampled_from(sorted(set(a + "xy"))), min_size=len(a),
                          max_size=len(a)))
    assert similarity.hamming(a, b) == Hamming.distance(a, b)


def test_hamming_of_different_lengths_is_a_value_error(similarity: ModuleType) -> None:
    with pytest.raises(ValueError, match=r"hamming\(\): parameter 'b' must have the length of "
                                         r"'a' \(2 characters\), got 3"):
        similarity.hamming("ab", "abc")


def test_arguments_and_python_part(similarity: ModuleType) -> None:
    with pytest.raises(TypeError, match=r"levenshtein\(\): parameter 'a' must be a str"):
        similarity.levenshtein(b"bytes", "str")
    candidates = ["apple", "maple", "ample", "apply"]
    want = min(candidates, key=lambda c: Levenshtein.distance("aple", c))
    assert similarity.closest("aple", candidates) == want
    assert similarity.closest("x", []) is None
    assert "Levenshtein distance" in similarity.levenshtein.__doc__
    assert similarity.levenshtein.__module__ == "similarity._lib"


@pytest.fixture(scope="module")
def textstats(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return install("textstats", tmp_path_factory.mktemp("textstats"))


@settings(max_examples=200, deadline=None)
@given(text=st.binary(max_size=300) | st.text(alphabet=" \t\n\x0b\x0cab", max_size=60)
       .map(str.encode))
def test_textstats_plugin_matches_python(textstats: ModuleType, text: bytes) -> None:
    log: list[str] = []
    with textstats.open_plugin(log) as p:
        assert isinstance(p, wasmcore.Plugin)
        words = text.split()
        assert p.count_words(text) == len(words)
        assert log == [f"count_words: {len(text)} bytes, {len(words)} words"]
        assert p.count_lines(text) == text.count(b"\n") + (bool(text) and not
                                                            text.endswith(b"\n"))
        counts = Counter(text)
        assert np.array_equal(p.byte_histogram(text), [counts[b] for b in range(256)])
        mean = sum(map(len, words)) / len(words) if words else 0.0
        assert p.mean_word_length(text) == pytest.approx(mean, rel=1e-15)


def test_textstats_needs_its_host_function(textstats: ModuleType) -> None:
    with pytest.raises(wasmcore.ModuleRejected, match=r"env\.log"):
        textstats.Plugin()
    p = textstats.Plugin(host={"log": lambda ptr, n: None}, timeout=1.0)
    with pytest.raises(ValueError, match=r"longest_word\(\): parameter 'text' has no words"):
        p.longest_word("   ")
    assert p.longest_word("a bbb cc") == "bbb"
    assert textstats.Plugin.__module__ == "textstats._lib"
