//! Integer kernels: the classic benchmarks.

use wasmcore_abi::{Error, Matrix, export, try_vec};

/// Largest `n` whose Fibonacci number fits in a u64.
pub const FIB_MAX: u32 = 93;

/// Fibonacci number n by naive double recursion (fib(0)=0, fib(1)=1): the classic
/// call-overhead benchmark. n > 93 overflows a u64 and is a ValueError.
#[export]
pub fn fib(n: u32) -> Result<u64, Error> {
    if n > FIB_MAX {
        return Err(Error::value("n", format!("must be <= {FIB_MAX}, got {n}")));
    }
    Ok(fib_rec(n))
}

fn fib_rec(n: u32) -> u64 {
    if n < 2 {
        u64::from(n)
    } else {
        fib_rec(n - 1) + fib_rec(n - 2)
    }
}

/// Number of ways to draw cards (values 1..10, `cards[i]` of value i+1 left in the deck)
/// from a running total of `subtotal` until reaching 21 or more without going over: the
/// blackjack partition count of the classic ctypes example. `cards` holds 10 counts,
/// 0 <= subtotal <= 21; the caller's `cards` is not changed.
#[export]
pub fn partitions(cards: &[u32], subtotal: u32) -> Result<u64, Error> {
    let mut deck: [u32; 10] = cards
        .try_into()
        .map_err(|_| Error::value("cards", format!("must hold 10 counts, got {}", cards.len())))?;
    if subtotal > 21 {
        return Err(Error::value(
            "subtotal",
            format!("must be <= 21, got {subtotal}"),
        ));
    }
    Ok(partitions_rec(&mut deck, subtotal))
}

fn partitions_rec(deck: &mut [u32; 10], subtotal: u32) -> u64 {
    let mut result = 0;
    for i in 0..10 {
        if deck[i] > 0 {
            let total = subtotal + i as u32 + 1;
            if total < 21 {
                result += 1;
                deck[i] -= 1;
                result += partitions_rec(deck, total);
                deck[i] += 1;
            } else if total == 21 {
                result += 1;
            }
        }
    }
    result
}

/// Largest `n` accepted by [`count_primes`] (2**31).
pub const COUNT_PRIMES_MAX: u64 = 1 << 31;

/// Odd numbers per sieve segment (one byte each): 128 KiB, sized for L2.
const SEGMENT: usize = 1 << 17;

/// Primes whose multiples are pre-sieved by copying a periodic pattern.
const PRESIEVE: [usize; 5] = [3, 5, 7, 11, 13];

/// Period of the pre-sieve pattern in odd numbers (3 * 5 * 7 * 11 * 13).
const PATTERN_LEN: usize = 15015;

