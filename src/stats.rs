//! Reductions and statistics over float64 buffers.

use wasmcore_abi::{Error, export, try_vec};

use crate::sort::{from_key, key};

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

/// Sum of `f(v)` over x in exactly the order of [`sum`] (pairwise over blocks of eight lanes).
fn sum_map(x: &[f64], f: impl Fn(f64) -> f64 + Copy) -> f64 {
    if x.len() <= SUM_BLOCK {
        block_sum_map(x, f)
    } else {
        let (a, b) = x.split_at(x.len() / 2);
        sum_map(a, f) + sum_map(b, f)
    }
}

fn block_sum_map(x: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0.0f64; LANES];
    let (chunks, rest) = x.as_chunks::<LANES>();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += f(v);
        }
    }
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for &v in rest {
        s += f(v);
    }
    s
}

/// Sum of squared deviations from `m`: `sum((v - m)**2)`, pairwise like [`sum`].
fn sum_sq_dev(x: &[f64], m: f64) -> f64 {
    sum_map(x, |v| {
        let d = v - m;
        d * d
    })
}

fn not_empty() -> Error {
    Error::value("x", "must not be empty")
}

/// Arithmetic mean of x: sum(x) / len(x). Empty x is a ValueError.
#[export]
pub fn mean(x: &[f64]) -> Result<f64, Error> {
    if x.is_empty() {
        return Err(not_empty());
    }
    Ok(sum(x) / x.len() as f64)
}

/// Variance of x with `ddof` delta degrees of freedom (numpy.var): two-pass,
/// sum((x - mean)**2) / (len(x) - ddof). Needs len(x) > ddof.
#[export]
pub fn var(x: &[f64], #[default(0)] ddof: u32) -> Result<f64, Error> {
    let m = mean(x)?;
    let n = x.len();
    let dof = (n as u64).checked_sub(u64::from(ddof)).filter(|&d| d > 0);
    let Some(dof) = dof else {
        return Err(Error::value(
            "ddof",
            format!("must be less than the length of 'x' ({n}), got {ddof}"),
        ));
    };
    Ok(sum_sq_dev(x, m) / dof as f64)
}

/// Standard deviation of x with `ddof` delta degrees of freedom: sqrt(var(x, ddof))
/// (numpy.std). Needs len(x) > ddof.
#[export]
pub fn std(x: &[f64], #[default(0)] ddof: u32) -> Result<f64, Error> {
    var(x, ddof).map(f64::sqrt)
}

/// The smaller of two non-NaN values; of two equal ones the later (numpy's scalar
/// minimum, so min([0.0, -0.0]) is -0.0). A NaN `v` is returned as is.
#[inline]
fn pick_min(acc: f64, v: f64) -> f64 {
    if acc < v { acc } else { v }
}

#[inline]
fn pick_max(acc: f64, v: f64) -> f64 {
    if acc > v { acc } else { v }
}

/// numpy's minimum with NaN propagation: a NaN accumulator sticks.
#[inline]
fn min2(acc: f64, v: f64) -> f64 {
    if acc.is_nan() { acc } else { pick_min(acc, v) }
}

#[inline]
fn max2(acc: f64, v: f64) -> f64 {
    if acc.is_nan() { acc } else { pick_max(acc, v) }
}

/// Below this length min/max fold sequentially (bit for bit numpy's result, also for the
/// sign of a zero extreme); above it they fold eight lanes (vectorised), then the lanes.
const SEQUENTIAL_MINMAX: usize = 32;

/// Folds x with `pick` (pick_min or pick_max), NaN if x holds one; None when x is empty.
fn extreme(x: &[f64], pick: impl Fn(f64, f64) -> f64 + Copy) -> Option<f64> {
    let sticky = |a: f64, v: f64| if a.is_nan() { a } else { pick(a, v) };
    let (&first, rest) = x.split_first()?;
    if x.len() < SEQUENTIAL_MINMAX {
        return Some(rest.iter().fold(first, |a, &v| sticky(a, v)));
    }
    let (chunks, tail) = x.as_chunks::<LANES>();
    let (&head, chunks) = chunks.split_first()?;
    // NaNs are tracked in flags rather than made sticky in the lanes: a plain compare and
    // select per value vectorises to one min/max instruction. The flags are u64 lanes like
    // the values (bool flags make LLVM pack the compare masks into bytes, which wasm SIMD
    // does lane by lane).
    let mut acc = head;
    let mut nan = head.map(nan_flag);
    for c in chunks {
        for ((a, n), &v) in acc.iter_mut().zip(&mut nan).zip(c) {
            *a = pick(*a, v);
            *n |= nan_flag(v);
        }
    }
    if nan.iter().any(|&n| n != 0) {
        return Some(f64::NAN);
    }
    let r = acc.iter().skip(1).fold(acc[0], |a, &v| pick(a, v));
    Some(tail.iter().fold(r, |a, &v| sticky(a, v)))
}

/// Smallest value of x; NaN if x holds a NaN (numpy.min). Empty x is a ValueError.
#[export]
pub fn min(x: &[f64]) -> Result<f64, Error> {
    extreme(x, pick_min).ok_or_else(not_empty)
}

/// Largest value of x; NaN if x holds a NaN (numpy.max). Empty x is a ValueError.
#[export]
pub fn max(x: &[f64]) -> Result<f64, Error> {
    extreme(x, pick_max).ok_or_else(not_empty)
}

/// 1 for a NaN, else 0: a flag as wide as the value, so that flags vectorise like values.
#[inline]
fn nan_flag(v: f64) -> u64 {
    u64::from(v.is_nan())
}

/// Rows of LANES values that [`position`] tests at once.
const SCAN_ROWS: usize = 8;

/// Index of the first element of x for which `hit` holds.
fn position(x: &[f64], hit: impl Fn(f64) -> bool + Copy) -> Option<usize> {
    let (rows, tail) = x.as_chunks::<LANES>();
    let first_in = |values: &[f64]| values.iter().position(|&v| hit(v));
    for (i, block) in rows.chunks(SCAN_ROWS).enumerate() {
        // Test a block of rows branch-free, with one u64 flag lane per value lane (flags as
        // wide as the values vectorise like them; a fold to one bool per row does not in
        // wasm), then find the hit inside the block.
        let mut flags = [0u64; LANES];
        for row in block {
            for (f, &v) in flags.iter_mut().zip(row) {
                *f |= u64::from(hit(v));
            }
        }
        if flags.iter().any(|&f| f != 0) {
            return first_in(block.as_flattened()).map(|j| i * SCAN_ROWS * LANES + j);
        }
    }
    first_in(tail).map(|j| rows.len() * LANES + j)
}

/// Index of the first occurrence of `m` (a NaN: of the first NaN) in x.
fn index_of(x: &[f64], m: f64) -> u64 {
    let i = if m.is_nan() {
        position(x, f64::is_nan)
    } else {
        position(x, |v| v == m)
    };
    // m is an element of x: always found
    i.unwrap_or(0) as u64
}

/// Index of the first smallest value of x; the first NaN if there is one (numpy.argmin).
/// Empty x is a ValueError.
#[export]
pub fn argmin(x: &[f64]) -> Result<u64, Error> {
    min(x).map(|m| index_of(x, m))
}

