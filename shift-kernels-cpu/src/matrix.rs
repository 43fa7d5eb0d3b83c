//! The kernels' form of a shift-weight matrix: per row, the column indices of its non-zero
//! weights grouped by shift level and sign, so that the micro-kernel adds (or subtracts) one
//! activation per weight and shifts once per level.

use shift_core::{Encoding, PackedShiftWeights};

use crate::error::KernelError;

/// Most negative shift the kernels accept (DeepShift-Q at 8 weight bits).
pub const MIN_SHIFT: i32 = -127;

/// Largest fan-in (columns) of a matrix: column indices are stored as `u16`.
pub const MAX_COLS: usize = u16::MAX as usize;

/// A run of one row's weights that share a shift level: `n_pos` positive then `n_neg`
/// negative column indices from `start` in [`ShiftMatrix`]'s index array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    /// `p - min_shift`: the left shift of this level (all shifts are left shifts).
    pub shift: u32,
    /// First index in the index array.
    pub start: u32,
    /// Positive weights.
    pub n_pos: u32,
    /// Negative weights.
    pub n_neg: u32,
}

/// Decodes one weight into `(sign, p)` with `w = sign * 2^p`: `Some((0, 0))` for zero, `None`
/// unless `w` is exactly `±2^p` with `p` in `[MIN_SHIFT, 0]`.
pub fn decode_weight(w: f32) -> Option<(i8, i32)> {
    if w == 0.0 {
        return Some((0, 0));
    }
    let bits = w.to_bits();
    let sign = if bits >> 31 == 1 { -1 } else { 1 };
    let exp_field = ((bits >> 23) & 0xff) as i32;
    let mantissa = bits & 0x007f_ffff;
    let p = if exp_field == 0 {
        // Subnormal: exactly one mantissa bit.
        if !mantissa.is_power_of_two() {
            return None;
        }
        mantissa.trailing_zeros() as i32 - 149
    } else if mantissa == 0 && exp_field != 0xff {
        exp_field - 127
    } else {
        return None;
    };
    (MIN_SHIFT..=0).contains(&p).then_some((sign, p))
}

/// A `[rows, cols]` shift-weight matrix prepared for the micro-kernels (built once per layer).
///
/// Every non-zero weight `s * 2^p` is stored as its column index (`u16`) in the list of its
/// row, level `p` and sign `s`; zeros are dropped. Shifts are offset by the layer's smallest
/// shift `min_shift`, so a level's left shift is `p - min_shift >= 0` and the integer sum is
/// exact at the scale `2^min_shift`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftMatrix {
    rows: usize,
    cols: usize,
    min_shift: i32,
    span: u32,
    row_segs: Vec<u32>,
    segs: Vec<Segment>,
    idx: Vec<u16>,
    row_bound: Vec<u128>,
    /// Batch-1 table indices, built on the first batch-1 call on AVX-512.
    table: std::sync::OnceLock<Option<crate::table::TableCodes>>,
}

impl ShiftMatrix {
    /// Builds the matrix from row-major weights, each exactly zero or `±2^p`, `p` in
    /// `[-127, 0]` (DeepShift-Q weights `sign * 2^p`, or PS weights `sign * 2^shift`).
    pub fn from_weights(weights: &[f32], rows: usize, cols: usize) -> Result<Self, KernelError> {
        check_shape(weights.len(), rows, cols)?;
        let mut decoded = Vec::with_capacity(weights.len());
        for (index, &value) in weights.iter().enumerate() {
            let d = decode_weight(value).ok_or(KernelError::NotAShiftWeight { index, value })?;
            decoded.push(d);
        }
        Ok(Self::build(&decoded, rows, cols))
    }

    /// Builds the matrix from shift-core's packed form (Q: binary codes, PS: ternary).
    pub fn from_packed(packed: &PackedShiftWeights) -> Result<Self, KernelError> {
        let (rows, cols) = (packed.rows(), packed.cols());
        check_shape(rows * cols, rows, cols)?;
        let mut decoded = Vec::with_capacity(rows * cols);
        for r in 0..rows {
            for c in 0..cols {
                let code = packed.get(r, c);
                let d = if code.sign == 0 {
                    (0, 0)
                } else if code.shift < MIN_SHIFT {
                    return Err(KernelError::NotAShiftWeight {
                        index: r * cols + c,
                        value: code.to_f32(),
                    });
                } else {
                    (code.sign, code.shift)
                };
                decoded.push(d);
            }
        }
        debug_assert!(matches!(
            packed.encoding(),
            Encoding::Binary | Encoding::Ternary
        ));
        Ok(Self::build(&decoded, rows, cols))
    }

