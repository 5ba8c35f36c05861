"""The author toolchain: wasmcore new/build/develop, the PEP 517 backend, stubs."""
