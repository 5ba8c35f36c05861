//! The post-processor built to wasm against the native one.
//!
//! `cargo xtask dist` builds `wasmcore-post` for wasm32 and writes the processed module to
//! `target/dist/wasmcore-post.wasm`: the Python tool runs it instead of a native
//! post-processor. Here it runs under wasmtime: its `process` export is called through the
//! ABI (inputs copied into memory from `wasmcore_alloc`, the result read from the
//! return-buffer slot and freed, errors through the last-error accessors) on the linker's
//! output for the core and the textstats plugin, and must give the bytes that
//! `wasmcore_post::postprocess` gives natively with the same arguments; modules the native
//! post-processor refuses must be refused with the same message.
//!
//! Nothing is built here: if an artefact is missing the tests fail and say how to build it.

#![cfg(not(target_family = "wasm"))]

mod common;

use std::sync::OnceLock;

use common::{AbiInstance, Block, read_artefact, target_dir};
use wasmcore_abi::schema::{DESCRIPTOR_SECTION, STATUS_OK, STATUS_VALUE_ERROR, frame};
use wasmtime::{Module, TypedFunc};

/// The compiled `target/dist/wasmcore-post.wasm`, shared by the tests.
fn post_module() -> &'static Module {
    static MODULE: OnceLock<Module> = OnceLock::new();
    MODULE.get_or_init(|| {
        let path = target_dir().join("dist").join("wasmcore-post.wasm");
        let engine = wasmtime::Engine::default();
        Module::new(&engine, read_artefact(&path))
            .unwrap_or_else(|e| panic!("{} is not a valid module: {e:#}", path.display()))
    })
}

/// A module as the linker wrote it (`cargo xtask dist` builds them), by lib name.
fn raw_module(lib: &str) -> Vec<u8> {
    let release = target_dir().join("wasm32-unknown-unknown").join("release");
    read_artefact(&release.join(format!("{lib}.wasm")))
}

/// The linker's output for an example author project, which `just examples` builds with
/// `wasmcore build` in the target directory `target/authors`.
fn raw_example(lib: &str) -> Vec<u8> {
    let release = target_dir()
        .join("authors")
        .join("wasm32-unknown-unknown")
        .join("release");
    read_artefact(&release.join(format!("{lib}.wasm")))
}

/// What `process` gives: the processed module, or the status and message of its error.
type Processed = Result<Vec<u8>, (i32, String)>;

/// The wasm parameters of `process(wasm: bytes, module: str, version: str) -> bytes`,
/// fallible: (pointer, length) per parameter, then the pointer of the (pointer, length)
/// result slot; it returns the status.
type ProcessParams = (i32, i32, i32, i32, i32, i32, i32);

/// An instance of the post-processor module.
struct Post {
    abi: AbiInstance,
    process: TypedFunc<ProcessParams, i32>,
}

impl Post {
    fn new() -> Post {
        let mut abi = AbiInstance::new(post_module());
        Post {
            process: abi.func("process"),
            abi,
        }
    }

    fn process(&mut self, wasm: &[u8], module: &str, version: &str) -> Processed {
        let abi = &mut self.abi;
        let inputs = [wasm, module.as_bytes(), version.as_bytes()].map(|bytes| {
            abi.put(bytes.as_chunks::<1>().0, 1)
                .expect("allocate an input")
        });
        let slot = abi.alloc(8, 4).expect("allocate the result slot");
        let [w, m, v] = inputs.map(|b: Block| (b.0, b.1));
        let status = self
            .process
            .call(&mut abi.store, (w.0, w.1, m.0, m.1, v.0, v.1, slot.0))
            .expect("process does not trap");
        let result = if status == STATUS_OK {
            Ok(abi.take_owned(slot.0, 1).expect("read the owned result"))
        } else {
            Err((status, abi.last_error().expect("read the last error")))
        };
        for block in inputs.into_iter().chain([slot]) {
            abi.free(block).expect("free a block");
        }
        result
    }
}

/// The native post-processor with the same arguments (an empty version is none).
fn native(wasm: &[u8], module: &str, version: &str) -> Processed {
    let version = (!version.is_empty()).then_some(version);
    wasmcore_post::postprocess(wasm, module, version)
        .map(|(out, _manifest)| out)
        .map_err(|e| (STATUS_VALUE_ERROR, e.to_string()))
}

