//! Sorting float64 buffers: sort (NaN last) and stable argsort.
//!
//! Both sort `u64` keys whose unsigned order is the numeric order of the floats (integer
//! comparisons, no NaN handling in the comparator) with the standard library's in-place
//! unstable sort; argsort sorts `key << 64 | index`, which are all distinct, so the
//! unstable sort gives exactly the stable order without a scratch buffer.

use wasmcore_abi::export;

/// Order-preserving map of a non-NaN float to a `u64` (unsigned order = numeric order;
/// -0.0 just below 0.0); `from_key` inverts it bit for bit.
#[inline]
pub(crate) fn key(v: f64) -> u64 {
    let b = v.to_bits();
    // Negative: flip every bit (larger magnitude sorts lower); positive: set the sign bit.
    b ^ ((((b as i64) >> 63) as u64) | (1 << 63))
}

/// Inverse of [`key`].
#[inline]
pub(crate) fn from_key(k: u64) -> f64 {
    f64::from_bits(k ^ ((((!k as i64) >> 63) as u64) | (1 << 63)))
}

/// Ascending copy of x with NaN last (numpy.sort; -0.0 and 0.0 compare equal).
#[export]
pub fn sort(x: &[f64]) -> Vec<f64> {
    // The non-NaN values are sorted as keys; NaNs (which have no place in the order) are
    // appended as they are, in input order, so the result is a bitwise permutation of x.
    let mut keys = Vec::with_capacity(x.len());
    keys.extend(x.iter().filter(|v| !v.is_nan()).map(|&v| key(v)));
    let nans = x.len() - keys.len();
    keys.sort_unstable();
    // Same size and alignment: this collect reuses the keys' buffer.
    let mut out: Vec<f64> = keys.into_iter().map(from_key).collect();
    if nans > 0 {
        out.extend(x.iter().filter(|v| v.is_nan()));
    }
    out
}

