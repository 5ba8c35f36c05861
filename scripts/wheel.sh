#!/usr/bin/env bash
# Builds the py3-none-any wheel carrying target/dist/wasmcore.wasm into target/wheels/.
set -euo pipefail
cd "$(dirname "$0")/.."
pkg=wasm-host-python/src/wasmcore
[ -f target/dist/wasmcore.wasm ] || { echo "wheel: run 'just build' first" >&2; exit 1; }
cp target/dist/wasmcore.wasm "$pkg/wasmcore.wasm"
trap 'rm -f "$pkg/wasmcore.wasm"' EXIT   # a checkout uses target/dist; never ship a stale copy
rm -f target/wheels/wasmcore-*.whl
.venv/bin/python -m pip wheel --quiet --no-deps --no-build-isolation -w target/wheels ./wasm-host-python
ls target/wheels/wasmcore-*-py3-none-any.whl
