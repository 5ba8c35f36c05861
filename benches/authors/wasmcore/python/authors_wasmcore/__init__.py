"""The ``authors`` benchmark's functions, compiled to WebAssembly by ``wasmcore build``."""

from ._lib import *  # noqa: F403 -- every #[export] of src/lib.rs
