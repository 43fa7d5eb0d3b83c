//! The batch-1 table path (AVX-512). Per input `k` a table `T_k[t]` of its possible terms,
//! `+q_k << t` and `-q_k << t` for every level `t` of the layer (and 0 for zero weights),
//! built once per call with shifts; each weight is a table index. Sixteen rows sit in the
//! lanes of one register, so one permute looks up sixteen rows' terms of one input and one
//! `vpaddd` adds them.
//!
//! Every index is 4 bits, eight inputs to a `u32` lane, and every table 16 entries in one
//! register, looked up with `vpermd`:
//! - layers of at most 8 levels (7 with zero weights; DeepShift's wb <= 4): the index is
//!   `8 * negative + level` and the table holds `±q << level`;
//! - layers of up to 16 levels (15 with zeros; wb 5): the index is the level, the table holds
//!   `q << level`, and the signs are a plane of 16-bit masks (one per input and row block)
//!   that negate the looked-up terms of negative weights (`vpsubd` under the mask) before the
//!   add. This costs one more vector instruction per 16 weights than the 8-level form but
//!   avoids `vpermt2d` and 32-entry tables in register pairs, which ran 1.4x slower here.
//!
//! The permute reads only an index's low 4 bits, so an index needs only to be brought down:
//! by a byte shuffle (cheaper than a shift on this project's Zen 4 test machine), and for the
//! high nibbles one shift by 4. The kernel keeps the tables of 8 or 16 inputs in registers and
//! sweeps every row block of its task past them, so a table is loaded once per task rather
//! than once per row block, and the indices stream in the order they are stored.
//!
//! Exact under the same rule as the other paths: a table entry is at most `M 2^(span-1)`, a
//! chunk of `kc` inputs sums at most `kc M 2^(span-1) <= 2^31 - 1` in `i32`, then widens into
//! the `i64` totals.

#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

use crate::dispatch::Level;
use crate::matrix::ShiftMatrix;

/// Rows per block (lanes of one register).
pub(crate) const BLOCK: usize = 16;
/// Row blocks per task: the unit of the index layout and of the parallel split.
pub(crate) const TASK_BLOCKS: usize = 16;
/// Indices (nibbles) per `u32` lane.
pub(crate) const PER_WORD: usize = 8;
/// Entries per table.
pub(crate) const ENTRIES: usize = 16;
/// The index of zero weights and of padding.
const ZERO: u32 = 15;

/// The weights as table indices, laid out for the kernel's sweep: task `t` (blocks
/// `16t..16t+nb`) holds `[word g][block][16 lanes]`, each `u32` lane holding the 4-bit
/// indices of inputs `8g..8g+8` of one row, lowest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableCodes {
    /// Whether the signs live in `signs` and an index is the weight's level (layers of 9-16
    /// levels), rather than `8 * negative + level` (at most 8 levels).
    pub sign_plane: bool,
    /// `ceil(cols / 8)`.
    pub words: usize,
    /// Row blocks, `ceil(rows / 16)`.
    pub blocks: usize,
    /// Whether index 15 stands for zero weights (otherwise it is a weight the layer uses, and
    /// the layer has no zero weights).
    pub zero_slot: bool,
    pub codes: Vec<u32>,
    /// With `sign_plane`, for each word of `codes` (16 lanes) the eight inputs' masks of
    /// negative weights (bit `r` for lane `r`), at `at(b, g) / 2 + j`; empty otherwise.
    pub signs: Vec<u16>,
}

impl TableCodes {
    /// Offset of word `g` of block `b` in `codes`.
    pub fn at(&self, b: usize, g: usize) -> usize {
        let (task, b_in) = (b / TASK_BLOCKS, b % TASK_BLOCKS);
        let nb = self.task_blocks(task);
        ((task * TASK_BLOCKS * self.words) + g * nb + b_in) * BLOCK
    }

    /// Row blocks of task `task`.
    pub fn task_blocks(&self, task: usize) -> usize {
        (self.blocks - task * TASK_BLOCKS).min(TASK_BLOCKS)
    }
}

