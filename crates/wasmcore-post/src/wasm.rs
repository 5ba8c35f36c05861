//! The post-processor as a wasm export (built for `target_family = "wasm"` only).
//!
//! `cargo xtask dist` builds this crate for `wasm32-unknown-unknown` and post-processes it
//! like any other module, so `process` is an ordinary wasmcore export with a manifest: the
//! Python host loads it with `wasmcore.load(path=...)` and calls `process(wasm, module,
//! version)`; a refused module is a `ValueError` carrying the post-processor's message.

use wasmcore_abi::{Error, export};

/// Checks a module's #[export] descriptors against its exports and returns the module with
/// its `wasmcore.abi` manifest (debug and linker sections stripped). `module` is the
/// manifest's module name; `version` its version ("" for none).
#[export]
pub fn process(wasm: &[u8], module: &str, version: &str) -> Result<Vec<u8>, Error> {
    let version = (!version.is_empty()).then_some(version);
    crate::postprocess(wasm, module, version)
        .map(|(out, _manifest)| out)
        .map_err(Error::invalid)
}
