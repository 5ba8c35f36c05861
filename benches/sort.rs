//! Sorting and order statistics at 10^6 float64, native vs wasm.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wasmcore::{sort, stats};

mod common;
use common::{compare, fallible, owned, uniform};

const N: usize = 1_000_000;

fn sorting(c: &mut Criterion) {
    let x = uniform(N, -1.0, 1.0, 1);
    owned(c, "sort/1e6", "sort", &x, sort::sort);
    owned(c, "argsort/1e6", "argsort", &x, sort::argsort);
}

fn order_statistics(c: &mut Criterion) {
    let x = uniform(N, -1.0, 1.0, 1);
    fallible(c, "median/1e6", "median", &x, stats::median);
    let q = 0.9;
    compare(
        c,
        "quantile/1e6",
        || stats::quantile(black_box(&x), q),
        |w| {
            let (p, n) = w.buffer(&x);
            let out = w.slot();
            w.kernel::<_, i32>("quantile", (p, n, q, out)).fallible()
        },
    );
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = sorting, order_statistics
}
criterion_main!(benches);
