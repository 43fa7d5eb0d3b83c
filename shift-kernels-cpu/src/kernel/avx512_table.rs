//! The batch-1 table kernel (AVX-512F); the layout and the exactness rule are in
//! `crate::table`.
//!
//! A pass takes the tables of one or two index words' inputs (8 or 16 inputs at 4 bits, 6
//! or 12 at 5 bits) into registers and sweeps the task's row blocks past them: per block and
//! input one permute and one `vpaddd`, the next input's indices one `vpsrld` away. The
//! `i32` sums of a chunk of `kc` inputs then widen into the `i64` totals.
//!
//! The loops hold loads, permutes, byte shuffles, shifts and adds: no multiply.

use std::arch::x86_64::*;

use crate::table::{TableCodes, BLOCK, TASK_BLOCKS};

/// `i32` sums of the task's row blocks.
type Sums = [__m512i; TASK_BLOCKS];

/// Adds the terms of task `task`'s rows to `out` (its `nb * 16` totals, holding their
/// initial values), inputs in chunks of `kc` (a multiple of `codes.per_word`).
///
/// # Safety
/// The CPU must support AVX-512F and AVX-512BW.
///
/// # Panics
/// If `tables` or `out` do not fit `codes` and `task`.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn task(
    codes: &TableCodes,
    tables: &[i32],
    task: usize,
    kc: usize,
    out: &mut [i64],
) {
    let nb = codes.task_blocks(task);
    let (per_word, entries) = (codes.per_word, codes.entries());
    assert_eq!(out.len(), nb * BLOCK, "table task: output");
    assert_eq!(
        tables.len(),
        codes.words * per_word * entries,
        "table task: tables"
    );
    let base = codes.at(task * TASK_BLOCKS, 0);
    assert!(
        base + codes.words * nb * BLOCK <= codes.codes.len(),
        "table task: codes"
    );
    assert!(kc >= per_word, "table task: chunk shorter than a word");
    let step = kc / per_word;
    let mut g0 = 0;
    while g0 < codes.words {
        let g1 = (g0 + step).min(codes.words);
        let mut sums: Sums = [_mm512_setzero_si512(); TASK_BLOCKS];
        let mut g = g0;
        while g < g1 {
            let w = if g + 2 <= g1 { 2 } else { 1 };
            // SAFETY: words g..g + w of every block of the task lie in `codes` (asserted
            // above: the task's words are contiguous, `nb` blocks per word); their inputs'
            // tables lie in `tables`.
            unsafe {
                let cp = codes.codes.as_ptr().add(base + g * nb * BLOCK);
                let tp = tables.as_ptr().add(g * per_word * entries);
                match (codes.bits, w) {
                    (4, 2) => pass4::<2>(cp, nb, tp, &mut sums),
                    (4, _) => pass4::<1>(cp, nb, tp, &mut sums),
                    (_, 2) => pass5::<2>(cp, nb, tp, &mut sums),
                    _ => pass5::<1>(cp, nb, tp, &mut sums),
                }
            }
            g += w;
        }
        for (o, s) in out.chunks_exact_mut(BLOCK).zip(&sums) {
            // SAFETY: `o` holds 16 totals.
            unsafe { widen_add(o, *s) };
        }
        g0 = g1;
    }
}

/// `o[i] += s[i]` with `s` sign-extended to `i64`.
#[target_feature(enable = "avx512f")]
unsafe fn widen_add(o: &mut [i64], s: __m512i) {
    let lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(s));
    let hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(s));
    let p = o.as_mut_ptr();
    // SAFETY: the caller passes 16 totals.
    unsafe {
        _mm512_storeu_si512(p.cast(), _mm512_add_epi64(_mm512_loadu_si512(p.cast()), lo));
        _mm512_storeu_si512(
            p.add(8).cast(),
            _mm512_add_epi64(_mm512_loadu_si512(p.add(8).cast()), hi),
        );
    }
}

/// 4-bit indices, 16-entry tables: `W` words (8 inputs each) against `nb` blocks. Input
/// `2k`'s index is the low nibble of byte `k` of a lane, `2k + 1`'s its high nibble: one
/// `vpsrld` by 4 and byte shuffles bring each to the low bits `vpermd` reads (a shuffle
/// costs less than a shift here: 0.80 against 1.06 ms for a 4096 x 4096 layer).
///
/// # Safety
/// AVX-512F and BW; `cp` addresses `W * nb` blocks of 16 words (`[word][block]`), `tp` `8 W`
/// tables of 16 entries.
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn pass4<const W: usize>(cp: *const u32, nb: usize, tp: *const i32, sums: &mut Sums) {
    let mut t = [_mm512_setzero_si512(); 16];
    for (i, t) in t.iter_mut().enumerate().take(8 * W) {
        // SAFETY: the caller's contract.
        *t = unsafe { _mm512_loadu_si512(tp.add(16 * i).cast()) };
    }
    // Byte k of every lane moved to byte 0: the low nibble there is input 2k's index.
    let bytes = |k: i8| {
        let l = [
            k,
            -1,
            -1,
            -1,
            4 + k,
            -1,
            -1,
            -1,
            8 + k,
            -1,
            -1,
            -1,
            12 + k,
            -1,
            -1,
            -1,
        ];
        _mm512_broadcast_i32x4(_mm_setr_epi8(
            l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13],
            l[14], l[15],
        ))
    };
    let sel = [bytes(0), bytes(1), bytes(2), bytes(3)];
    for (b, s) in sums.iter_mut().enumerate().take(nb) {
        let mut acc = *s;
        for w in 0..W {
            // SAFETY: the caller's contract.
            let c = unsafe { _mm512_loadu_si512(cp.add((w * nb + b) * BLOCK).cast()) };
            let h = _mm512_srli_epi32::<4>(c);
            for k in 0..4 {
                let (lo, hi) = if k == 0 {
                    (c, h)
                } else {
                    (
                        _mm512_shuffle_epi8(c, sel[k]),
                        _mm512_shuffle_epi8(h, sel[k]),
                    )
                };
                acc = _mm512_add_epi32(acc, _mm512_permutexvar_epi32(lo, t[8 * w + 2 * k]));
                acc = _mm512_add_epi32(acc, _mm512_permutexvar_epi32(hi, t[8 * w + 2 * k + 1]));
            }
        }
        *s = acc;
    }
}

/// 5-bit indices, 32-entry tables in register pairs: `W` words (6 inputs each).
///
/// # Safety
/// AVX-512F; `cp` addresses `W * nb` blocks of 16 words, `tp` `6 W` tables of 32 entries.
#[target_feature(enable = "avx512f")]
unsafe fn pass5<const W: usize>(cp: *const u32, nb: usize, tp: *const i32, sums: &mut Sums) {
    let mut t = [_mm512_setzero_si512(); 24];
    for (i, t) in t.iter_mut().enumerate().take(12 * W) {
        // SAFETY: the caller's contract.
        *t = unsafe { _mm512_loadu_si512(tp.add(16 * i).cast()) };
    }
    for (b, s) in sums.iter_mut().enumerate().take(nb) {
        let mut acc = *s;
        for w in 0..W {
            // SAFETY: the caller's contract.
            let mut c = unsafe { _mm512_loadu_si512(cp.add((w * nb + b) * BLOCK).cast()) };
            for j in 0..6 {
                let k = 2 * (6 * w + j);
                acc = _mm512_add_epi32(acc, _mm512_permutex2var_epi32(t[k], c, t[k + 1]));
                c = _mm512_srli_epi32::<5>(c);
            }
        }
        *s = acc;
    }
}
