//! The functions of the `authors` benchmark (`wasmcore bench --only authors`), written once in
//! plain Rust. `../wasmcore` exports them with `#[export]` (a wasmcore author project) and
//! `../pyo3` with `#[pyfunction]` (a maturin project), so the two Python packages run the same
//! machine code paths and the benchmark compares the bindings, not the algorithms.

/// The greatest common divisor of `a` and `b` (Euclid), like `math.gcd`.
pub fn gcd(a: u64, b: u64) -> u64 {
    let (mut a, mut b) = (a, b);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The Adler-32 checksum of `data`, like `zlib.adler32` (the `adler2` crate).
pub fn adler32(data: &[u8]) -> u32 {
    adler2::adler32_slice(data)
}

/// The running sums of `x`, added left to right like `numpy.cumsum` of a 1-d array.
pub fn cumsum(x: &[f64]) -> Vec<f64> {
    x.iter()
        .scan(0.0, |total, v| {
            *total += v;
            Some(*total)
        })
        .collect()
}

/// The Levenshtein distance between `a` and `b` in Unicode scalar values (the `strsim`
/// crate).
pub fn levenshtein(a: &str, b: &str) -> u64 {
    u64::try_from(strsim::levenshtein(a, b)).unwrap_or(u64::MAX)
}

/// A running total: the count and the sum of the values added one by one.
#[derive(Clone, Debug, Default)]
pub struct Total {
    count: u64,
    sum: f64,
}

impl Total {
    /// Adds `x`; returns how many values were added so far.
    pub fn add(&mut self, x: f64) -> u64 {
        self.count += 1;
        self.sum += x;
        self.count
    }

    /// The sum of the values added, left to right.
    pub fn sum(&self) -> f64 {
        self.sum
    }
}