/// Index of the first largest value of x; the first NaN if there is one (numpy.argmax).
/// Empty x is a ValueError.
#[export]
pub fn argmax(x: &[f64]) -> Result<u64, Error> {
    max(x).map(|m| index_of(x, m))
}

/// Running sum of x: out[i] = x[0] + ... + x[i], added left to right (numpy.cumsum).
#[export]
pub fn cumsum(x: &[f64]) -> Vec<f64> {
    // -0.0 is the additive identity for every float (0.0 would turn a leading -0.0 into 0.0).
    let mut s = -0.0;
    x.iter()
        .map(|&v| {
            s += v;
            s
        })
        .collect()
}

fn has_nan(x: &[f64]) -> bool {
    position(x, f64::is_nan).is_some()
}

/// The order statistics k and k+1 (0-based; both k when k + 1 == n) of NaN-free x, found
/// by an O(n) selection on a scratch copy.
fn order_stats(x: &[f64], k: usize) -> Result<(f64, f64), Error> {
    let mut keys = try_vec(x.len(), 0u64, "x")?;
    for (k, &v) in keys.iter_mut().zip(x) {
        *k = key(v);
    }
    if k >= keys.len() {
        // Not reached (callers pass k < len), but never index out of bounds.
        return Err(not_empty());
    }
    let (_, &mut a, above) = keys.select_nth_unstable(k);
    let b = above.iter().copied().min().unwrap_or(a);
    Ok((from_key(a), from_key(b)))
}

/// Median of x (numpy.median): the middle order statistic, or the mean (a + b) / 2 of the
/// two middle ones; NaN if x holds a NaN. Empty x is a ValueError.
#[export]
pub fn median(x: &[f64]) -> Result<f64, Error> {
    if x.is_empty() {
        return Err(not_empty());
    }
    if has_nan(x) {
        return Ok(f64::NAN);
    }
    let n = x.len();
    let (a, b) = order_stats(x, (n - 1) / 2)?;
    // numpy takes the mean of the middle one or two, summing from 0.0: (0.0 + a [+ b]) / k
    // (so a -0.0 median is 0.0 and a + b may overflow to inf, as in numpy).
    Ok(if n % 2 == 1 {
        0.0 + a
    } else {
        (0.0 + a + b) / 2.0
    })
}

/// q-quantile of x, 0 <= q <= 1, by numpy's default 'linear' method (interpolating between
/// the order statistics around index q*(len(x)-1)); NaN if x holds a NaN.
#[export]
pub fn quantile(x: &[f64], q: f64) -> Result<f64, Error> {
    if x.is_empty() {
        return Err(not_empty());
    }
    if !(0.0..=1.0).contains(&q) {
        return Err(Error::value("q", "must be between 0 and 1"));
    }
    if has_nan(x) {
        return Ok(f64::NAN);
    }
    // numpy: virtual index (n-1)*q; prev = floor, next = prev+1, t = virtual - prev, except
    // that at or past the last index both are the last element and prev counts as -1.
    let last = x.len() - 1;
    let vi = q * last as f64;
    let (k, t) = if vi >= last as f64 {
        (last, vi + 1.0)
    } else {
        let f = vi.floor();
        (f as usize, vi - f)
    };
    let (a, b) = order_stats(x, k)?;
    // numpy's _lerp, including its NaN for infinite neighbours (b - a is NaN or inf).
    let d = b - a;
    Ok(if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    })
}

/// Counts of x in `bins` equal-width bins over [lo, hi], exactly numpy.histogram(x, bins,
/// range=(lo, hi))[0]: values outside [lo, hi] and NaN are ignored, the last bin is closed.
#[export]
pub fn histogram(x: &[f64], bins: u32, lo: f64, hi: f64) -> Result<Vec<i64>, Error> {
    if bins == 0 {
        return Err(Error::value("bins", "must be >= 1, got 0"));
    }
    if !lo.is_finite() {
        return Err(Error::value("lo", "must be finite"));
    }
    if !hi.is_finite() {
        return Err(Error::value("hi", "must be finite"));
    }
    if lo >= hi {
        return Err(Error::value("hi", "must be greater than 'lo'"));
    }
    let mut counts = try_vec(bins as usize, 0i64, "bins")?;
    let last = i64::from(bins) - 1;
    let nbins = f64::from(bins);
    // numpy: edges = linspace(lo, hi, bins + 1), i.e. e[i] = i * step + lo (e[bins] = hi is
    // never needed below); bin estimate ((v - lo) / (hi - lo)) * bins truncated, `bins`
    // itself moved to the last bin, then corrected by one against the edges.
    let delta = hi - lo;
    let step = delta / nbins;
    for &v in x {
        if !((v >= lo) & (v <= hi)) {
            continue;
        }
        // The estimate is <= bins as (v - lo) <= (hi - lo) after rounding; the clamp also
        // tames NaN/inf from an overflowing hi - lo. The correction is branch-free.
        let mut i = (((v - lo) / delta * nbins) as i64).clamp(0, last);
        let down = (i > 0) & (v < i as f64 * step + lo);
        let up = !down & (i < last) & (v >= (i + 1) as f64 * step + lo);
        i = i - i64::from(down) + i64::from(up);
        if let Some(c) = counts.get_mut(i as usize) {
            *c += 1;
        }
    }
    Ok(counts)
}

/// `a + b` rounded and its rounding error (Knuth's TwoSum; exact unless it overflows).
#[inline]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// Adds `v` to the compensated sum `(s, c)` (Neumaier).
#[inline]
fn add_compensated(s: &mut f64, c: &mut f64, v: f64) {
    let t = *s + v;
    *c += if s.abs() >= v.abs() {
        (*s - t) + v
    } else {
        (v - t) + *s
    };
    *s = t;
}

/// Streaming count, mean, variance, min and max over batches of values (Chan et al.'s
/// merge of per-batch two-pass statistics); matches numpy on the concatenated batches.
#[derive(Clone, Debug, Default)]
pub struct RunningStats {
    count: u64,
    /// Sum of the batch sums: an inf/NaN here gives numpy's inf/NaN mean (and variance).
    total: f64,
    /// The mean is `shift + resid`, kept as a double-double (shift = the mean rounded);
    /// each batch's mean and M2 are computed two-pass on `x - shift`, so deviations are
    /// taken from an accurate mean however many batches came before (a plain float
    /// running mean loses ~ulp(mean) per merge: 1e-5 relative variance error on 1e9 + i/1000).
    shift: f64,
    resid: f64,
    /// Sum of squared deviations from the mean, compensated (`m2 + m2_comp`).
    m2: f64,
    m2_comp: f64,
    min: f64,
    max: f64,
}

/// Length of a [`RunningStats::state`]: count, total, shift, resid, m2, m2_comp, min, max.
pub const STATE_LEN: usize = 8;
/// The largest count a state holds exactly (an f64 holds every integer up to 2**53).
const STATE_MAX_COUNT: f64 = 9_007_199_254_740_992.0;

/// The statistics of values to merge into a [`RunningStats`] (a batch, or another
/// accumulator), with their mean relative to the receiver's shift.
struct Part {
    count: u64,
    total: f64,
    resid: f64,
    m2: f64,
    m2_comp: f64,
    min: f64,
    max: f64,
}

