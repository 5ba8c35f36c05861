//! The kernels for JavaScript, through `wasm-bindgen` (the `web` feature; `cargo xtask web`
//! builds `web/pkg/`).
//!
//! Every binding is a thin adapter: it calls the same Rust function the C-ABI export calls
//! and only converts types. Typed arrays go in and come out (`Float64Array`, `Uint32Array`,
//! `Uint8Array` for bytes), 64-bit results that can pass 2**53 (`fib`, `partitions`,
//! `fnv1a64`) are `BigInt`s, indices and counts are numbers, optional parameters are
//! optional, and `var` is `variance` (`var` is a JS keyword). A kernel error is
//! thrown as a JS `Error` whose message names the function and the parameter, as the Python
//! host's `ValueError` does: `fib(): parameter 'n' must be <= 93, got 94`.
//!
//! Integer parameters are checked by the Python host's rule (docs/arguments.md) instead of
//! wrapped or truncated as wasm-bindgen's default conversion would. An integer scalar (`fib`'s
//! `n`, `ddof`, `bins`, ...; typed `number | bigint`) must be a Number with no fractional part
//! or a BigInt, else a `TypeError`, in the parameter's range, else a `RangeError`, each naming
//! the function, the parameter and the value as JS writes it:
//! `fib(): parameter 'n' must be >= 0, got -1`, `fib(): parameter 'n' must be an integer, got
//! 1.5`. An optional one left out (`undefined`) takes its default. An integer array
//! (`partitions`' `cards`) is checked element by element by the same rule: a `Uint32Array` is
//! taken as it is; any other array or typed array must hold integers in the element type's
//! range, and the error names the first offending index and value:
//! `partitions(): parameter 'cards' must hold integers >= 0, got -1 at index 9`.
//!
//! The C-ABI build exports the same kernels under their own names (`fib`, `sha256_update`,
//! ...), so the JS API lives in the JS namespace `wasmcore` (wasm exports `wasmcore__fib`,
//! ...) and both layers can sit in one module without clashing:
//!
//! ```js
//! import init, { wasmcore } from "./pkg/wasmcore.js";
//! await init();
//! wasmcore.fib(20);                                  // 6765n
//! wasmcore.sum(new Float64Array([1, 2, 3]));         // 6
//! wasmcore.sha256(new TextEncoder().encode("abc"));  // Uint8Array(32)
//! const h = new wasmcore.Sha256(); h.update(bytes); h.hexdigest(); h.free();
//! ```

use js_sys::{Array, ArrayBuffer, BigInt, DataView, Number, RangeError, TypeError, Uint32Array};
use wasm_bindgen::prelude::*;

use crate::{Error, MatrixRef, bytes, linalg, numeric, sort, special, stats};

/// A kernel error as a JS exception (an `Error`): `name(): message`. `E` is `JsError`, or
/// `JsValue` where the binding also throws the `TypeError`s and `RangeError`s of [`uint`].
fn throw<E: From<JsError>>(name: &str) -> impl FnOnce(Error) -> E + '_ {
    move |e| JsError::new(&format!("{name}(): {e}")).into()
}

/// Element indices and counts as `u32`: on wasm32 a slice has fewer than 2**32 elements, so
/// an index or a count of elements always fits.
fn to_u32(v: Vec<i64>) -> Vec<u32> {
    v.into_iter().map(|i| i as u32).collect()
}

/// An index into a slice as a JS number (exact: an index is below 2**32).
fn index(i: u64) -> f64 {
    i as f64
}

/// The unsigned integer types of the JS API's integer parameters.
trait Unsigned: TryFrom<u64> + std::fmt::Display {
    const MAX: Self;
}

impl Unsigned for u32 {
    const MAX: Self = u32::MAX;
}

impl Unsigned for u64 {
    const MAX: Self = u64::MAX;
}

/// What a JS value is to an integer parameter or array element of type `T`.
enum Checked<T> {
    Value(T),
    NotInteger,
    OutOfRange,
}

/// The integer rule, one value: a Number with no fractional part or a BigInt, in `T`'s range.
/// Anything else (a fractional Number, NaN, an infinity, a string, `null`, a boolean...) is
/// not an integer; nothing is wrapped, clamped or truncated.
fn integer<T: Unsigned>(x: &JsValue) -> Checked<T> {
    const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
    let wide = if let Some(f) = x.as_f64() {
        if !(f.is_finite() && f.fract() == 0.0) {
            return Checked::NotInteger;
        }
        // exact: a whole number in [0, 2**64) (-0 is 0)
        (0.0..TWO_POW_64).contains(&f).then_some(f as u64)
    } else if x.is_bigint() {
        u64::try_from(x.clone()).ok()
    } else {
        return Checked::NotInteger;
    };
    match wide.map(T::try_from) {
        Some(Ok(n)) => Checked::Value(n),
        _ => Checked::OutOfRange,
    }
}

