//! Linear algebra on float64 buffers: dot, norm, axpy, matmul, convolve.
//!
//! Every kernel fixes its order of floating-point operations in the source (independent
//! accumulator lanes are spelled out, never left to reassociation), so the native and the
//! wasm32 builds compute the same bits.

use wasmcore_abi::{export, try_vec};

use crate::stats::SUM_BLOCK;
use crate::{Error, Matrix, MatrixRef};

/// Independent accumulators in the leaves of the pairwise reductions (as in `stats::sum`).
const LANES: usize = 8;

fn length_mismatch(n: usize, m: usize) -> Error {
    Error::value(
        "y",
        format!("must have the same length as 'x' ({n}), got {m}"),
    )
}

/// Sum of `f(x[i], y[i])` over equally long `x` and `y`: blocks of at most `SUM_BLOCK`
/// elements summed with eight lanes, blocks combined pairwise (the order of `stats::sum`).
fn pairwise(x: &[f64], y: &[f64], f: impl Fn(f64, f64) -> f64 + Copy) -> f64 {
    if x.len() <= SUM_BLOCK {
        block(x, y, f)
    } else {
        let h = x.len() / 2;
        let (xa, xb) = x.split_at(h);
        let (ya, yb) = y.split_at(h.min(y.len()));
        pairwise(xa, ya, f) + pairwise(xb, yb, f)
    }
}

fn block(x: &[f64], y: &[f64], f: impl Fn(f64, f64) -> f64) -> f64 {
    let (xc, xr) = x.as_chunks::<LANES>();
    let (yc, yr) = y.as_chunks::<LANES>();
    let mut acc = [0.0f64; LANES];
    for (a, b) in xc.iter().zip(yc) {
        for l in 0..LANES {
            acc[l] += f(a[l], b[l]);
        }
    }
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (&a, &b) in xr.iter().zip(yr) {
        s += f(a, b);
    }
    s
}

/// Inner product sum(x[i] * y[i]), accumulated pairwise over blocks of eight lanes.
/// x and y must have the same length; empty gives 0.0.
#[export]
pub fn dot(x: &[f64], y: &[f64]) -> Result<f64, Error> {
    if x.len() != y.len() {
        return Err(length_mismatch(x.len(), y.len()));
    }
    Ok(pairwise(x, y, |a, b| a * b))
}

/// Euclidean norm sqrt(sum(x[i]**2)), without spurious overflow or underflow (rescaled by
/// max|x| when needed); NaN if any element is NaN, else inf if any is infinite; empty gives 0.0.
#[export]
pub fn norm(x: &[f64]) -> f64 {
    let ss = pairwise(x, x, |a, _| a * a);
    // Below this, squares that underflowed (to subnormals or zero) could matter; above it
    // each lost square is < 2**-1074, negligible next to ss even summed over 2**52 terms.
    const TINY: f64 = f64::MIN_POSITIVE / f64::EPSILON;
    if ss.is_nan() || (TINY..f64::INFINITY).contains(&ss) {
        return ss.sqrt();
    }
    let amax = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if amax == 0.0 || amax == f64::INFINITY {
        return ss.sqrt();
    }
    amax * pairwise(x, x, |a, _| {
        let t = a / amax;
        t * t
    })
    .sqrt()
}

/// In place y[i] = y[i] + a * x[i] (a multiply then an add, no fused multiply-add).
/// x and y must have the same length (y is left untouched otherwise).
#[export]
pub fn axpy(a: f64, x: &[f64], y: &mut [f64]) -> Result<(), Error> {
    if x.len() != y.len() {
        return Err(length_mismatch(x.len(), y.len()));
    }
    scaled_add(y, a, x);
    Ok(())
}