impl RunningStats {
    /// Merges `p` into a non-empty accumulator (Chan et al.: n = na + nb,
    /// delta = mean_b - mean_a, mean += delta * nb / n, M2 = M2_a + M2_b + delta^2 * na * nb / n).
    fn merge(&mut self, p: Part) {
        let count = self.count.saturating_add(p.count);
        let na = self.count as f64;
        let w = p.count as f64 / count as f64;
        let delta = p.resid - self.resid;
        self.resid += delta * w;
        add_compensated(&mut self.m2, &mut self.m2_comp, p.m2);
        add_compensated(&mut self.m2, &mut self.m2_comp, delta * delta * na * w);
        self.m2_comp += p.m2_comp;
        self.total += p.total;
        self.min = min2(self.min, p.min);
        self.max = max2(self.max, p.max);
        self.count = count;
    }

    /// Keeps `shift + resid` a normalized double-double (shift = the mean rounded).
    fn normalize(&mut self) {
        let (s, r) = two_sum(self.shift, self.resid);
        if s.is_finite() && r.is_finite() {
            (self.shift, self.resid) = (s, r);
        }
    }
}

/// Streaming count, mean, variance, min and max over batches of values pushed with `push`;
/// the statistics match numpy's on the concatenated batches.
///
/// Its state (`state()`, 8 numbers) can be carried elsewhere and merged there
/// (`merge_state`, `from_state`): partial statistics of the chunks of a large array, computed
/// in several processes, combine into those of the whole array in one pass.
#[export]
impl RunningStats {
    /// An empty accumulator (count 0).
    #[export(gil = "hold")]
    pub fn new() -> RunningStats {
        RunningStats::default()
    }

    /// Adds the values of x (an empty x changes nothing).
    pub fn push(&mut self, x: &[f64]) {
        let (Some(bmin), Some(bmax)) = (extreme(x, pick_min), extreme(x, pick_max)) else {
            return;
        };
        let nb = x.len() as f64;
        let bsum = sum(x);
        if self.count == 0 {
            let m = bsum / nb;
            self.shift = if m.is_finite() { m } else { 0.0 };
        }
        let k = self.shift;
        // The batch's mean minus the shift, and its M2 about its own (accurate) mean.
        let bres = sum_map(x, |v| v - k) / nb;
        let bm2 = sum_map(x, |v| {
            let d = (v - k) - bres;
            d * d
        });
        let part = Part {
            count: x.len() as u64,
            total: bsum,
            resid: bres,
            m2: bm2,
            m2_comp: 0.0,
            min: bmin,
            max: bmax,
        };
        if self.count == 0 {
            *self = RunningStats {
                count: part.count,
                total: part.total,
                shift: k,
                resid: part.resid,
                m2: part.m2,
                m2_comp: 0.0,
                min: part.min,
                max: part.max,
            };
        } else {
            self.merge(part);
        }
        self.normalize();
    }

    /// The accumulator's internal state: 8 numbers (count, sum, the mean as shift + resid,
    /// the sum of squared deviations as m2 + m2_comp, min, max) that `from_state` and
    /// `merge_state` take back, e.g. in another process. Exact for counts up to 2**53.
    pub fn state(&self) -> Vec<f64> {
        vec![
            self.count as f64,
            self.total,
            self.shift,
            self.resid,
            self.m2,
            self.m2_comp,
            self.min,
            self.max,
        ]
    }

    /// An accumulator with the given `state()` (as if the same values had been pushed).
    /// Anything but a state is a ValueError.
    pub fn from_state(state: &[f64]) -> Result<RunningStats, Error> {
        let &[count, total, shift, resid, m2, m2_comp, min, max] = state else {
            return Err(Error::value(
                "state",
                format!(
                    "must hold {STATE_LEN} numbers (a RunningStats.state()), got {}",
                    state.len()
                ),
            ));
        };
        if !((0.0..=STATE_MAX_COUNT).contains(&count) && count.fract() == 0.0) {
            return Err(Error::value(
                "state",
                format!("must start with a count (a whole number from 0 to 2**53), got {count}"),
            ));
        }
        if count == 0.0 {
            return Ok(RunningStats::default());
        }
        if !shift.is_finite() {
            return Err(Error::value(
                "state",
                format!("is not a RunningStats.state(): its shift (state[2]) is {shift}"),
            ));
        }
        Ok(RunningStats {
            count: count as u64,
            total,
            shift,
            resid,
            m2,
            m2_comp,
            min,
            max,
        })
    }

    /// Adds the values another accumulator summarizes, given its `state()` (Chan et al.'s
    /// merge): afterwards this one is as if they had been pushed here, after its own.
    pub fn merge_state(&mut self, state: &[f64]) -> Result<(), Error> {
        let other = RunningStats::from_state(state)?;
        if other.count == 0 {
            return Ok(());
        }
        if self.count == 0 {
            *self = other;
            return Ok(());
        }
        // The other mean relative to this shift: (other.shift - shift) + other.resid, with the
        // rounding error of the difference of the shifts kept.
        let (d, e) = two_sum(other.shift, -self.shift);
        self.merge(Part {
            count: other.count,
            total: other.total,
            resid: d + (e + other.resid),
            m2: other.m2,
            m2_comp: other.m2_comp,
            min: other.min,
            max: other.max,
        });
        self.normalize();
        Ok(())
    }

    /// Number of values pushed so far.
    #[export(getter, gil = "hold")]
    pub fn count(&self) -> u64 {
        self.count
    }

    fn check(&self) -> Result<(), Error> {
        if self.count == 0 {
            Err(Error::invalid("no values pushed yet"))
        } else {
            Ok(())
        }
    }

    /// Mean of the values pushed so far (ValueError before the first value).
    #[export(getter, gil = "hold")]
    pub fn mean(&self) -> Result<f64, Error> {
        self.check()?;
        let m = self.shift + self.resid;
        if self.total.is_finite() && m.is_finite() {
            Ok(m)
        } else {
            // NaN, inf, an overflowing sum (or shifted values overflowing, |x| near f64::MAX):
            // numpy's sum / n.
            Ok(self.total / self.count as f64)
        }
    }

    /// Variance of the values pushed so far with `ddof` delta degrees of freedom, like
    /// numpy.var on their concatenation. Needs count > ddof.
    #[export(gil = "hold")]
    pub fn var(&self, #[default(0)] ddof: u32) -> Result<f64, Error> {
        self.check()?;
        let count = self.count;
        let Some(dof) = count.checked_sub(u64::from(ddof)).filter(|&d| d > 0) else {
            return Err(Error::value(
                "ddof",
                format!("must be less than the count ({count}), got {ddof}"),
            ));
        };
        let finite_values = self.min.is_finite() && self.max.is_finite();
        if !finite_values || self.total.is_nan() {
            // A NaN or an infinity among the values: numpy's deviations include a NaN.
            Ok(f64::NAN)
        } else if self.total.is_infinite() || !self.m2.is_finite() {
            // Finite values whose sum or squared deviations overflow: so do numpy's.
            Ok(f64::INFINITY)
        } else {
            Ok((self.m2 + self.m2_comp) / dof as f64)
        }
    }

    /// Standard deviation of the values pushed so far with `ddof` delta degrees of freedom:
    /// sqrt(var(ddof)), like numpy.std on their concatenation. Needs count > ddof.
    #[export(gil = "hold")]
    pub fn std(&self, #[default(0)] ddof: u32) -> Result<f64, Error> {
        self.var(ddof).map(f64::sqrt)
    }

