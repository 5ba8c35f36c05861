# wasmcore — `just --list` explains each recipe. `just` itself: `pip install rust-just`.

set shell := ["bash", "-euo", "pipefail", "-c"]

py := ".venv/bin/python"

# List the recipes
default:
    @just --list

# Install what the project needs (idempotent): the wasm toolchain (rustup target, or Debian's build-std route) and the Python venv
setup:
    scripts/setup.sh

# Build target/dist/wasmcore.wasm (post-processed, with its manifest) and the native target/release/libwasmcore.so
build: setup
    cargo xtask dist

# Run every test: Rust (units, xtask, dist wasm vs native under wasmtime), then pytest (all backends, the wheel)
test: build wheel
    cargo test --workspace
    {{py}} -m pytest

# Write the py3-none-any wheel (carrying the dist .wasm) to target/wheels/
wheel: build
    scripts/wheel.sh

# The classic experiment: fib(32) and sum of 10^7 float64 on python / wasm / native, and the per-call cost of fib(1)
demo: build
    {{py}} scripts/demo.py

# The demo's measurements with more repetitions (ratios side by side in one run)
bench: build
    {{py}} scripts/demo.py --repeat 15

# Criterion benches (Rust, engine only): every kernel family native vs the dist wasm with and without simd128 under the wasmtime crate, then the wasm÷native table (args go to criterion, e.g. `just bench-rs sum`)
bench-rs *ARGS: build
    t="${CARGO_TARGET_DIR:-target}"; \
    RUSTFLAGS="-C target-feature=-simd128" CARGO_TARGET_DIR="$t/nosimd" cargo build --release --target wasm32-unknown-unknown -p wasmcore --lib; \
    cargo xtask postprocess "$t/nosimd/wasm32-unknown-unknown/release/wasmcore.wasm" "$t/dist/wasmcore-nosimd.wasm" --module wasmcore
    cargo bench --benches -- {{ARGS}}
    {{py}} scripts/bench_ratios.py

# Formatting and lints: cargo fmt, clippy, ruff
lint: setup
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
    {{py}} -m ruff check wasm-host-python tests/python scripts