/// The bound an out-of-range `x` breaks: `>= 0` or `<= MAX`.
fn bound<T: Unsigned>(x: &JsValue) -> String {
    if x.lt(&JsValue::from(0)) {
        ">= 0".to_string()
    } else {
        format!("<= {}", T::MAX)
    }
}

/// An integer scalar parameter by the Python host's rule (docs/arguments.md): a `TypeError`
/// if `v` is not an integer, a `RangeError` if it is outside `T`'s range, each naming `func`,
/// `param` and the value as JS writes it: `fib(): parameter 'n' must be >= 0, got -1`.
fn uint<T: Unsigned>(func: &str, param: &str, v: &JsValue) -> Result<T, JsValue> {
    let head = format!("{func}(): parameter '{param}'");
    match integer(v) {
        Checked::Value(n) => Ok(n),
        Checked::NotInteger => {
            Err(TypeError::new(&format!("{head} must be an integer, got {}", text(v))).into())
        }
        Checked::OutOfRange => {
            let msg = format!("{head} must be {}, got {}", bound::<T>(v), text(v));
            Err(RangeError::new(&msg).into())
        }
    }
}

/// An optional integer scalar parameter: `default` when left out (`undefined`), else as
/// [`uint`].
fn uint_or<T: Unsigned>(func: &str, param: &str, v: &JsValue, default: T) -> Result<T, JsValue> {
    if v.is_undefined() {
        Ok(default)
    } else {
        uint(func, param, v)
    }
}

/// A JS integer array as `u32`s, by the integer rule of [`integer`] for each element: a
/// `Uint32Array` is copied as it is; another array or typed array must hold integers, else a
/// `TypeError`, in [0, 2**32 - 1], else a `RangeError`. Type errors come first; each error
/// names `func`, `param` and the first offending index and value (as JS writes it).
fn u32_array(func: &str, param: &str, v: &JsValue) -> Result<Vec<u32>, JsValue> {
    if let Some(a) = v.dyn_ref::<Uint32Array>() {
        return Ok(a.to_vec());
    }
    let head = format!("{func}(): parameter '{param}'");
    if !(Array::is_array(v) || ArrayBuffer::is_view(v) && !v.is_instance_of::<DataView>()) {
        let got = v.js_typeof().as_string().unwrap_or_default();
        let msg = format!("{head} must be an array or a typed array of integers, got {got}");
        return Err(TypeError::new(&msg).into());
    }
    let items = Array::from(v);
    let mut out = Vec::with_capacity(items.length() as usize);
    let mut out_of_range = None;
    for (i, x) in items.iter().enumerate() {
        match integer::<u32>(&x) {
            Checked::Value(n) => out.push(n),
            Checked::NotInteger => {
                let msg = format!("{head} must hold integers, got {} at index {i}", text(&x));
                return Err(TypeError::new(&msg).into());
            }
            Checked::OutOfRange => {
                out_of_range.get_or_insert((i, x));
            }
        }
    }
    let Some((i, x)) = out_of_range else {
        return Ok(out);
    };
    let msg = format!(
        "{head} must hold integers {}, got {} at index {i}",
        bound::<u32>(&x),
        text(&x)
    );
    Err(RangeError::new(&msg).into())
}

/// A value as JS writes it: `-1`, `1.5`, `NaN`, `Infinity`, `5n`, `"3" (string)`, `true`,
/// `null`; other values by their type (`undefined`, `object`, `symbol`).
fn text(x: &JsValue) -> String {
    let written = if let Some(f) = x.as_f64() {
        Number::from(f)
            .to_string_with_radix(10)
            .ok()
            .map(String::from)
    } else if let Some(b) = x.dyn_ref::<BigInt>() {
        b.to_string(10)
            .ok()
            .map(|s| format!("{}n", String::from(s)))
    } else {
        x.as_string()
            .map(|s| format!("{s:?} (string)"))
            .or_else(|| x.as_bool().map(|b| b.to_string()))
    };
    written.unwrap_or_else(|| {
        let kind = x.js_typeof().as_string().unwrap_or_default();
        if x.is_null() { "null".into() } else { kind }
    })
}

// --- integer kernels ---------------------------------------------------------------------------

