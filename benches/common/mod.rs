//! What every criterion bench shares: the dist wasm module(s) under the `wasmtime` crate.
//!
//! Each benchmark is a criterion group (`sum/1e6`, `fib/37`, ...) whose functions sit side by
//! side: `native` calls the Rust function of this crate directly; `wasm` calls the same export
//! of `target/dist/wasmcore.wasm` (built by `cargo xtask dist`) through a typed function, and
//! `wasm-nosimd` that of `target/dist/wasmcore-nosimd.wasm` when it exists (the same source
//! built without `simd128`; `just bench-rs` builds it). Inputs are copied into linear memory
//! once, outside the timed loop; owned results are freed inside it (as native drops its Vec).
//! The engine is configured like the Python host's (`cranelift_opt_level = speed`, memory
//! that never moves), so the ratio wasm ÷ native is the engine-only cost of the artefact.

// Each bench binary includes this module and uses a part of it.
#![allow(dead_code)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use criterion::Criterion;
use wasmcore::Error;
use wasmtime::{
    Config, Engine, Instance, Memory, Module, OptLevel, Store, TypedFunc, WasmParams, WasmResults,
};

/// The criterion settings of every bench (command-line options override them): ten samples
/// and short measurements, so that the whole suite runs in minutes on a small machine.
pub fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

/// `target/` of the workspace, honouring `CARGO_TARGET_DIR` (relative to the workspace).
fn target_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::var_os("CARGO_TARGET_DIR")
        .map(|t| root.join(t))
        .unwrap_or_else(|| root.join("target"))
}

/// One build of the module, compiled once per bench binary.
struct Variant {
    label: &'static str,
    module: Module,
}

/// An engine like the Python host's; `simd` false refuses any SIMD instruction.
fn engine(simd: bool) -> Engine {
    let mut cfg = Config::new();
    cfg.cranelift_opt_level(OptLevel::Speed)
        .memory_may_move(false)
        .wasm_relaxed_simd(simd)
        .wasm_simd(simd);
    Engine::new(&cfg).expect("a valid wasmtime configuration")
}

/// `wasm` (required) and `wasm-nosimd` (when built). The no-simd module is validated with SIMD
/// disabled, so it provably holds no v128 instruction.
fn variants() -> &'static [Variant] {
    static VARIANTS: OnceLock<Vec<Variant>> = OnceLock::new();
    VARIANTS.get_or_init(|| {
        let dist = target_dir().join("dist");
        let simd = engine(true);
        let compile = |path: &Path, bytes: &[u8]| {
            Module::new(&simd, bytes)
                .unwrap_or_else(|e| panic!("{} is not a valid module: {e:#}", path.display()))
        };
        let path = dist.join("wasmcore.wasm");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read {}: {e}\nbuild it first: run `cargo xtask dist` (or `just build`)",
                path.display()
            )
        });
        let scalar_only = engine(false);
        let uses_simd = Module::validate(&scalar_only, &bytes).is_err();
        eprintln!(
            "wasm: {} ({} SIMD instructions)",
            path.display(),
            if uses_simd { "with" } else { "without" }
        );
        let mut out = vec![Variant {
            label: "wasm",
            module: compile(&path, &bytes),
        }];
        let path = dist.join("wasmcore-nosimd.wasm");
        if let Ok(bytes) = std::fs::read(&path) {
            if let Err(e) = Module::validate(&scalar_only, &bytes) {
                panic!(
                    "{} uses SIMD instructions ({e:#}); rebuild it with \
                     RUSTFLAGS=\"-C target-feature=-simd128\" (`just bench-rs`)",
                    path.display()
                );
            }
            eprintln!("wasm-nosimd: {} (no SIMD instruction)", path.display());
            out.push(Variant {
                label: "wasm-nosimd",
                module: compile(&path, &bytes),
            });
        }
        out
    })
}

/// A fresh instance of one module variant, with its allocator.
pub struct Wasm {
    store: Store<()>,
    instance: Instance,
    memory: Memory,
    alloc: TypedFunc<(i32, i32), i32>,
    free: TypedFunc<(i32, i32, i32), ()>,
}