    /// Smallest value pushed so far; NaN if any was NaN.
    #[export(getter, gil = "hold")]
    pub fn min(&self) -> Result<f64, Error> {
        self.check().map(|()| self.min)
    }

    /// Largest value pushed so far; NaN if any was NaN.
    #[export(getter, gil = "hold")]
    pub fn max(&self) -> Result<f64, Error> {
        self.check().map(|()| self.max)
    }
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

    use proptest::prelude::*;

    const NAN: f64 = f64::NAN;
    const INF: f64 = f64::INFINITY;

    fn msg<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
        r.expect_err("expected an error").message().to_string()
    }

    fn assert_rel(got: f64, want: f64, rel: f64) {
        assert!(
            (got - want).abs() <= rel * want.abs(),
            "got {got:e}, want {want:e}"
        );
    }

    /// Same value, and the same sign for zeros (or both NaN).
    fn assert_same(got: f64, want: f64) {
        assert!(
            (got.is_nan() && want.is_nan()) || got.to_bits() == want.to_bits(),
            "got {got:?}, want {want:?}"
        );
    }

    const EMPTY: &str = "parameter 'x' must not be empty";

    #[test]
    fn mean_var_std_match_numpy() {
        // python -c "import numpy as np; x=np.array([1.5, -2.25, 3.0, 1e-3, 7.75, -0.5, 2.0]); print(repr(np.mean(x)), repr(np.var(x)), repr(np.var(x, ddof=1)), repr(np.std(x)), repr(np.std(x, ddof=3)))"
        let x = [1.5, -2.25, 3.0, 1e-3, 7.75, -0.5, 2.0];
        assert_rel(mean(&x).unwrap(), 1.643, 1e-15);
        assert_rel(var(&x, 0).unwrap(), 8.818408285714286, 1e-14);
        assert_rel(var(&x, 1).unwrap(), 10.288143, 1e-14);
        assert_rel(std(&x, 0).unwrap(), 2.9695804898527816, 1e-14);
        assert_rel(std(&x, 3).unwrap(), 3.928385737169913, 1e-14);
        assert_eq!(mean(&[-0.0]).unwrap().to_bits(), 0.0f64.to_bits()); // numpy sums from 0.0
        assert_eq!(var(&[5.0], 0).unwrap(), 0.0);
        assert_eq!(var(&[1e300, 1e300, 1e300], 2).unwrap(), 0.0);
        // Large offset: the two-pass variance keeps its digits.
        // python -c "import numpy as np; c=1e9+np.arange(1000)*1e-3; print(repr(np.mean(c)), repr(np.var(c)))"
        let c: Vec<f64> = (0..1000).map(|i| 1e9 + f64::from(i) * 1e-3).collect();
        assert_rel(mean(&c).unwrap(), 1000000000.4995, 1e-15);
        assert_rel(var(&c, 0).unwrap(), 0.08333325000190984, 1e-12);
        assert!(mean(&[1.0, NAN]).unwrap().is_nan());
        assert!(var(&[1.0, INF], 0).unwrap().is_nan());
        assert_eq!(mean(&[1e308, 1e308]).unwrap(), INF); // numpy overflows too
    }

    #[test]
    fn mean_var_std_errors() {
        assert_eq!(msg(mean(&[])), EMPTY);
        assert_eq!(msg(var(&[], 0)), EMPTY);
        assert_eq!(msg(var(&[], 5)), EMPTY);
        assert_eq!(msg(std(&[], 0)), EMPTY);
        let want = "parameter 'ddof' must be less than the length of 'x' (1), got 1";
        assert_eq!(msg(var(&[1.0], 1)), want);
        assert_eq!(msg(std(&[1.0], 1)), want);
        assert_eq!(
            msg(var(&[1.0, 2.0], u32::MAX)),
            "parameter 'ddof' must be less than the length of 'x' (2), got 4294967295"
        );
    }

    #[test]
    fn min_max_argmin_argmax_match_numpy() {
        // python -c "import numpy as np; [print(a, repr(np.min(a)), repr(np.max(a)), np.argmin(a), np.argmax(a)) for a in ([0.0,-0.0],[-0.0,0.0],[3.0,np.nan,-np.inf],[np.inf,1.0],[2.0,-1.0,-1.0,5.0,5.0])]"
        let cases: [(&[f64], f64, f64, u64, u64); 5] = [
            (&[0.0, -0.0], -0.0, -0.0, 0, 0),
            (&[-0.0, 0.0], 0.0, 0.0, 0, 0),
            (&[3.0, NAN, -INF], NAN, NAN, 1, 1),
            (&[INF, 1.0], 1.0, INF, 1, 0),
            (&[2.0, -1.0, -1.0, 5.0, 5.0], -1.0, 5.0, 1, 3),
        ];
        for (x, mn, mx, amn, amx) in cases {
            assert_same(min(x).unwrap(), mn);
            assert_same(max(x).unwrap(), mx);
            assert_eq!(argmin(x).unwrap(), amn, "{x:?}");
            assert_eq!(argmax(x).unwrap(), amx, "{x:?}");
        }
        // python -c "import numpy as np; print(np.argmin([3,1,1,np.nan,0,np.nan]), np.argmax([3,1,1,np.nan,0,np.nan]))"
        assert_eq!(argmin(&[3.0, 1.0, 1.0, NAN, 0.0, NAN]).unwrap(), 3);
        assert_eq!(argmax(&[3.0, 1.0, 1.0, NAN, 0.0, NAN]).unwrap(), 3);
        for f in [min, max] {
            assert_eq!(msg(f(&[])), EMPTY);
        }
        for f in [argmin, argmax] {
            assert_eq!(msg(f(&[])), EMPTY);
        }
    }

    #[test]
    fn min_max_long_inputs_every_position() {
        // Lengths around the sequential/lane switch and the 8-lane blocks; the extreme (or a
        // NaN) at every position.
        for n in [1, 7, 8, 9, 31, 32, 33, 63, 64, 65, 100, 1031] {
            let base: Vec<f64> = (0..n).map(|i| ((i * 37) % 11) as f64).collect();
            for p in 0..n {
                let mut x = base.clone();
                x[p] = -5.0;
                assert_eq!(min(&x).unwrap(), -5.0);
                assert_eq!(argmin(&x).unwrap(), p as u64);
                x[p] = 50.0;
                assert_eq!(max(&x).unwrap(), 50.0);
                assert_eq!(argmax(&x).unwrap(), p as u64);
                x[p] = NAN;
                assert!(min(&x).unwrap().is_nan() && max(&x).unwrap().is_nan());
                assert_eq!(argmin(&x).unwrap(), p as u64);
                assert_eq!(argmax(&x).unwrap(), p as u64);
                if p + 1 < n {
                    x[n - 1] = NAN; // a second NaN later: the first still wins
                    assert_eq!(argmax(&x).unwrap(), p as u64);
                }
            }
        }
        let x = vec![-INF; 40];
        assert_eq!(
            (min(&x).unwrap(), argmin(&x).unwrap(), argmax(&x).unwrap()),
            (-INF, 0, 0)
        );
    }

    #[test]
    fn cumsum_matches_numpy() {
        // python -c "import numpy as np; print(np.cumsum([0.1, 0.2, 0.3, 1e16, 1.0, -1e16, 0.7]).tolist(), np.cumsum([-0.0, -0.0, 0.0]).tolist())"
        let got = cumsum(&[0.1, 0.2, 0.3, 1e16, 1.0, -1e16, 0.7]);
        assert_eq!(
            got,
            [
                0.1,
                0.30000000000000004,
                0.6000000000000001,
                1e16,
                1e16,
                0.0,
                0.7
            ]
        );
        let got = cumsum(&[-0.0, -0.0, 0.0]);
        for (g, w) in got.iter().zip([-0.0, -0.0, 0.0]) {
            assert_same(*g, w);
        }
        assert_eq!(cumsum(&[]), Vec::<f64>::new());
        let got = cumsum(&[1.0, INF, -INF, 1.0]);
        assert_eq!(&got[..2], &[1.0, INF]);
        assert!(got[2].is_nan() && got[3].is_nan());
    }

    #[test]
    fn median_quantile_match_numpy() {
        let y = [4.0, -1.0, 2.5, 2.5, 9.0, 0.125, -7.0, 3.0, 2.5, 1e-9];
        // python -c "import numpy as np; y=np.array([4.0, -1.0, 2.5, 2.5, 9.0, 0.125, -7.0, 3.0, 2.5, 1e-9]); print([repr(np.median(y[:k])) for k in (10, 9, 8, 4)], repr(np.median([0.1, 0.2])))"
        assert_same(median(&y).unwrap(), 2.5);
        assert_same(median(&y[..9]).unwrap(), 2.5);
        assert_same(median(&y[..8]).unwrap(), 2.5);
        assert_same(median(&y[..4]).unwrap(), 2.5);
        assert_same(median(&[0.1, 0.2]).unwrap(), 0.15000000000000002);
        // python -c "import numpy as np; y=np.array([4.0, -1.0, 2.5, 2.5, 9.0, 0.125, -7.0, 3.0, 2.5, 1e-9]); [print(q, repr(np.quantile(y, q)), repr(np.quantile(y[:9], q))) for q in [0.0, 0.1, 0.25, 1/3, 0.5, 0.75, 0.9, 0.999, 1.0]]"
        let table = [
            (0.0, -7.0, -7.0),
            (0.1, -1.5999999999999999, -2.1999999999999997),
            (0.25, 0.03125000075, 0.125),
            (1.0 / 3.0, 0.125, 1.708333333333333),
            (0.5, 2.5, 2.5),
            (0.75, 2.875, 3.0),
            (0.9, 4.499999999999998, 5.000000000000001),
            (0.999, 8.954999999999998, 8.96),
            (1.0, 9.0, 9.0),
        ];
        for (q, w10, w9) in table {
            assert_same(quantile(&y, q).unwrap(), w10);
            assert_same(quantile(&y[..9], q).unwrap(), w9);
        }
    }

    #[test]
    fn median_quantile_edges_match_numpy() {
        // python -W ignore -c "import numpy as np; print([repr(np.quantile(a, q)) for a, q in [([1.0,np.inf],1.0), ([np.inf],0.5), ([0,1,np.inf],0.5), ([0,1,2,np.inf],0.5), ([-np.inf, 0.0, 1.0], 0.0), ([-np.inf, 0.0, 1.0], 0.25), ([-0.0], 0.5), ([-0.0], 0.0), ([-0.0, -0.0], 0.0), ([5.0], 1.0), ([1e308, 1e308], 0.5), ([-1e308, 1e308], 0.5), ([0.1,0.2,0.3], 1.0)]])"
        let cases: [(&[f64], f64, f64); 13] = [
            (&[1.0, INF], 1.0, NAN),
            (&[INF], 0.5, NAN),
            (&[0.0, 1.0, INF], 0.5, NAN),
            (&[0.0, 1.0, 2.0, INF], 0.5, 1.5),
            (&[-INF, 0.0, 1.0], 0.0, NAN),
            (&[-INF, 0.0, 1.0], 0.25, -INF),
            (&[-0.0], 0.5, -0.0),
            (&[-0.0], 0.0, -0.0),
            (&[-0.0, -0.0], 0.0, 0.0),
            (&[5.0], 1.0, 5.0),
            (&[1e308, 1e308], 0.5, 1e308),
            (&[-1e308, 1e308], 0.5, -INF),
            (&[0.1, 0.2, 0.3], 1.0, 0.3),
        ];
        for (x, q, want) in cases {
            assert_same(quantile(x, q).unwrap(), want);
        }
        // python -W ignore -c "import numpy as np; print([repr(np.median(a)) for a in [[1,np.inf],[-np.inf,np.inf],[1e308,1e308],[-0.0],[-0.0,-0.0],[np.inf],[-np.inf,-np.inf], [1.0, np.nan, 2.0]]])"
        let cases: [(&[f64], f64); 8] = [
            (&[1.0, INF], INF),
            (&[-INF, INF], NAN),
            (&[1e308, 1e308], INF),
            (&[-0.0], 0.0),
            (&[-0.0, -0.0], 0.0),
            (&[INF], INF),
            (&[-INF, -INF], -INF),
            (&[1.0, NAN, 2.0], NAN),
        ];
        for (x, want) in cases {
            assert_same(median(x).unwrap(), want);
        }
        assert!(quantile(&[1.0, 2.0, NAN], 0.0).unwrap().is_nan());
    }

    #[test]
    fn median_quantile_errors() {
        assert_eq!(msg(median(&[])), EMPTY);
        assert_eq!(msg(quantile(&[], 0.5)), EMPTY);
        assert_eq!(msg(quantile(&[], NAN)), EMPTY); // x is checked first
        for q in [-0.1, 1.0000000000000002, NAN, INF, -INF, -1e-300] {
            assert_eq!(
                msg(quantile(&[1.0], q)),
                "parameter 'q' must be between 0 and 1"
            );
        }
        assert_same(quantile(&[1.0, 2.0], -0.0).unwrap(), 1.0);
    }

    #[test]
    fn histogram_matches_numpy() {
        let up = |v: f64| f64::from_bits(v.to_bits() + 1); // next float up (v > 0)
        let down = |v: f64| f64::from_bits(v.to_bits() - 1); // next float down (v > 0)
        // Every edge i/10, hi itself, just below hi, just below lo, -0.0, above hi, NaN, ±inf.
        // python -W ignore -c "import numpy as np; na=np.nextafter; x=[i/10 for i in range(11)]+[na(1.0,0), na(0.0,-1), -0.0, 1.0+1e-16, na(1.0,2), np.nan, np.inf, -np.inf, 0.7, na(0.7,0), na(0.7,1), 0.30000000000000004]; print(np.histogram(x, 10, range=(0.0,1.0))[0].tolist())"
        let mut x: Vec<f64> = (0..=10).map(|i| f64::from(i) / 10.0).collect();
        x.extend([
            down(1.0),
            -5e-324,
            -0.0,
            1.0 + 1e-16,
            up(1.0),
            NAN,
            INF,
            -INF,
        ]);
        x.extend([0.7, down(0.7), up(0.7), 0.30000000000000004]);
        assert_eq!(
            histogram(&x, 10, 0.0, 1.0).unwrap(),
            [2, 1, 2, 1, 1, 2, 3, 1, 1, 4]
        );

        // A range whose edges round: linspace(0.1, 0.7, 4) == [0.1, 0.3, 0.5, 0.7] while the
        // bin estimate for 0.3 is 0.9999999999999998, and neighbours of every edge.
        // python -W ignore -c "import numpy as np; na=np.nextafter; y=[0.1, 0.3, 0.30000000000000004, 0.29999999999999993, 0.5, 0.49999999999999994, 0.5000000000000001, 0.7, na(0.7,0), 0.2+0.1, 0.1+0.2+0.2, na(0.1,0), na(0.7,1), 0.3+0.2, 0.19999999999999998+0.1, 0.39999999999999997+0.1]; print(np.histogram(y, 3, range=(0.1,0.7))[0].tolist())"
        let y = [
            0.1,
            0.3,
            0.30000000000000004,
            0.29999999999999993,
            0.5,
            0.49999999999999994,
            0.5000000000000001,
            0.7,
            down(0.7),
            0.2 + 0.1,
            0.1 + 0.2 + 0.2,
            down(0.1),
            up(0.7),
            0.3 + 0.2,
            0.19999999999999998 + 0.1,
            0.39999999999999997 + 0.1,
        ];
        assert_eq!(histogram(&y, 3, 0.1, 0.7).unwrap(), [2, 5, 7]);

        // python -c "import numpy as np; z=np.arange(1001)*0.003-1.0; print(np.histogram(z, 7, range=(-0.5,1.5))[0].tolist(), np.histogram(z, 1, range=(-0.5,1.5))[0].tolist())"
        let z: Vec<f64> = (0..1001).map(|i| f64::from(i) * 0.003 - 1.0).collect();
        assert_eq!(
            histogram(&z, 7, -0.5, 1.5).unwrap(),
            [95, 96, 95, 95, 95, 96, 95]
        );
        assert_eq!(histogram(&z, 1, -0.5, 1.5).unwrap(), [667]);

        // python -c "import numpy as np; print(np.histogram([5.0], 3, range=(-1.0, 0.0))[0].tolist(), np.histogram([1e300, -1e300, 0.0, 5e299], 4, range=(-1e300,1e300))[0].tolist(), np.histogram([0.0, 1e-310, 2e-310, 3e-310, 4e-310], 4, range=(0.0, 4e-310))[0].tolist())"
        assert_eq!(histogram(&[5.0], 3, -1.0, 0.0).unwrap(), [0, 0, 0]);
        assert_eq!(
            histogram(&[1e300, -1e300, 0.0, 5e299], 4, -1e300, 1e300).unwrap(),
            [1, 0, 1, 2]
        );
        let t = [0.0, 1e-310, 2e-310, 3e-310, 4e-310];
        assert_eq!(histogram(&t, 4, 0.0, 4e-310).unwrap(), [1, 1, 1, 2]);
        assert_eq!(histogram(&[], 2, 0.0, 1.0).unwrap(), [0, 0]);
    }

    #[test]
    fn histogram_degenerate_ranges_do_not_panic() {
        // numpy refuses these ("Too many bins" / an overflowing range); the kernel must only
        // stay in bounds and count every in-range value once.
        let x = [0.0, 5e-324, 1e-323, -1e308, 1e308, 0.5, NAN];
        for (bins, lo, hi) in [
            (1000, 0.0, 1e-323),
            (3, -1e308, 1e308),
            (1, -1e308, 1e308),
            (u32::from(u16::MAX), -1.0, 1.0),
        ] {
            let h = histogram(&x, bins, lo, hi).unwrap();
            let inside = x.iter().filter(|&&v| v >= lo && v <= hi).count() as i64;
            assert_eq!(h.iter().sum::<i64>(), inside);
        }
    }

    #[test]
    fn histogram_errors_in_order() {
        let h = |b, lo, hi| msg(histogram(&[1.0], b, lo, hi));
        assert_eq!(h(0, NAN, NAN), "parameter 'bins' must be >= 1, got 0");
        assert_eq!(h(1, NAN, NAN), "parameter 'lo' must be finite");
        assert_eq!(h(1, -INF, 1.0), "parameter 'lo' must be finite");
        assert_eq!(h(1, 0.0, INF), "parameter 'hi' must be finite");
        assert_eq!(h(1, 0.0, NAN), "parameter 'hi' must be finite");
        assert_eq!(h(1, 1.0, 1.0), "parameter 'hi' must be greater than 'lo'");
        assert_eq!(h(1, 2.0, 1.0), "parameter 'hi' must be greater than 'lo'");
        assert_eq!(h(1, 0.0, -0.0), "parameter 'hi' must be greater than 'lo'");
    }

    #[test]
    fn running_stats_matches_numpy_on_concatenation() {
        let mut rs = RunningStats::new();
        rs.push(&[1.5, 2.5]);
        rs.push(&[]);
        rs.push(&[-3.0, 4.0, 1e-3]);
        rs.push(&[100.0]);
        let tail: Vec<f64> = (0..50).map(|i| f64::from(i) * 0.25 - 3.0).collect();
        rs.push(&tail);
        // python -c "import numpy as np; c=np.concatenate([[1.5, 2.5], [], [-3.0, 4.0, 1e-3], [100.0], np.arange(50)*0.25-3.0]); print(repr(np.mean(c)), repr(np.var(c)), repr(np.var(c, ddof=1)), repr(c.min()), repr(c.max()), len(c))"
        assert_eq!(rs.count(), 56);
        assert_rel(rs.mean().unwrap(), 4.665196428571428, 1e-14);
        assert_rel(rs.var(0).unwrap(), 177.74598694355862, 1e-13);
        assert_rel(rs.var(1).unwrap(), 180.97773216071423, 1e-13);
        assert_eq!((rs.min().unwrap(), rs.max().unwrap()), (-3.0, 100.0));

        // Large offset, many small batches.
        // python -c "import numpy as np; c=1e9+np.arange(1000)*1e-3; print(repr(np.mean(c)), repr(np.var(c)))"
        let c: Vec<f64> = (0..1000).map(|i| 1e9 + f64::from(i) * 1e-3).collect();
        let mut rs = RunningStats::new();
        for b in c.chunks(7) {
            rs.push(b);
        }
        assert_rel(rs.mean().unwrap(), 1000000000.4995, 1e-15);
        assert_rel(rs.var(0).unwrap(), 0.08333325000190984, 1e-12);
        // ... and one value at a time (Welford).
        let mut rs = RunningStats::new();
        for v in &c {
            rs.push(std::slice::from_ref(v));
        }
        assert_rel(rs.mean().unwrap(), 1000000000.4995, 1e-15);
        assert_rel(rs.var(0).unwrap(), 0.08333325000190984, 1e-12);
    }

    #[test]
    fn running_stats_edges_and_errors() {
        let mut rs = RunningStats::new();
        let none = "no values pushed yet";
        assert_eq!(rs.count(), 0);
        assert_eq!(msg(rs.mean()), none);
        assert_eq!(msg(rs.var(0)), none);
        assert_eq!(msg(rs.var(7)), none);
        assert_eq!(msg(rs.min()), none);
        assert_eq!(msg(rs.max()), none);
        rs.push(&[]);
        assert_eq!(rs.count(), 0);
        rs.push(&[2.0]);
        let before = rs.clone();
        rs.push(&[]);
        assert_eq!(format!("{rs:?}"), format!("{before:?}"));
        assert_eq!(rs.var(0).unwrap(), 0.0);
        assert_eq!(
            msg(rs.var(1)),
            "parameter 'ddof' must be less than the count (1), got 1"
        );
        rs.push(&[NAN]);
        rs.push(&[1.0]);
        assert!(rs.mean().unwrap().is_nan() && rs.var(0).unwrap().is_nan());
        assert!(rs.min().unwrap().is_nan() && rs.max().unwrap().is_nan());
        // Infinite means combine like numpy's sum: inf + finite = inf, inf - inf = NaN.
        let mut rs = RunningStats::new();
        rs.push(&[INF]);
        rs.push(&[1.0, 2.0]);
        assert_eq!(rs.mean().unwrap(), INF);
        assert!(rs.var(0).unwrap().is_nan());
        rs.push(&[-INF]);
        assert!(rs.mean().unwrap().is_nan());
        // An overflowing difference of finite means.
        let mut rs = RunningStats::new();
        rs.push(&[1e308]);
        rs.push(&[-1e308]);
        assert_eq!(rs.mean().unwrap(), 0.0);
        assert_eq!(rs.var(0).unwrap(), INF); // numpy: (1e308)**2 overflows too
        rs.push(&[1.0]);
        rs.push(&[2.0, -3.0]);
        // python -W ignore -c "import numpy as np; a=np.array([1e308, -1e308, 1.0, 2.0, -3.0]); print(np.mean(a), np.var(a))"
        assert_eq!((rs.mean().unwrap(), rs.var(0).unwrap()), (0.0, INF));
        // A sum that overflows: numpy's mean is inf and its variance inf.
        // python -W ignore -c "import numpy as np; a=np.array([1e308, 1e308, 1.0]); print(np.mean(a), np.var(a))"
        for batches in [
            &[&[1e308, 1e308][..], &[1.0]][..],
            &[&[1e308], &[1e308, 1.0]],
        ] {
            let mut rs = RunningStats::new();
            for b in batches {
                rs.push(b);
            }
            assert_eq!((rs.mean().unwrap(), rs.var(0).unwrap()), (INF, INF));
        }
        assert_eq!(
            (
                mean(&[1e308, 1e308, 1.0]).unwrap(),
                var(&[1e308, 1e308, 1.0], 0).unwrap()
            ),
            (INF, INF)
        );
    }

    #[test]
    fn running_stats_state_round_trips_and_merges() {
        let mut a = RunningStats::new();
        a.push(&[1.5, 2.5]);
        a.push(&[-3.0, 4.0, 1e-3]);
        let back = RunningStats::from_state(&a.state()).unwrap();
        assert_eq!(format!("{back:?}"), format!("{a:?}"));
        // The batches of the first test, split between two accumulators and merged.
        let mut b = RunningStats::new();
        b.push(&[100.0]);
        let tail: Vec<f64> = (0..50).map(|i| f64::from(i) * 0.25 - 3.0).collect();
        b.push(&tail);
        a.merge_state(&b.state()).unwrap();
        // (numpy values of the concatenation: see running_stats_matches_numpy_on_concatenation)
        assert_eq!(a.count(), 56);
        assert_rel(a.mean().unwrap(), 4.665196428571428, 1e-14);
        assert_rel(a.var(0).unwrap(), 177.74598694355862, 1e-13);
        assert_rel(a.var(1).unwrap(), 180.97773216071423, 1e-13);
        assert_rel(a.std(1).unwrap(), 180.97773216071423f64.sqrt(), 1e-13);
        assert_eq!((a.min().unwrap(), a.max().unwrap()), (-3.0, 100.0));
        // Large offset, partial accumulators of 7 values each merged one by one.
        let c: Vec<f64> = (0..1000).map(|i| 1e9 + f64::from(i) * 1e-3).collect();
        let mut total = RunningStats::new();
        for chunk in c.chunks(7) {
            let mut part = RunningStats::new();
            part.push(chunk);
            total.merge_state(&part.state()).unwrap();
        }
        assert_rel(total.mean().unwrap(), 1000000000.4995, 1e-15);
        assert_rel(total.var(0).unwrap(), 0.08333325000190984, 1e-12);
        // Empty states change nothing; merging into an empty accumulator copies.
        let before = format!("{total:?}");
        total.merge_state(&RunningStats::new().state()).unwrap();
        assert_eq!(format!("{total:?}"), before);
        let mut empty = RunningStats::new();
        empty.merge_state(&total.state()).unwrap();
        assert_eq!(format!("{empty:?}"), before);
    }

    #[test]
    fn running_stats_state_merges_nan_and_inf_like_numpy() {
        let merged = |parts: &[&[f64]]| {
            let mut rs = RunningStats::new();
            for p in parts {
                let mut one = RunningStats::new();
                one.push(p);
                rs.merge_state(&one.state()).unwrap();
            }
            rs
        };
        let rs = merged(&[&[1.0, 2.0], &[NAN], &[3.0]]);
        assert!(rs.mean().unwrap().is_nan() && rs.var(0).unwrap().is_nan());
        assert!(rs.min().unwrap().is_nan() && rs.max().unwrap().is_nan());
        let rs = merged(&[&[INF], &[1.0, 2.0]]);
        assert_eq!(rs.mean().unwrap(), INF);
        assert!(rs.var(0).unwrap().is_nan());
        // python -W ignore -c "import numpy as np; a=np.array([1e308, 1e308, 1.0]); print(np.mean(a), np.var(a))"
        let rs = merged(&[&[1e308], &[1e308, 1.0]]);
        assert_eq!((rs.mean().unwrap(), rs.var(0).unwrap()), (INF, INF));
    }

    #[test]
    fn running_stats_state_errors() {
        let e = |s: &[f64]| msg(RunningStats::from_state(s));
        assert_eq!(
            e(&[1.0; 7]),
            "parameter 'state' must hold 8 numbers (a RunningStats.state()), got 7"
        );
        assert_eq!(
            e(&[]),
            "parameter 'state' must hold 8 numbers (a RunningStats.state()), got 0"
        );
        for bad in [-1.0, 0.5, NAN, INF, 9007199254740994.0] {
            let mut s = [0.0; STATE_LEN];
            s[0] = bad;
            assert!(
                e(&s).starts_with("parameter 'state' must start with a count"),
                "{bad}"
            );
        }
        let mut s = [1.0; STATE_LEN];
        s[2] = INF;
        assert_eq!(
            e(&s),
            "parameter 'state' is not a RunningStats.state(): its shift (state[2]) is inf"
        );
        // A refused merge changes nothing.
        let mut rs = RunningStats::new();
        rs.push(&[1.0, 2.0]);
        let before = format!("{rs:?}");
        assert!(rs.merge_state(&[1.0; 3]).is_err());
        assert!(rs.merge_state(&s).is_err());
        assert_eq!(format!("{rs:?}"), before);
    }

    // ---- properties ----

    fn finite() -> impl Strategy<Value = f64> {
        prop_oneof![
            6 => -1e3f64..1e3,
            2 => (-4i32..4).prop_map(f64::from),
            1 => Just(-0.0),
            1 => -1e150f64..1e150,
        ]
    }

    fn any_value() -> impl Strategy<Value = f64> {
        prop_oneof![
            8 => finite(),
            1 => Just(NAN),
            1 => Just(INF),
            1 => Just(-INF),
        ]
    }

    /// numpy's quantile on a fully sorted copy: the definition the selection must reproduce.
    fn sorted_quantile(x: &[f64], q: f64) -> f64 {
        if x.iter().any(|v| v.is_nan()) {
            return NAN;
        }
        let mut s = x.to_vec();
        s.sort_by(f64::total_cmp);
        let last = s.len() - 1;
        let vi = q * last as f64;
        let (a, b, t) = if vi >= last as f64 {
            (s[last], s[last], vi + 1.0)
        } else {
            let f = vi.floor();
            (s[f as usize], s[f as usize + 1], vi - f)
        };
        let d = b - a;
        if t >= 0.5 {
            b - d * (1.0 - t)
        } else {
            a + d * t
        }
    }

    proptest! {
        #[test]
        fn min_max_arg_match_sequential_scan(x in prop::collection::vec(any_value(), 1..300)) {
            let first_nan = x.iter().position(|v| v.is_nan());
            let lo = x.iter().copied().fold(INF, |a, v| if v < a { v } else { a });
            let hi = x.iter().copied().fold(-INF, |a, v| if v > a { v } else { a });
            match first_nan {
                Some(p) => {
                    prop_assert!(min(&x).unwrap().is_nan() && max(&x).unwrap().is_nan());
                    prop_assert_eq!(argmin(&x).unwrap(), p as u64);
                    prop_assert_eq!(argmax(&x).unwrap(), p as u64);
                }
                None => {
                    prop_assert_eq!(min(&x).unwrap(), lo);
                    prop_assert_eq!(max(&x).unwrap(), hi);
                    prop_assert_eq!(argmin(&x).unwrap(), x.iter().position(|&v| v == lo).unwrap() as u64);
                    prop_assert_eq!(argmax(&x).unwrap(), x.iter().position(|&v| v == hi).unwrap() as u64);
                }
            }
        }

        #[test]
        fn cumsum_is_sequential(x in prop::collection::vec(any_value(), 0..300)) {
            let c = cumsum(&x);
            prop_assert_eq!(c.len(), x.len());
            let mut s = None;
            for (v, got) in x.iter().zip(&c) {
                let want = match s { None => *v, Some(p) => p + v };
                prop_assert!((want.is_nan() && got.is_nan()) || want.to_bits() == got.to_bits());
                s = Some(want);
            }
        }

        #[test]
        fn var_is_accurate(x in prop::collection::vec(-1e3f64..1e3, 2..3000), ddof in 0u32..2) {
            // Reference in compensated arithmetic over the exact mean's neighbourhood.
            let n = x.len() as f64;
            let m = x.iter().sum::<f64>() / n;
            let ss: f64 = x.iter().map(|v| (v - m) * (v - m)).sum();
            let want = ss / (n - f64::from(ddof));
            let got = var(&x, ddof).unwrap();
            prop_assert!((got - want).abs() <= 1e-10 * want.abs() + 1e-300);
            prop_assert!((std(&x, ddof).unwrap() - want.sqrt()).abs() <= 1e-10 * want.sqrt() + 1e-300);
        }

        #[test]
        fn median_quantile_match_full_sort(
            x in prop::collection::vec(any_value(), 1..400),
            qs in prop::collection::vec(0.0f64..=1.0, 1..5),
        ) {
            for q in qs.iter().copied().chain([0.0, 0.5, 1.0]) {
                let got = quantile(&x, q).unwrap();
                let want = sorted_quantile(&x, q);
                prop_assert!((got.is_nan() && want.is_nan()) || got.to_bits() == want.to_bits(),
                    "q={} got {:?} want {:?}", q, got, want);
            }
            let med = median(&x).unwrap();
            if x.iter().any(|v| v.is_nan()) {
                prop_assert!(med.is_nan());
            } else {
                let mut s = x.clone();
                s.sort_by(f64::total_cmp);
                let n = s.len();
                let want = if n % 2 == 1 { 0.0 + s[n / 2] } else { (0.0 + s[n / 2 - 1] + s[n / 2]) / 2.0 };
                prop_assert!((med.is_nan() && want.is_nan()) || med.to_bits() == want.to_bits());
            }
        }

        #[test]
        fn quantile_is_monotone_and_bounded(x in prop::collection::vec(finite(), 1..200), q1 in 0.0f64..=1.0, q2 in 0.0f64..=1.0) {
            let (q1, q2) = if q1 <= q2 { (q1, q2) } else { (q2, q1) };
            let (a, b) = (quantile(&x, q1).unwrap(), quantile(&x, q2).unwrap());
            prop_assert!(a <= b);
            prop_assert!(min(&x).unwrap() <= a && b <= max(&x).unwrap());
        }

        #[test]
        fn histogram_bins_by_edges(
            x in prop::collection::vec(any_value(), 0..300),
            bins in 1u32..50,
            lo in -1e3f64..1e3,
            width in 1e-3f64..1e3,
        ) {
            let hi = lo + width;
            // Add the edges themselves and their neighbours.
            let step = (hi - lo) / f64::from(bins);
            let edges: Vec<f64> = (0..bins).map(|i| f64::from(i) * step + lo).chain([hi]).collect();
            prop_assume!(edges.windows(2).all(|w| w[0] < w[1]));
            let mut x = x;
            for &e in &edges {
                x.extend([e, f64::from_bits(e.to_bits() + 1), f64::from_bits(e.to_bits() - 1)]);
            }
            let h = histogram(&x, bins, lo, hi).unwrap();
            // Total = the values in [lo, hi]; bin i holds exactly e[i] <= v < e[i+1] (the last
            // bin also v == hi), numpy's definition when its edges increase.
            let inside = x.iter().filter(|&&v| v >= lo && v <= hi).count() as i64;
            prop_assert_eq!(h.iter().sum::<i64>(), inside);
            for (i, &c) in h.iter().enumerate() {
                let last = i + 1 == h.len();
                let want = x.iter().filter(|&&v| v >= edges[i] && (v < edges[i + 1] || (last && v == hi))).count() as i64;
                prop_assert_eq!(c, want, "bin {}", i);
            }
        }

        #[test]
        fn running_stats_equals_one_shot(
            x in prop::collection::vec(finite(), 1..500),
            cuts in prop::collection::vec(0usize..500, 0..8),
            merged: bool,
        ) {
            // The pieces pushed one by one, or (merged) each in its own accumulator, pushed in
            // two batches, whose states are merged in order.
            let mut rs = RunningStats::new();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (x.len() + 1)).collect();
            cuts.sort_unstable();
            let mut start = 0;
            for c in cuts.into_iter().chain([x.len()]) {
                let piece = &x[start..c];
                if merged {
                    let mut part = RunningStats::new();
                    let (a, b) = piece.split_at(piece.len() / 2);
                    part.push(a);
                    part.push(b);
                    rs.merge_state(&part.state()).unwrap();
                } else {
                    rs.push(piece);
                }
                start = c;
            }
            prop_assert_eq!(rs.count(), x.len() as u64);
            let scale = x.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            prop_assert!((rs.mean().unwrap() - mean(&x).unwrap()).abs() <= 1e-13 * scale);
            let v = var(&x, 0).unwrap();
            prop_assert!((rs.var(0).unwrap() - v).abs() <= 1e-11 * scale * scale);
            prop_assert_eq!(rs.min().unwrap(), min(&x).unwrap());
            prop_assert_eq!(rs.max().unwrap(), max(&x).unwrap());
        }
    }
}
