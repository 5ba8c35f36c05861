#!/usr/bin/env bash
# Builds the optional compiled module wasmcore-speedups (wasm-host-python/speedups: PyO3, built
# with maturin; an abi3 wheel for this platform) into target/wheels/ and installs it into the
# project venv, where it is the default call path (docs/performance.md). Cargo's target
# directory is target/speedups, so an unchanged crate rebuilds in a second.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -f target/wheels/wasmcore_speedups-*.whl
CARGO_TARGET_DIR="$PWD/target/speedups" .venv/bin/python -m maturin build --release \
    --manifest-path wasm-host-python/speedups/Cargo.toml --interpreter .venv/bin/python \
    --out target/wheels
.venv/bin/python -m pip install --quiet --force-reinstall --no-deps \
    target/wheels/wasmcore_speedups-*.whl
