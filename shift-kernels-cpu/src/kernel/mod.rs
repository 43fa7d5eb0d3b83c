//! The micro-kernels: one row of the shift matrix against one panel of `NR` activation
//! columns, for each instruction-set level, plus the dispatch between them.
//!
//! Every level runs the same algorithm (see the crate docs): for each shift level of the row,
//! add the panel rows of its positive weights and subtract those of its negative weights in
//! `i32` lanes (runs of at most `max_run` terms, so no lane can overflow), then widen the
//! run's sum to `i64`, shift it left once by the level's shift and add it to the row's
//! totals. The loops hold loads, adds, subtractions, sign extensions and shifts only.

use std::ops::Range;

use crate::dispatch::Level;
use crate::matrix::ShiftMatrix;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512_table;
#[cfg(target_arch = "aarch64")]
mod neon;
pub(crate) mod scalar;

/// Totals of rows `rows` of `m` against one panel: `out[r * NR + c]` for row `rows.start + r`
/// and panel column `c`, starting from `init[r]` (the bias on the kernels' scale). `NR` is
/// `level.panel_width()`; `panel` is `m.cols()` rows of `NR` values.
///
/// # Panics
/// If the buffers' lengths do not fit, or the level is not supported by this CPU.
pub(crate) fn run(
    level: Level,
    m: &ShiftMatrix,
    rows: Range<usize>,
    panel: &[i32],
    init: &[i64],
    max_run: usize,
    out: &mut [i64],
) {
    let nr = level.panel_width();
    assert!(rows.end <= m.rows(), "kernel: rows out of range");
    assert_eq!(panel.len(), m.cols() * nr, "kernel: panel length");
    assert_eq!(init.len(), rows.len(), "kernel: init length");
    assert_eq!(out.len(), rows.len() * nr, "kernel: output length");
    assert!(
        level.is_supported(),
        "kernel level {level} is not supported here"
    );
    if max_run == 0 {
        // An input of magnitude 2^31: not even one term fits an i32 run.
        return scalar::rows_wide(m, rows, panel, nr, init, out);
    }
    match level {
        Level::Scalar => scalar::rows(m, rows, panel, init, max_run, out),
        // SAFETY: the level's features were detected above; lengths were checked.
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => unsafe { avx2::rows(m, rows, panel, init, max_run, out) },
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => unsafe { avx512::rows(m, rows, panel, init, max_run, out) },
        #[cfg(target_arch = "aarch64")]
        Level::Neon => unsafe { neon::rows(m, rows, panel, init, max_run, out) },
        #[allow(unreachable_patterns)]
        other => unreachable!("{other} is not compiled for this target"),
    }
}

/// [`run`] against two panels, `pa` into `oa` and `pb` into `ob`: on AVX-512 in one pass
/// over the rows' indices (see `avx512::rows2`), elsewhere as two calls.
///
/// # Panics
/// As [`run`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn run2(
    level: Level,
    m: &ShiftMatrix,
    rows: Range<usize>,
    pa: &[i32],
    pb: &[i32],
    init: &[i64],
    max_run: usize,
    oa: &mut [i64],
    ob: &mut [i64],
) {
    #[cfg(target_arch = "x86_64")]
    if level == Level::Avx512 && max_run > 0 {
        assert!(rows.end <= m.rows(), "kernel: rows out of range");
        assert!(
            pa.len() == m.cols() * 32 && pb.len() == pa.len(),
            "kernel: panel length"
        );
        assert_eq!(init.len(), rows.len(), "kernel: init length");
        assert!(
            oa.len() == rows.len() * 32 && ob.len() == oa.len(),
            "kernel: output length"
        );
        assert!(
            level.is_supported(),
            "kernel level {level} is not supported here"
        );
        // SAFETY: the feature was detected above; lengths were checked.
        return unsafe { avx512::rows2(m, rows, pa, pb, init, max_run, oa, ob) };
    }
    run(level, m, rows.clone(), pa, init, max_run, oa);
    run(level, m, rows, pb, init, max_run, ob);
}

/// Batch 1: `out[r]` is the total of row `rows.start + r` against the one input vector `x`
/// (`m.cols()` values). AVX-512 gathers the inputs of a level 16 at a time; the other levels
/// run the portable loop (AVX2's gathers are no faster than scalar loads, NEON has none).
///
/// # Panics
/// If the buffers' lengths do not fit, or the level is not supported by this CPU.
pub(crate) fn run_gemv(
    level: Level,
    m: &ShiftMatrix,
    rows: Range<usize>,
    x: &[i32],
    init: &[i64],
    max_run: usize,
    out: &mut [i64],
) {
    assert!(rows.end <= m.rows(), "gemv: rows out of range");
    assert_eq!(x.len(), m.cols(), "gemv: input length");
    assert_eq!(init.len(), rows.len(), "gemv: init length");
    assert_eq!(out.len(), rows.len(), "gemv: output length");
    assert!(
        level.is_supported(),
        "kernel level {level} is not supported here"
    );
    if max_run == 0 {
        return scalar::gemv_wide(m, rows, x, init, out);
    }
    match level {
        // SAFETY: the feature was detected above; lengths were checked.
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => unsafe { avx512::gemv(m, rows, x, init, max_run, out) },
        _ => scalar::gemv(m, rows, x, init, max_run, out),
    }
}

