//! Build tooling for wasmcore (`cargo xtask ...`).
//!
//! The library part holds the wasm post-processor so that the CLI (`src/main.rs`) and the
//! tests share it; see [`mod@postprocess`].

pub mod postprocess;

pub use postprocess::{Error, custom_sections, postprocess, read_manifest};