/// Runs `process` on `wasm` and checks it agrees with the native post-processor.
fn check_same(post: &mut Post, wasm: &[u8], module: &str, version: &str) -> Processed {
    let got = post.process(wasm, module, version);
    let want = native(wasm, module, version);
    // Compared by length first: a failure message with megabytes of bytes helps nobody.
    let summary = |r: &Processed| r.as_ref().map(Vec::len).map_err(Clone::clone);
    assert_eq!(
        summary(&got),
        summary(&want),
        "{module} {version:?}: wasm (left) vs native (right); Ok holds the output's length"
    );
    assert!(
        got == want,
        "{module} {version:?}: same length, different bytes"
    );
    got
}

/// The manifest section of a processed module, parsed.
fn manifest_of(wasm: &[u8]) -> serde_json::Value {
    let text = wasmcore_post::read_manifest(wasm)
        .expect("a well-formed module")
        .expect("a manifest section");
    serde_json::from_str(&text).expect("manifest JSON")
}

#[test]
fn the_core_is_processed_as_natively() {
    let raw = raw_module("wasmcore");
    let mut post = Post::new();
    let version = env!("CARGO_PKG_VERSION");
    let out = check_same(&mut post, &raw, "wasmcore", version).expect("the core is accepted");
    let manifest = manifest_of(&out);
    assert_eq!(manifest["module"], "wasmcore");
    assert_eq!(manifest["version"], version);
    assert!(
        out.len() < raw.len(),
        "processing strips the debug and descriptor sections"
    );
}

#[test]
fn the_textstats_plugin_is_processed_as_natively() {
    let raw = raw_example("textstats");
    let mut post = Post::new();
    let out = check_same(&mut post, &raw, "textstats", "").expect("textstats is accepted");
    let manifest = manifest_of(&out);
    assert_eq!(manifest["module"], "textstats");
    assert_eq!(manifest.get("version"), None, "no version was given");
    // The same instance again, with a version.
    let out = check_same(&mut post, &raw, "textstats", "2.0.0-beta.1").expect("accepted");
    assert_eq!(manifest_of(&out)["version"], "2.0.0-beta.1");
}

/// `fib(n: u32) -> u64`, fallible: lowers to `(i32 n, i32 out) -> (i32 status)`.
const FIB_RECORD: &str = r#"{"kind":"function","name":"fib","doc":"","params":[{"name":"n","type":"u32"}],"returns":"u64","fallible":true}"#;
const FIB_FRAMED: [u8; FIB_RECORD.len() + 4] = frame(FIB_RECORD);

/// A module exporting its memory and `funcs`, with [`FIB_RECORD`] as its only descriptor.
fn module_with_fib_descriptor(funcs: &str) -> Vec<u8> {
    let data: String = FIB_FRAMED.iter().map(|b| format!("\\{b:02x}")).collect();
    let wat = format!(
        r#"(module (memory (export "memory") 1) {funcs} (@custom "{DESCRIPTOR_SECTION}" "{data}"))"#
    );
    wat::parse_str(wat).expect("test WAT compiles")
}

#[test]
fn refused_modules_give_the_native_message() {
    let fib_ok = r#"(func (export "fib") (param i32 i32) (result i32) i32.const 0)"#;
    let cases: [(&str, Vec<u8>, &str, &[&str]); 6] = [
        (
            "signature mismatch",
            module_with_fib_descriptor(
                r#"(func (export "fib") (param i32) (result i32) i32.const 0)"#,
            ),
            "",
            &["\"fib\"", "(i32, i32) -> (i32)", "(i32) -> (i32)"],
        ),
        (
            "undescribed export",
            module_with_fib_descriptor(&format!(
                r#"{fib_ok} (func (export "extra") (result i32) i32.const 1)"#
            )),
            "",
            &["\"extra\"", "has no descriptor"],
        ),
        (
            "descriptor without export",
            module_with_fib_descriptor(""),
            "",
            &["\"fib\"", "no function export"],
        ),
        (
            "not semver",
            module_with_fib_descriptor(fib_ok),
            "1.2",
            &["\"1.2\"", "not a semver version"],
        ),
        (
            "truncated module",
            b"\0asm\x01\0\0\0\x01\xff".to_vec(),
            "",
            &["invalid wasm module"],
        ),
        ("not wasm", b"hello".to_vec(), "", &["invalid wasm module"]),
    ];
    let mut post = Post::new();
    for (what, wasm, version, parts) in cases {
        let err = check_same(&mut post, &wasm, "m", version).expect_err(what);
        assert_eq!(err.0, STATUS_VALUE_ERROR, "{what}");
        for part in parts {
            assert!(err.1.contains(part), "{what}: {:?} lacks {part:?}", err.1);
        }
    }
    // A refused module leaves the instance usable.
    let good = module_with_fib_descriptor(fib_ok);
    let out = check_same(&mut post, &good, "m", "").expect("a good module is accepted");
    assert_eq!(manifest_of(&out)["functions"][0]["name"], "fib");
}