/// Number of primes < n (0 <= n <= 2**31), by a segmented sieve of Eratosthenes over the
/// odd numbers.
#[export]
pub fn count_primes(n: u64) -> Result<u64, Error> {
    if n > COUNT_PRIMES_MAX {
        return Err(Error::value(
            "n",
            format!("must be <= {COUNT_PRIMES_MAX}, got {n}"),
        ));
    }
    if n <= 2 {
        return Ok(0);
    }
    // Index i stands for the odd number 2i + 1; the odd numbers below n are i < n / 2.
    let limit = usize::try_from(n / 2).map_err(|_| Error::invalid("n is too large"))?;
    // Odd primes p with p * p < n strike out composites; those > 13 are sieved per segment,
    // starting at p * p (index (p*p - 1) / 2) and stepping p indices (2p numbers).
    let root = (n - 1).isqrt() as usize;
    let mut sievers: Vec<(usize, usize)> = small_odd_primes(root)
        .into_iter()
        .filter(|&p| p > PRESIEVE[PRESIEVE.len() - 1])
        .map(|p| (p, (p * p) / 2))
        .collect();
    let mut pattern = vec![1u8; PATTERN_LEN];
    for p in PRESIEVE {
        // 2i + 1 = p at i = (p - 1) / 2, and then every p indices
        for b in pattern.iter_mut().skip(p / 2).step_by(p) {
            *b = 0;
        }
    }
    let mut seg = vec![0u8; SEGMENT.min(limit)];
    let mut count = 1u64; // the prime 2
    let mut lo = 0usize;
    while lo < limit {
        let len = SEGMENT.min(limit - lo);
        let seg = &mut seg[..len];
        // pre-sieve: copy the pattern from phase lo % PATTERN_LEN
        let mut off = lo % PATTERN_LEN;
        let mut pos = 0;
        while pos < len {
            let take = (PATTERN_LEN - off).min(len - pos);
            seg[pos..pos + take].copy_from_slice(&pattern[off..off + take]);
            pos += take;
            off = 0;
        }
        if lo == 0 {
            seg[0] = 0; // 1 is not prime
            for p in PRESIEVE {
                if let Some(b) = seg.get_mut(p / 2) {
                    *b = 1; // the pre-sieve primes themselves
                }
            }
        }
        for (p, next) in sievers.iter_mut() {
            let p = *p;
            // next >= lo always: it moved past the end of the previous segment
            let Some(mut j) = next.checked_sub(lo) else {
                continue;
            };
            while j + 3 * p < seg.len() {
                seg[j] = 0;
                seg[j + p] = 0;
                seg[j + 2 * p] = 0;
                seg[j + 3 * p] = 0;
                j += 4 * p;
            }
            while j < seg.len() {
                seg[j] = 0;
                j += p;
            }
            *next = lo + j;
        }
        count += count_flags(seg);
        lo += len;
    }
    Ok(count)
}

/// Sum of `flags` (each 0 or 1), eight at a time: a u64 word holds eight byte counters,
/// which can take 255 words before the bytes are added up. (A plain `map(u64::from).sum()`
/// widens every byte to a u64 first: a psadbw on x86, but four wasm SIMD instructions per two
/// bytes; the word sum is one vector add per sixteen bytes on every target.)
fn count_flags(flags: &[u8]) -> u64 {
    const BYTES: u64 = 0x00ff_00ff_00ff_00ff;
    let (words, rest) = flags.as_chunks::<8>();
    let mut count = 0u64;
    for block in words.chunks(255) {
        let acc = block
            .iter()
            .fold(0u64, |acc, w| acc.wrapping_add(u64::from_ne_bytes(*w)));
        // eight byte counters (<= 255) -> four 16-bit sums (<= 510) -> their total (<= 2040)
        let pairs = (acc & BYTES) + ((acc >> 8) & BYTES);
        count += pairs.wrapping_mul(0x0001_0001_0001_0001) >> 48;
    }
    count + rest.iter().map(|&b| u64::from(b)).sum::<u64>()
}

/// The odd primes <= m, by a plain sieve (m is at most 46340 here).
fn small_odd_primes(m: usize) -> Vec<usize> {
    let mut composite = vec![false; m + 1];
    let mut primes = Vec::new();
    for i in (3..=m).step_by(2) {
        if !composite[i] {
            primes.push(i);
            for c in (i * i..=m).step_by(2 * i) {
                composite[c] = true;
            }
        }
    }
    primes
}

/// Largest number of pixels of a [`mandelbrot`] image (2**28).
pub const MANDELBROT_MAX_PIXELS: u64 = 1 << 28;

/// Pixels iterated together (independent dependency chains, so the float units stay busy).
const MANDEL_LANES: usize = 8;