/// dst[i] += a * src[i] over the common length. Every element gets exactly one multiply and
/// one add in either shape below, so both compute the same bits; the shape only steers the
/// vectoriser. In wasm, LLVM vectorises the plain loop two elements per iteration and does not
/// unroll it, while rows of eight become four SIMD multiply-adds per iteration (1.3x faster
/// under wasmtime). On x86 LLVM unrolls the plain loop itself, and rows of eight would make
/// it vectorise across rows with shuffles (1.5x slower).
#[inline]
fn scaled_add(dst: &mut [f64], a: f64, src: &[f64]) {
    if cfg!(target_family = "wasm") {
        let (dc, dr) = dst.as_chunks_mut::<LANES>();
        let (sc, sr) = src.as_chunks::<LANES>();
        for (d, s) in dc.iter_mut().zip(sc) {
            for l in 0..LANES {
                d[l] += a * s[l];
            }
        }
        for (d, &s) in dr.iter_mut().zip(sr) {
            *d += a * s;
        }
    } else {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d += a * s;
        }
    }
}

/// Rows of the register tile of the matmul micro-kernel.
///
/// 2 x 8 rather than 4 x 4: the same 8 two-lane accumulators, but per step of p two
/// broadcasts of `a` instead of four (and four loads of `b` instead of two). Cranelift
/// broadcasts through a general register (load, `vmovq`, `vpshufd`), so the 4 x 4 tile
/// cost the wasm build about a third more than native; 2 x 8 is faster in both builds.
const MR: usize = 2;
/// Columns of the register tile (MR * NR accumulators stay in registers).
const NR: usize = 8;
/// Depth of a block: a packed MR x KC slice of `a` stays in L1.
const KC: usize = 256;
/// Columns of a block: the packed KC x NC panel of `b` (512 KiB) stays in L2.
const NC: usize = 256;

/// Matrix product a @ b, (m, k) @ (k, n) -> (m, n); each element sums a[i, p] * b[p, j] in
/// order p = 0, 1, ..., k-1 starting from 0.0 (k = 0 gives zeros).
#[export]
pub fn matmul(a: MatrixRef<f64>, b: MatrixRef<f64>) -> Result<Matrix<f64>, Error> {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    if b.rows() != k {
        return Err(Error::value(
            "b",
            format!("must have {k} rows (the columns of 'a'), got {}", b.rows()),
        ));
    }
    let len = match m.checked_mul(n) {
        Some(len) => len,
        // The message try_vec gives for a length it cannot allocate, with the true count
        // (the same on 32- and 64-bit targets).
        None => {
            return Err(Error::value(
                "b",
                format!(
                    "asks for {} elements, more memory than is available",
                    m as u128 * n as u128
                ),
            ));
        }
    };
    let mut c = try_vec(len, 0.0f64, "b")?;
    if len > 0 && k > 0 {
        gemm(a.data(), b.data(), &mut c, m, k, n)?;
    }
    Matrix::new(c, m, n).ok_or_else(|| Error::invalid("internal error: matmul result shape"))
}

/// c (m x n, row-major) += a (m x k) @ b (k x n); all sizes non-zero, slices exactly sized.
///
/// Loop nest: column blocks of `b` (NC) > depth blocks (KC) > row tiles (MR) > column
/// tiles (NR) > p. Each element of c is loaded into the register tile, gets its products
/// added in increasing p, and is stored back, so it is summed in plain order p = 0..k.
fn gemm(a: &[f64], b: &[f64], c: &mut [f64], m: usize, k: usize, n: usize) -> Result<(), Error> {
    let nc_max = NC.min(n).div_ceil(NR) * NR;
    let kc_max = KC.min(k);
    let mut bp = try_vec(kc_max * nc_max, 0.0f64, "b")?;
    let mut ap = [0.0f64; MR * KC];
    for j0 in (0..n).step_by(NC) {
        let nb = NC.min(n - j0);
        let strips = nb.div_ceil(NR);
        for p0 in (0..k).step_by(KC) {
            let kb = KC.min(k - p0);
            // Pack b[p0..p0+kb, j0..j0+nb] as `strips` strips of kb rows of NR (zero padded).
            let bp = &mut bp[..strips * kb * NR];
            for (s, strip) in bp.chunks_exact_mut(kb * NR).enumerate() {
                let jj = j0 + s * NR;
                let w = NR.min(n - jj);
                for (p, dst) in strip.chunks_exact_mut(NR).enumerate() {
                    let row = (p0 + p) * n + jj;
                    dst[..w].copy_from_slice(&b[row..row + w]);
                    dst[w..].fill(0.0);
                }
            }
            for i0 in (0..m).step_by(MR) {
                let h = MR.min(m - i0);
                // Pack a[i0..i0+h, p0..p0+kb] as kb columns of MR (zero padded).
                let ap = &mut ap[..kb * MR];
                for (p, dst) in ap.chunks_exact_mut(MR).enumerate() {
                    for (r, d) in dst.iter_mut().enumerate() {
                        *d = if r < h { a[(i0 + r) * k + p0 + p] } else { 0.0 };
                    }
                }
                let (ap, _) = ap.as_chunks::<MR>();
                for (s, strip) in bp.chunks_exact(kb * NR).enumerate() {
                    let jj = j0 + s * NR;
                    let w = NR.min(n - jj);
                    let mut acc = [[0.0f64; NR]; MR];
                    for (r, acc_r) in acc.iter_mut().enumerate().take(h) {
                        let at = (i0 + r) * n + jj;
                        acc_r[..w].copy_from_slice(&c[at..at + w]);
                    }
                    let (bs, _) = strip.as_chunks::<NR>();
                    micro_kernel(&mut acc, ap, bs);
                    for (r, acc_r) in acc.iter().enumerate().take(h) {
                        let at = (i0 + r) * n + jj;
                        c[at..at + w].copy_from_slice(&acc_r[..w]);
                    }
                }
            }
        }
    }
    Ok(())
}

