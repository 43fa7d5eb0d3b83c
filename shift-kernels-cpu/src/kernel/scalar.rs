//! The portable micro-kernel (`NR = 8`), and the wide path for inputs of magnitude 2^31.

use std::ops::Range;

use super::{for_each_run, for_each_step, Step};
use crate::matrix::ShiftMatrix;

const NR: usize = 8;

/// See [`super::run`].
pub(crate) fn rows(
    m: &ShiftMatrix,
    rows: Range<usize>,
    panel: &[i32],
    init: &[i64],
    max_run: usize,
    out: &mut [i64],
) {
    for (r, row) in rows.enumerate() {
        let mut total = [init[r]; NR];
        let mut acc = [0i32; NR];
        for_each_step(m, row, max_run, |step| match step {
            Step::Add(pos, neg) => {
                for &k in pos {
                    let x: &[i32; NR] = panel[(k as usize) << 3..][..NR].try_into().unwrap();
                    for c in 0..NR {
                        acc[c] = acc[c].wrapping_add(x[c]);
                    }
                }
                for &k in neg {
                    let x: &[i32; NR] = panel[(k as usize) << 3..][..NR].try_into().unwrap();
                    for c in 0..NR {
                        acc[c] = acc[c].wrapping_sub(x[c]);
                    }
                }
            }
            Step::Scale(d) => {
                for a in &mut acc {
                    *a <<= d;
                }
            }
            Step::Flush(s) => {
                for c in 0..NR {
                    total[c] = total[c].wrapping_add(shl(acc[c] as i64, s));
                }
                acc = [0; NR];
            }
        });
        out[r * NR..(r + 1) * NR].copy_from_slice(&total);
    }
}

/// The same sums in `i64` lanes throughout, for any panel width `nr`: used when an input
/// reaches 2^31 in magnitude, where no `i32` run is safe.
pub(crate) fn rows_wide(
    m: &ShiftMatrix,
    rows: Range<usize>,
    panel: &[i32],
    nr: usize,
    init: &[i64],
    out: &mut [i64],
) {
    let nr_shift = nr.trailing_zeros();
    for ((row, total), &start) in rows.zip(out.chunks_exact_mut(nr)).zip(init) {
        total.fill(start);
        for seg in m.segments(row) {
            let (pos, neg) = m.indices(seg);
            for (list, negative) in [(pos, false), (neg, true)] {
                for &k in list {
                    let x = &panel[(k as usize) << nr_shift..][..nr];
                    for (t, &v) in total.iter_mut().zip(x) {
                        let v = shl(v as i64, seg.shift);
                        *t = if negative {
                            t.wrapping_sub(v)
                        } else {
                            t.wrapping_add(v)
                        };
                    }
                }
            }
        }
    }
}

/// `v << s`, 0 for `s >= 64`. (The accumulator rule makes every level of 63 and above
/// contribute 0, so this is exact; it also keeps debug builds from panicking.)
#[inline(always)]
pub(crate) fn shl(v: i64, s: u32) -> i64 {
    if s >= 64 {
        0
    } else {
        v << s
    }
}

/// Batch 1: `out[r]` is row `rows.start + r` against the single input vector `x`
/// (`m.cols()` values), four independent `i32` partial sums per run.
pub(crate) fn gemv(
    m: &ShiftMatrix,
    rows: Range<usize>,
    x: &[i32],
    init: &[i64],
    max_run: usize,
    out: &mut [i64],
) {
    let x = &x[..m.cols()];
    for (r, row) in rows.enumerate() {
        let mut total = init[r];
        for seg in m.segments(row) {
            let (pos, neg) = m.indices(seg);
            for_each_run(pos, neg, max_run, |pos, neg| {
                let mut acc = [0i32; 4];
                let mut chunks = pos.chunks_exact(4);
                for c in &mut chunks {
                    for (a, &k) in acc.iter_mut().zip(c) {
                        *a = a.wrapping_add(x[k as usize]);
                    }
                }
                for &k in chunks.remainder() {
                    acc[0] = acc[0].wrapping_add(x[k as usize]);
                }
                let mut chunks = neg.chunks_exact(4);
                for c in &mut chunks {
                    for (a, &k) in acc.iter_mut().zip(c) {
                        *a = a.wrapping_sub(x[k as usize]);
                    }
                }
                for &k in chunks.remainder() {
                    acc[0] = acc[0].wrapping_sub(x[k as usize]);
                }
                let sum = acc.iter().fold(0i32, |s, &a| s.wrapping_add(a));
                total = total.wrapping_add(shl(sum as i64, seg.shift));
            });
        }
        out[r] = total;
    }
}

/// [`gemv`] in `i64` throughout, for inputs of magnitude 2^31.
pub(crate) fn gemv_wide(
    m: &ShiftMatrix,
    rows: Range<usize>,
    x: &[i32],
    init: &[i64],
    out: &mut [i64],
) {
    for (r, row) in rows.enumerate() {
        let mut total = init[r];
        for seg in m.segments(row) {
            let (pos, neg) = m.indices(seg);
            for &k in pos {
                total = total.wrapping_add(shl(x[k as usize] as i64, seg.shift));
            }
            for &k in neg {
                total = total.wrapping_sub(shl(x[k as usize] as i64, seg.shift));
            }
        }
        out[r] = total;
    }
}
