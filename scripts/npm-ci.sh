#!/usr/bin/env bash
# `scripts/npm-ci.sh WHO DIR [VAR=VALUE...]`: the node packages pinned in DIR/package-lock.json,
# installed with `npm ci` (with the given environment) unless that lock file was installed
# already (a stamp of its sha256 in DIR/node_modules). WHO names the caller in messages.
set -euo pipefail
who=$1 dir=$2
shift 2
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "$who: node (>= 20) and npm are needed on PATH" >&2
    exit 1
fi
stamp=$dir/node_modules/.wasmcore-setup
if [ "$(cat "$stamp" 2>/dev/null)" != "$(sha256sum < "$dir/package-lock.json")" ]; then
    (cd "$dir" && env "$@" npm ci --no-audit --no-fund --loglevel=error)
    sha256sum < "$dir/package-lock.json" > "$stamp"
    echo "$who: node packages installed ($dir/node_modules)"
fi