/// One step of a row's sum on an `i32` accumulator `acc` (zero at the start) and the row's
/// `i64` totals, as [`for_each_step`] issues them.
pub(crate) enum Step<'a> {
    /// `acc += sum of the panel rows at pos - sum of those at neg`.
    Add(&'a [u16], &'a [u16]),
    /// `acc <<= d`, `d` in `1..=30`: the accumulator moves down to the next level (Horner).
    Scale(u32),
    /// `totals += (acc as i64) << s`, then `acc = 0`.
    Flush(u32),
}

/// The steps of row `row`'s sum: levels from the highest down, each level's weights added
/// into `acc`, which is scaled by `2^d` when the next level is `d` lower (Horner's rule), so
/// that one `i32` run spans many levels and is widened and shifted into the totals once.
///
/// Exact: a run is closed (flushed) before `acc` could leave `i32`. In units of the current
/// level, the run's terms weigh `sum n_l 2^(l - current)` (`n_l` weights at level `l`);
/// every partial value of `acc` is at most that many inputs of magnitude `M` in size, and
/// it is kept at most `max_run = floor((2^31-1) / M)`. A level with more than `max_run`
/// weights alone is split into runs of `max_run` as [`for_each_run`] does.
#[inline(always)]
pub(crate) fn for_each_step(
    m: &ShiftMatrix,
    row: usize,
    max_run: usize,
    mut f: impl FnMut(Step<'_>),
) {
    let max_run = max_run as u64;
    // The open run's weight in units of its level `at` (0: no open run).
    let (mut units, mut at) = (0u64, 0u32);
    for seg in m.segments(row) {
        let (pos, neg) = m.indices(seg);
        let n = (pos.len() + neg.len()) as u64;
        if units > 0 {
            let d = at - seg.shift;
            if d <= 30 && units << d <= max_run && n <= max_run - (units << d) {
                f(Step::Scale(d));
                f(Step::Add(pos, neg));
                units = (units << d) + n;
                at = seg.shift;
                continue;
            }
            f(Step::Flush(at));
            units = 0;
        }
        if n <= max_run {
            f(Step::Add(pos, neg));
            units = n;
            at = seg.shift;
        } else {
            for_each_run(pos, neg, max_run as usize, |pos, neg| {
                f(Step::Add(pos, neg));
                f(Step::Flush(seg.shift));
            });
        }
    }
    if units > 0 {
        f(Step::Flush(at));
    }
}

/// Splits a level's `pos` and `neg` index lists into runs of at most `max_run` terms and
/// calls `f(pos_run, neg_run)` for each.
#[inline(always)]
pub(crate) fn for_each_run(
    pos: &[u16],
    neg: &[u16],
    max_run: usize,
    mut f: impl FnMut(&[u16], &[u16]),
) {
    let (mut p, mut q) = (0, 0);
    while p < pos.len() || q < neg.len() {
        let pe = p.saturating_add(max_run).min(pos.len());
        let budget = max_run - (pe - p);
        let qe = q.saturating_add(budget).min(neg.len());
        f(&pos[p..pe], &neg[q..qe]);
        p = pe;
        q = qe;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Replays a row's steps on one input column `x` with exact arithmetic: the sum equals the
    /// row's, every partial accumulator stays within `max_run` inputs of the largest
    /// magnitude, and `Scale` counts are in `1..=30`.
    #[test]
    fn steps_sum_the_row_exactly_within_the_run_budget() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for (cols, span, max_run) in [
            (144, 16, 32767),
            (144, 16, 40),
            (1000, 8, 300),
            (50, 40, 1 << 30),
            (30, 100, 7),
            (9, 3, 1),
        ] {
            let w: Vec<f32> = (0..4 * cols)
                .map(|_| match rng.gen_range(0..5) {
                    0 => 0.0,
                    s => {
                        let p = -rng.gen_range(0..span);
                        (if s % 2 == 0 { 1.0 } else { -1.0 }) * shift_core::exp2i(p)
                    }
                })
                .collect();
            let m = ShiftMatrix::from_weights(&w, 4, cols).unwrap();
            let x: Vec<i128> = (0..cols).map(|_| rng.gen_range(-1000..=1000)).collect();
            let big = x.iter().map(|v| v.abs()).max().unwrap();
            for row in 0..4 {
                let (mut acc, mut total) = (0i128, 0i128);
                let mut weight = 0u128; // sum of |terms| of acc, in inputs of magnitude big
                for_each_step(&m, row, max_run, |step| match step {
                    Step::Add(pos, neg) => {
                        for &k in pos {
                            acc += x[k as usize];
                        }
                        for &k in neg {
                            acc -= x[k as usize];
                        }
                        weight += (pos.len() + neg.len()) as u128;
                        assert!(weight <= max_run as u128, "run over budget");
                        assert!(acc.abs() <= weight as i128 * big);
                    }
                    Step::Scale(d) => {
                        assert!((1..=30).contains(&d));
                        acc <<= d;
                        weight <<= d;
                        assert!(weight <= max_run as u128, "scaled run over budget");
                    }
                    Step::Flush(s) => {
                        total += acc << s;
                        acc = 0;
                        weight = 0;
                    }
                });
                assert_eq!(acc, 0, "a run left open");
                let want: i128 = w[row * cols..(row + 1) * cols]
                    .iter()
                    .zip(&x)
                    .map(|(&w, &x)| match crate::decode_weight(w).unwrap() {
                        (0, _) => 0,
                        (s, p) => s as i128 * (x << (p - m.min_shift()) as u32),
                    })
                    .sum();
                assert_eq!(total, want, "cols {cols} span {span} run {max_run}");
            }
        }
    }
}