/// Fibonacci number n by naive double recursion (a BigInt); n <= 93.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn fib(
    #[wasm_bindgen(unchecked_param_type = "number | bigint")] n: &JsValue,
) -> Result<u64, JsValue> {
    numeric::fib(uint("fib", "n", n)?).map_err(throw("fib"))
}

/// The blackjack partition count: `cards` holds 10 counts (values 1..10), 0 <= subtotal <= 21.
/// `cards` is a `Uint32Array`, or any array or typed array of non-negative integers.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn partitions(
    #[wasm_bindgen(unchecked_param_type = "Uint32Array | ArrayLike<number | bigint>")]
    cards: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "number | bigint")] subtotal: &JsValue,
) -> Result<u64, JsValue> {
    let cards = u32_array("partitions", "cards", cards)?;
    let subtotal = uint("partitions", "subtotal", subtotal)?;
    numeric::partitions(&cards, subtotal).map_err(throw("partitions"))
}

/// Number of primes below n, 0 <= n <= 2**31.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn count_primes(
    #[wasm_bindgen(unchecked_param_type = "number | bigint")] n: &JsValue,
) -> Result<f64, JsValue> {
    // a u64, as for the Python host: the kernel refuses n > 2**31
    numeric::count_primes(uint("count_primes", "n", n)?)
        .map(|count| count as f64) // exact: below 2**31
        .map_err(throw("count_primes"))
}

/// Escape counts of the Mandelbrot iteration, row-major `height` rows of `width`.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn mandelbrot(
    #[wasm_bindgen(unchecked_param_type = "number | bigint")] width: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "number | bigint")] height: &JsValue,
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
    #[wasm_bindgen(unchecked_param_type = "number | bigint")] max_iter: &JsValue,
) -> Result<Vec<u32>, JsValue> {
    let (width, height) = (
        uint("mandelbrot", "width", width)?,
        uint("mandelbrot", "height", height)?,
    );
    let max_iter = uint("mandelbrot", "max_iter", max_iter)?;
    let m = numeric::mandelbrot(width, height, x0, y0, x1, y1, max_iter)
        .map_err(throw::<JsValue>("mandelbrot"))?;
    Ok(m.into_parts().0)
}

// --- statistics --------------------------------------------------------------------------------

/// Sum (blocked pairwise); empty gives 0.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn sum(x: &[f64]) -> f64 {
    stats::sum(x)
}

/// Arithmetic mean; empty is an error.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn mean(x: &[f64]) -> Result<f64, JsError> {
    stats::mean(x).map_err(throw("mean"))
}

/// Variance with `ddof` delta degrees of freedom (default 0). `variance` in JS, where `var` is
/// a keyword.
#[wasm_bindgen(js_namespace = wasmcore, js_name = variance)]
pub fn var(
    x: &[f64],
    #[wasm_bindgen(unchecked_optional_param_type = "number | bigint")] ddof: &JsValue,
) -> Result<f64, JsValue> {
    stats::var(x, uint_or("var", "ddof", ddof, 0)?).map_err(throw("var"))
}

/// Standard deviation with `ddof` delta degrees of freedom (default 0).
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn std(
    x: &[f64],
    #[wasm_bindgen(unchecked_optional_param_type = "number | bigint")] ddof: &JsValue,
) -> Result<f64, JsValue> {
    stats::std(x, uint_or("std", "ddof", ddof, 0)?).map_err(throw("std"))
}

/// Minimum; NaN propagates; empty is an error.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn min(x: &[f64]) -> Result<f64, JsError> {
    stats::min(x).map_err(throw("min"))
}

/// Maximum; NaN propagates; empty is an error.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn max(x: &[f64]) -> Result<f64, JsError> {
    stats::max(x).map_err(throw("max"))
}

/// Index of the first minimum (the first NaN wins); empty is an error.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn argmin(x: &[f64]) -> Result<f64, JsError> {
    stats::argmin(x).map(index).map_err(throw("argmin"))
}

/// Index of the first maximum (the first NaN wins); empty is an error.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn argmax(x: &[f64]) -> Result<f64, JsError> {
    stats::argmax(x).map(index).map_err(throw("argmax"))
}

/// Running sum.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn cumsum(x: &[f64]) -> Vec<f64> {
    stats::cumsum(x)
}

/// Median (numpy's 'linear' method); any NaN gives NaN; empty is an error.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn median(x: &[f64]) -> Result<f64, JsError> {
    stats::median(x).map_err(throw("median"))
}

