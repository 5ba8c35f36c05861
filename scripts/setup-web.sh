#!/usr/bin/env bash
# Installs what the browser build and its test need; idempotent and fast when all is there.
#  * wasm-bindgen-cli at exactly the version of the `wasm-bindgen` crate in Cargo.lock
#    (the CLI and the crate must match, or the generated glue is refused);
#  * Debian's chromium (the headless browser the test drives), when /usr/bin/chromium is missing;
#  * the test driver: playwright-core from web/tests/package-lock.json (`npm ci`), without
#    playwright's own browser downloads (it drives the system chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$want" ]; then
    echo "setup-web: no wasm-bindgen in Cargo.lock" >&2
    exit 1
fi
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
    echo "setup-web: installing wasm-bindgen-cli $want (have: ${have:-none})"
    # --locked first (the CLI's own Cargo.lock); a registry mirror that lacks one of those
    # exact versions makes that fail at resolution, before compiling, so then resolve afresh.
    cargo install wasm-bindgen-cli --version "$want" --locked ||
        cargo install wasm-bindgen-cli --version "$want"
fi

if [ ! -x /usr/bin/chromium ]; then
    echo "setup-web: installing Debian's chromium"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium
fi

scripts/npm-ci.sh setup-web web/tests PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
