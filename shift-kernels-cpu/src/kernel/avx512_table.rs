//! The batch-1 table kernel (AVX-512F and BW); the layout and the exactness rule are in
//! `crate::table`.
//!
//! A pass takes the tables of one or two index words' inputs (8 or 16 inputs) into registers
//! and sweeps the task's row blocks past them: per block and input one `vpermd` and one
//! `vpaddd` (plus one masked `vpsubd` where a sign plane holds the signs), the next input's
//! indices a byte shuffle away. The `i32` sums of a chunk of `kc` inputs then widen into the
//! `i64` totals.
//!
//! The loops hold loads, permutes, byte shuffles, shifts, adds and masked subtractions: no
//! multiply.

use std::arch::x86_64::*;

use crate::table::{TableCodes, BLOCK, ENTRIES, PER_WORD, TASK_BLOCKS};

/// `i32` sums of the task's row blocks.
type Sums = [__m512i; TASK_BLOCKS];

/// Adds the terms of task `task`'s rows to `out` (its `nb * 16` totals, holding their
/// initial values), inputs in chunks of `kc` (a multiple of 8).
///
/// # Safety
/// The CPU must support AVX-512F and AVX-512BW.
///
/// # Panics
/// If `tables` or `out` do not fit `codes` and `task`.
#[target_feature(enable = "avx512f,avx512bw")]
pub(crate) unsafe fn task(
    codes: &TableCodes,
    tables: &[i32],
    task: usize,
    kc: usize,
    out: &mut [i64],
) {
    let nb = codes.task_blocks(task);
    assert_eq!(out.len(), nb * BLOCK, "table task: output");
    assert_eq!(
        tables.len(),
        codes.words * PER_WORD * ENTRIES,
        "table task: tables"
    );
    let base = codes.at(task * TASK_BLOCKS, 0);
    assert!(
        base + codes.words * nb * BLOCK <= codes.codes.len(),
        "table task: codes"
    );
    let signs = codes.sign_plane;
    assert!(
        !signs || codes.signs.len() == codes.codes.len() / 2,
        "table task: signs"
    );
    assert!(kc >= PER_WORD, "table task: chunk shorter than a word");
    let step = kc / PER_WORD;
    let mut g0 = 0;
    while g0 < codes.words {
        let g1 = (g0 + step).min(codes.words);
        let mut sums: Sums = [_mm512_setzero_si512(); TASK_BLOCKS];
        let mut g = g0;
        while g < g1 {
            let w = (g1 - g).min(2);
            let at = base + g * nb * BLOCK;
            // SAFETY: words g..g + w of every block of the task lie in `codes` and their masks
            // in `signs` (asserted above: the task's words are contiguous, `nb` blocks per
            // word); their inputs' tables lie in `tables`.
            unsafe {
                let cp = codes.codes.as_ptr().add(at);
                let sp = codes.signs.as_ptr().wrapping_add(at / 2);
                let tp = tables.as_ptr().add(g * PER_WORD * ENTRIES);
                match (signs, w) {
                    (false, 2) => pass::<2, false>(cp, sp, nb, tp, &mut sums),
                    (false, _) => pass::<1, false>(cp, sp, nb, tp, &mut sums),
                    (true, 2) => pass::<2, true>(cp, sp, nb, tp, &mut sums),
                    (true, _) => pass::<1, true>(cp, sp, nb, tp, &mut sums),
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

/// `W` words (8 inputs each) against `nb` blocks. Input `2k`'s index is the low nibble of
/// byte `k` of a lane, `2k + 1`'s its high nibble: one `vpsrld` by 4 and byte shuffles bring
/// each to the low bits `vpermd` reads (a shuffle costs less than a shift here: 0.80 against
/// 1.06 ms for a 4096 x 4096 layer). With `SIGNS`, the terms of the lanes set in an input's
/// mask are negated.
///
/// # Safety
/// AVX-512F and BW; `cp` addresses `W * nb` blocks of 16 words (`[word][block]`), `sp` (with
/// `SIGNS`) their `W * nb * 8` masks, `tp` `8 W` tables of 16 entries.
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn pass<const W: usize, const SIGNS: bool>(
    cp: *const u32,
    sp: *const u16,
    nb: usize,
    tp: *const i32,
    sums: &mut Sums,
) {
    let mut t = [_mm512_setzero_si512(); 16];
    for (i, t) in t.iter_mut().enumerate().take(8 * W) {
        // SAFETY: the caller's contract.
        *t = unsafe { _mm512_loadu_si512(tp.add(16 * i).cast()) };
    }
    let sel = [byte_selector(1), byte_selector(2), byte_selector(3)];
    for (b, s) in sums.iter_mut().enumerate().take(nb) {
        let mut acc = *s;
        for w in 0..W {
            let word = (w * nb + b) * BLOCK;
            // SAFETY: the caller's contract.
            let c = unsafe { _mm512_loadu_si512(cp.add(word).cast()) };
            let h = _mm512_srli_epi32::<4>(c);
            for k in 0..4 {
                let (lo, hi) = match k {
                    0 => (c, h),
                    _ => (
                        _mm512_shuffle_epi8(c, sel[k - 1]),
                        _mm512_shuffle_epi8(h, sel[k - 1]),
                    ),
                };
                for (j, idx) in [(2 * k, lo), (2 * k + 1, hi)] {
                    let mut v = _mm512_permutexvar_epi32(idx, t[8 * w + j]);
                    if SIGNS {
                        // SAFETY: the caller's contract.
                        let negative = unsafe { *sp.add(word / 2 + j) };
                        v = _mm512_mask_sub_epi32(v, negative, _mm512_setzero_si512(), v);
                    }
                    acc = _mm512_add_epi32(acc, v);
                }
            }
        }
        *s = acc;
    }
}

/// The `vpshufb` control that moves byte `k` of every `u32` lane to its byte 0 (the other
/// bytes zero): the low nibble there is input `2k`'s index.
#[target_feature(enable = "avx512f,avx512bw")]
fn byte_selector(k: u32) -> __m512i {
    let lane = |d: u32| (0x8080_8000 | (4 * d + k)) as i32;
    _mm512_broadcast_i32x4(_mm_setr_epi32(lane(0), lane(1), lane(2), lane(3)))
}