    fn build(decoded: &[(i8, i32)], rows: usize, cols: usize) -> Self {
        let nonzero = decoded.iter().filter(|(s, _)| *s != 0);
        let min_shift = nonzero.clone().map(|&(_, p)| p).min().unwrap_or(0);
        let max_shift = nonzero.map(|&(_, p)| p).max().unwrap_or(0);
        let span = (max_shift - min_shift + 1) as u32;
        let mut row_segs = Vec::with_capacity(rows + 1);
        let mut segs = Vec::new();
        let mut idx = Vec::new();
        let mut row_bound = Vec::with_capacity(rows);
        let mut entries: Vec<(u32, bool, u16)> = Vec::with_capacity(cols);
        row_segs.push(0);
        for r in 0..rows {
            entries.clear();
            let mut bound = 0u128;
            for (c, &(s, p)) in decoded[r * cols..(r + 1) * cols].iter().enumerate() {
                if s != 0 {
                    let shift = (p - min_shift) as u32;
                    bound = bound.saturating_add(1u128 << shift);
                    entries.push((shift, s < 0, c as u16));
                }
            }
            // Highest level first, positives before negatives, columns ascending.
            entries.sort_unstable_by_key(|&(shift, neg, c)| (std::cmp::Reverse(shift), neg, c));
            let mut i = 0;
            while i < entries.len() {
                let shift = entries[i].0;
                let start = idx.len() as u32;
                let (mut n_pos, mut n_neg) = (0u32, 0u32);
                while i < entries.len() && entries[i].0 == shift {
                    if entries[i].1 {
                        n_neg += 1;
                    } else {
                        n_pos += 1;
                    }
                    idx.push(entries[i].2);
                    i += 1;
                }
                segs.push(Segment {
                    shift,
                    start,
                    n_pos,
                    n_neg,
                });
            }
            row_segs.push(segs.len() as u32);
            row_bound.push(bound);
        }
        Self {
            rows,
            cols,
            min_shift,
            span,
            row_segs,
            segs,
            idx,
            row_bound,
            table: std::sync::OnceLock::new(),
        }
    }

    /// Rows (output features or channels).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns (the fan-in).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The smallest shift of the non-zero weights (0 when there are none): the integer sums
    /// are exact at the scale `2^min_shift` times the activations' grid.
    pub fn min_shift(&self) -> i32 {
        self.min_shift
    }

    /// Shift levels between the smallest and the largest shift, both included.
    pub fn span(&self) -> u32 {
        self.span
    }

    /// Number of non-zero weights.
    pub fn nonzeros(&self) -> usize {
        self.idx.len()
    }

    /// Bytes the kernel form holds in memory (indices plus level headers, plus the batch-1
    /// table indices once a batch-1 call on AVX-512 has built them).
    pub fn memory_bytes(&self) -> usize {
        2 * self.idx.len()
            + std::mem::size_of::<Segment>() * self.segs.len()
            + 4 * self.row_segs.len()
            + 16 * self.row_bound.len()
            + self
                .table
                .get()
                .and_then(Option::as_ref)
                .map_or(0, |t| 4 * t.codes.len())
    }

    /// The batch-1 table indices (built on first use), when the layer's shifts fit a table.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) fn table(&self) -> Option<&crate::table::TableCodes> {
        self.table
            .get_or_init(|| crate::table::build(self))
            .as_ref()
    }

    /// `sum_k 2^(p_k - min_shift)` of row `r` (saturating): the largest |output| of the row
    /// per unit of input magnitude, on the kernels' integer scale.
    pub(crate) fn row_bound(&self, r: usize) -> u128 {
        self.row_bound[r]
    }

    /// The levels of row `r`.
    #[inline(always)]
    pub(crate) fn segments(&self, r: usize) -> &[Segment] {
        &self.segs[self.row_segs[r] as usize..self.row_segs[r + 1] as usize]
    }

    /// The positive and the negative column indices of a level.
    #[inline(always)]
    pub(crate) fn indices(&self, seg: &Segment) -> (&[u16], &[u16]) {
        let all = &self.idx[seg.start as usize..(seg.start + seg.n_pos + seg.n_neg) as usize];
        all.split_at(seg.n_pos as usize)
    }
}

fn check_shape(len: usize, rows: usize, cols: usize) -> Result<(), KernelError> {
    if rows.checked_mul(cols) != Some(len) {
        return Err(KernelError::Shape(format!(
            "{len} weights do not form a [{rows}, {cols}] matrix"
        )));
    }
    if cols > MAX_COLS {
        return Err(KernelError::Unsupported(format!(
            "fan-in {cols} is above the kernels' limit of {MAX_COLS}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_only_powers_of_two_in_range() {
        assert_eq!(decode_weight(0.0), Some((0, 0)));
        assert_eq!(decode_weight(-0.0), Some((0, 0)));
        assert_eq!(decode_weight(1.0), Some((1, 0)));
        assert_eq!(decode_weight(-0.25), Some((-1, -2)));
        assert_eq!(decode_weight(shift_core::exp2i(-127)), Some((1, -127)));
        assert_eq!(decode_weight(shift_core::exp2i(-128)), None);
        assert_eq!(decode_weight(2.0), None);
        assert_eq!(decode_weight(0.3), None);
        assert_eq!(decode_weight(f32::NAN), None);
        assert_eq!(decode_weight(f32::INFINITY), None);
    }

    #[test]
    fn groups_levels_and_signs() {
        let w = [0.5, -0.5, 0.0, 0.125, 1.0, -1.0];
        let m = ShiftMatrix::from_weights(&w, 2, 3).unwrap();
        assert_eq!(m.min_shift(), -3);
        assert_eq!(m.span(), 4);
        assert_eq!(m.nonzeros(), 5);
        let segs = m.segments(0);
        assert_eq!(segs.len(), 1);
        assert_eq!(m.indices(&segs[0]), (&[0u16][..], &[1u16][..]));
        let segs = m.segments(1);
        assert_eq!(segs[0].shift, 3);
        assert_eq!(m.indices(&segs[0]), (&[1u16][..], &[2u16][..]));
        assert_eq!(segs[1].shift, 0);
        assert_eq!(m.row_bound(1), 8 + 8 + 1);
        let bad = ShiftMatrix::from_weights(&[0.3], 1, 1).unwrap_err();
        assert!(matches!(bad, KernelError::NotAShiftWeight { index: 0, .. }));
    }
}
