#![doc = include_str!("../README.md")]
//!
//! The API: [`postprocess`] (see [`mod@postprocess`] for what it checks and writes),
//! [`read_manifest`] and [`custom_sections`] to inspect a module, [`Error`] for every way a
//! module is refused. The wasm export lives in `src/wasm.rs`.

pub mod postprocess;

pub use postprocess::{Error, custom_sections, postprocess, read_manifest};

#[cfg(target_family = "wasm")]
mod wasm;
