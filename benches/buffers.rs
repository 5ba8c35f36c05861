//! Buffer kernels at 10^6 float64, native vs wasm (engine only: the input is in linear memory
//! already, as with the Python host's zero-copy arrays): reductions, statistics, dot, norm,
//! cumsum, axpy, histogram.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wasmcore::{linalg, stats};

mod common;
use common::{Native, compare, fallible, owned, uniform};

const N: usize = 1_000_000;

fn x() -> Vec<f64> {
    uniform(N, -1.0, 1.0, 1)
}

/// The infallible `(x) -> f64` exports: sum, norm.
fn plain(c: &mut Criterion) {
    let x = x();
    let kernels: [(&str, Native<f64, f64>); 2] = [("sum", stats::sum), ("norm", linalg::norm)];
    for (name, f) in kernels {
        compare(
            c,
            &format!("{name}/1e6"),
            || f(black_box(&x)),
            |w| {
                let args = w.buffer(&x);
                w.kernel::<_, f64>(name, args)
            },
        );
    }
}

fn reductions(c: &mut Criterion) {
    let mut x = x();
    fallible(c, "mean/1e6", "mean", &x, stats::mean);
    fallible(c, "min/1e6", "min", &x, stats::min);
    fallible(c, "max/1e6", "max", &x, stats::max);
    // the extremes in the middle: argmin/argmax find them, then scan half of x for them
    x[N / 2] = -2.0;
    x[N / 2 + 1] = 2.0;
    fallible(c, "argmin/1e6", "argmin", &x, stats::argmin);
    fallible(c, "argmax/1e6", "argmax", &x, stats::argmax);
}

fn var(c: &mut Criterion) {
    let x = x();
    compare(
        c,
        "var/1e6",
        || stats::var(black_box(&x), 0),
        |w| {
            let (p, n) = w.buffer(&x);
            let out = w.slot();
            w.kernel::<_, i32>("var", (p, n, 0, out)).fallible()
        },
    );
}

fn dot(c: &mut Criterion) {
    let (x, y) = (x(), uniform(N, -1.0, 1.0, 2));
    compare(
        c,
        "dot/1e6",
        || linalg::dot(black_box(&x), black_box(&y)),
        |w| {
            let ((xp, xn), (yp, yn)) = (w.buffer(&x), w.buffer(&y));
            let out = w.slot();
            w.kernel::<_, i32>("dot", (xp, xn, yp, yn, out)).fallible()
        },
    );
}

fn axpy(c: &mut Criterion) {
    // y drifts by a * x per call: far from overflow or subnormals for any run length.
    let (a, x, y) = (1e-9, x(), uniform(N, -1.0, 1.0, 2));
    let mut native_y = y.clone();
    compare(
        c,
        "axpy/1e6",
        || linalg::axpy(black_box(a), black_box(&x), black_box(&mut native_y)),
        |w| {
            let ((xp, xn), (yp, yn)) = (w.buffer(&x), w.buffer(&y));
            w.kernel::<_, i32>("axpy", (a, xp, xn, yp, yn)).fallible()
        },
    );
}

fn cumsum(c: &mut Criterion) {
    owned(c, "cumsum/1e6", "cumsum", &x(), stats::cumsum);
}

fn histogram(c: &mut Criterion) {
    let x = x();
    let (bins, lo, hi) = (100u32, -1.0, 1.0);
    compare(
        c,
        "histogram/1e6",
        || stats::histogram(black_box(&x), bins, lo, hi),
        |w| {
            let (p, n) = w.buffer(&x);
            let out = w.slot();
            w.kernel::<_, i32>("histogram", (p, n, bins as i32, lo, hi, out))
                .fallible()
                .owned(out, 8)
        },
    );
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = plain, reductions, var, dot, axpy, cumsum, histogram
}
criterion_main!(benches);
