//! The portable artefact against the native build.
//!
//! Loads `target/dist/wasmcore.wasm` (built by `cargo xtask dist`) with wasmtime, checks its
//! manifest and export signatures against the ABI schema, then calls the kernels through the
//! ABI (memory allocated with `wasmcore_alloc`, results through out pointers, errors through
//! `wasmcore_last_error_*`) and compares them with the same Rust functions called natively:
//! values bit for bit, errors by status and message. Finally checks that a wild pointer traps
//! inside the sandbox instead of reading the host's memory.
//!
//! The artefact is not built here: if it is missing the tests fail and say how to build it.

#![cfg(not(target_family = "wasm"))]

mod common;

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::OnceLock;

use common::{AbiInstance, read_artefact, target_dir};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value as Json;
use wasmcore_abi::schema::{
    self, ABI_VERSION, MANIFEST_SECTION, RUNTIME_EXPORTS, Return, STATUS_OK, STATUS_VALUE_ERROR,
    Scalar, Type,
};
use wasmtime::{ExternType, FuncType, Module, Trap, TypedFunc};

// ---------------------------------------------------------------------------------------------
// Locating and loading the artefact

/// `target/dist/wasmcore.wasm`, honouring `CARGO_TARGET_DIR`.
fn artefact_path() -> PathBuf {
    target_dir().join("dist").join("wasmcore.wasm")
}

fn artefact_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| read_artefact(&artefact_path()))
}

/// The compiled module, shared by all tests (each test makes its own store and instance).
fn module() -> &'static Module {
    static MODULE: OnceLock<Module> = OnceLock::new();
    MODULE.get_or_init(|| {
        let engine = wasmtime::Engine::default();
        Module::new(&engine, artefact_bytes()).unwrap_or_else(|e| {
            panic!(
                "{} is not a valid module: {e:#}\nrebuild it with `cargo xtask dist`",
                artefact_path().display()
            )
        })
    })
}

// ---------------------------------------------------------------------------------------------
// A typed harness over one instance

/// An error a fallible export reported: its status and the last-error message.
type Reported = (i32, String);

fn native<T>(r: Result<T, wasmcore::Error>) -> Result<T, Reported> {
    r.map_err(|e| (e.status(), e.message().to_owned()))
}

/// An instance of the core (its memory and runtime exports through [`AbiInstance`]) and the
/// kernels this test drives.
struct Wasm {
    abi: AbiInstance,
    fib: TypedFunc<(i32, i32), i32>,
    partitions: TypedFunc<(i32, i32, i32, i32), i32>,
    sum: TypedFunc<(i32, i32), f64>,
}

impl Deref for Wasm {
    type Target = AbiInstance;
    fn deref(&self) -> &AbiInstance {
        &self.abi
    }
}

impl DerefMut for Wasm {
    fn deref_mut(&mut self) -> &mut AbiInstance {
        &mut self.abi
    }
}

/// Marks the out slot so that a missing write is visible.
const SENTINEL: u64 = 0xDEAD_BEEF_DEAD_BEEF;

impl Wasm {
    /// A fresh store and instance (the module has no imports).
    fn new() -> Wasm {
        let mut abi = AbiInstance::new(module());
        Wasm {
            fib: abi.func("fib"),
            partitions: abi.func("partitions"),
            sum: abi.func("sum"),
            abi,
        }
    }

    /// Calls a fallible export with a u64 result: allocates the out slot, maps the status.
    fn fallible_u64(
        &mut self,
        call: impl FnOnce(&mut Self, i32) -> wasmtime::Result<i32>,
    ) -> wasmtime::Result<Result<u64, Reported>> {
        let out = self.put(&[SENTINEL.to_le_bytes()], 8)?;
        let status = call(self, out.0)?;
        let value = u64::from_le_bytes(self.read(out.0));
        self.free(out)?;
        Ok(if status == STATUS_OK {
            Ok(value)
        } else {
            assert_eq!(value, SENTINEL, "an export that failed wrote its out slot");
            Err((status, self.last_error()?))
        })
    }

    fn fib(&mut self, n: u32) -> wasmtime::Result<Result<u64, Reported>> {
        self.fallible_u64(|w, out| w.fib.call(&mut w.abi.store, (n as i32, out)))
    }

