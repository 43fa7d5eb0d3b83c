//! The AVX-512F micro-kernel: `NR = 32` columns, two `zmm` registers of `i32` per level run
//! and four of `i64` totals per row.

use std::arch::x86_64::*;
use std::ops::Range;

use super::for_each_run;
use crate::matrix::ShiftMatrix;

const NR: usize = 32;

/// See [`super::run`].
///
/// # Safety
/// The CPU must support AVX-512F; `panel` must hold `m.cols() * 32` values and `out`
/// `rows.len() * 32` (checked by the caller).
#[target_feature(enable = "avx512f")]
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
        let t0 = _mm512_set1_epi64(init[r]);
        let mut t = [t0; 4];
        for seg in m.segments(row) {
            let (pos, neg) = m.indices(seg);
            let count = _mm_cvtsi32_si128(seg.shift as i32);
            for_each_run(pos, neg, max_run, |pos, neg| {
                let mut a0 = _mm512_setzero_si512();
                let mut a1 = _mm512_setzero_si512();
                for &k in pos {
                    // SAFETY: k < m.cols(), so the 32 values at k << 5 lie in the panel.
                    unsafe {
                        let x = base.add((k as usize) << 5);
                        a0 = _mm512_add_epi32(a0, _mm512_loadu_si512(x.cast()));
                        a1 = _mm512_add_epi32(a1, _mm512_loadu_si512(x.add(16).cast()));
                    }
                }
                for &k in neg {
                    // SAFETY: as above.
                    unsafe {
                        let x = base.add((k as usize) << 5);
                        a0 = _mm512_sub_epi32(a0, _mm512_loadu_si512(x.cast()));
                        a1 = _mm512_sub_epi32(a1, _mm512_loadu_si512(x.add(16).cast()));
                    }
                }
                let wide = [
                    _mm512_cvtepi32_epi64(_mm512_castsi512_si256(a0)),
                    _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(a0)),
                    _mm512_cvtepi32_epi64(_mm512_castsi512_si256(a1)),
                    _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(a1)),
                ];
                for (t, w) in t.iter_mut().zip(wide) {
                    *t = _mm512_add_epi64(*t, _mm512_sll_epi64(w, count));
                }
            });
        }
        for (i, t) in t.iter().enumerate() {
            // SAFETY: out holds rows.len() * 32 values.
            unsafe { _mm512_storeu_si512(dst.add(r * NR + 8 * i).cast(), *t) };
        }
    }
}
