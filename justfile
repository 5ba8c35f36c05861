# wasmcore — `just --list` explains each recipe. `just` itself: `pip install rust-just`.

set shell := ["bash", "-euo", "pipefail", "-c"]

py := ".venv/bin/python"

# List the recipes
default:
    @just --list

# Install what the project needs (idempotent): the wasm toolchain (rustup target, or Debian's build-std route) and the Python venv
setup:
    scripts/setup.sh

# Build target/dist/wasmcore.wasm (post-processed, with its manifest), the native target/release/libwasmcore.so and the optional compiled module wasmcore-speedups (installed into the venv)
build: setup speedups
    cargo xtask dist
    {{py}} -m wasmcore.build.stubs target/dist/wasmcore.wasm --kind core -o wasm-host-python/src/wasmcore/_kernels.pyi

# Run every test: Rust (units, xtask, dist wasm vs native under wasmtime), pytest (all backends, the wheel, the author workflow, the examples) once per call path (the default, speedups; ctypes, the default without wasmcore-speedups, here with ctypes host callbacks too; cffi; wasmtime-py's public API for everything, as test-fallback does), then the core and plugin tests on the newest wasmtime-py (test-latest), the browser test and the Pyodide test
test: build wheel examples components && test-latest test-web test-pyodide
    cargo test --workspace
    {{py}} -m pytest
    WASMCORE_FAST_PATH=ctypes {{py}} -m pytest
    WASMCORE_FAST_PATH=cffi {{py}} -m pytest
    WASMCORE_FAST_PATH=0 {{py}} -m pytest

# The Python tests with wasmtime-py's internals off (WASMCORE_FAST_PATH=0): its public API for every feature, as on a wasmtime-py wasmcore is not verified against
test-fallback: build wheel examples
    WASMCORE_FAST_PATH=0 {{py}} -m pytest

# The core and plugin tests in a fresh venv with the runtime's wheel, wasmcore-speedups and the newest wasmtime-py the registry serves, past the requirement's upper bound too (or `just test-latest 51.0.0`); the pinned venv is untouched
test-latest *VERSION: wheel examples
    scripts/test-latest.sh {{VERSION}}

# Build the optional compiled module wasmcore-speedups (wasm-host-python/speedups, PyO3 + maturin) into target/wheels/ and install it into the venv, where it is the default call path
speedups: setup
    scripts/speedups.sh

# Install what the browser build and test need (idempotent): wasm-bindgen-cli at the crate's pinned version, Debian's chromium, playwright-core (web/tests)
setup-web: setup
    scripts/setup-web.sh

# Build the JS package web/pkg/ (wasm-bindgen --target web) from the core's `web` feature
web: setup-web
    cargo xtask web

# Serve the demo page (web/) on http://127.0.0.1:8000; Ctrl-C stops it
serve-web: web
    {{py}} -m http.server 8000 --bind 127.0.0.1 --directory web

# The demo page in headless Chromium: no console errors, results equal to the Python host's and the oracles', screenshot target/web/page.png; and Pyodide on a page's main thread there: the runtime's and the similarity wheel, every kernel against the CPython host, the main thread's size limit and prepare()
test-web: build web wheel examples setup-pyodide
    {{py}} -m pytest tests/web

# Install what the Pyodide test needs (idempotent): the pyodide npm package pinned in tests/pyodide/package-lock.json, micropip's wheel from PyPI (target/pyodide/cache)
setup-pyodide: setup
    scripts/setup-pyodide.sh

# The runtime's wheel and the similarity example's in Pyodide under Node, offline and without numpy: every kernel, class, plugin fixture and the example against the CPython host, and the numbers (wasmcore vs pure Python in Pyodide) -> target/pyodide/report.json
test-pyodide: setup-pyodide wheel examples
    {{py}} tests/pyodide/run.py

# Write the runtime's py3-none-any wheel to target/wheels/: the package, the dist .wasm, and what the author workflow needs (the post-processor as wasm, the packaged wasmcore crates)
wheel: build crates
    scripts/wheel.sh

# Build the example author projects with the author workflow (`wasmcore build`): their wheels and sdists into target/wheels/, textstats' module also to target/dist/plugins/ (the target directory target/authors is shared with the author tests)
examples: build
    CARGO_TARGET_DIR="{{justfile_directory()}}/target/authors" .venv/bin/wasmcore build examples/similarity --out target/wheels
    CARGO_TARGET_DIR="{{justfile_directory()}}/target/authors" .venv/bin/wasmcore build examples/plugins/textstats --out target/wheels --wasm target/dist/plugins/textstats.wasm

# Build the example component plugin's two guests (examples/component-plugin: one WIT world, in Rust with wit-bindgen and in Python with componentize-py) into target/components/plugin-{rust,python}.wasm, skipping an unchanged one
components: setup
    scripts/components.sh

# Package the publishable crates (schema, macros, abi, post: `cargo package`, verified) and unpack them into target/crates/<name>/, usable through [patch.crates-io]
crates:
    cargo xtask crates

# The classic experiment: fib(32) and sum of 10^7 float64 on python / wasm / native, and the per-call cost of fib(1)
demo: build
    {{py}} scripts/demo.py

# Benchmark every backend side by side (python, numpy/hashlib/zlib, wasm copy-in and zero-copy, native; per-call, load, threads), ratios vs targets -> target/bench/report.{json,md,png}; `just bench --quick` for a short pass
bench *ARGS: build
    {{py}} -m wasmcore bench {{ARGS}}

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
    cargo fmt --check --manifest-path wasm-host-python/speedups/Cargo.toml
    CARGO_TARGET_DIR=target/speedups cargo clippy --manifest-path wasm-host-python/speedups/Cargo.toml -- -D warnings
    cargo clippy --target wasm32-unknown-unknown --features web --lib --target-dir target/web/build -- -D warnings
    {{py}} -m ruff check wasm-host-python tests/python tests/web tests/pyodide scripts
