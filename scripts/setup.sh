#!/usr/bin/env bash
# Installs what the project needs; idempotent (every other recipe runs it first).
#  * wasm toolchain: rustup's wasm32-unknown-unknown target, or, where that cannot be had,
#    Debian's rust-web toolchain (rustc-web, cargo-web, rust-web-src, lld) for -Zbuild-std;
#    `cargo xtask dist` detects which one is present.
#  * the project venv .venv with the Python dependencies and the host package (editable).
set -euo pipefail
cd "$(dirname "$0")/.."

sysroot=$(rustc --print sysroot)
if [ -d "$sysroot/lib/rustlib/wasm32-unknown-unknown" ]; then
    : # rustup target already installed
elif command -v rustup >/dev/null && rustup target add wasm32-unknown-unknown; then
    echo "setup: installed the wasm32-unknown-unknown target with rustup"
elif [ -x /usr/lib/rust-web/bin/rustc ] || dpkg -L rustc-web 2>/dev/null | grep -q 'bin/rustc$'; then
    echo "setup: using Debian's rust-web toolchain (build-std route)"
else
    echo "setup: rustup cannot provide wasm32-unknown-unknown; installing Debian's rust-web toolchain"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rustc-web cargo-web rust-web-src \
        rust-web-llvm lld-22
fi

stamp=.venv/.wasmcore-setup
# the editable install records the package version (the Cargo workspace's) when it is made
want=$( (cat requirements-dev.txt wasm-host-python/pyproject.toml
        sed -n '/^\[workspace\.package\]/,/^\[/p' Cargo.toml) | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -r requirements-dev.txt
    .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e wasm-host-python
    echo "$want" > "$stamp"
    echo "setup: venv ready (.venv)"
fi
