//! Matrix product and convolution, native vs wasm.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wasmcore::{MatrixRef, linalg};

mod common;
use common::{compare, uniform};

fn matmul(c: &mut Criterion) {
    let n = 256;
    let (a, b) = (uniform(n * n, -1.0, 1.0, 1), uniform(n * n, -1.0, 1.0, 2));
    let view = |m| MatrixRef::new(m, n, n).expect("n x n");
    compare(
        c,
        "matmul/256",
        || linalg::matmul(view(black_box(&a)), view(black_box(&b))),
        |w| {
            let ((ap, _), (bp, _)) = (w.buffer(&a), w.buffer(&b));
            let out = w.slot();
            let n = n as i32;
            w.kernel::<_, i32>("matmul", (ap, n, n, bp, n, n, out))
                .fallible()
                .owned(out, 8)
        },
    );
}

fn convolve(c: &mut Criterion) {
    let (x, k) = (uniform(100_000, -1.0, 1.0, 1), uniform(64, -1.0, 1.0, 2));
    compare(
        c,
        "convolve/1e5x64",
        || linalg::convolve(black_box(&x), black_box(&k)),
        |w| {
            let ((xp, xn), (kp, kn)) = (w.buffer(&x), w.buffer(&k));
            let out = w.slot();
            w.kernel::<_, i32>("convolve", (xp, xn, kp, kn, out))
                .fallible()
                .owned(out, 8)
        },
    );
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = matmul, convolve
}
criterion_main!(benches);