/// Quantile q in [0, 1] (numpy's 'linear' method).
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn quantile(x: &[f64], q: f64) -> Result<f64, JsError> {
    stats::quantile(x, q).map_err(throw("quantile"))
}

/// Counts of `numpy.histogram(x, bins, range=(lo, hi))`.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn histogram(
    x: &[f64],
    #[wasm_bindgen(unchecked_param_type = "number | bigint")] bins: &JsValue,
    lo: f64,
    hi: f64,
) -> Result<Vec<u32>, JsValue> {
    stats::histogram(x, uint("histogram", "bins", bins)?, lo, hi)
        .map(to_u32)
        .map_err(throw("histogram"))
}

// --- linear algebra ----------------------------------------------------------------------------

/// Inner product; the lengths must match.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn dot(x: &[f64], y: &[f64]) -> Result<f64, JsError> {
    linalg::dot(x, y).map_err(throw("dot"))
}

/// Euclidean norm (without spurious overflow).
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn norm(x: &[f64]) -> f64 {
    linalg::norm(x)
}

/// y += a*x in place (the Float64Array `y` is updated).
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn axpy(a: f64, x: &[f64], y: &mut [f64]) -> Result<(), JsError> {
    linalg::axpy(a, x, y).map_err(throw("axpy"))
}

/// A row-major `rows` x `cols` view of `data`, or the error for parameter `param`.
fn matrix<'a>(
    param: &str,
    data: &'a [f64],
    rows: u32,
    cols: u32,
) -> Result<MatrixRef<'a, f64>, Error> {
    MatrixRef::new(data, rows as usize, cols as usize).ok_or_else(|| {
        Error::value(
            param,
            format!("has {} elements, not {rows}*{cols}", data.len()),
        )
    })
}

/// Matrix product of row-major (m, k) `a` and (k, n) `b`: a row-major (m, n) Float64Array.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn matmul(
    a: &[f64],
    #[wasm_bindgen(unchecked_param_type = "number | bigint")] m: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "number | bigint")] k: &JsValue,
    b: &[f64],
    #[wasm_bindgen(unchecked_param_type = "number | bigint")] n: &JsValue,
) -> Result<Vec<f64>, JsValue> {
    let m = uint("matmul", "m", m)?;
    let k = uint("matmul", "k", k)?;
    let n = uint("matmul", "n", n)?;
    let product = matrix("a", a, m, k)
        .and_then(|a| Ok((a, matrix("b", b, k, n)?)))
        .and_then(|(a, b)| linalg::matmul(a, b))
        .map_err(throw::<JsValue>("matmul"))?;
    Ok(product.into_parts().0)
}

/// `numpy.convolve(x, k, "full")`.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn convolve(x: &[f64], k: &[f64]) -> Result<Vec<f64>, JsError> {
    linalg::convolve(x, k).map_err(throw("convolve"))
}

// --- sorting -----------------------------------------------------------------------------------

/// Ascending copy, NaN last.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn sort(x: &[f64]) -> Vec<f64> {
    sort::sort(x)
}

/// Stable indices that sort x ascending (NaN last).
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn argsort(x: &[f64]) -> Vec<u32> {
    to_u32(sort::argsort(x))
}

// --- special functions -------------------------------------------------------------------------

/// Gamma function, elementwise.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn gamma(x: &[f64]) -> Vec<f64> {
    special::gamma(x)
}

/// Log of the absolute value of the gamma function, elementwise.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn lgamma(x: &[f64]) -> Vec<f64> {
    special::lgamma(x)
}

/// Error function, elementwise.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn erf(x: &[f64]) -> Vec<f64> {
    special::erf(x)
}

// --- bytes -------------------------------------------------------------------------------------

/// CRC-32 of `data`, continuing from `value` (default 0), like `zlib.crc32`.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn crc32(
    data: &[u8],
    #[wasm_bindgen(unchecked_optional_param_type = "number | bigint")] value: &JsValue,
) -> Result<u32, JsValue> {
    Ok(bytes::crc32(data, uint_or("crc32", "value", value, 0)?))
}

/// SHA-256 digest (32 bytes).
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn sha256(data: &[u8]) -> Vec<u8> {
    bytes::sha256(data)
}

/// FNV-1a 64-bit hash (a BigInt).
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn fnv1a64(data: &[u8]) -> u64 {
    bytes::fnv1a64(data)
}

/// Base64 (standard alphabet, padded) of `data`, as ASCII bytes.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn base64_encode(data: &[u8]) -> Vec<u8> {
    bytes::base64_encode(data)
}

