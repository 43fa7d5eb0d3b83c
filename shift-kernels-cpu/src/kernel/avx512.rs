//! The AVX-512F micro-kernel: `NR = 32` columns, two `zmm` registers of `i32` per level run
//! and four of `i64` totals per row.

use std::arch::x86_64::*;
use std::ops::Range;

use super::{for_each_run, for_each_step, Step};
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
        let mut a0 = _mm512_setzero_si512();
        let mut a1 = _mm512_setzero_si512();
        for_each_step(m, row, max_run, |step| match step {
            Step::Add(pos, neg) => {
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
            }
            Step::Scale(d) => {
                let count = _mm_cvtsi32_si128(d as i32);
                a0 = _mm512_sll_epi32(a0, count);
                a1 = _mm512_sll_epi32(a1, count);
            }
            Step::Flush(s) => {
                let count = _mm_cvtsi32_si128(s as i32);
                let wide = [
                    _mm512_cvtepi32_epi64(_mm512_castsi512_si256(a0)),
                    _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(a0)),
                    _mm512_cvtepi32_epi64(_mm512_castsi512_si256(a1)),
                    _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(a1)),
                ];
                for (t, w) in t.iter_mut().zip(wide) {
                    *t = _mm512_add_epi64(*t, _mm512_sll_epi64(w, count));
                }
                a0 = _mm512_setzero_si512();
                a1 = _mm512_setzero_si512();
            }
        });
        for (i, t) in t.iter().enumerate() {
            // SAFETY: out holds rows.len() * 32 values.
            unsafe { _mm512_storeu_si512(dst.add(r * NR + 8 * i).cast(), *t) };
        }
    }
}

/// [`rows`] against two panels at once (`NR = 64` in effect): each index, loaded once, adds
/// four registers, so the loop overhead and the exits of a level's short lists are paid
/// once per two panels. The steps of [`super::for_each_step`] are written out here (a
/// macro, not its closure: the compiler kept four accumulators captured by a closure on the
/// stack, a store per add).
///
/// # Safety
/// The CPU must support AVX-512F; `pa` and `pb` must hold `m.cols() * 32` values each,
/// `oa` and `ob` `rows.len() * 32`; `max_run > 0` (checked by the caller).
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn rows2(
    m: &ShiftMatrix,
    rows: Range<usize>,
    pa: &[i32],
    pb: &[i32],
    init: &[i64],
    max_run: usize,
    oa: &mut [i64],
    ob: &mut [i64],
) {
    let (ba, bb) = (pa.as_ptr(), pb.as_ptr());
    let (da, db) = (oa.as_mut_ptr(), ob.as_mut_ptr());
    let max = max_run as u64;
    let z = _mm512_setzero_si512();
    for (r, row) in rows.enumerate() {
        let t0 = _mm512_set1_epi64(init[r]);
        let mut t = [t0; 8];
        let (mut a0, mut a1, mut a2, mut a3) = (z, z, z, z);
        macro_rules! add {
            ($pos:expr, $neg:expr) => {
                for &k in $pos {
                    // SAFETY: k < m.cols(), so the 32 values at k << 5 lie in either panel.
                    unsafe {
                        let (x, y) = (ba.add((k as usize) << 5), bb.add((k as usize) << 5));
                        a0 = _mm512_add_epi32(a0, _mm512_loadu_si512(x.cast()));
                        a1 = _mm512_add_epi32(a1, _mm512_loadu_si512(x.add(16).cast()));
                        a2 = _mm512_add_epi32(a2, _mm512_loadu_si512(y.cast()));
                        a3 = _mm512_add_epi32(a3, _mm512_loadu_si512(y.add(16).cast()));
                    }
                }
                for &k in $neg {
                    // SAFETY: as above.
                    unsafe {
                        let (x, y) = (ba.add((k as usize) << 5), bb.add((k as usize) << 5));
                        a0 = _mm512_sub_epi32(a0, _mm512_loadu_si512(x.cast()));
                        a1 = _mm512_sub_epi32(a1, _mm512_loadu_si512(x.add(16).cast()));
                        a2 = _mm512_sub_epi32(a2, _mm512_loadu_si512(y.cast()));
                        a3 = _mm512_sub_epi32(a3, _mm512_loadu_si512(y.add(16).cast()));
                    }
                }
            };
        }
        macro_rules! flush {
            ($s:expr) => {
                let count = _mm_cvtsi32_si128($s as i32);
                for (i, a) in [a0, a1, a2, a3].into_iter().enumerate() {
                    let lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(a));
                    let hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(a));
                    t[2 * i] = _mm512_add_epi64(t[2 * i], _mm512_sll_epi64(lo, count));
                    t[2 * i + 1] = _mm512_add_epi64(t[2 * i + 1], _mm512_sll_epi64(hi, count));
                }
            };
        }
        // As for_each_step: the open run's weight in units of its level `at`.
        let (mut units, mut at) = (0u64, 0u32);
        for seg in m.segments(row) {
            let (pos, neg) = m.indices(seg);
            let n = (pos.len() + neg.len()) as u64;
            if units > 0 {
                let d = at - seg.shift;
                if d <= 30 && units << d <= max && n <= max - (units << d) {
                    let count = _mm_cvtsi32_si128(d as i32);
                    a0 = _mm512_sll_epi32(a0, count);
                    a1 = _mm512_sll_epi32(a1, count);
                    a2 = _mm512_sll_epi32(a2, count);
                    a3 = _mm512_sll_epi32(a3, count);
                    add!(pos, neg);
                    units = (units << d) + n;
                    at = seg.shift;
                    continue;
                }
                flush!(at);
                (a0, a1, a2, a3) = (z, z, z, z);
                units = 0;
            }
            if n <= max {
                add!(pos, neg);
                units = n;
                at = seg.shift;
            } else {
                for_each_run(pos, neg, max_run, |pos, neg| {
                    // Rare (a level of more than max_run weights): the closure may keep
                    // the accumulators in memory here.
                    add!(pos, neg);
                    flush!(seg.shift);
                    (a0, a1, a2, a3) = (z, z, z, z);
                });
            }
        }
        if units > 0 {
            flush!(at);
        }
        for (i, t) in t.iter().enumerate() {
            // SAFETY: oa and ob hold rows.len() * 32 values each.
            unsafe {
                let d = if i < 4 { da } else { db };
                _mm512_storeu_si512(d.add(r * NR + 8 * (i % 4)).cast(), *t);
            }
        }
    }
}