/// The indices of `m`, or `None` when its shifts do not fit a 16-entry table.
pub(crate) fn build(m: &ShiftMatrix) -> Option<TableCodes> {
    let zero_weights = m.nonzeros() < m.rows() * m.cols();
    let fits = |levels: u32| m.span() < levels || (!zero_weights && m.span() == levels);
    let sign_plane = if fits(8) {
        false
    } else if fits(16) {
        true
    } else {
        return None;
    };
    let levels = if sign_plane { 16 } else { 8 };
    let words = m.cols().div_ceil(PER_WORD);
    let blocks = m.rows().div_ceil(BLOCK);
    let mut t = TableCodes {
        sign_plane,
        words,
        blocks,
        zero_slot: m.span() < levels,
        codes: Vec::new(),
        signs: Vec::new(),
    };
    let padding: u32 = (0..PER_WORD).fold(0, |w, j| w | ZERO << (4 * j));
    let mut codes = vec![padding; blocks * words * BLOCK];
    let mut signs = vec![0u16; if sign_plane { codes.len() / 2 } else { 0 }];
    for r in 0..m.rows() {
        let (b, lane) = (r / BLOCK, r % BLOCK);
        for seg in m.segments(r) {
            let (pos, neg) = m.indices(seg);
            for (list, negative) in [(pos, false), (neg, true)] {
                for &k in list {
                    let k = k as usize;
                    let (at, j) = (t.at(b, k / PER_WORD), k % PER_WORD);
                    let index = match (sign_plane, negative) {
                        (true, true) => {
                            signs[at / 2 + j] |= 1 << lane;
                            seg.shift
                        }
                        (false, true) => seg.shift + 8,
                        _ => seg.shift,
                    };
                    let word = &mut codes[at + lane];
                    *word = (*word & !(ZERO << (4 * j))) | index << (4 * j);
                }
            }
        }
    }
    t.codes = codes;
    t.signs = signs;
    Some(t)
}

/// Inputs per `i32` chunk for inputs of magnitude at most `max_input` (a multiple of 8),
/// or `None` when not even one word's inputs fit.
pub(crate) fn chunk(max_input: u64, span: u32) -> Option<usize> {
    let entry = (max_input as u128) << (span.max(1) - 1);
    if entry == 0 {
        return Some(usize::MAX - usize::MAX % PER_WORD);
    }
    let kc = (i32::MAX as u128 / entry).min(1 << 20) as usize;
    let kc = kc - kc % PER_WORD;
    (kc >= PER_WORD).then_some(kc)
}

/// The tables of one call: `[k][16]` for `words * 8` inputs, those past `x.len()` all zero.
/// With a sign plane entry `t` is `q << t`; without, `t < 8` is `q << t` and `8 + t` is
/// `-(q << t)`. The zero slot, when the layer has one, is 0.
pub(crate) fn tables(x: &[i32], codes: &TableCodes) -> Vec<i32> {
    let mut t = vec![0i32; codes.words * PER_WORD * ENTRIES];
    for (row, &q) in t.chunks_exact_mut(ENTRIES).zip(x) {
        // |q << s| fits: the chunk rule bounds every entry of the layer's span; entries
        // above the span are never looked up (wrapping keeps them harmless).
        let term = |s: usize| ((q as i64) << s) as i32;
        if codes.sign_plane {
            for (s, e) in row.iter_mut().enumerate() {
                *e = term(s);
            }
        } else {
            for s in 0..8 {
                row[s] = term(s);
                row[8 + s] = term(s).wrapping_neg();
            }
        }
        if codes.zero_slot {
            row[ZERO as usize] = 0;
        }
    }
    t
}

/// Batch 1 on the AVX-512 table path: `out[r]` is `init[r]` plus row `r` of `m` against `x`,
/// row tasks in parallel; `None` (nothing written) when the path does not apply (another
/// level, shifts that do not fit a table, or inputs whose two digits are still too large for
/// a chunk of one word).
pub(crate) fn gemv_table(
    level: Level,
    m: &ShiftMatrix,
    x: &[i32],
    max_input: u64,
    init: &[i64],
    out: &mut [i64],
) -> Option<()> {
    #[cfg(target_arch = "x86_64")]
    {
        if level != Level::Avx512 || !level.is_supported() {
            return None;
        }
        if !std::arch::is_x86_feature_detected!("avx512bw") {
            return None;
        }
        let codes = m.table()?;
        let mut init_pad = init.to_vec();
        init_pad.resize(codes.blocks * BLOCK, 0);
        let tot = if let Some(kc) = chunk(max_input, m.span()) {
            run(codes, &tables(x, codes), kc, &init_pad)
        } else {
            // Entries too large for a chunk: split each input into two digits,
            // `q = hi 2^s + lo` with `0 <= lo < 2^s`, and look up each digit's terms.
            let s = (u64::BITS - max_input.leading_zeros()).div_ceil(2);
            let digit_max = (max_input >> s) + 1;
            let kc = chunk(digit_max.max(1 << s), m.span())?;
            let lo: Vec<i32> = x.iter().map(|&q| q & ((1 << s) - 1)).collect();
            let hi: Vec<i32> = x.iter().map(|&q| q >> s).collect();
            let lo = run(codes, &tables(&lo, codes), kc, &init_pad);
            let zeros = vec![0; init_pad.len()];
            let hi = run(codes, &tables(&hi, codes), kc, &zeros);
            lo.iter()
                .zip(&hi)
                .map(|(l, h)| l.wrapping_add(h << s))
                .collect()
        };
        out.copy_from_slice(&tot[..m.rows()]);
        Some(())
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (level, m, x, max_input, init, out);
        None
    }
}