/// The bytes encoded by canonical padded base64 `data`; invalid input is an error.
#[wasm_bindgen(js_namespace = wasmcore)]
pub fn base64_decode(data: &[u8]) -> Result<Vec<u8>, JsError> {
    bytes::base64_decode(data).map_err(throw("base64_decode"))
}

// --- classes -----------------------------------------------------------------------------------

/// Streaming SHA-256: `update(data)` with chunks, then `digest()` / `hexdigest()` of
/// everything so far (the stream continues); `copy()` forks it. `free()` releases it.
#[wasm_bindgen(js_name = Sha256, js_namespace = wasmcore)]
pub struct JsSha256(bytes::Sha256);

#[wasm_bindgen(js_class = Sha256, js_namespace = wasmcore)]
impl JsSha256 {
    /// A new hasher over the empty message.
    #[wasm_bindgen(constructor)]
    pub fn new() -> JsSha256 {
        JsSha256(bytes::Sha256::new())
    }

    /// Appends `data` to the hashed message.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The 32-byte digest of everything so far.
    pub fn digest(&self) -> Vec<u8> {
        self.0.digest()
    }

    /// The digest as 64 lowercase hexadecimal characters.
    pub fn hexdigest(&self) -> String {
        self.0.hexdigest()
    }

    /// An independent copy of the current state.
    pub fn copy(&self) -> JsSha256 {
        JsSha256(self.0.copy())
    }
}

impl Default for JsSha256 {
    fn default() -> Self {
        Self::new()
    }
}

/// Streaming count, mean, variance, min and max of batches pushed with `push(x)`.
#[wasm_bindgen(js_name = RunningStats, js_namespace = wasmcore)]
pub struct JsRunningStats(stats::RunningStats);

#[wasm_bindgen(js_class = RunningStats, js_namespace = wasmcore)]
impl JsRunningStats {
    /// Empty statistics.
    #[wasm_bindgen(constructor)]
    pub fn new() -> JsRunningStats {
        JsRunningStats(stats::RunningStats::new())
    }

    /// Adds the values of `x`.
    pub fn push(&mut self, x: &[f64]) {
        self.0.push(x);
    }

    /// Number of values pushed.
    #[wasm_bindgen(getter)]
    pub fn count(&self) -> f64 {
        self.0.count() as f64
    }

    /// Mean of the values pushed; an error before any.
    #[wasm_bindgen(getter)]
    pub fn mean(&self) -> Result<f64, JsError> {
        self.0.mean().map_err(throw("RunningStats.mean"))
    }

    /// Variance with `ddof` delta degrees of freedom (default 0).
    pub fn var(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "number | bigint")] ddof: &JsValue,
    ) -> Result<f64, JsValue> {
        let ddof = uint_or("RunningStats.var", "ddof", ddof, 0)?;
        self.0.var(ddof).map_err(throw("RunningStats.var"))
    }

    /// Standard deviation with `ddof` delta degrees of freedom (default 0).
    pub fn std(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "number | bigint")] ddof: &JsValue,
    ) -> Result<f64, JsValue> {
        let ddof = uint_or("RunningStats.std", "ddof", ddof, 0)?;
        self.0.std(ddof).map_err(throw("RunningStats.std"))
    }

    /// The statistics as 8 numbers, to carry elsewhere (`fromState`, `mergeState`).
    pub fn state(&self) -> Vec<f64> {
        self.0.state()
    }

    /// Statistics from a `state()`.
    #[wasm_bindgen(js_name = fromState)]
    pub fn from_state(state: &[f64]) -> Result<JsRunningStats, JsError> {
        stats::RunningStats::from_state(state)
            .map(JsRunningStats)
            .map_err(throw("RunningStats.from_state"))
    }

    /// Merges the statistics of a `state()` into these (Chan et al.'s formula).
    #[wasm_bindgen(js_name = mergeState)]
    pub fn merge_state(&mut self, state: &[f64]) -> Result<(), JsError> {
        self.0
            .merge_state(state)
            .map_err(throw("RunningStats.merge_state"))
    }

    /// Smallest value pushed (NaN propagates); an error before any.
    #[wasm_bindgen(getter)]
    pub fn min(&self) -> Result<f64, JsError> {
        self.0.min().map_err(throw("RunningStats.min"))
    }

    /// Largest value pushed (NaN propagates); an error before any.
    #[wasm_bindgen(getter)]
    pub fn max(&self) -> Result<f64, JsError> {
        self.0.max().map_err(throw("RunningStats.max"))
    }
}

impl Default for JsRunningStats {
    fn default() -> Self {
        Self::new()
    }
}
