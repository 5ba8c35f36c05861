//! Special functions over 10^6 float64, native vs wasm: gamma, lgamma, erf.

use criterion::{Criterion, criterion_group, criterion_main};
use wasmcore::special;

mod common;
use common::{owned, uniform};

fn elementwise(c: &mut Criterion) {
    let x = uniform(1_000_000, -20.0, 20.0, 1);
    owned(c, "gamma/1e6", "gamma", &x, special::gamma);
    owned(c, "lgamma/1e6", "lgamma", &x, special::lgamma);
    owned(
        c,
        "erf/1e6",
        "erf",
        &uniform(1_000_000, -4.0, 4.0, 2),
        special::erf,
    );
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = elementwise
}
criterion_main!(benches);