impl Wasm {
    fn new(module: &Module) -> Wasm {
        let mut store = Store::new(module.engine(), ());
        let instance = Instance::new(&mut store, module, &[]).expect("instantiate the module");
        let memory = instance
            .get_memory(&mut store, "memory")
            .expect("the module exports `memory`");
        let alloc = instance
            .get_typed_func(&mut store, "wasmcore_alloc")
            .expect("export `wasmcore_alloc`");
        let free = instance
            .get_typed_func(&mut store, "wasmcore_free")
            .expect("export `wasmcore_free`");
        Wasm {
            store,
            instance,
            memory,
            alloc,
            free,
        }
    }

    /// Copies `bytes` into a fresh block of linear memory aligned to `align`: (pointer, size).
    fn put(&mut self, bytes: &[u8], align: i32) -> i32 {
        let size = i32::try_from(bytes.len()).expect("an input below 2 GiB");
        let ptr = self
            .alloc
            .call(&mut self.store, (size, align))
            .expect("wasmcore_alloc");
        assert_ne!(ptr, 0, "wasmcore_alloc({size}, {align}) failed");
        self.memory
            .write(&mut self.store, ptr as u32 as usize, bytes)
            .expect("a block inside linear memory");
        ptr
    }

    /// `x` in linear memory: the (pointer, length) pair of a buffer parameter.
    pub fn buffer<E: Elem>(&mut self, x: &[E]) -> (i32, i32) {
        let bytes: Vec<u8> = x.iter().flat_map(|v| v.le_bytes()).collect();
        (self.put(&bytes, E::SIZE), x.len() as i32)
    }

    /// A zeroed 16-byte slot for a scalar result or an owned result (pointer, length, ...).
    pub fn slot(&mut self) -> i32 {
        self.put(&[0; 16], 8)
    }

    fn word(&self, at: i32) -> i32 {
        let mut w = [0; 4];
        self.memory
            .read(&self.store, at as u32 as usize, &mut w)
            .expect("a slot inside linear memory");
        i32::from_le_bytes(w)
    }

    /// The export `name` with the arguments of every timed call.
    pub fn kernel<P: WasmParams, R: WasmResults>(&mut self, name: &str, args: P) -> Kernel<P, R> {
        let func = self
            .instance
            .get_typed_func(&mut self.store, name)
            .unwrap_or_else(|e| panic!("export `{name}`: {e:#}"));
        Kernel {
            name: name.to_owned(),
            func,
            args,
            owned: None,
            ok: |_| true,
        }
    }