/// Escape counts (at most max_iter) of z -> z*z + C from z = 0, shape (height, width): pixel
/// (r, c) has C = (x0 + c*(x1-x0)/width) + (y0 + r*(y1-y0)/height)i and stops once |z| > 2.
#[export]
pub fn mandelbrot(
    width: u32,
    height: u32,
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
    max_iter: u32,
) -> Result<Matrix<u32>, Error> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MANDELBROT_MAX_PIXELS {
        return Err(Error::value(
            "height",
            format!("must keep width*height <= {MANDELBROT_MAX_PIXELS}, got {width}*{height}"),
        ));
    }
    let (w, h) = (width as usize, height as usize);
    let mut out = try_vec(w * h, 0u32, "height")?;
    if w > 0 && h > 0 {
        let mut cxs = try_vec(w, 0.0f64, "width")?;
        for (c, cx) in cxs.iter_mut().enumerate() {
            *cx = x0 + (c as f64) * (x1 - x0) / (width as f64);
        }
        for (r, row) in out.chunks_exact_mut(w).enumerate() {
            let cy = y0 + (r as f64) * (y1 - y0) / (height as f64);
            let (oc, orest) = row.as_chunks_mut::<MANDEL_LANES>();
            let (cc, crest) = cxs.as_chunks::<MANDEL_LANES>();
            for (o, cx) in oc.iter_mut().zip(cc) {
                *o = escape_lanes(cx, cy, max_iter);
            }
            for (o, &cx) in orest.iter_mut().zip(crest) {
                *o = escape(cx, cy, max_iter);
            }
        }
    }
    Matrix::new(out, h, w).ok_or_else(|| Error::invalid("internal error: mandelbrot result shape"))
}

/// The escape count of one point, the loop of KERNELS.md as written.
fn escape(cx: f64, cy: f64, max_iter: u32) -> u32 {
    let (mut zr, mut zi) = (0.0f64, 0.0f64);
    let mut n = 0;
    while n < max_iter {
        let zr2 = zr * zr;
        let zi2 = zi * zi;
        if zr2 + zi2 > 4.0 {
            break;
        }
        zi = 2.0 * zr * zi + cy;
        zr = zr2 - zi2 + cx;
        n += 1;
    }
    n
}