#[inline(always)]
fn micro_kernel(acc: &mut [[f64; NR]; MR], ap: &[[f64; MR]], bp: &[[f64; NR]]) {
    for (av, bv) in ap.iter().zip(bp) {
        for r in 0..MR {
            for q in 0..NR {
                acc[r][q] += av[r] * bv[q];
            }
        }
    }
}

/// Outputs computed per block of convolve (they stay in L1 while every tap is added).
const CONV_BLOCK: usize = 2048;

/// Full discrete convolution of x and k, as numpy.convolve(x, k, "full"): length
/// len(x) + len(k) - 1, out[i] = sum over j of x[j] * k[i - j]. Neither may be empty.
#[export]
pub fn convolve(x: &[f64], k: &[f64]) -> Result<Vec<f64>, Error> {
    if x.is_empty() {
        return Err(Error::value("x", "must not be empty"));
    }
    if k.is_empty() {
        return Err(Error::value("k", "must not be empty"));
    }
    // Like numpy (`correlate(long, short[::-1])`: a dot product per output over the longer's
    // window), slide the shorter over the longer; each output adds its terms in increasing
    // index of the longer, i.e. decreasing index of the shorter. The order matters near
    // overflow: `max + tiny - tiny` is finite, `max - tiny + tiny` may not be.
    let (long, short) = if x.len() >= k.len() { (x, k) } else { (k, x) };
    let len = long.len() + (short.len() - 1);
    let mut out = try_vec(len, 0.0f64, "k")?;
    for (bi, blk) in out.chunks_mut(CONV_BLOCK).enumerate() {
        let o0 = bi * CONV_BLOCK;
        let o1 = o0 + blk.len();
        for (j, &s) in short.iter().enumerate().rev() {
            // outputs o in [o0, o1) with 0 <= o - j < long.len()
            let lo = o0.max(j);
            let hi = o1.min(j + long.len());
            if lo >= hi {
                continue;
            }
            scaled_add(&mut blk[lo - o0..hi - o0], s, &long[lo - j..hi - j]);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mat(data: &[f64], rows: usize, cols: usize) -> MatrixRef<'_, f64> {
        MatrixRef::new(data, rows, cols).unwrap()
    }

    /// The textbook triple loop with the same per-element order (p ascending from 0.0).
    fn naive_matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for p in 0..k {
                    s += a[i * k + p] * b[p * n + j];
                }
                c[i * n + j] = s;
            }
        }
        c
    }

    fn naive_convolve(x: &[f64], k: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; x.len() + k.len() - 1];
        for (i, &xi) in x.iter().enumerate() {
            for (j, &kj) in k.iter().enumerate() {
                out[i + j] += xi * kj;
            }
        }
        out
    }

    #[test]
    fn dot_small_cases_and_errors() {
        assert_eq!(dot(&[], &[]), Ok(0.0));
        assert_eq!(dot(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]), Ok(32.0));
        assert!(dot(&[1.0, f64::NAN], &[1.0, 1.0]).unwrap().is_nan());
        assert!(dot(&[f64::INFINITY], &[0.0]).unwrap().is_nan());
        assert_eq!(dot(&[f64::INFINITY, 1.0], &[2.0, 1.0]), Ok(f64::INFINITY));
        assert_eq!(dot(&[-0.0], &[1.0]), Ok(0.0));
        let e = dot(&[1.0, 2.0], &[1.0]).unwrap_err();
        assert_eq!(
            e.message(),
            "parameter 'y' must have the same length as 'x' (2), got 1"
        );
        // integers: exact across block boundaries
        for n in [7, 8, 9, 1023, 1024, 1025, 2048, 5000] {
            let x: Vec<f64> = (0..n).map(|i| (i % 17) as f64).collect();
            let y: Vec<f64> = (0..n).map(|i| (i % 5) as f64 - 2.0).collect();
            let want: i64 = (0..n as i64).map(|i| (i % 17) * (i % 5 - 2)).sum();
            assert_eq!(dot(&x, &y), Ok(want as f64), "n={n}");
        }
    }

    #[test]
    fn dot_matches_numpy() {
        // python -c "import numpy as np; x=np.sin(np.arange(3000)*0.37); y=np.cos(np.arange(3000)*1.1); print(repr(float(np.dot(x,y))))"
        let want = -1.091799081765123;
        let x: Vec<f64> = (0..3000).map(|i| (i as f64 * 0.37).sin()).collect();
        let y: Vec<f64> = (0..3000).map(|i| (i as f64 * 1.1).cos()).collect();
        let got = dot(&x, &y).unwrap();
        let abs: f64 = x.iter().zip(&y).map(|(a, b)| (a * b).abs()).sum();
        assert!((got - want).abs() <= 1e-14 * abs, "{got} vs {want}");
    }

    #[test]
    fn norm_edges() {
        assert_eq!(norm(&[]), 0.0);
        assert_eq!(norm(&[0.0, -0.0]), 0.0);
        assert_eq!(norm(&[3.0, 4.0]), 5.0);
        assert_eq!(norm(&[-3.0, 4.0]), 5.0);
        assert!(norm(&[1.0, f64::NAN]).is_nan());
        assert!(norm(&[f64::INFINITY, f64::NAN]).is_nan());
        assert_eq!(norm(&[1.0, f64::NEG_INFINITY]), f64::INFINITY);
        assert_eq!(norm(&[1e300, f64::INFINITY]), f64::INFINITY);
        assert_eq!(norm(&[f64::MAX]), f64::MAX);
        assert_eq!(norm(&[5e-324]), 5e-324);
        // python -c "import math; print(repr(math.hypot(1e300, 1e300)), repr(math.hypot(*[1e-300]*4)))"
        // 1.4142135623730952e+300 2e-300
        let big = norm(&[1e300, 1e300]);
        assert!((big - 1.4142135623730952e300).abs() <= 2e-16 * 1.4142135623730952e300);
        assert_eq!(norm(&[1e-300; 4]), 2e-300);
        assert_eq!(norm(&[-1e-300; 4]), 2e-300);
        // squares that are subnormal but not zero (numpy.linalg.norm gives 4.999972167879245e-160)
        assert_eq!(norm(&[3e-160, 4e-160]), 5e-160);
        // python -c "import math; print(repr(math.hypot(1e200, 1e-200, 3e199)))"
        // 1.044030650891055e+200
        let v = norm(&[1e200, 1e-200, 3e199]);
        assert!((v - 1.044030650891055e200).abs() <= 4e-16 * v);
    }

    #[test]
    fn norm_matches_numpy() {
        // python -c "import numpy as np; print(repr(float(np.linalg.norm(np.sin(np.arange(5000)*0.37)))))"
        let want = 50.0038549458498;
        let x: Vec<f64> = (0..5000).map(|i| (i as f64 * 0.37).sin()).collect();
        assert!((norm(&x) - want).abs() <= 1e-14 * want);
    }

    #[test]
    fn axpy_exact_and_errors() {
        let mut y = vec![1.0, 2.0, 3.0];
        axpy(2.0, &[1.0, -1.0, 0.5], &mut y).unwrap();
        assert_eq!(y, [3.0, 0.0, 4.0]);
        // no fused multiply-add: 0.1 * 3.0 rounds before the add
        let mut y = vec![-0.30000000000000004];
        axpy(0.1, &[3.0], &mut y).unwrap();
        assert_eq!(y, [0.0]);
        let mut y = vec![1.0, 2.0];
        let e = axpy(1.0, &[1.0, 2.0, 3.0], &mut y).unwrap_err();
        assert_eq!(
            e.message(),
            "parameter 'y' must have the same length as 'x' (3), got 2"
        );
        assert_eq!(y, [1.0, 2.0]);
        let mut y: Vec<f64> = vec![];
        axpy(f64::NAN, &[], &mut y).unwrap();
    }

    #[test]
    fn matmul_small_and_errors() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2x3
        let b = [7.0, 8.0, 9.0, 10.0, 11.0, 12.0]; // 3x2
        let c = matmul(mat(&a, 2, 3), mat(&b, 3, 2)).unwrap();
        assert_eq!((c.rows(), c.cols()), (2, 2));
        assert_eq!(c.data(), &[58.0, 64.0, 139.0, 154.0]);
        let e = matmul(mat(&a, 2, 3), mat(&b, 2, 3)).unwrap_err();
        assert_eq!(
            e.message(),
            "parameter 'b' must have 3 rows (the columns of 'a'), got 2"
        );
        // zero sizes
        let c = matmul(mat(&[], 0, 3), mat(&b, 3, 2)).unwrap();
        assert_eq!((c.rows(), c.cols(), c.data().len()), (0, 2, 0));
        let c = matmul(mat(&a, 2, 3), mat(&[], 3, 0)).unwrap();
        assert_eq!((c.rows(), c.cols(), c.data().len()), (2, 0, 0));
        let c = matmul(mat(&[], 2, 0), mat(&[], 0, 3)).unwrap();
        assert_eq!((c.rows(), c.cols()), (2, 3));
        assert_eq!(c.data(), &[0.0; 6]);
        // -0.0 products sum from +0.0, as the naive loop does
        let c = matmul(mat(&[-0.0], 1, 1), mat(&[1.0], 1, 1)).unwrap();
        assert!(c.data()[0] == 0.0 && c.data()[0].is_sign_positive());
        // NaN/inf propagate only where they belong (padding never leaks)
        let a = [f64::INFINITY, 1.0, 1.0, 1.0, 1.0, 1.0]; // 3x2
        let b = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2x3
        let c = matmul(mat(&a, 3, 2), mat(&b, 2, 3)).unwrap();
        assert_eq!(c.data(), naive_matmul(&a, &b, 3, 2, 3).as_slice());
        let a = [0.0, f64::NAN];
        let c = matmul(mat(&a, 2, 1), mat(&[1.0], 1, 1)).unwrap();
        assert_eq!(c.data()[0], 0.0);
        assert!(c.data()[1].is_nan());
    }

    #[test]
    fn matmul_size_overflow_is_the_try_vec_error() {
        let huge = usize::MAX / 2;
        let e = matmul(mat(&[], huge, 0), mat(&[], 0, 4)).unwrap_err();
        let want = (huge as u128 * 4).to_string();
        assert_eq!(
            e.message(),
            format!("parameter 'b' asks for {want} elements, more memory than is available")
        );
        // same wording as try_vec itself
        let t = try_vec::<f64>(usize::MAX, 0.0, "b").unwrap_err();
        assert_eq!(
            t.message().replace(&usize::MAX.to_string(), &want),
            e.message()
        );
        // a product that fits usize but not memory
        let e = matmul(mat(&[], usize::MAX / 4, 0), mat(&[], 0, 2)).unwrap_err();
        assert!(e.message().starts_with("parameter 'b' asks for "));
    }

    #[test]
    fn matmul_matches_numpy() {
        // python -c "import numpy as np; a=np.sin(np.arange(35.)).reshape(5,7); b=np.cos(np.arange(21.)).reshape(7,3); print([repr(float(v)) for v in (a@b).ravel()])"
        let want = [
            -0.18319862284072366,
            -0.02760500183461325,
            0.1533685305512521,
            0.4101329598066055,
            0.49729068511422236,
            0.12724164790131703,
            0.8015989487981077,
            0.7774221389776909,
            0.03848699984706773,
            0.7985215493496276,
            0.6749099211891277,
            -0.0692107760060874,
            0.40241544359467757,
            0.2402100831485999,
            -0.14284331995874533,
        ];
        let a: Vec<f64> = (0..35).map(|i| (i as f64).sin()).collect();
        let b: Vec<f64> = (0..21).map(|i| (i as f64).cos()).collect();
        let c = matmul(mat(&a, 5, 7), mat(&b, 7, 3)).unwrap();
        for (g, w) in c.data().iter().zip(want) {
            assert!((g - w).abs() <= 1e-12 * 7.0, "{g} vs {w}");
        }
    }

    #[test]
    fn matmul_bitwise_equals_naive_across_block_edges() {
        let f = |i: usize| ((i * 7919) % 1009) as f64 / 101.0 - 5.0;
        for &(m, k, n) in &[
            (1, 1, 1),
            (3, 5, 7),
            (4, 4, 4),
            (5, 257, 9),
            (9, 300, 258),
            (2, 513, 513),
            (17, 256, 256),
            (1, 1000, 1),
        ] {
            let a: Vec<f64> = (0..m * k).map(f).collect();
            let b: Vec<f64> = (0..k * n).map(|i| f(i + 3)).collect();
            let c = matmul(mat(&a, m, k), mat(&b, k, n)).unwrap();
            assert_eq!(
                c.data(),
                naive_matmul(&a, &b, m, k, n).as_slice(),
                "{m}x{k}x{n}"
            );
        }
    }

    #[test]
    fn convolve_small_and_errors() {
        assert_eq!(
            convolve(&[1.0, 2.0, 3.0], &[0.0, 1.0, 0.5]),
            Ok(vec![0.0, 1.0, 2.5, 4.0, 1.5])
        );
        assert_eq!(convolve(&[2.0], &[3.0]), Ok(vec![6.0]));
        assert_eq!(convolve(&[1.0], &[1.0, 2.0, 3.0]), Ok(vec![1.0, 2.0, 3.0]));
        let e = convolve(&[], &[]).unwrap_err();
        assert_eq!(e.message(), "parameter 'x' must not be empty");
        let e = convolve(&[1.0], &[]).unwrap_err();
        assert_eq!(e.message(), "parameter 'k' must not be empty");
        // python -c "import numpy as np; print(np.convolve([1.,np.inf,2.],[1.,0.]))"
        // [ 1. inf nan  0.] (inf * 0 = nan only where that product occurs)
        let r = convolve(&[1.0, f64::INFINITY, 2.0], &[1.0, 0.0]).unwrap();
        assert_eq!(r[0], 1.0);
        assert_eq!(r[1], f64::INFINITY);
        assert!(r[2].is_nan());
        assert_eq!(r[3], 0.0);
    }

    #[test]
    fn convolve_matches_numpy() {
        // python -c "import numpy as np; x=np.sin(np.arange(9.)); k=np.cos(np.arange(4.)*0.5); print([repr(float(v)) for v in np.convolve(x,k)])"
        let want = [
            0.0,
            0.8414709848078965,
            1.6477576894298105,
            1.3937522868267136,
            -0.08213923791700128,
            -1.4825123261243287,
            -1.5198704186488272,
            -0.15986665750914397,
            1.347117771281582,
            1.2034498484661635,
            0.581025935506822,
            0.06998443381300311,
        ];
        let x: Vec<f64> = (0..9).map(|i| (i as f64).sin()).collect();
        let k: Vec<f64> = (0..4).map(|i| (i as f64 * 0.5).cos()).collect();
        for r in [convolve(&x, &k).unwrap(), convolve(&k, &x).unwrap()] {
            assert_eq!(r.len(), want.len());
            for (g, w) in r.iter().zip(want) {
                assert!((g - w).abs() <= 1e-12 * 4.0, "{g} vs {w}");
            }
        }
    }

    #[test]
    fn convolve_long_inputs_cross_blocks() {
        let x: Vec<f64> = (0..5000).map(|i| ((i * 31) % 97) as f64 - 48.0).collect();
        let k: Vec<f64> = (0..300).map(|i| ((i * 13) % 11) as f64 - 5.0).collect();
        // integer-valued: exact in any order
        assert_eq!(convolve(&x, &k).unwrap(), naive_convolve(&x, &k));
        assert_eq!(convolve(&k, &x).unwrap(), naive_convolve(&x, &k));
        let big: Vec<f64> = (0..3000).map(|i| (i % 7) as f64).collect();
        assert_eq!(convolve(&big, &big).unwrap(), naive_convolve(&big, &big));
    }

    fn finite() -> impl Strategy<Value = f64> {
        -1e6f64..1e6
    }

    proptest! {
        #[test]
        fn prop_dot_close_to_naive(v in prop::collection::vec((finite(), finite()), 0..3000)) {
            let (x, y): (Vec<f64>, Vec<f64>) = v.into_iter().unzip();
            let naive: f64 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
            let abs: f64 = x.iter().zip(&y).map(|(a, b)| (a * b).abs()).sum();
            let got = dot(&x, &y).unwrap();
            prop_assert!((got - naive).abs() <= 1e-12 * abs);
            prop_assert_eq!(got.to_bits(), dot(&y, &x).unwrap().to_bits());
        }

        #[test]
        fn prop_norm_close_and_scale_invariant(
            x in prop::collection::vec(finite(), 0..3000),
            e in -1000i32..1000,
        ) {
            let naive = x.iter().map(|a| a * a).sum::<f64>().sqrt();
            let got = norm(&x);
            prop_assert!((got - naive).abs() <= 1e-13 * naive);
            // Scaling by a power of two scales the norm (exactly, but for elements pushed
            // into the subnormals, which are negligible next to a normal norm). The squares
            // overflow from about 2**+500 and underflow from about 2**-500: the rescaled path.
            let s = 2f64.powi(e);
            let xs: Vec<f64> = x.iter().map(|a| a * s).collect();
            let want = got * s;
            if want.is_finite() && want >= 1e-290 {
                let scaled = norm(&xs);
                prop_assert!((scaled - want).abs() <= 1e-13 * want, "{} vs {}", scaled, want);
            }
        }

        #[test]
        fn prop_axpy_is_elementwise(
            v in prop::collection::vec((finite(), finite()), 0..200),
            a in finite(),
        ) {
            let (x, y0): (Vec<f64>, Vec<f64>) = v.into_iter().unzip();
            let mut y = y0.clone();
            axpy(a, &x, &mut y).unwrap();
            for i in 0..x.len() {
                prop_assert_eq!(y[i].to_bits(), (y0[i] + a * x[i]).to_bits());
            }
        }

        #[test]
        fn prop_matmul_bitwise_naive(
            m in 0usize..12, k in 0usize..12, n in 0usize..12,
            seed in prop::collection::vec(finite(), 144..=144),
        ) {
            let a: Vec<f64> = (0..m * k).map(|i| seed[i % 144]).collect();
            let b: Vec<f64> = (0..k * n).map(|i| seed[(i * 5 + 1) % 144]).collect();
            let c = matmul(mat(&a, m, k), mat(&b, k, n)).unwrap();
            prop_assert_eq!((c.rows(), c.cols()), (m, n));
            let want = naive_matmul(&a, &b, m, k, n);
            prop_assert_eq!(c.data(), want.as_slice());
        }

        #[test]
        fn prop_convolve_close_to_naive(
            x in prop::collection::vec(finite(), 1..300),
            k in prop::collection::vec(finite(), 1..40),
        ) {
            let want = naive_convolve(&x, &k);
            let mx = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let mk = k.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let tol = 1e-12 * k.len() as f64 * mx * mk;
            for got in [convolve(&x, &k).unwrap(), convolve(&k, &x).unwrap()] {
                prop_assert_eq!(got.len(), want.len());
                for (g, w) in got.iter().zip(&want) {
                    prop_assert!((g - w).abs() <= tol);
                }
            }
        }
    }
}
