//! The `authors` benchmark's functions, exported the PyO3 way: `#[pyfunction]`s in a
//! `#[pymodule]`, arrays through the `numpy` crate; `maturin build` makes the wheel of the
//! extension module `authors_pyo3`.

use pyo3::prelude::*;

#[pymodule]
mod authors_pyo3 {
    use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
    use pyo3::prelude::*;

    /// The greatest common divisor of `a` and `b`, like `math.gcd`.
    #[pyfunction]
    fn gcd(a: u64, b: u64) -> u64 {
        authors_kernels::gcd(a, b)
    }

    /// The Adler-32 checksum of `data`, like `zlib.adler32`.
    #[pyfunction]
    fn adler32(data: &[u8]) -> u32 {
        authors_kernels::adler32(data)
    }

    /// The running sums of `x` (a contiguous float64 array), like `numpy.cumsum`.
    #[pyfunction]
    fn cumsum<'py>(
        py: Python<'py>,
        x: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        Ok(authors_kernels::cumsum(x.as_slice()?).into_pyarray(py))
    }

    /// The Levenshtein distance between `a` and `b`.
    #[pyfunction]
    fn levenshtein(a: &str, b: &str) -> u64 {
        authors_kernels::levenshtein(a, b)
    }

    /// A running total: the count and the sum of the values added one by one.
    #[pyclass]
    struct Total(authors_kernels::Total);

    #[pymethods]
    impl Total {
        /// An empty total.
        #[new]
        fn new() -> Self {
            Total(authors_kernels::Total::default())
        }

        /// Adds `x`; returns how many values were added so far.
        fn add(&mut self, x: f64) -> u64 {
            self.0.add(x)
        }

        /// The sum of the values added, left to right.
        fn sum(&self) -> f64 {
            self.0.sum()
        }
    }
}