/// [`escape`] for MANDEL_LANES points at once. Each lane does exactly the operations of
/// `escape` while it is live; after it escapes its z keeps changing but its count is frozen.
fn escape_lanes(cx: &[f64; MANDEL_LANES], cy: f64, max_iter: u32) -> [u32; MANDEL_LANES] {
    let mut zr = [0.0f64; MANDEL_LANES];
    let mut zi = [0.0f64; MANDEL_LANES];
    let mut n = [0u32; MANDEL_LANES];
    let mut live = [true; MANDEL_LANES];
    for _ in 0..max_iter {
        let mut any = false;
        for l in 0..MANDEL_LANES {
            let zr2 = zr[l] * zr[l];
            let zi2 = zi[l] * zi[l];
            // NaN never escapes, as in the scalar loop
            let escaped = zr2 + zi2 > 4.0;
            let go = live[l] & !escaped;
            live[l] = go;
            n[l] += u32::from(go);
            any |= go;
            zi[l] = 2.0 * zr[l] * zi[l] + cy;
            zr[l] = zr2 - zi2 + cx[l];
        }
        if !any {
            break;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fib_small_values_and_limit() {
        let expect = [0u64, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55];
        for (n, &f) in expect.iter().enumerate() {
            assert_eq!(fib(n as u32), Ok(f));
        }
        // the iterative definition, independent of the recursion
        let (mut a, mut b) = (0u64, 1u64);
        for n in 0..=30 {
            assert_eq!(fib(n), Ok(a));
            (a, b) = (b, a + b);
        }
        let e = fib(94).unwrap_err();
        assert_eq!(e.message(), "parameter 'n' must be <= 93, got 94");
    }

    #[test]
    fn partitions_matches_hand_counts() {
        // From 20, any 1 reaches 21: exactly one way per available ace.
        assert_eq!(partitions(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0], 20), Ok(1));
        assert_eq!(partitions(&[0; 10], 0), Ok(0));
        // From 19 with two aces: "1" (20, then "1" → 21) and "1,1" paths: 1 + 1 = 2,
        // and "2" is unavailable.
        assert_eq!(partitions(&[2, 0, 0, 0, 0, 0, 0, 0, 0, 0], 19), Ok(2));
        // From 11 with one ten: 11 + 10 = 21 → 1.
        assert_eq!(partitions(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 11), Ok(1));
        // Reaching 21 exactly ends a path; 21 itself has nothing left to draw.
        assert_eq!(partitions(&[4; 10], 21), Ok(0));
    }

    #[test]
    fn partitions_rejects_bad_input_and_keeps_cards() {
        let cards = [4u32; 10];
        let before = cards;
        partitions(&cards, 0).unwrap();
        assert_eq!(cards, before);
        assert!(
            partitions(&[1; 9], 0)
                .unwrap_err()
                .message()
                .contains("'cards'")
        );
        assert!(
            partitions(&[1; 10], 22)
                .unwrap_err()
                .message()
                .contains("'subtotal'")
        );
    }

    /// Primes below `n` by the textbook sieve over all integers.
    fn naive_prime_flags(n: usize) -> Vec<bool> {
        let mut is = vec![true; n];
        for (i, f) in is.iter_mut().enumerate().take(2) {
            *f = i >= 2;
        }
        let mut i = 2;
        while i * i < n {
            if is[i] {
                for j in (i * i..n).step_by(i) {
                    is[j] = false;
                }
            }
            i += 1;
        }
        is
    }

    /// prefix[n] = number of primes < n, for n <= 2_000_000.
    fn prime_prefix() -> &'static [u64] {
        static PREFIX: std::sync::OnceLock<Vec<u64>> = std::sync::OnceLock::new();
        PREFIX.get_or_init(|| {
            let flags = naive_prime_flags(2_000_000);
            let mut prefix = vec![0u64; flags.len() + 1];
            for (i, &f) in flags.iter().enumerate() {
                prefix[i + 1] = prefix[i] + u64::from(f);
            }
            prefix
        })
    }

    #[test]
    fn count_primes_small_values() {
        let prefix = prime_prefix();
        for n in 0..3000u64 {
            assert_eq!(count_primes(n), Ok(prefix[n as usize]), "n={n}");
        }
        assert_eq!(count_primes(0), Ok(0));
        assert_eq!(count_primes(2), Ok(0));
        assert_eq!(count_primes(3), Ok(1));
        assert_eq!(count_primes(4), Ok(2));
        assert_eq!(count_primes(14), Ok(6)); // 2 3 5 7 11 13: pre-sieved primes themselves
        assert_eq!(count_primes(100), Ok(25));
    }

    #[test]
    fn count_primes_around_boundaries() {
        let prefix = prime_prefix();
        let seg = 2 * SEGMENT as u64; // integers per segment
        let pat = 2 * PATTERN_LEN as u64; // integers per pre-sieve period
        let mut ns = vec![];
        for base in [
            seg,
            2 * seg,
            3 * seg,
            7 * seg,
            pat,
            2 * pat,
            17 * 17,
            46337 * 11,
            999_983,
        ] {
            for d in 0..5 {
                ns.push(base + d);
                ns.push(base - d);
            }
        }
        // squares of primes (the first composite a siever strikes) and their neighbours
        for p in [17u64, 19, 23, 29, 31, 37, 97, 101, 997, 1009, 1399] {
            ns.extend([p * p - 1, p * p, p * p + 1, p * p + 2]);
        }
        ns.push(2_000_000);
        for n in ns {
            assert_eq!(count_primes(n), Ok(prefix[n as usize]), "n={n}");
        }
    }

    #[test]
    fn count_primes_known_values_and_limit() {
        assert_eq!(count_primes(1_000_000), Ok(78498));
        assert_eq!(count_primes(10_000_000), Ok(664_579));
        let e = count_primes((1 << 31) + 1).unwrap_err();
        assert_eq!(
            e.message(),
            "parameter 'n' must be <= 2147483648, got 2147483649"
        );
        let e = count_primes(u64::MAX).unwrap_err();
        assert_eq!(
            e.message(),
            "parameter 'n' must be <= 2147483648, got 18446744073709551615"
        );
    }

    /// The full range takes ~1 s in release; run with `cargo test --release` (or --ignored).
    #[test]
    #[cfg_attr(debug_assertions, ignore)]
    fn count_primes_full_range() {
        assert_eq!(count_primes(1_000_000_000), Ok(50_847_534));
        assert_eq!(count_primes(1 << 31), Ok(105_097_565));
    }

    /// The loop of KERNELS.md, written out independently of the kernel.
    fn reference_mandelbrot(
        width: u32,
        height: u32,
        (x0, y0, x1, y1): (f64, f64, f64, f64),
        max_iter: u32,
    ) -> Vec<u32> {
        let mut out = vec![];
        for r in 0..height {
            for c in 0..width {
                let cx = x0 + f64::from(c) * (x1 - x0) / f64::from(width);
                let cy = y0 + f64::from(r) * (y1 - y0) / f64::from(height);
                let (mut zr, mut zi, mut n) = (0.0f64, 0.0f64, 0);
                while n < max_iter {
                    let zr2 = zr * zr;
                    let zi2 = zi * zi;
                    if zr2 + zi2 > 4.0 {
                        break;
                    }
                    zi = 2.0 * zr * zi + cy;
                    zr = zr2 - zi2 + cx;
                    n += 1;
                }
                out.push(n);
            }
        }
        out
    }

    #[test]
    fn mandelbrot_matches_python_loop() {
        // python -c "exec('def e(cx,cy,m):\n zr=zi=0.0;n=0\n while n<m:\n  zr2=zr*zr;zi2=zi*zi\n  if zr2+zi2>4.0: break\n  zi=2.0*zr*zi+cy;zr=zr2-zi2+cx;n+=1\n return n');W,H,x0,y0,x1,y1,M=19,5,-2.1,-1.3,0.9,1.3,200;print([[e(x0+c*(x1-x0)/W,y0+r*(y1-y0)/H,M) for c in range(W)] for r in range(H)])"
        let want: [[u32; 19]; 5] = [
            [1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2],
            [1, 1, 2, 3, 3, 3, 3, 3, 4, 4, 6, 7, 200, 200, 6, 5, 4, 3, 2],
            [
                1, 3, 4, 4, 5, 7, 200, 200, 11, 200, 200, 200, 200, 200, 200, 200, 10, 4, 3,
            ],
            [
                1, 3, 4, 4, 5, 7, 200, 200, 11, 200, 200, 200, 200, 200, 200, 200, 10, 4, 3,
            ],
            [1, 1, 2, 3, 3, 3, 3, 3, 4, 4, 6, 7, 200, 200, 6, 5, 4, 3, 2],
        ];
        let m = mandelbrot(19, 5, -2.1, -1.3, 0.9, 1.3, 200).unwrap();
        assert_eq!((m.rows(), m.cols()), (5, 19));
        assert_eq!(m.data(), want.as_flattened());
        // near the boundary, where the counts are sensitive to every rounding:
        // python -c "exec('def e(cx,cy,m):\n zr=zi=0.0;n=0\n while n<m:\n  zr2=zr*zr;zi2=zi*zi\n  if zr2+zi2>4.0: break\n  zi=2.0*zr*zi+cy;zr=zr2-zi2+cx;n+=1\n return n');W,H,x0,y0,x1,y1,M=17,3,-0.7454,0.1128,-0.7450,0.1132,2000;print([[e(x0+c*(x1-x0)/W,y0+r*(y1-y0)/H,M) for c in range(W)] for r in range(H)])"
        let want: [[u32; 17]; 3] = [
            [
                71, 71, 72, 72, 72, 73, 73, 74, 74, 75, 75, 76, 76, 77, 77, 78, 78,
            ],
            [
                76, 75, 75, 75, 77, 77, 76, 76, 76, 77, 79, 80, 79, 79, 80, 83, 400,
            ],
            [
                131, 300, 131, 177, 103, 107, 88, 135, 235, 171, 133, 109, 106, 88, 165, 103, 426,
            ],
        ];
        let m = mandelbrot(17, 3, -0.7454, 0.1128, -0.7450, 0.1132, 2000).unwrap();
        assert_eq!(m.data(), want.as_flattened());
        // python -c "exec('def e(cx,cy,m):\n zr=zi=0.0;n=0\n while n<m:\n  zr2=zr*zr;zi2=zi*zi\n  if zr2+zi2>4.0: break\n  zi=2.0*zr*zi+cy;zr=zr2-zi2+cx;n+=1\n return n');W,H,x0,y0,x1,y1,M=10,1,-0.75,0.1,-0.7,0.11,5000;print([[e(x0+c*(x1-x0)/W,y0+r*(y1-y0)/H,M) for c in range(W)] for r in range(H)])"
        let m = mandelbrot(10, 1, -0.75, 0.1, -0.7, 0.11, 5000).unwrap();
        assert_eq!(
            m.data(),
            [33, 98, 5000, 5000, 5000, 5000, 5000, 5000, 5000, 5000]
        );
    }

    #[test]
    fn mandelbrot_edges_and_errors() {
        let m = mandelbrot(0, 5, -2.0, -1.0, 1.0, 1.0, 10).unwrap();
        assert_eq!((m.rows(), m.cols(), m.data().len()), (5, 0, 0));
        let m = mandelbrot(7, 0, -2.0, -1.0, 1.0, 1.0, 10).unwrap();
        assert_eq!((m.rows(), m.cols(), m.data().len()), (0, 7, 0));
        let m = mandelbrot(9, 2, -2.0, -1.0, 1.0, 1.0, 0).unwrap();
        assert_eq!(m.data(), [0; 18]);
        // NaN never compares > 4, so it runs to max_iter (as the Python loop does):
        // (the one-liner in mandelbrot_matches_python_loop with ...=3,1,float('nan'),0.0,1.0,1.0,10 gives [[10, 10, 10]])
        let m = mandelbrot(3, 1, f64::NAN, 0.0, 1.0, 1.0, 10).unwrap();
        assert_eq!(m.data(), [10, 10, 10]);
        // (...=3,2,float('inf'),0.0,float('inf'),1.0,10 gives all 10: inf - inf = nan)
        let m = mandelbrot(3, 2, f64::INFINITY, 0.0, f64::INFINITY, 1.0, 10).unwrap();
        assert_eq!(m.data(), [10; 6]);
        // a point that escapes at once from every lane position
        let m = mandelbrot(20, 1, 5.0, 5.0, 6.0, 5.0, 100).unwrap();
        assert_eq!(m.data(), [1; 20]);
        let e = mandelbrot(65536, 4097, -2.0, -1.0, 1.0, 1.0, 10).unwrap_err();
        assert_eq!(
            e.message(),
            "parameter 'height' must keep width*height <= 268435456, got 65536*4097"
        );
        let e = mandelbrot(u32::MAX, u32::MAX, -2.0, -1.0, 1.0, 1.0, 10).unwrap_err();
        assert_eq!(
            e.message(),
            "parameter 'height' must keep width*height <= 268435456, got 4294967295*4294967295"
        );
        let e = mandelbrot(16385, 16384, -2.0, -1.0, 1.0, 1.0, 10).unwrap_err();
        assert_eq!(
            e.message(),
            "parameter 'height' must keep width*height <= 268435456, got 16385*16384"
        );
        // a zero side is an empty image whatever the other side
        let m = mandelbrot(u32::MAX, 0, -2.0, -1.0, 1.0, 1.0, 10).unwrap();
        assert_eq!(
            (m.rows(), m.cols(), m.data().len()),
            (0, u32::MAX as usize, 0)
        );
    }

    proptest::proptest! {
        #[test]
        fn prop_count_primes_matches_naive(n in 0u64..2_000_000) {
            proptest::prop_assert_eq!(count_primes(n), Ok(prime_prefix()[n as usize]));
        }

        #[test]
        fn prop_mandelbrot_matches_reference(
            width in 0u32..40,
            height in 0u32..6,
            x0 in -2.5f64..1.0,
            y0 in -1.5f64..1.5,
            dx in -1.0f64..1.0,
            dy in -1.0f64..1.0,
            max_iter in 0u32..300,
        ) {
            let area = (x0, y0, x0 + dx, y0 + dy);
            let m = mandelbrot(width, height, area.0, area.1, area.2, area.3, max_iter).unwrap();
            proptest::prop_assert_eq!((m.rows(), m.cols()), (height as usize, width as usize));
            let want = reference_mandelbrot(width, height, area, max_iter);
            proptest::prop_assert_eq!(m.data(), want.as_slice());
        }
    }
}
