//! Tests of the post-processor on small modules written in WAT.
//!
//! WAT cannot easily spell the framed descriptor records, so the tests append the descriptor
//! sections to the binary themselves ([`with_descriptors`]).

use super::*;
use serde_json::json;
use wasmcore_schema::{Elem, Scalar, frame};

/// Frames one record like [`wasmcore_schema::frame`], at run time.
fn framed(json: &str) -> Vec<u8> {
    let mut out = u32::try_from(json.len()).unwrap().to_le_bytes().to_vec();
    out.extend_from_slice(json.as_bytes());
    out
}

fn leb(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Appends a custom section (legal anywhere between or after the other sections).
fn append_custom(wasm: &mut Vec<u8>, name: &str, data: &[u8]) {
    let mut payload = Vec::new();
    leb(name.len(), &mut payload);
    payload.extend_from_slice(name.as_bytes());
    payload.extend_from_slice(data);
    wasm.push(0);
    leb(payload.len(), wasm);
    wasm.extend_from_slice(&payload);
}

/// Compiles `wat` and appends one descriptor section per group of records.
fn with_descriptors(wat: &str, sections: &[&[&str]]) -> Vec<u8> {
    let mut wasm = wat::parse_str(wat).expect("test WAT compiles");
    for records in sections {
        let data: Vec<u8> = records.iter().flat_map(|r| framed(r)).collect();
        append_custom(&mut wasm, DESCRIPTOR_SECTION, &data);
    }
    wasm
}

/// The memory export and the five runtime exports, with their ABI signatures.
const RUNTIME: &str = r#"
  (memory (export "memory") 1)
  (func (export "wasmcore_alloc") (param i32 i32) (result i32) i32.const 0)
  (func (export "wasmcore_free") (param i32 i32 i32))
  (func (export "wasmcore_last_error_ptr") (result i32) i32.const 0)
  (func (export "wasmcore_last_error_len") (result i32) i32.const 0)
  (func (export "wasmcore_take_panic") (result i32) i32.const 0)
"#;

/// `fib(n: u32) -> u64`, fallible: lowers to (i32 n, i32 out) -> (i32 status).
const FIB_EXPORT: &str =
    r#"(func $fib (export "fib") (param $n i32) (param $out i32) (result i32) i32.const 0)"#;
/// `sum(x: f64[]) -> f64`, infallible: lowers to (i32 ptr, i32 len) -> (f64).
const SUM_EXPORT: &str =
    r#"(func $sum (export "sum") (param $ptr i32) (param $len i32) (result f64) f64.const 0)"#;

fn fib_desc() -> FunctionDesc {
    FunctionDesc {
        name: "fib".to_owned(),
        doc: "The n-th Fibonacci number.\nFails on overflow.".to_owned(),
        params: vec![Param::new("n", Type::Scalar(Scalar::U32))],
        returns: Return::Scalar(Scalar::U64),
        fallible: true,
        hold_gil: false,
    }
}

fn fib_record() -> String {
    fib_desc().to_json(true)
}

/// Written by hand (not by `to_json`) so that the record format itself is pinned.
const SUM_RECORD: &str = r#"{"kind":"function","name":"sum","doc":"Sum of x.","params":[{"name":"x","type":"f64[]"}],"returns":"f64","fallible":false}"#;

/// A module with the runtime exports plus `body`, and one descriptor section.
fn module(body: &str, records: &[&str]) -> Vec<u8> {
    with_descriptors(&format!("(module {RUNTIME} {body})"), &[records])
}

/// The error message of post-processing `wasm`, which must fail.
fn error_of(wasm: &[u8]) -> String {
    match postprocess(wasm, "test", None) {
        Ok((_, manifest)) => panic!("post-processing succeeded: {manifest}"),
        Err(e) => e.to_string(),
    }
}

fn assert_contains(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "{message:?} does not contain {part:?}"
        );
    }
}

fn section_names(wasm: &[u8]) -> Vec<String> {
    custom_sections(wasm)
        .unwrap()
        .into_iter()
        .map(|(n, _)| n.to_owned())
        .collect()
}

