//! The NEON micro-kernel (AArch64): `NR = 8` columns, two `int32x4` registers per level run
//! and four `int64x2` totals per row.

use std::arch::aarch64::*;
use std::ops::Range;

use super::{for_each_step, Step};
use crate::matrix::ShiftMatrix;

const NR: usize = 8;

/// See [`super::run`].
///
/// # Safety
/// The CPU must support NEON; `panel` must hold `m.cols() * 8` values and `out`
/// `rows.len() * 8` (checked by the caller).
#[target_feature(enable = "neon")]
pub(crate) unsafe fn rows(
    m: &ShiftMatrix,
    rows: Range<usize>,
    panel: &[i32],
    init: &[i64],
    max_run: usize,
    out: &mut [i64],
) {
    let base = panel.as_ptr();
    let dst = out.as_mut_ptr();
    for (r, row) in rows.enumerate() {
        let t0 = vdupq_n_s64(init[r]);
        let mut t = [t0; 4];
        let mut a0 = vdupq_n_s32(0);
        let mut a1 = vdupq_n_s32(0);
        for_each_step(m, row, max_run, |step| match step {
            Step::Add(pos, neg) => {
                for &k in pos {
                    // SAFETY: k < m.cols(), so the 8 values at k << 3 lie in the panel.
                    unsafe {
                        let x = base.add((k as usize) << 3);
                        a0 = vaddq_s32(a0, vld1q_s32(x));
                        a1 = vaddq_s32(a1, vld1q_s32(x.add(4)));
                    }
                }
                for &k in neg {
                    // SAFETY: as above.
                    unsafe {
                        let x = base.add((k as usize) << 3);
                        a0 = vsubq_s32(a0, vld1q_s32(x));
                        a1 = vsubq_s32(a1, vld1q_s32(x.add(4)));
                    }
                }
            }
            Step::Scale(d) => {
                // vshlq_s32 shifts left by a positive count (d <= 30).
                let count = vdupq_n_s32(d as i32);
                a0 = vshlq_s32(a0, count);
                a1 = vshlq_s32(a1, count);
            }
            Step::Flush(s) => {
                // vshlq_s64 shifts left by a positive count; counts of 64 and above give 0.
                let count = vdupq_n_s64(s.min(64) as i64);
                let wide = [
                    vmovl_s32(vget_low_s32(a0)),
                    vmovl_high_s32(a0),
                    vmovl_s32(vget_low_s32(a1)),
                    vmovl_high_s32(a1),
                ];
                for (t, w) in t.iter_mut().zip(wide) {
                    *t = vaddq_s64(*t, vshlq_s64(w, count));
                }
                a0 = vdupq_n_s32(0);
                a1 = vdupq_n_s32(0);
            }
        });
        for (i, t) in t.iter().enumerate() {
            // SAFETY: out holds rows.len() * 8 values.
            unsafe { vst1q_s64(dst.add(r * NR + 2 * i), *t) };
        }
    }
}
