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
