//! The wasmcore post-processor.
//!
//! A module built with [`wasmcore-abi`](https://docs.rs/wasmcore-abi) carries one descriptor
//! record per `#[export]` in a custom section. [`postprocess`] checks those descriptors
//! against the module's real exports, writes the normalized manifest section that hosts read
//! (`wasmcore.abi`) and strips what a host does not need (debug, `name` and `producers`
//! sections, the linker's `__data_end` / `__heap_base` globals). See [`mod@postprocess`] for
//! the details and [`Error`] for every way a module is refused.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let raw = std::fs::read("target/wasm32-unknown-unknown/release/my_plugin.wasm")?;
//! let (processed, manifest) = wasmcore_post::postprocess(&raw, "my_plugin", Some("0.1.0"))?;
//! std::fs::write("my_plugin.wasm", processed)?;
//! println!("{manifest}");
//! # Ok(())
//! # }
//! ```
//!
//! Built for `wasm32-unknown-unknown`, this crate is itself a wasmcore module with one
//! export, `process` (see `src/wasm.rs`): the Python tool runs the post-processor under
//! wasmtime, so an author's build needs no Rust crate beyond their own.

pub mod postprocess;

pub use postprocess::{Error, custom_sections, postprocess, read_manifest};

#[cfg(target_family = "wasm")]
mod wasm;
