//! Byte kernels, native vs wasm: sha256 of 64 MiB; crc32, fnv1a64 and base64 of 16 MiB.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wasmcore::bytes;

mod common;
use common::{compare, owned, random_bytes};

const MIB: usize = 1 << 20;

fn sha256(c: &mut Criterion) {
    owned(
        c,
        "sha256/64MiB",
        "sha256",
        &random_bytes(64 * MIB, 1),
        bytes::sha256,
    );
}

fn checksums(c: &mut Criterion) {
    let data = random_bytes(16 * MIB, 2);
    compare(
        c,
        "crc32/16MiB",
        || bytes::crc32(black_box(&data), 0),
        |w| {
            let (p, n) = w.buffer(&data);
            w.kernel::<_, i32>("crc32", (p, n, 0))
        },
    );
    compare(
        c,
        "fnv1a64/16MiB",
        || bytes::fnv1a64(black_box(&data)),
        |w| {
            let args = w.buffer(&data);
            w.kernel::<_, i64>("fnv1a64", args)
        },
    );
}

fn base64(c: &mut Criterion) {
    let data = random_bytes(16 * MIB, 3);
    owned(
        c,
        "base64_encode/16MiB",
        "base64_encode",
        &data,
        bytes::base64_encode,
    );
    let text = bytes::base64_encode(&data);
    fallible_owned(c, &text);
}

/// base64_decode: fallible with an owned result.
fn fallible_owned(c: &mut Criterion, text: &[u8]) {
    compare(
        c,
        "base64_decode/16MiB",
        || bytes::base64_decode(black_box(text)),
        |w| {
            let (p, n) = w.buffer(text);
            let out = w.slot();
            w.kernel::<_, i32>("base64_decode", (p, n, out))
                .fallible()
                .owned(out, 1)
        },
    );
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = sha256, checksums, base64
}
criterion_main!(benches);
