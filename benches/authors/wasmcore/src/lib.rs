//! The `authors` benchmark's functions, exported the wasmcore way: `#[export]` on plain Rust
//! signatures; `wasmcore build` makes the `py3-none-any` wheel of the package
//! `authors_wasmcore`.

use wasmcore_abi::export;

/// The greatest common divisor of `a` and `b`, like `math.gcd`.
#[export(gil = "hold")] // (a short call: the GIL kept through it, as PyO3 does)
pub fn gcd(a: u64, b: u64) -> u64 {
    authors_kernels::gcd(a, b)
}

/// The Adler-32 checksum of `data`, like `zlib.adler32`.
#[export]
pub fn adler32(data: &[u8]) -> u32 {
    authors_kernels::adler32(data)
}

/// The running sums of `x`, like `numpy.cumsum`.
#[export]
pub fn cumsum(x: &[f64]) -> Vec<f64> {
    authors_kernels::cumsum(x)
}

/// The Levenshtein distance between `a` and `b`.
#[export]
pub fn levenshtein(a: &str, b: &str) -> u64 {
    authors_kernels::levenshtein(a, b)
}

/// A running total: the count and the sum of the values added one by one.
pub struct Total(authors_kernels::Total);

#[export(gil = "hold")] // (short calls)
impl Total {
    /// An empty total.
    pub fn new() -> Total {
        Total(authors_kernels::Total::default())
    }

    /// Adds `x`; returns how many values were added so far.
    pub fn add(&mut self, x: f64) -> u64 {
        self.0.add(x)
    }

    /// The sum of the values added, left to right.
    pub fn sum(&self) -> f64 {
        self.0.sum()
    }
}