    fn partitions(
        &mut self,
        cards: &[u32],
        subtotal: u32,
    ) -> wasmtime::Result<Result<u64, Reported>> {
        let items: Vec<[u8; 4]> = cards.iter().map(|c| c.to_le_bytes()).collect();
        let buf = self.put(&items, 4)?;
        let r = self.fallible_u64(|w, out| {
            let args = (buf.0, cards.len() as i32, subtotal as i32, out);
            w.partitions.call(&mut w.abi.store, args)
        })?;
        // The kernel works on a copy of the deck: the caller's counts are unchanged.
        for (i, c) in cards.iter().enumerate() {
            let got = u32::from_le_bytes(self.read(buf.0 + 4 * i as i32));
            assert_eq!(got, *c, "partitions changed cards[{i}]");
        }
        self.free(buf)?;
        Ok(r)
    }

    fn sum(&mut self, x: &[f64]) -> wasmtime::Result<f64> {
        let items: Vec<[u8; 8]> = x.iter().map(|v| v.to_le_bytes()).collect();
        let buf = self.put(&items, 8)?;
        let r = self.sum_raw(buf.0, x.len() as i32)?;
        self.free(buf)?;
        Ok(r)
    }

    /// `sum` on an arbitrary (pointer, length) pair.
    fn sum_raw(&mut self, ptr: i32, len: i32) -> wasmtime::Result<f64> {
        self.sum.call(&mut self.abi.store, (ptr, len))
    }
}