const GOOD_WAT: &str = r#"
(module $demo
  (import "env" "host_log" (func $host_log (param i32 i32)))
  (memory $mem (export "memory") 17)
  (global $__data_end i32 (i32.const 1024))
  (global $__heap_base i32 (i32.const 2048))
  (export "__data_end" (global $__data_end))
  (export "__heap_base" (global $__heap_base))
  (func $fib (export "fib") (param $n i32) (param $out i32) (result i32) i32.const 0)
  (func $sum (export "sum") (param $ptr i32) (param $len i32) (result f64) f64.const 0)
  (func $alloc (export "wasmcore_alloc") (param i32 i32) (result i32) i32.const 0)
  (func $free (export "wasmcore_free") (param i32 i32 i32))
  (func $err_ptr (export "wasmcore_last_error_ptr") (result i32) i32.const 0)
  (func $err_len (export "wasmcore_last_error_len") (result i32) i32.const 0)
  (func $take_panic (export "wasmcore_take_panic") (result i32) i32.const 0)
  (@producers (language "Rust" "1.95.0") (processed-by "rustc" "1.95.0"))
  (@custom ".debug_info" "\01\02\03\04")
  (@custom "target_features" "\01\2b\07simd128")
  (@custom "wasmcore.abi" "{\"stale\":true}")
  (@custom "plugin.extra" "kept")
)
"#;

fn good_module() -> Vec<u8> {
    // `sum` comes first in the file, in its own section: the manifest must sort and merge.
    let fib = fib_record();
    with_descriptors(GOOD_WAT, &[&[SUM_RECORD], &[&fib]])
}

