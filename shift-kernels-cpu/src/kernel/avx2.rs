//! The AVX2 micro-kernel: `NR = 16` columns, two `ymm` registers of `i32` per level run and
//! four of `i64` totals per row.

use std::arch::x86_64::*;
use std::ops::Range;

use super::{for_each_step, Step};
use crate::matrix::ShiftMatrix;

const NR: usize = 16;

/// See [`super::run`].
///
/// # Safety
/// The CPU must support AVX2; `panel` must hold `m.cols() * 16` values and `out`
/// `rows.len() * 16` (checked by the caller).
#[target_feature(enable = "avx2")]
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
        let t0 = _mm256_set1_epi64x(init[r]);
        let mut t = [t0; 4];
        let mut a0 = _mm256_setzero_si256();
        let mut a1 = _mm256_setzero_si256();
        for_each_step(m, row, max_run, |step| match step {
            Step::Add(pos, neg) => {
                for &k in pos {
                    // SAFETY: k < m.cols(), so the 16 values at k << 4 lie in the panel.
                    unsafe {
                        let x = base.add((k as usize) << 4);
                        a0 = _mm256_add_epi32(a0, _mm256_loadu_si256(x.cast()));
                        a1 = _mm256_add_epi32(a1, _mm256_loadu_si256(x.add(8).cast()));
                    }
                }
                for &k in neg {
                    // SAFETY: as above.
                    unsafe {
                        let x = base.add((k as usize) << 4);
                        a0 = _mm256_sub_epi32(a0, _mm256_loadu_si256(x.cast()));
                        a1 = _mm256_sub_epi32(a1, _mm256_loadu_si256(x.add(8).cast()));
                    }
                }
            }
            Step::Scale(d) => {
                let count = _mm_cvtsi32_si128(d as i32);
                a0 = _mm256_sll_epi32(a0, count);
                a1 = _mm256_sll_epi32(a1, count);
            }
            Step::Flush(s) => {
                let count = _mm_cvtsi32_si128(s as i32);
                let wide = [
                    _mm256_cvtepi32_epi64(_mm256_castsi256_si128(a0)),
                    _mm256_cvtepi32_epi64(_mm256_extracti128_si256::<1>(a0)),
                    _mm256_cvtepi32_epi64(_mm256_castsi256_si128(a1)),
                    _mm256_cvtepi32_epi64(_mm256_extracti128_si256::<1>(a1)),
                ];
                for (t, w) in t.iter_mut().zip(wide) {
                    *t = _mm256_add_epi64(*t, _mm256_sll_epi64(w, count));
                }
                a0 = _mm256_setzero_si256();
                a1 = _mm256_setzero_si256();
            }
        });
        for (i, t) in t.iter().enumerate() {
            // SAFETY: out holds rows.len() * 16 values.
            unsafe { _mm256_storeu_si256(dst.add(r * NR + 4 * i).cast(), *t) };
        }
    }
}
