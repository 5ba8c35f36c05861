#!/usr/bin/env bash
# Builds the py3-none-any wheel of the runtime into target/wheels/. Besides the Python package
# it carries what the author workflow needs without this repository (all built, never
# committed; copied in for the build and removed after):
#  * wasmcore/wasmcore.wasm           the core module (target/dist/wasmcore.wasm);
#  * wasmcore/build/wasmcore-post.wasm the post-processor, compiled to wasm;
#  * wasmcore/build/crates/<name>/     the packaged sources of wasmcore-abi, -macros, -schema
#                                      (`cargo xtask crates`), patched into authors' builds.
set -euo pipefail
cd "$(dirname "$0")/.."
pkg=wasm-host-python/src/wasmcore
for f in target/dist/wasmcore.wasm target/dist/wasmcore-post.wasm; do
    [ -f "$f" ] || { echo "wheel: $f is missing: run 'just build' first" >&2; exit 1; }
done
for c in wasmcore-abi wasmcore-macros wasmcore-schema; do
    [ -f "target/crates/$c/Cargo.toml" ] || { echo "wheel: target/crates/$c is missing: run 'cargo xtask crates' (just build does)" >&2; exit 1; }
done
cleanup() { rm -rf "$pkg/wasmcore.wasm" "$pkg/build/wasmcore-post.wasm" "$pkg/build/crates"; }
trap cleanup EXIT   # a checkout uses target/; never ship a stale copy
cleanup
cp target/dist/wasmcore.wasm "$pkg/wasmcore.wasm"
cp target/dist/wasmcore-post.wasm "$pkg/build/wasmcore-post.wasm"
mkdir -p "$pkg/build/crates"
for c in wasmcore-abi wasmcore-macros wasmcore-schema; do
    cp -r "target/crates/$c" "$pkg/build/crates/$c"
done
rm -f target/wheels/wasmcore-*.whl
.venv/bin/python -m pip wheel --quiet --no-deps --no-build-isolation -w target/wheels ./wasm-host-python
ls target/wheels/wasmcore-*-py3-none-any.whl