/// Sum of `x[k]` over `idx` in `i32` lanes: 16 indices per gather, the tail masked.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn gather_sum(x: *const i32, idx: &[u16]) -> __m512i {
    let mut acc = _mm512_setzero_si512();
    let mut chunks = idx.chunks_exact(16);
    for c in &mut chunks {
        // SAFETY: 16 u16 indices are read; each is < cols, inside x.
        unsafe {
            let i = _mm512_cvtepu16_epi32(_mm256_loadu_si256(c.as_ptr().cast()));
            acc = _mm512_add_epi32(acc, _mm512_i32gather_epi32::<4>(i, x.cast()));
        }
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut buf = [0u16; 16];
        buf[..rest.len()].copy_from_slice(rest);
        let mask: __mmask16 = ((1u32 << rest.len()) - 1) as u16;
        // SAFETY: masked lanes are not read.
        unsafe {
            let i = _mm512_cvtepu16_epi32(_mm256_loadu_si256(buf.as_ptr().cast()));
            let v = _mm512_mask_i32gather_epi32::<4>(_mm512_setzero_si512(), mask, i, x.cast());
            acc = _mm512_add_epi32(acc, v);
        }
    }
    acc
}

/// Batch 1 (see `scalar::gemv`): the level's inputs gathered 16 at a time.
///
/// # Safety
/// The CPU must support AVX-512F; `x` must hold `m.cols()` values, `out` `rows.len()`.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn gemv(
    m: &ShiftMatrix,
    rows: Range<usize>,
    x: &[i32],
    init: &[i64],
    max_run: usize,
    out: &mut [i64],
) {
    let xp = x.as_ptr();
    for (r, row) in rows.enumerate() {
        let mut total = init[r];
        for seg in m.segments(row) {
            let (pos, neg) = m.indices(seg);
            for_each_run(pos, neg, max_run, |pos, neg| {
                // SAFETY: indices are < cols; x holds cols values.
                let (p, n) = unsafe { (gather_sum(xp, pos), gather_sum(xp, neg)) };
                let sum = _mm512_reduce_add_epi32(_mm512_sub_epi32(p, n));
                total = total.wrapping_add(super::scalar::shl(sum as i64, seg.shift));
            });
        }
        out[r] = total;
    }
}
