//! wasmcore — compute kernels for Python, written once in safe Rust.
//!
//! Each `#[export]` function is a plain Rust function (call it from Rust as usual) and a
//! C-ABI export with a descriptor. The crate builds to:
//!
//! * `wasm32-unknown-unknown` → post-processed by `cargo xtask dist` into
//!   `target/dist/wasmcore.wasm` (the portable artefact the Python package ships);
//! * a native cdylib `target/release/libwasmcore.so` (loaded through ctypes, for comparison);
//! * with the `web` feature, a wasm-bindgen module for JavaScript (`cargo xtask web` writes
//!   `web/pkg/`): [`web`] adapts the same kernel functions to typed arrays and JS exceptions.
//!
//! Kernels are grouped by area; the exact semantics of each are in `KERNELS.md` of the
//! design documents, and the Python reference backend mirrors them.

#![deny(unsafe_code)]

pub mod bytes;
pub mod linalg;
pub mod numeric;
pub mod sort;
pub mod special;
pub mod stats;
#[cfg(feature = "web")]
pub mod web;

pub use wasmcore_abi::{Error, Matrix, MatrixRef};
