"""The ABI contract on the Python side, independent of any engine: the manifest (what a module
exports and with which logical types), argument conversion and the generated callables, and
exported Rust types as Python classes."""