    fn last_error(&mut self) -> String {
        let f = |w: &mut Wasm, name| {
            w.instance
                .get_typed_func::<(), i32>(&mut w.store, name)
                .and_then(|f| f.call(&mut w.store, ()))
                .expect("the last-error accessors")
        };
        let (ptr, len) = (
            f(self, "wasmcore_last_error_ptr"),
            f(self, "wasmcore_last_error_len"),
        );
        let mut buf = vec![0; len as usize];
        self.memory
            .read(&self.store, ptr as u32 as usize, &mut buf)
            .expect("the message inside linear memory");
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// An element type of a buffer parameter (`f64[]`, `u32[]`, `bytes`).
pub trait Elem: Copy {
    const SIZE: i32;
    fn le_bytes(self) -> impl IntoIterator<Item = u8>;
}

impl Elem for f64 {
    const SIZE: i32 = 8;
    fn le_bytes(self) -> impl IntoIterator<Item = u8> {
        self.to_le_bytes()
    }
}

impl Elem for u32 {
    const SIZE: i32 = 4;
    fn le_bytes(self) -> impl IntoIterator<Item = u8> {
        self.to_le_bytes()
    }
}

impl Elem for u8 {
    const SIZE: i32 = 1;
    fn le_bytes(self) -> impl IntoIterator<Item = u8> {
        [self]
    }
}

/// One export, its arguments, and what a call leaves to clean up.
pub struct Kernel<P, R> {
    name: String,
    func: TypedFunc<P, R>,
    args: P,
    /// The result slot and the element size of an owned result, freed after each call.
    owned: Option<(i32, i32)>,
    /// Whether a result means success (a fallible export returns status 0).
    ok: fn(&R) -> bool,
}

impl<P: WasmParams + Copy, R: WasmResults> Kernel<P, R> {
    /// The export returns an owned buffer (elements of `elem` bytes) through `slot`.
    pub fn owned(mut self, slot: i32, elem: i32) -> Self {
        self.owned = Some((slot, elem));
        self
    }

    fn run(&self, w: &mut Wasm) -> R {
        let r = self
            .func
            .call(&mut w.store, self.args)
            .unwrap_or_else(|e| panic!("`{}` trapped: {e:#}", self.name));
        if let Some((slot, elem)) = self.owned {
            let (ptr, len) = (w.word(slot), w.word(slot + 4));
            w.free
                .call(&mut w.store, (ptr, len * elem, elem))
                .expect("wasmcore_free");
        }
        r
    }
}

impl<P> Kernel<P, i32> {
    /// The export is fallible: its result is a status, 0 when it succeeded.
    pub fn fallible(mut self) -> Self {
        self.ok = |&status| status == 0;
        self
    }
}

/// One group `name`: `native()` against the export `wasm(instance)` sets up in a fresh
/// instance of each module variant. Each kernel runs once before timing; a failed status
/// stops the bench with the export's error message.
pub fn compare<T, P, R>(
    c: &mut Criterion,
    name: &str,
    mut native: impl FnMut() -> T,
    wasm: impl Fn(&mut Wasm) -> Kernel<P, R>,
) where
    P: WasmParams + Copy,
    R: WasmResults,
{
    let mut g = c.benchmark_group(name);
    g.bench_function("native", |b| b.iter(&mut native));
    for v in variants() {
        let mut w = Wasm::new(&v.module);
        let k = wasm(&mut w);
        let first = k.run(&mut w);
        if !(k.ok)(&first) {
            let msg = w.last_error();
            panic!("{}: `{}` failed: {msg}", v.label, k.name);
        }
        g.bench_function(v.label, |b| b.iter(|| k.run(&mut w)));
    }
    g.finish();
}

/// A fallible export of one buffer with a scalar result (mean, min, argmax, median, ...).
pub fn fallible<E: Elem, T>(
    c: &mut Criterion,
    group: &str,
    name: &str,
    x: &[E],
    f: Native<E, Result<T, Error>>,
) {
    one_buffer(c, group, x, f, |w, args| {
        w.kernel::<_, i32>(name, args).fallible()
    });
}

/// An infallible export of one buffer with an owned buffer result (sort, cumsum, erf, sha256, ...).
pub fn owned<E: Elem, T>(
    c: &mut Criterion,
    group: &str,
    name: &str,
    x: &[E],
    f: Native<E, Vec<T>>,
) {
    one_buffer(c, group, x, f, |w, args| {
        w.kernel::<_, ()>(name, args)
            .owned(args.2, size_of::<T>() as i32)
    });
}

/// An export of one buffer and an out slot: (pointer, length, slot).
fn one_buffer<E: Elem, T, R: WasmResults>(
    c: &mut Criterion,
    group: &str,
    x: &[E],
    f: Native<E, T>,
    kernel: impl Fn(&mut Wasm, (i32, i32, i32)) -> Kernel<(i32, i32, i32), R>,
) {
    compare(
        c,
        group,
        || f(black_box(x)),
        |w| {
            let (p, n) = w.buffer(x);
            let out = w.slot();
            kernel(w, (p, n, out))
        },
    );
}

/// A native kernel of one buffer.
pub type Native<E, R> = fn(&[E]) -> R;

/// A deterministic pseudo-random stream (SplitMix64), so every run times the same inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `n` values uniform in [lo, hi).
pub fn uniform(n: usize, lo: f64, hi: f64, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| lo + (hi - lo) * rng.unit()).collect()
}

/// `n` pseudo-random bytes.
pub fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.next_u64() as u8).collect()
}
