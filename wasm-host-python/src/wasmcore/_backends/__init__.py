"""The backends behind :func:`wasmcore.load`: ``wasm`` (wasmtime, the fast call path),
``native`` (the cdylib through ctypes) and ``python`` (the reference kernels). Each builds its
callables from the manifest through :mod:`wasmcore._abi.convert`."""
