//! The wasmcore post-processor.
//!
//! A module built with `wasmcore-abi` carries one descriptor record per `#[export]` in a
//! custom section. [`postprocess`] checks those descriptors against the module's real
//! exports, writes the normalized manifest section that hosts read (`wasmcore.abi`) and
//! strips what a host does not need (debug, `name` and `producers` sections, the linker's
//! `__data_end` / `__heap_base` globals). See [`mod@postprocess`] for the details and
//! [`Error`] for every way a module is refused.

pub mod postprocess;

pub use postprocess::{Error, custom_sections, postprocess, read_manifest};
