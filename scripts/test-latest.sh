#!/usr/bin/env bash
# `just test-latest [VERSION]`: the runtime's wheel and wasmcore-speedups in a fresh venv
# (target/latest/venv) with the newest wasmtime-py the registry serves (or VERSION), installed
# past wasmcore's upper bound if it is newer, then the core and plugin test modules on it. On
# a release wasmcore is not verified against, they pass because every feature falls back to
# wasmtime-py's public API (test_internals.py asserts that it did), not by luck. The pinned
# run (`just test`'s own venv) is untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=target/latest/venv
rm -rf "$venv"
python3 -m venv "$venv"
py="$root/$venv/bin/python"
"$py" -m pip install --quiet --upgrade pip
wheel=$(ls target/wheels/wasmcore-*-py3-none-any.whl)
# the runtime with its dependencies (a verified wasmtime-py), the compiled module, the tests'
"$py" -m pip install --quiet --find-links target/wheels "$wheel[speedups,test]"
# then wasmtime-py itself: the newest (or the one asked for), whatever wasmcore's bound says
"$py" -m pip install --quiet --upgrade --no-deps "wasmtime${1:+==$1}"
version=$("$py" -c "import importlib.metadata as m; print(m.version('wasmtime'))")
echo "test-latest: wasmtime-py $version"
"$py" -m wasmcore info target/dist/wasmcore.wasm | sed -n '/^runtime:/,$p'
# (test_internals.py's runs of these same modules under simulated changes stay in `just test`)
"$py" -m pytest -p no:cacheprovider -q -k "not suites_pass" tests/python/test_internals.py \
    tests/python/test_kernels.py tests/python/test_plugin.py tests/python/test_host_callbacks.py \
    tests/python/test_raw_exports.py tests/python/test_cancel.py tests/python/test_spec.py \
    tests/python/test_component.py
