"""Shared fixtures: the three backends, loaded once per session."""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

# Compiled-module cache for the test session: never the user's own cache.
os.environ.setdefault("WASMCORE_CACHE_DIR", tempfile.mkdtemp(prefix="wasmcore-test-cache-"))

import wasmcore

BACKENDS = ("wasm", "native", "python")


@pytest.fixture(scope="session")
def cores() -> dict[str, wasmcore.Core]:
    return {b: wasmcore.load(b) for b in BACKENDS}


@pytest.fixture(scope="session", params=BACKENDS)
def core(request: pytest.FixtureRequest, cores: dict[str, wasmcore.Core]) -> wasmcore.Core:
    return cores[request.param]


@contextmanager
def quiet() -> Iterator[None]:
    """Oracles run without numpy's floating-point warnings (pytest turns warnings into errors)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            yield