/// The totals of every row block (`init` plus the rows against `tables`), tasks in parallel.
#[cfg(target_arch = "x86_64")]
fn run(codes: &TableCodes, tables: &[i32], kc: usize, init: &[i64]) -> Vec<i64> {
    use rayon::prelude::*;
    let mut tot = init.to_vec();
    tot.par_chunks_mut(TASK_BLOCKS * BLOCK)
        .enumerate()
        .for_each(|(task, o)| {
            // SAFETY: the caller checked AVX-512F and BW; `o` holds the task's blocks.
            unsafe { crate::kernel::avx512_table::task(codes, tables, task, kc, o) };
        });
    tot
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::gemm::gemv;

    /// A deterministic pseudo-random matrix of weights `0` or `±2^-p`, `p < span`.
    fn matrix(rows: usize, cols: usize, span: u32, zeros: bool, seed: u64) -> ShiftMatrix {
        let mut s = seed;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 33) as u32
        };
        let w: Vec<f32> = (0..rows * cols)
            .map(|i| {
                // The first two weights are the range's ends, so the span is exactly `span`.
                let p = [span - 1, 0]
                    .get(i)
                    .copied()
                    .unwrap_or_else(|| next() % span);
                let sign = match next() % if zeros { 3 } else { 2 } {
                    _ if i < 2 => 1.0,
                    0 => 1.0,
                    1 => -1.0,
                    _ => 0.0,
                };
                sign * (-(p as f32)).exp2()
            })
            .collect();
        ShiftMatrix::from_weights(&w, rows, cols).unwrap()
    }

    #[test]
    fn both_index_widths_equal_the_portable_gemv() {
        if !Level::Avx512.is_supported() {
            return;
        }
        for (span, zeros, sign_plane) in [
            (8, false, false),
            (7, true, false),
            (1, false, false),
            (8, true, true),
            (16, false, true),
            (15, true, true),
            (12, false, true),
        ] {
            for (rows, cols) in [(1, 2), (3, 7), (17, 9), (255, 49), (300, 13), (513, 260)] {
                let m = matrix(rows, cols, span, zeros, (rows * 31 + cols) as u64);
                assert_eq!(m.span(), span);
                // Tiny matrices may draw no zero weight.
                let plane = sign_plane && !(m.nonzeros() == rows * cols && span == 8);
                assert_eq!(
                    m.table().unwrap().sign_plane,
                    plane,
                    "span {span} zeros {zeros}"
                );
                let init: Vec<i64> = (0..rows as i64).map(|r| r * 1000 - 7).collect();
                // Small inputs (long chunks), inputs that leave chunks of one word, and inputs
                // too large for any chunk (split into two digits).
                let fit = (i32::MAX as u64 >> (span - 1)) / PER_WORD as u64;
                for max_input in [128u64, fit, fit * 64, 1 << 30] {
                    let mut s = max_input;
                    let x: Vec<i32> = (0..cols)
                        .map(|i| {
                            s = s.wrapping_mul(2862933555777580963).wrapping_add(3);
                            let v = ((s >> 20) % (2 * max_input + 1)) as i64 - max_input as i64;
                            // The bound itself, once, in either sign.
                            match i {
                                0 => max_input as i64,
                                1 => -(max_input as i64),
                                _ => v,
                            }
                            .clamp(-(i32::MAX as i64), i32::MAX as i64)
                                as i32
                        })
                        .collect();
                    let direct = chunk(max_input, span);
                    assert_eq!(direct.is_some(), max_input <= fit, "chunk rule");
                    let max_run = (i32::MAX as u64 / max_input) as usize;
                    let mut want = vec![0i64; rows];
                    gemv(Level::Scalar, &m, &x, &init, max_run, &mut want);
                    let mut got = vec![0i64; rows];
                    let took = gemv_table(Level::Avx512, &m, &x, max_input, &init, &mut got);
                    if took.is_none() {
                        // Only a 2^30 bound with 16 levels leaves digits too large.
                        assert!(
                            max_input == 1 << 30 && span >= 15,
                            "span {span} |x| {max_input}"
                        );
                        continue;
                    }
                    assert_eq!(
                        got, want,
                        "[{rows}x{cols}] span {span} zeros {zeros} |x| <= {max_input}"
                    );
                }
            }
        }
    }

    #[test]
    fn chunks_hold_whole_words_and_never_overflow() {
        assert_eq!(chunk(1 << 16, 8), Some(248));
        assert_eq!(chunk(1 << 16, 16), None);
        assert_eq!(chunk(0, 16).unwrap() % 8, 0);
        for (m, span) in [(255u64, 16u32), (1 << 20, 4), (3, 9)] {
            let kc = chunk(m, span).unwrap();
            assert_eq!(kc % 8, 0);
            assert!(((kc as u128) * (m as u128)) << (span - 1) <= i32::MAX as u128);
        }
    }
}
