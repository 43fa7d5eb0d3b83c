//! The batch-1 table path (AVX-512): per input `k` a 32-entry table `T_k[t]` of `+q_k << t`
//! (`t < 16`) and `-q_k << (t - 16)` (`t >= 16`, entry 15 is 0 for zero weights), built once
//! per call with shifts; each weight is a 5-bit table index. Sixteen rows sit in the lanes of
//! one register: per input, one `vpermt2d` looks up the sixteen rows' terms and one `vpaddd`
//! adds them. Indices are packed four inputs to a `u32` (one byte each), so a lane's index
//! for the next input is a right shift away (`vpermt2d` reads only the low 5 bits).
//!
//! Exact under the same rule as the other paths: a table entry is at most `M 2^(span-1)`, a
//! chunk of `kc` inputs sums at most `kc M 2^(span-1) <= 2^31 - 1` in `i32`, then widens into
//! the `i64` totals. Used when the layer spans at most 16 shift levels (15 if it has zeros)
//! and a chunk of at least 4 inputs fits.

#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

use crate::matrix::ShiftMatrix;

/// Rows per block (lanes of one register).
pub(crate) const BLOCK: usize = 16;
/// Index of the zero entry.
const ZERO: u8 = 15;

/// The weights as table indices: `[row block][k / 4][16 lanes]`, each `u32` holding the
/// indices of inputs `4g..4g+4` of one row (byte `j` for input `4g + j`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableCodes {
    /// `ceil(cols / 4)`.
    pub groups: usize,
    /// Whether index 15 stands for zero weights (the layer spans at most 15 levels).
    pub zero_slot: bool,
    pub codes: Vec<u32>,
}

/// The indices of `m`, or `None` when its shifts do not fit a 32-entry table.
pub(crate) fn build(m: &ShiftMatrix) -> Option<TableCodes> {
    let zero_weights = m.nonzeros() < m.rows() * m.cols();
    if m.span() > 16 || (zero_weights && m.span() > 15) {
        return None;
    }
    let zero_slot = m.span() <= 15;
    let groups = m.cols().div_ceil(4);
    let blocks = m.rows().div_ceil(BLOCK);
    let mut bytes = vec![ZERO; blocks * groups * BLOCK * 4];
    for r in 0..m.rows() {
        let (b, lane) = (r / BLOCK, r % BLOCK);
        for seg in m.segments(r) {
            let (pos, neg) = m.indices(seg);
            for (list, off) in [(pos, 0u8), (neg, 16u8)] {
                for &k in list {
                    let k = k as usize;
                    let at = ((b * groups + k / 4) * BLOCK + lane) * 4 + k % 4;
                    bytes[at] = seg.shift as u8 + off;
                }
            }
        }
    }
    let codes = bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    Some(TableCodes {
        groups,
        zero_slot,
        codes,
    })
}

/// Inputs per `i32` chunk for inputs of magnitude at most `max_input` (a multiple of 4),
/// or `None` when not even 4 fit.
pub(crate) fn chunk(max_input: u64, span: u32) -> Option<usize> {
    let entry = (max_input as u128) << (span.max(1) - 1);
    if entry == 0 {
        return Some(usize::MAX & !3);
    }
    let kc = (i32::MAX as u128 / entry).min(1 << 20) as usize & !3;
    (kc >= 4).then_some(kc)
}

/// The tables of one call: `[k][32]`, inputs past `cols` zero; entry 15 is 0 when the
/// codes use it for zero weights (`codes.zero_slot`).
pub(crate) fn tables(x: &[i32], codes: &TableCodes) -> Vec<i32> {
    let groups = codes.groups;
    let mut t = vec![0i32; groups * 4 * 32];
    for (k, &q) in x.iter().enumerate() {
        let row = &mut t[k * 32..(k + 1) * 32];
        for s in 0..16 {
            // |q << s| fits: the chunk rule bounds every entry of the layer's span; entries
            // above the span are never looked up (wrapping keeps them harmless).
            let v = (q as i64) << s;
            row[s] = v as i32;
            row[16 + s] = (v as i32).wrapping_neg();
        }
        if codes.zero_slot {
            row[ZERO as usize] = 0;
        }
    }
    t
}