/// Runs `test` on `cases` random inputs with one instance, replaced by a fresh one after a
/// trap (the instance's state is unspecified after one).
fn check_against_native<S: Strategy>(
    strategy: S,
    test: impl Fn(&mut Wasm, S::Value) -> wasmtime::Result<Result<(), TestCaseError>>,
) {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let wasm = RefCell::new(Wasm::new());
    let result = TestRunner::new(config).run(&strategy, |v| {
        let r = test(&mut wasm.borrow_mut(), v);
        match r {
            Ok(r) => r,
            Err(e) => {
                *wasm.borrow_mut() = Wasm::new();
                Err(TestCaseError::fail(format!("wasm trapped: {e:#}")))
            }
        }
    });
    if let Err(e) = result {
        panic!(
            "{e}\n(if src/ changed since the artefact was built, rebuild it with `cargo xtask dist`)"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The manifest

/// A wasm signature as value type names (`i32`, ...).
type Signature = (Vec<String>, Vec<String>);

fn wasm_signature(ty: &FuncType) -> Signature {
    (
        ty.params().map(|t| t.to_string()).collect(),
        ty.results().map(|t| t.to_string()).collect(),
    )
}

fn schema_signature(params: &[schema::ValType], results: &[schema::ValType]) -> Signature {
    let names = |ts: &[schema::ValType]| ts.iter().map(|t| t.as_str().to_owned()).collect();
    (names(params), names(results))
}

#[test]
fn manifest_section_describes_the_exports() {
    let sections = wasmcore_post::custom_sections(artefact_bytes()).expect("a well-formed module");
    let manifests: Vec<&[u8]> = sections
        .iter()
        .filter(|(n, _)| *n == MANIFEST_SECTION)
        .map(|(_, d)| *d)
        .collect();
    assert_eq!(
        manifests.len(),
        1,
        "expected one {MANIFEST_SECTION} section; sections: {:?}",
        sections.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    assert!(
        !sections
            .iter()
            .any(|(n, _)| *n == schema::DESCRIPTOR_SECTION),
        "the descriptor section must be replaced by the manifest"
    );
    let text = std::str::from_utf8(manifests[0]).expect("the manifest is UTF-8");
    assert!(
        text.contains(&format!("\"abi_version\":{ABI_VERSION}")),
        "{text}"
    );
    let manifest: Json =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("manifest JSON: {e}\n{text}"));

    assert_eq!(manifest["abi_version"], Json::from(ABI_VERSION));
    assert_eq!(manifest["module"], "wasmcore");
    assert_eq!(manifest["imports"], Json::Array(vec![]));

    // Every described function and class method lowers (per the schema) to the signature of
    // the real export; every class has its drop export.
    let module = module();
    let check = |f: &Json, name: &str| -> (Vec<Type>, Return, bool) {
        let params: Vec<Type> = f["params"]
            .as_array()
            .expect("params")
            .iter()
            .map(|p| Type::parse(p["type"].as_str().expect("type")).unwrap())
            .collect();
        let returns = Return::parse(f["returns"].as_str()).unwrap();
        let fallible = f["fallible"].as_bool().expect("fallible");
        let (want_p, want_r) = schema::signature(&params, returns, fallible);
        let Some(ExternType::Func(ty)) = module.get_export(name) else {
            panic!("{name} is described but not exported as a function");
        };
        assert_eq!(
            wasm_signature(&ty),
            schema_signature(&want_p, &want_r),
            "signature of {name}"
        );
        (params, returns, fallible)
    };
    let mut names = Vec::new();
    for f in manifest["functions"].as_array().expect("functions") {
        let name = f["name"].as_str().expect("name");
        let (params, returns, fallible) = check(f, name);
        names.push((name, params, returns, fallible));
    }
    for class in manifest["classes"].as_array().expect("classes") {
        for m in class["methods"].as_array().expect("methods") {
            check(m, m["export"].as_str().expect("export"));
        }
        let drop = class["drop"].as_str().expect("drop");
        let Some(ExternType::Func(ty)) = module.get_export(drop) else {
            panic!("{drop} is described but not exported as a function");
        };
        let (p, r) = schema::DROP_SIGNATURE;
        assert_eq!(wasm_signature(&ty), schema_signature(p, r), "{drop}");
    }

    // The kernels this test drives, with the logical types it assumes.
    let u32_ = Type::Scalar(Scalar::U32);
    let expected = [
        ("fib", vec![u32_], Return::Scalar(Scalar::U64), true),
        (
            "partitions",
            vec![Type::parse("u32[]").unwrap(), u32_],
            Return::Scalar(Scalar::U64),
            true,
        ),
        (
            "sum",
            vec![Type::parse("f64[]").unwrap()],
            Return::Scalar(Scalar::F64),
            false,
        ),
    ];
    for want in expected {
        assert!(
            names.iter().any(|n| n.0 == want.0 && *n == want),
            "manifest lacks {want:?}; it lists {names:?}"
        );
    }

    // The runtime exports, no imports.
    assert_eq!(module.imports().len(), 0, "the module must need no imports");
    for rt in RUNTIME_EXPORTS {
        let Some(ExternType::Func(ty)) = module.get_export(rt.name) else {
            panic!("runtime export {} is missing", rt.name);
        };
        assert_eq!(
            wasm_signature(&ty),
            schema_signature(rt.params, rt.results),
            "signature of {}",
            rt.name
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Values: wasm against native

#[test]
fn fib_matches_native() {
    check_against_native(0u32..=25, |w, n| {
        let got = w.fib(n)?;
        let want = native(wasmcore::numeric::fib(n));
        Ok((|| {
            prop_assert_eq!(got, want, "fib({})", n);
            Ok(())
        })())
    });
}

#[test]
fn partitions_matches_native() {
    let strategy = (prop::array::uniform10(0u32..=4), 0u32..=21);
    check_against_native(strategy, |w, (cards, subtotal)| {
        let got = w.partitions(&cards, subtotal)?;
        let want = native(wasmcore::numeric::partitions(&cards, subtotal));
        Ok((|| {
            prop_assert_eq!(got, want, "partitions({:?}, {})", cards, subtotal);
            Ok(())
        })())
    });
}

/// Same bits, except that any NaN equals any NaN (wasm does not fix NaN payloads).
fn same_f64(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn signed(mag: impl Strategy<Value = f64>) -> impl Strategy<Value = f64> {
    (mag, any::<bool>()).prop_map(|(m, neg)| if neg { -m } else { m })
}

/// Finite values: ordinary, huge (so that sums overflow or cancel), tiny and subnormal, zeros.
fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => -1e3..1e3f64,
        2 => prop::num::f64::NORMAL,
        1 => signed(1e299..1e300f64),
        1 => signed(1e-310..1e-300f64),
        1 => prop::num::f64::SUBNORMAL,
        1 => prop_oneof![Just(0.0), Just(-0.0)],
    ]
}

/// Finite values with an occasional NaN or infinity (a couple per vector on average).
fn with_specials() -> impl Strategy<Value = f64> {
    prop_oneof![
        4000 => finite(),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
    ]
}

#[test]
fn sum_matches_native_bit_for_bit() {
    let strategy = prop_oneof![
        3 => prop::collection::vec(finite(), 0..5000),
        1 => prop::collection::vec(with_specials(), 0..5000),
        // short vectors around the lane / block boundaries
        1 => prop::collection::vec(finite(), 0..40),
    ];
    check_against_native(strategy, |w, x| {
        let got = w.sum(&x)?;
        let want = wasmcore::stats::sum(&x);
        Ok((|| {
            prop_assert!(
                same_f64(got, want),
                "sum of {} values: wasm {got:e} ({:#x}), native {want:e} ({:#x})",
                x.len(),
                got.to_bits(),
                want.to_bits()
            );
            Ok(())
        })())
    });
}

#[test]
fn sum_fixed_cases_match_native() {
    let mut w = Wasm::new();
    let ramp = |n: usize| (0..n).map(|i| (i as f64 + 0.1).sqrt()).collect::<Vec<_>>();
    let mut cases = vec![
        vec![],
        vec![1.5],
        vec![f64::NAN],
        vec![f64::INFINITY, f64::NEG_INFINITY],
        vec![-0.0],
        vec![1e308, 1e308, -1e308],
        vec![f64::MIN_POSITIVE / 4.0; 9],
    ];
    for n in [7, 8, 9, 1023, 1024, 1025, 2049, 4096, 10_000] {
        cases.push(ramp(n));
    }
    for x in cases {
        let got = w.sum(&x).unwrap();
        let want = wasmcore::stats::sum(&x);
        assert!(
            same_f64(got, want),
            "sum of {} values: wasm {got:e}, native {want:e}",
            x.len()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

#[test]
fn errors_match_native() {
    let mut w = Wasm::new();

    let got = w.fib(94).unwrap();
    assert_eq!(
        got,
        Err((
            STATUS_VALUE_ERROR,
            "parameter 'n' must be <= 93, got 94".to_owned()
        ))
    );
    assert_eq!(got, native(wasmcore::numeric::fib(94)));
    assert_eq!(
        w.fib(u32::MAX).unwrap(),
        native(wasmcore::numeric::fib(u32::MAX))
    );

    for cards in [&[1u32; 9][..], &[1; 11], &[]] {
        let got = w.partitions(cards, 0).unwrap();
        let want = native(wasmcore::numeric::partitions(cards, 0));
        assert_eq!(got.as_ref().map_err(|e| e.0), Err(STATUS_VALUE_ERROR));
        assert_eq!(got, want, "{} cards", cards.len());
    }
    let got = w.partitions(&[4; 10], 22).unwrap();
    assert_eq!(got.as_ref().map_err(|e| e.0), Err(STATUS_VALUE_ERROR));
    assert_eq!(got, native(wasmcore::numeric::partitions(&[4; 10], 22)));

    // The instance is still fine after reported errors.
    assert_eq!(w.fib(20).unwrap(), Ok(6765));
    assert_eq!(w.partitions(&[4; 10], 21).unwrap(), Ok(0));
}

#[test]
fn null_out_pointer_is_reported_not_written() {
    let mut w = Wasm::new();
    let before = w.read::<8>(0);
    let status = w.fib.call(&mut w.abi.store, (10, 0)).unwrap();
    assert_eq!(status, STATUS_VALUE_ERROR);
    assert_eq!(
        w.last_error().unwrap(),
        "parameter '<result>' is a null pointer"
    );
    assert_eq!(w.read::<8>(0), before, "address 0 was written");
}

// ---------------------------------------------------------------------------------------------
// The sandbox

fn trap_of(e: &wasmtime::Error) -> Option<Trap> {
    e.downcast_ref::<Trap>().copied()
}

#[test]
fn out_of_bounds_buffer_traps_and_a_fresh_instance_works() {
    let mut w = Wasm::new();
    let size = w.memory_size();
    assert_eq!(size % 65536, 0);
    let last = i32::try_from(size - 8).expect("memory below 2 GiB");

    // The last 8 bytes of memory are a valid one-element buffer...
    w.write(last, &2.5f64.to_le_bytes());
    assert_eq!(w.sum_raw(last, 1).unwrap(), 2.5);

    // ...but 1000 elements from there run past the end: a trap, not a value.
    let e = w
        .sum_raw(last, 1000)
        .expect_err("reading past the end of linear memory must trap");
    assert_eq!(trap_of(&e), Some(Trap::MemoryOutOfBounds), "{e:?}");

    // A fresh instance is unaffected.
    let mut fresh = Wasm::new();
    assert_eq!(fresh.sum(&[1.0, 2.0, 3.5]).unwrap(), 6.5);
    assert_eq!(fresh.fib(25).unwrap(), native(wasmcore::numeric::fib(25)));
}

#[test]
fn impossible_length_is_refused_inside_the_sandbox() {
    let mut w = Wasm::new();
    // 2^29 f64 = 4 GiB: more than a wasm32 address space holds. The argument check rejects it
    // before any read; `sum` is infallible, so in wasm that is a panic, i.e. a trap.
    let e = w
        .sum_raw(8, 1 << 29)
        .expect_err("an impossible length must trap");
    assert_eq!(trap_of(&e), Some(Trap::UnreachableCodeReached), "{e:?}");
    // A null pointer with a non-zero length is refused the same way.
    let e = w.sum_raw(0, 1).expect_err("a null pointer must trap");
    assert_eq!(trap_of(&e), Some(Trap::UnreachableCodeReached), "{e:?}");
    // Zero length accepts any pointer without reading it.
    assert_eq!(Wasm::new().sum_raw(-8, 0).unwrap(), 0.0);
}
