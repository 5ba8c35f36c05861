#!/usr/bin/env bash
# Installs what the Pyodide test needs; idempotent and fast when all is there.
#  * the `pyodide` npm package at the version pinned in tests/pyodide/package-lock.json
#    (`npm ci`): Pyodide itself, which runs offline under Node (>= 20);
#  * micropip, Pyodide's installer, which that package does not carry: its pure wheel from
#    PyPI, at the version Pyodide's own lock file names, into target/pyodide/cache/.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/npm-ci.sh setup-pyodide tests/pyodide

version=$(.venv/bin/python -c 'import json, sys
print(json.load(open(sys.argv[1]))["packages"]["micropip"]["version"])' \
    tests/pyodide/node_modules/pyodide/pyodide-lock.json)
cache=target/pyodide/cache
if [ ! -f "$cache/micropip-$version-py3-none-any.whl" ]; then
    .venv/bin/python -m pip download --quiet --no-deps --only-binary=:all: \
        --python-version 3.14 -d "$cache" "micropip==$version"
    echo "setup-pyodide: micropip $version downloaded ($cache)"
fi
