#!/usr/bin/env bash
# Installs what the Pyodide test needs; idempotent and fast when all is there.
#  * the `pyodide` npm package at the version pinned in tests/pyodide/package-lock.json
#    (`npm ci`): Pyodide itself, which runs offline under Node (>= 20);
#  * micropip, Pyodide's installer, which that package does not carry: its pure wheel from
#    PyPI, at the version Pyodide's own lock file names, into target/pyodide/cache/.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "setup-pyodide: the Pyodide test needs node (>= 20) and npm on PATH" >&2
    exit 1
fi
lock=tests/pyodide/package-lock.json
stamp=tests/pyodide/node_modules/.wasmcore-setup
if [ "$(cat "$stamp" 2>/dev/null)" != "$(sha256sum < "$lock")" ]; then
    (cd tests/pyodide && npm ci --no-audit --no-fund --loglevel=error)
    sha256sum < "$lock" > "$stamp"
    echo "setup-pyodide: pyodide installed (tests/pyodide/node_modules)"
fi

version=$(.venv/bin/python -c 'import json, sys
print(json.load(open(sys.argv[1]))["packages"]["micropip"]["version"])' \
    tests/pyodide/node_modules/pyodide/pyodide-lock.json)
cache=target/pyodide/cache
if [ ! -f "$cache/micropip-$version-py3-none-any.whl" ]; then
    .venv/bin/python -m pip download --quiet --no-deps --only-binary=:all: \
        --python-version 3.14 -d "$cache" "micropip==$version"
    echo "setup-pyodide: micropip $version downloaded ($cache)"
fi
