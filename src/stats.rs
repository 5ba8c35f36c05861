//! Reductions and statistics over float64 buffers.

use wasmcore_abi::export;

/// Leaves of the pairwise summation: blocks of at most this many elements are summed with
/// eight independent lanes (which the compiler turns into SIMD), then blocks are combined
/// pairwise. The error stays below ~(BLOCK/8 + log2(n)) ulp of sum(|x|), far inside the
/// 1e-13 relative bound, and the order of operations is fixed, so every backend (and the
/// Python reference, which mirrors it) gives bit-identical results.
pub const SUM_BLOCK: usize = 1024;
const LANES: usize = 8;

/// Sum of x (0.0 when empty): pairwise summation over blocks of eight lanes.
#[export]
pub fn sum(x: &[f64]) -> f64 {
    if x.len() <= SUM_BLOCK {
        block_sum(x)
    } else {
        let (a, b) = x.split_at(x.len() / 2);
        sum(a) + sum(b)
    }
}

fn block_sum(x: &[f64]) -> f64 {
    let mut acc = [0.0f64; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for v in rest {
        s += v;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_exact_small_cases() {
        assert_eq!(sum(&[]), 0.0);
        assert_eq!(sum(&[1.5]), 1.5);
        let v: Vec<f64> = (1..=10_000).map(f64::from).collect();
        assert_eq!(sum(&v), 50_005_000.0);
        assert!(sum(&[1.0, f64::NAN]).is_nan());
        assert_eq!(sum(&[f64::INFINITY, 1.0]), f64::INFINITY);
    }

    #[test]
    fn cancellation_stays_within_bound() {
        // 1e16 + many small terms - 1e16: naive summation loses the small terms.
        let mut v = vec![1e16];
        v.extend(std::iter::repeat_n(1.0, 4096));
        v.push(-1e16);
        let abs: f64 = v.iter().map(|x: &f64| x.abs()).sum();
        assert!((sum(&v) - 4096.0).abs() <= 1e-13 * abs);
    }
}
