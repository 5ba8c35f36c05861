//! Integer kernels, native vs wasm: fib(37), count_primes(10^8), mandelbrot, partitions.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wasmcore::numeric;

mod common;
use common::compare;

fn fib(c: &mut Criterion) {
    compare(
        c,
        "fib/37",
        || numeric::fib(black_box(37)),
        |w| {
            let out = w.slot();
            w.kernel::<_, i32>("fib", (37, out)).fallible()
        },
    );
}

fn count_primes(c: &mut Criterion) {
    let n = 100_000_000u64;
    compare(
        c,
        "count_primes/1e8",
        || numeric::count_primes(black_box(n)),
        |w| {
            let out = w.slot();
            w.kernel::<_, i32>("count_primes", (n as i64, out))
                .fallible()
        },
    );
}

fn mandelbrot(c: &mut Criterion) {
    let (width, height, max_iter) = (512u32, 512u32, 256u32);
    let area = (-2.2, -1.5, 0.8, 1.5);
    compare(
        c,
        "mandelbrot/512x512",
        || {
            let (x0, y0, x1, y1) = black_box(area);
            numeric::mandelbrot(width, height, x0, y0, x1, y1, max_iter)
        },
        |w| {
            let out = w.slot();
            let (x0, y0, x1, y1) = area;
            let args = (
                width as i32,
                height as i32,
                x0,
                y0,
                x1,
                y1,
                max_iter as i32,
                out,
            );
            w.kernel::<_, i32>("mandelbrot", args)
                .fallible()
                .owned(out, 4)
        },
    );
}

fn partitions(c: &mut Criterion) {
    // A smaller deck than the classic [4]*9 + [16] (which takes minutes).
    let cards = [3u32, 3, 3, 3, 3, 3, 3, 3, 3, 12];
    compare(
        c,
        "partitions/3x9+12",
        || numeric::partitions(black_box(&cards), 0),
        |w| {
            let (ptr, len) = w.buffer(&cards);
            let out = w.slot();
            w.kernel::<_, i32>("partitions", (ptr, len, 0, out))
                .fallible()
        },
    );
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = fib, count_primes, mandelbrot, partitions
}
criterion_main!(benches);