#[test]
fn good_module_gets_a_normalized_manifest() {
    let input = good_module();
    let before = section_names(&input);
    for name in ["name", "producers", ".debug_info", DESCRIPTOR_SECTION] {
        assert!(before.iter().any(|n| n == name), "test input lacks {name}");
    }

    let (out, manifest) = postprocess(&input, "demo", None).unwrap();

    // Keys in the documented order, compact.
    assert!(
        manifest.starts_with(r#"{"abi_version":1,"module":"demo","functions":[{"name":"fib","#),
        "{manifest}"
    );
    let value: Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(
        value,
        json!({
            "abi_version": ABI_VERSION,
            "module": "demo",
            "functions": [
                {
                    "name": "fib",
                    "doc": "The n-th Fibonacci number.\nFails on overflow.",
                    "params": [{"name": "n", "type": "u32"}],
                    "returns": "u64",
                    "fallible": true
                },
                {
                    "name": "sum",
                    "doc": "Sum of x.",
                    "params": [{"name": "x", "type": "f64[]"}],
                    "returns": "f64",
                    "fallible": false
                }
            ],
            "classes": [],
            "imports": [{"module": "env", "name": "host_log", "kind": "func"}]
        })
    );

    // Exactly one manifest section, the unknown section kept, everything else stripped.
    assert_eq!(section_names(&out), ["plugin.extra", MANIFEST_SECTION]);
    assert_eq!(
        read_manifest(&out).unwrap().as_deref(),
        Some(manifest.as_str())
    );

    // The output is a valid module with the same function exports minus the linker noise.
    let reparsed = ModuleConfig::new().parse(&out).expect("output re-parses");
    let mut exports: Vec<&str> = reparsed.exports.iter().map(|e| e.name.as_str()).collect();
    exports.sort_unstable();
    assert_eq!(
        exports,
        [
            "fib",
            "memory",
            "sum",
            "wasmcore_alloc",
            "wasmcore_free",
            "wasmcore_last_error_len",
            "wasmcore_last_error_ptr",
            "wasmcore_take_panic"
        ]
    );
}

#[test]
fn a_version_follows_the_module_name() {
    // Versions as the semver specification spells them (semver.org, items 2, 9 and 10).
    for version in ["0.1.0", "1.2.3-rc.1", "1.0.0-alpha+001", "10.20.30+build.5"] {
        let (out, manifest) = postprocess(&good_module(), "demo", Some(version)).unwrap();
        let head =
            format!(r#"{{"abi_version":1,"module":"demo","version":"{version}","functions":["#);
        assert!(manifest.starts_with(&head), "{manifest}");
        assert_eq!(
            read_manifest(&out).unwrap().as_deref(),
            Some(manifest.as_str())
        );
        // Nothing else changes.
        let (plain_out, plain) = postprocess(&good_module(), "demo", None).unwrap();
        let mut value: Value = serde_json::from_str(&manifest).unwrap();
        assert_eq!(
            value.as_object_mut().unwrap().remove("version"),
            Some(json!(version))
        );
        assert_eq!(value, serde_json::from_str::<Value>(&plain).unwrap());
        assert_eq!(section_names(&out), section_names(&plain_out));
    }
}

#[test]
fn a_version_that_is_not_semver_fails() {
    // Not versions by the semver specification: missing parts, a prefix, a leading zero,
    // whitespace, an empty pre-release.
    for version in ["", "1.2", "v1.2.3", "01.2.3", "1.2.3 ", "1.2.3-"] {
        let err = postprocess(&good_module(), "demo", Some(version)).unwrap_err();
        assert_contains(
            &err.to_string(),
            &[
                "module version",
                &format!("{version:?}"),
                "not a semver version",
            ],
        );
    }
}

#[test]
fn import_kinds_are_listed_in_order() {
    let wat = format!(
        r#"(module
          (import "env" "f" (func))
          (import "env" "g" (global i32))
          (import "env" "t" (table 1 funcref))
          {RUNTIME} {FIB_EXPORT})"#
    );
    let fib = fib_record();
    let (_, manifest) = postprocess(&with_descriptors(&wat, &[&[&fib]]), "m", None).unwrap();
    let value: Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(
        value["imports"],
        json!([
            {"module": "env", "name": "f", "kind": "func"},
            {"module": "env", "name": "g", "kind": "global"},
            {"module": "env", "name": "t", "kind": "table"}
        ])
    );
}

#[test]
fn imported_memory_is_listed() {
    let wat = r#"(module (import "env" "memory" (memory 1)) (export "memory" (memory 0)))"#;
    let (_, manifest) = postprocess(&wat::parse_str(wat).unwrap(), "m", None).unwrap();
    let value: Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(
        value["imports"],
        json!([{"module": "env", "name": "memory", "kind": "memory"}])
    );
}

#[test]
fn module_without_descriptors_needs_no_memory_export() {
    let wat = r#"(module (func (export "wasmcore_take_panic") (result i32) i32.const 0))"#;
    let (out, manifest) = postprocess(&wat::parse_str(wat).unwrap(), "bare", None).unwrap();
    let value: Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(value["functions"], json!([]));
    assert_eq!(section_names(&out), [MANIFEST_SECTION]);
}

#[test]
fn every_logical_type_is_accepted() {
    let desc = FunctionDesc {
        name: "all".to_owned(),
        doc: String::new(),
        params: vec![
            Param::new("a", Type::Scalar(Scalar::Bool)),
            Param {
                default: Some("-2".to_owned()),
                ..Param::new("b", Type::Scalar(Scalar::I64))
            },
            Param {
                default: Some("0.5".to_owned()),
                ..Param::new("c", Type::Scalar(Scalar::F32))
            },
            Param::new("d", Type::Buffer(Elem::U8, wasmcore_schema::Dir::InOut)),
            Param::new("e", Type::Str),
            Param::new("f", Type::Handle),
            Param::new("g", Type::Matrix(Elem::F64)),
        ],
        returns: Return::Owned(Elem::F32),
        fallible: true,
        hold_gil: false,
    };
    // (i32) (i64) (f32) (i32 i32) (i32 i32) (i32) (i32 i32 i32), then the return slot (i32)
    // -> status (i32)
    let body = r#"(func (export "all")
                    (param i32 i64 f32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
                    i32.const 0)"#;
    let (_, manifest) = postprocess(&module(body, &[&desc.to_json(true)]), "m", None).unwrap();
    let value: Value = serde_json::from_str(&manifest).unwrap();
    let expected: Value = serde_json::from_str(&desc.to_json(false)).unwrap();
    assert_eq!(value["functions"], json!([expected]));
}

#[test]
fn runtime_framing_matches_the_schema() {
    let json = r#"{"a":1}"#;
    let at_compile_time: [u8; 11] = frame(r#"{"a":1}"#);
    assert_eq!(framed(json), at_compile_time);
}

// ---------------------------------------------------------------------------------------------
// Failures

#[test]
fn signature_mismatch_fails() {
    // fib(n: u32) -> u64, fallible, lowers to (i32, i32) -> (i32): an (i64) -> (i64) export
    // (the infallible u64 lowering) must be refused.
    let body = r#"(func (export "fib") (param i64) (result i64) i64.const 0)"#;
    let err = postprocess(&module(body, &[&fib_record()]), "test", None).unwrap_err();
    assert!(matches!(err, Error::SignatureMismatch { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        r#"export "fib": descriptor says (i32, i32) -> (i32) but the export is (i64) -> (i64)"#
    );
}

#[test]
fn fallibility_mismatch_fails() {
    let mut desc = fib_desc();
    desc.fallible = false;
    let msg = error_of(&module(FIB_EXPORT, &[&desc.to_json(true)]));
    assert_contains(&msg, &[r#""fib""#, "(i32) -> (i64)", "(i32, i32) -> (i32)"]);
}

#[test]
fn export_without_descriptor_fails() {
    let body =
        format!(r#"{FIB_EXPORT} (func (export "orphan") (param i32) (result i32) i32.const 0)"#);
    let msg = error_of(&module(&body, &[&fib_record()]));
    assert_contains(&msg, &[r#"function export "orphan" has no descriptor"#]);
}

#[test]
fn descriptor_without_export_fails() {
    let ghost = SUM_RECORD.replace(r#""sum""#, r#""ghost""#);
    let msg = error_of(&module(FIB_EXPORT, &[&fib_record(), &ghost]));
    assert_contains(&msg, &[r#"descriptor "ghost" has no function export"#]);
}

#[test]
fn descriptor_naming_a_global_export_fails() {
    let body = r#"(global (export "sum") i32 (i32.const 0))"#;
    let msg = error_of(&module(body, &[SUM_RECORD]));
    assert_contains(&msg, &[r#"descriptor "sum""#, "is a global"]);
}

#[test]
fn runtime_export_with_wrong_signature_fails() {
    let wat = format!(
        r#"(module (memory (export "memory") 1) {SUM_EXPORT}
             (func (export "wasmcore_alloc") (param i32) (result i32) i32.const 0))"#
    );
    let err = postprocess(&with_descriptors(&wat, &[&[SUM_RECORD]]), "test", None).unwrap_err();
    assert!(matches!(err, Error::RuntimeSignature { .. }), "{err:?}");
    assert_contains(
        &err.to_string(),
        &[
            r#""wasmcore_alloc""#,
            "(i32, i32) -> (i32)",
            "(i32) -> (i32)",
        ],
    );
}

#[test]
fn unknown_reserved_export_fails() {
    let body = r#"(func (export "wasmcore_foo"))"#;
    let msg = error_of(&module(body, &[]));
    assert_contains(&msg, &[r#""wasmcore_foo""#, "reserved", "wasmcore_alloc"]);
}

#[test]
fn reserved_descriptor_name_fails() {
    let record = SUM_RECORD.replace(r#""sum""#, r#""wasmcore_sum""#);
    let msg = error_of(&module(SUM_EXPORT, &[SUM_RECORD, &record]));
    assert_contains(&msg, &[r#""wasmcore_sum""#, "reserved"]);
}

#[test]
fn bad_json_fails() {
    let msg = error_of(&module(SUM_EXPORT, &[SUM_RECORD, r#"{"kind":"function","#]));
    assert_contains(&msg, &[DESCRIPTOR_SECTION, "record #1", "invalid JSON"]);
}

#[test]
fn non_object_record_fails() {
    let msg = error_of(&module(SUM_EXPORT, &[SUM_RECORD, "[1,2]"]));
    assert_contains(&msg, &["record #1", "not a JSON object"]);
}

#[test]
fn unknown_parameter_type_fails() {
    let record = SUM_RECORD.replace(r#""f64[]""#, r#""u16""#);
    let msg = error_of(&module(SUM_EXPORT, &[&record]));
    assert_contains(&msg, &[r#"("sum")"#, r#"parameter "x""#, r#""u16""#]);
}

#[test]
fn unknown_return_type_fails() {
    let record = SUM_RECORD.replace(r#""returns":"f64""#, r#""returns":"inout f64[]""#);
    let msg = error_of(&module(SUM_EXPORT, &[&record]));
    assert_contains(&msg, &[r#"("sum")"#, "returns", r#""inout f64[]""#]);
}

#[test]
fn duplicate_descriptor_fails() {
    let fib = fib_record();
    let wasm = with_descriptors(
        &format!("(module {RUNTIME} {FIB_EXPORT})"),
        &[&[&fib], &[&fib]],
    );
    let err = postprocess(&wasm, "test", None).unwrap_err();
    assert_eq!(err, Error::DuplicateDescriptor("fib".to_owned()));
    assert_contains(&err.to_string(), &[r#""fib""#, "twice"]);
}

#[test]
fn missing_memory_export_fails() {
    let wat = format!(
        r#"(module (memory 1) {SUM_EXPORT}
             (func (export "wasmcore_alloc") (param i32 i32) (result i32) i32.const 0))"#
    );
    let err = postprocess(&with_descriptors(&wat, &[&[SUM_RECORD]]), "test", None).unwrap_err();
    assert_eq!(err, Error::MissingMemoryExport);
    assert_contains(&err.to_string(), &[r#""memory""#]);
}

#[test]
fn unknown_kind_fails() {
    let msg = error_of(&module(
        SUM_EXPORT,
        &[SUM_RECORD, r#"{"kind":"struct","name":"Hasher"}"#],
    ));
    assert_contains(&msg, &[r#"("Hasher")"#, r#"unknown record kind "struct""#]);
}

#[test]
fn missing_field_fails() {
    let record = SUM_RECORD.replace(r#","fallible":false"#, "");
    let msg = error_of(&module(SUM_EXPORT, &[&record]));
    assert_contains(&msg, &[r#"("sum")"#, r#"missing field "fallible""#]);
}

#[test]
fn missing_kind_fails() {
    let record = SUM_RECORD.replace(r#""kind":"function","#, "");
    let msg = error_of(&module(SUM_EXPORT, &[&record]));
    assert_contains(&msg, &[r#"("sum")"#, r#"missing field "kind""#]);
}

#[test]
fn wrongly_typed_field_fails() {
    let record = SUM_RECORD.replace(r#""fallible":false"#, r#""fallible":0"#);
    let msg = error_of(&module(SUM_EXPORT, &[&record]));
    assert_contains(&msg, &[r#""fallible" must be true or false"#]);
}

#[test]
fn unknown_field_fails() {
    let record = SUM_RECORD.replace(r#""fallible":false"#, r#""fallible":false,"fallable":1"#);
    let msg = error_of(&module(SUM_EXPORT, &[&record]));
    assert_contains(&msg, &[r#"("sum")"#, r#"unknown field "fallable""#]);
}

#[test]
fn unknown_parameter_field_fails() {
    let record = SUM_RECORD.replace(r#""type":"f64[]""#, r#""type":"f64[]","dir":"in""#);
    let msg = error_of(&module(SUM_EXPORT, &[&record]));
    assert_contains(&msg, &["params[0]", r#"unknown field "dir""#]);
}

#[test]
fn duplicate_parameter_fails() {
    let record = SUM_RECORD.replace(
        r#"[{"name":"x","type":"f64[]"}]"#,
        r#"[{"name":"x","type":"u32"},{"name":"x","type":"u32"}]"#,
    );
    let msg = error_of(&module(SUM_EXPORT, &[&record]));
    assert_contains(&msg, &[r#"duplicate parameter name "x""#]);
}

#[test]
fn truncated_record_fails() {
    let mut wasm = wat::parse_str(format!("(module {RUNTIME} {SUM_EXPORT})")).unwrap();
    let mut data = framed(SUM_RECORD);
    data.pop();
    append_custom(&mut wasm, DESCRIPTOR_SECTION, &data);
    let err = postprocess(&wasm, "test", None).unwrap_err();
    assert!(matches!(err, Error::Records(_)), "{err:?}");
    assert_contains(&err.to_string(), &[DESCRIPTOR_SECTION]);
}

#[test]
fn processing_twice_fails_clearly() {
    let (out, _) = postprocess(&module(SUM_EXPORT, &[SUM_RECORD]), "m", None).unwrap();
    let err = postprocess(&out, "m", None).unwrap_err();
    assert_eq!(err, Error::AlreadyProcessed);
    assert_contains(&err.to_string(), &["already post-processed"]);
}

#[test]
fn not_wasm_fails() {
    // Refused on the section headers, with a message saying what is wrong...
    let cases: [(&[u8], &str); 4] = [
        (b"hello", "missing the \\0asm magic number"),
        (b"", "missing the \\0asm magic number"),
        (b"\0asm\x0d\0\x01\0", "not a version 1 core module"),
        (
            b"\0asm\x01\0\0\0\x01\xff",
            "bad size of the section at offset 8",
        ),
    ];
    for (wasm, message) in cases {
        let err = postprocess(wasm, "test", None).unwrap_err();
        assert!(matches!(err, Error::InvalidWasm(_)), "{err:?}");
        assert_contains(&err.to_string(), &["invalid wasm module: ", message]);
    }
    // ...and by walrus (the validator) past them: a function without a body.
    let err = postprocess(
        b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0",
        "test",
        None,
    )
    .unwrap_err();
    assert!(matches!(err, Error::InvalidWasm(_)), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Reading manifests

#[test]
fn read_manifest_of_unprocessed_module_is_none() {
    assert_eq!(
        read_manifest(&module(SUM_EXPORT, &[SUM_RECORD])).unwrap(),
        None
    );
}

#[test]
fn read_manifest_rejects_two_sections_and_bad_binaries() {
    let mut wasm = wat::parse_str("(module)").unwrap();
    append_custom(&mut wasm, MANIFEST_SECTION, b"{}");
    assert_eq!(read_manifest(&wasm).unwrap().as_deref(), Some("{}"));
    append_custom(&mut wasm, MANIFEST_SECTION, b"{}");
    assert!(matches!(read_manifest(&wasm), Err(Error::BadManifest(_))));

    let mut bad_utf8 = wat::parse_str("(module)").unwrap();
    append_custom(&mut bad_utf8, MANIFEST_SECTION, b"\xff");
    assert!(matches!(
        read_manifest(&bad_utf8),
        Err(Error::BadManifest(_))
    ));

    assert!(matches!(read_manifest(b"nope"), Err(Error::InvalidWasm(_))));
    // a section claiming more bytes than there are
    assert!(matches!(
        read_manifest(b"\0asm\x01\0\0\0\x00\x10ab"),
        Err(Error::InvalidWasm(_))
    ));
}

#[test]
fn leb128_reader() {
    assert_eq!(read_u32(&[0x00]), Some((0, &[][..])));
    assert_eq!(read_u32(&[0xe5, 0x8e, 0x26, 9]), Some((624_485, &[9][..])));
    assert_eq!(
        read_u32(&[0xff, 0xff, 0xff, 0xff, 0x0f]),
        Some((u32::MAX, &[][..]))
    );
    assert_eq!(read_u32(&[0xff, 0xff, 0xff, 0xff, 0x1f]), None);
    assert_eq!(read_u32(&[0x80, 0x80]), None);
}

// ---------------------------------------------------------------------------------------------
// Classes

/// A `Counter` class: constructor `counter_new() -> handle` and getter
/// `counter_value(self) -> u64`, both fallible, plus `counter_drop`.
fn counter_class() -> ClassDesc {
    let func = |name: &str, params: Vec<Param>, returns| FunctionDesc {
        name: name.to_owned(),
        doc: String::new(),
        params,
        returns,
        fallible: true,
        hold_gil: false,
    };
    ClassDesc {
        name: "Counter".to_owned(),
        doc: "Counts.".to_owned(),
        drop: "counter_drop".to_owned(),
        methods: vec![
            MethodDesc {
                name: "new".to_owned(),
                role: Role::Constructor,
                func: func("counter_new", vec![], Return::Handle),
            },
            MethodDesc {
                name: "value".to_owned(),
                role: Role::Getter,
                func: func(
                    "counter_value",
                    vec![Param::new("self", Type::Handle)],
                    Return::Scalar(Scalar::U64),
                ),
            },
        ],
    }
}

/// The exports of [`counter_class`]: (out) -> status; (self, out) -> status; (self).
const COUNTER_EXPORTS: &str = r#"
  (func (export "counter_new") (param i32) (result i32) i32.const 0)
  (func (export "counter_value") (param i32 i32) (result i32) i32.const 0)
  (func (export "counter_drop") (param i32))"#;

#[test]
fn a_class_lands_in_the_manifest() {
    let class = counter_class();
    let wasm = module(COUNTER_EXPORTS, &[&class.to_json(true)]);
    let (_, manifest) = postprocess(&wasm, "m", None).unwrap();
    let value: Value = serde_json::from_str(&manifest).unwrap();
    let expected: Value = serde_json::from_str(&class.to_json(false)).unwrap();
    assert_eq!(value["classes"], json!([expected]));
    assert_eq!(value["functions"], json!([]));
}

#[test]
fn a_class_method_with_the_wrong_signature_fails() {
    let class = counter_class();
    let body = COUNTER_EXPORTS.replace(
        r#""counter_value") (param i32 i32)"#,
        r#""counter_value") (param i32)"#,
    );
    let msg = error_of(&module(&body, &[&class.to_json(true)]));
    assert_contains(&msg, &["counter_value", "(i32, i32) -> (i32)"]);
}

#[test]
fn a_class_without_its_drop_export_fails() {
    let class = counter_class();
    let body = COUNTER_EXPORTS.replace(r#"(func (export "counter_drop") (param i32))"#, "");
    let msg = error_of(&module(&body, &[&class.to_json(true)]));
    assert_contains(&msg, &["counter_drop"]);
}

#[test]
fn a_malformed_class_fails() {
    let mut class = counter_class();
    class.methods[1].func.fallible = false;
    let body = COUNTER_EXPORTS.replace(
        r#""counter_value") (param i32 i32) (result i32) i32.const 0"#,
        r#""counter_value") (param i32) (result i64) i64.const 0"#,
    );
    let msg = error_of(&module(&body, &[&class.to_json(true)]));
    assert_contains(&msg, &["Counter.value", "fallible"]);
}

#[test]
fn a_method_export_described_twice_fails() {
    let class = counter_class();
    let mut f = fib_desc();
    f.name = "counter_new".to_owned();
    let msg = error_of(&module(
        COUNTER_EXPORTS,
        &[&class.to_json(true), &f.to_json(true)],
    ));
    assert_contains(&msg, &["counter_new"]);
}

#[test]
fn a_bad_default_fails() {
    let record = SUM_RECORD.replace(
        r#"{"name":"x","type":"f64[]"}"#,
        r#"{"name":"x","type":"f64[]","default":1}"#,
    );
    let msg = error_of(&module(SUM_EXPORT, &[&record]));
    assert_contains(&msg, &[r#"parameter "x""#, "default"]);
}

#[test]
fn the_gil_hint_reaches_the_manifest() {
    let record = SUM_RECORD.replace(r#""fallible":false"#, r#""fallible":false,"gil":"hold""#);
    let (_, manifest) = postprocess(&module(SUM_EXPORT, &[&record]), "test", None).unwrap();
    let value: Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(value["functions"][0]["gil"], "hold", "{manifest}");
    // "release" is the default, written as no key; anything else is an error
    for (gil, want) in [("release", Value::Null), ("hold", Value::from("hold"))] {
        let record = SUM_RECORD.replace(
            r#""fallible":false"#,
            &format!(r#""fallible":false,"gil":"{gil}""#),
        );
        let (_, manifest) = postprocess(&module(SUM_EXPORT, &[&record]), "test", None).unwrap();
        let value: Value = serde_json::from_str(&manifest).unwrap();
        assert_eq!(value["functions"][0]["gil"], want, "{manifest}");
    }
    let record = SUM_RECORD.replace(r#""fallible":false"#, r#""fallible":false,"gil":"keep""#);
    let msg = error_of(&module(SUM_EXPORT, &[&record]));
    assert_contains(
        &msg,
        &[
            r#"("sum")"#,
            r#""gil" must be "hold" or "release", not "keep""#,
        ],
    );
}