/// Indices that sort x ascending, NaN last, equal values (-0.0 == 0.0) in input order:
/// exactly `numpy.argsort(x, kind="stable")`.
#[export]
pub fn argsort(x: &[f64]) -> Vec<i64> {
    // Sort `key << 64 | index`: every NaN gets the largest key and the index breaks ties,
    // which makes the order stable.
    let mut keyed: Vec<u128> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            // `v + 0.0` turns -0.0 into 0.0 and leaves every other value alone.
            let k = if v.is_nan() { u64::MAX } else { key(v + 0.0) };
            (u128::from(k) << 64) | i as u128
        })
        .collect();
    keyed.sort_unstable();
    // The low half is the index, below len <= isize::MAX: it always fits an i64.
    keyed.into_iter().map(|p| p as u64 as i64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Deterministic pseudo-random values (SplitMix64), with duplicates, zeros of both
    /// signs, infinities and NaNs of both signs mixed in.
    fn mixed(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        let mut next = move || {
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        (0..n)
            .map(|_| {
                let r = next();
                match r % 16 {
                    0 => 0.0,
                    1 => -0.0,
                    2 => f64::NAN,
                    3 => -f64::NAN,
                    4 => f64::INFINITY,
                    5 => f64::NEG_INFINITY,
                    6 => ((r >> 8) % 7) as f64 - 3.0,
                    7 => f64::from_bits(r >> 12), // subnormals and tiny normals
                    _ => f64::from_bits(r & !(0x7ff << 52) | (((r >> 4) % 2046 + 1) << 52)),
                }
            })
            .collect()
    }

    /// The definition: a stable sort with numpy's order (NaN last, -0.0 == 0.0).
    fn reference_argsort(x: &[f64]) -> Vec<i64> {
        let mut idx: Vec<usize> = (0..x.len()).collect();
        idx.sort_by(|&i, &j| match (x[i].is_nan(), x[j].is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            (false, false) => x[i].partial_cmp(&x[j]).unwrap(),
        });
        idx.into_iter().map(|i| i as i64).collect()
    }

    fn assert_sorted_permutation(x: &[f64], s: &[f64]) {
        assert_eq!(s.len(), x.len());
        let nans = x.iter().filter(|v| v.is_nan()).count();
        let (head, tail) = s.split_at(x.len() - nans);
        assert!(tail.iter().all(|v| v.is_nan()));
        assert!(head.iter().all(|v| !v.is_nan()));
        assert!(head.windows(2).all(|w| w[0] <= w[1]));
        let mut a: Vec<u64> = x.iter().map(|v| v.to_bits()).collect();
        let mut b: Vec<u64> = s.iter().map(|v| v.to_bits()).collect();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b, "not a bitwise permutation");
    }

    #[test]
    fn key_is_monotone_and_invertible() {
        let vals = [
            f64::NEG_INFINITY,
            -f64::MAX,
            -1.0,
            -f64::MIN_POSITIVE,
            -5e-324,
            -0.0,
            0.0,
            5e-324,
            f64::MIN_POSITIVE,
            1.0,
            f64::MAX,
            f64::INFINITY,
        ];
        for w in vals.windows(2) {
            assert!(key(w[0]) < key(w[1]), "{} {}", w[0], w[1]);
        }
        for v in vals {
            assert_eq!(from_key(key(v)).to_bits(), v.to_bits());
        }
    }

    #[test]
    fn sort_small_cases_match_numpy() {
        assert_eq!(sort(&[]), Vec::<f64>::new());
        assert_eq!(sort(&[2.0]), vec![2.0]);
        // python -c "import numpy as np; print(np.sort([3.0, np.nan, -1.0, np.inf, -np.inf, 0.0, -2.5, np.nan, 1e-300]).tolist())"
        let s = sort(&[
            3.0,
            f64::NAN,
            -1.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -2.5,
            f64::NAN,
            1e-300,
        ]);
        let want = [
            f64::NEG_INFINITY,
            -2.5,
            -1.0,
            0.0,
            1e-300,
            3.0,
            f64::INFINITY,
        ];
        assert_eq!(&s[..7], &want);
        assert!(s[7].is_nan() && s[8].is_nan());
        // NaN payloads and signs survive (appended in input order).
        let neg_nan = f64::from_bits(0xfff8_0000_0000_0001);
        let s = sort(&[neg_nan, 1.0, f64::NAN]);
        assert_eq!(s[0], 1.0);
        assert_eq!(s[1].to_bits(), neg_nan.to_bits());
        assert_eq!(s[2].to_bits(), f64::NAN.to_bits());
        // Zeros compare equal to numpy (its order of -0.0/0.0 is unspecified); ours puts -0.0 first.
        let s = sort(&[0.0, -0.0, 0.0, -0.0]);
        assert!(s.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn argsort_small_cases_match_numpy() {
        assert_eq!(argsort(&[]), Vec::<i64>::new());
        // python -c "import numpy as np; print(np.argsort([0.0, np.nan, -0.0, 1.0, -np.inf, np.nan, 0.0, 1.0, -0.0, np.inf], kind='stable').tolist())"
        let x = [
            0.0,
            f64::NAN,
            -0.0,
            1.0,
            f64::NEG_INFINITY,
            f64::NAN,
            0.0,
            1.0,
            -0.0,
            f64::INFINITY,
        ];
        assert_eq!(argsort(&x), vec![4, 0, 2, 6, 8, 3, 7, 9, 1, 5]);
        // python -c "import numpy as np; print(np.argsort([3, 1, 2, 1, 3, 1], kind='stable').tolist())"
        assert_eq!(
            argsort(&[3.0, 1.0, 2.0, 1.0, 3.0, 1.0]),
            vec![1, 3, 5, 2, 0, 4]
        );
    }

    #[test]
    fn large_inputs_match_numpy_stable_order() {
        // python -c "import numpy as np; x = np.arange(2000.0) % 7 - 3; x[3::14] = -0.0; x[5::11] = np.nan; i = np.argsort(x, kind='stable'); z = int(np.sum(x < 0)); print(z, i[z:z+8].tolist(), i[:8].tolist(), i[-5:].tolist())"
        let mut x: Vec<f64> = (0..2000).map(|i| (i % 7) as f64 - 3.0).collect();
        for i in (3..2000).step_by(14) {
            x[i] = -0.0;
        }
        for i in (5..2000).step_by(11) {
            x[i] = f64::NAN;
        }
        let idx = argsort(&x);
        assert_eq!(&idx[..8], &[0, 7, 14, 21, 28, 35, 42, 56]);
        assert_eq!(&idx[780..788], &[3, 10, 17, 24, 31, 45, 52, 59]);
        assert_eq!(&idx[idx.len() - 5..], &[1952, 1963, 1974, 1985, 1996]);
        assert_eq!(idx, reference_argsort(&x));
        assert_sorted_permutation(&x, &sort(&x));
    }

    #[test]
    fn matches_reference_on_mixed_inputs() {
        // Lengths around the standard library's small-sort cut-offs, and large ones.
        for (n, seed) in [
            (0, 1),
            (1, 2),
            (2, 3),
            (19, 4),
            (20, 5),
            (21, 6),
            (33, 7),
            (5000, 8),
            (70_000, 9),
        ] {
            let x = mixed(n, seed);
            assert_eq!(argsort(&x), reference_argsort(&x), "n={n}");
            assert_sorted_permutation(&x, &sort(&x));
        }
        // Values one ulp apart, and all-equal input (zeros of both signs).
        let x: Vec<f64> = (0..3000)
            .map(|i| 1.0 + ((i * 7919) % 3000) as f64 * f64::EPSILON)
            .collect();
        assert_eq!(argsort(&x), reference_argsort(&x));
        assert_sorted_permutation(&x, &sort(&x));
        let x = vec![-0.0; 1000];
        assert_eq!(argsort(&x), (0..1000).collect::<Vec<i64>>());
        let x: Vec<f64> = (0..1000)
            .map(|i| if i % 2 == 0 { 0.0 } else { -0.0 })
            .collect();
        assert_eq!(argsort(&x), (0..1000).collect::<Vec<i64>>());
    }

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            8 => -1e6f64..1e6,
            2 => (-5i32..5).prop_map(f64::from),
            1 => Just(0.0),
            1 => Just(-0.0),
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
            1 => any::<u64>().prop_map(f64::from_bits),
        ]
    }

    proptest! {
        #[test]
        fn sort_is_ordered_permutation(x in prop::collection::vec(value(), 0..400)) {
            assert_sorted_permutation(&x, &sort(&x));
        }

        #[test]
        fn argsort_is_stable_sorting_permutation(x in prop::collection::vec(value(), 0..400)) {
            let idx = argsort(&x);
            prop_assert_eq!(&idx, &reference_argsort(&x));
            // and, spelled out: a permutation, ordered, ties in increasing index order
            let mut seen = vec![false; x.len()];
            for &i in &idx {
                prop_assert!(!seen[i as usize]);
                seen[i as usize] = true;
            }
            for w in idx.windows(2) {
                let (a, b) = (x[w[0] as usize], x[w[1] as usize]);
                let tie = (a.is_nan() && b.is_nan()) || a == b;
                prop_assert!(tie || b.is_nan() || a < b);
                prop_assert!(!tie || w[0] < w[1]);
            }
        }
    }
}
