//! The driver over the micro-kernels: every (panel, block of rows) pair is one task on the
//! rayon pool. Each output is computed by one task from integers alone, so results never
//! depend on the thread count.

use std::ops::Range;

use rayon::prelude::*;

use crate::dispatch::Level;
use crate::kernel;
use crate::matrix::ShiftMatrix;

/// Rows per task.
const ROW_BLOCK: usize = 16;

/// Batch 1: `out[r]` is the total of row `r` of `m` against `x`, row blocks in parallel.
pub(crate) fn gemv(
    level: Level,
    m: &ShiftMatrix,
    x: &[i32],
    init: &[i64],
    max_run: usize,
    out: &mut [i64],
) {
    assert_eq!(out.len(), m.rows(), "gemv: output length");
    out.par_chunks_mut(GEMV_ROW_BLOCK)
        .enumerate()
        .for_each(|(b, out)| {
            let r0 = b * GEMV_ROW_BLOCK;
            let rows = r0..r0 + out.len();
            kernel::run_gemv(level, m, rows.clone(), x, &init[rows], max_run, out);
        });
}

/// Rows per task of [`gemv`].
const GEMV_ROW_BLOCK: usize = 64;

/// Totals of rows `rows` of `m` against `n_panels` panels (`panels` holds them one after
/// the other, `m.cols() * NR` values each): `out[(j * rows.len() + r) * NR + c]` is row
/// `rows.start + r`, column `j * NR + c`. `init[r]` is the row's starting value (its bias).
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm(
    level: Level,
    m: &ShiftMatrix,
    rows: Range<usize>,
    panels: &[i32],
    init: &[i64],
    max_run: usize,
    parallel: bool,
    out: &mut [i64],
) {
    let nr = level.panel_width();
    let panel_len = m.cols() * nr;
    let n_rows = rows.len();
    let n_panels = panels
        .len()
        .checked_div(panel_len)
        .unwrap_or(out.len() / (n_rows * nr).max(1));
    assert_eq!(panels.len(), n_panels * panel_len, "gemm: panels length");
    assert_eq!(out.len(), n_panels * n_rows * nr, "gemm: output length");
    if n_rows == 0 || n_panels == 0 {
        return;
    }
    let task = |(j, b, out): (usize, usize, &mut [i64])| {
        let r0 = b * ROW_BLOCK;
        let r1 = (r0 + ROW_BLOCK).min(n_rows);
        let panel = &panels[j * panel_len..(j + 1) * panel_len];
        kernel::run(
            level,
            m,
            rows.start + r0..rows.start + r1,
            panel,
            &init[r0..r1],
            max_run,
            out,
        );
    };
    let mut tasks: Vec<(usize, usize, &mut [i64])> = Vec::new();
    for (j, out) in out.chunks_mut(n_rows * nr).enumerate() {
        for (b, o) in out.chunks_mut(ROW_BLOCK * nr).enumerate() {
            tasks.push((j, b, o));
        }
    }
    if parallel {
        tasks.into_par_iter().for_each(task);
    } else {
        tasks.into_iter().for_each(task);
    }
}
