//! The GPU's form of a shift-weight matrix: shift-core's packed codes, the words of all rows
//! interleaved (word `j` of row `r` at `j * rows + r`) so that neighbouring threads (rows)
//! read neighbouring words, plus what the host needs for the accumulator rule.

use shift_core::{decode_code, Encoding, PackedShiftWeights};
use shift_kernels_cpu::{decode_weight, KernelError, MIN_SHIFT};

/// A `[rows, cols]` shift-weight matrix in the kernels' layout (built once per layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuWeights {
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) bits: u32,
    pub(crate) per_word: usize,
    pub(crate) words_per_row: usize,
    pub(crate) ternary: bool,
    /// `s = base - m` for a code of magnitude `m`.
    pub(crate) base: i32,
    pub(crate) min_shift: i32,
    pub(crate) span: u32,
    /// Interleaved words.
    pub(crate) words: Vec<u64>,
    /// `sum 2^(p - min_shift)` per row, saturating.
    pub(crate) row_bound: Vec<u128>,
}

impl GpuWeights {
    /// From shift-core's packed form (Q: Binary codes, PS: Ternary), as `export --packed`
    /// writes it.
    pub fn from_packed(packed: &PackedShiftWeights) -> Result<Self, KernelError> {
        let (rows, cols, bits) = (packed.rows(), packed.cols(), packed.code_bits());
        if cols > u32::MAX as usize / 2 || rows > u32::MAX as usize / 2 {
            return Err(KernelError::Unsupported(format!(
                "a [{rows}, {cols}] matrix is beyond the GPU kernels' 2^31 rows and columns"
            )));
        }
        let encoding = packed.encoding();
        let (mut min_shift, mut max_shift) = (i32::MAX, i32::MIN);
        for r in 0..rows {
            for c in 0..cols {
                let code = packed.get(r, c);
                if code.sign != 0 {
                    min_shift = min_shift.min(code.shift);
                    max_shift = max_shift.max(code.shift);
                }
            }
        }
        if min_shift == i32::MAX {
            (min_shift, max_shift) = (0, 0);
        }
        let ternary = encoding == Encoding::Ternary;
        let base = if ternary { 1 - min_shift } else { -min_shift };
        let mut row_bound = vec![0u128; rows];
        for (r, bound) in row_bound.iter_mut().enumerate() {
            for c in 0..cols {
                let code = packed.get(r, c);
                if code.sign != 0 {
                    let s = (code.shift - min_shift) as u32;
                    *bound = bound.saturating_add(1u128.checked_shl(s).unwrap_or(u128::MAX));
                }
            }
        }
        let wpr = packed.words_per_row();
        let src = packed.words();
        let mut words = vec![0u64; rows * wpr];
        for r in 0..rows {
            for j in 0..wpr {
                words[j * rows + r] = src[r * wpr + j];
            }
        }
        Ok(Self {
            rows,
            cols,
            bits,
            per_word: shift_core::codes_per_word(bits),
            words_per_row: wpr,
            ternary,
            base,
            min_shift,
            span: (max_shift - min_shift + 1) as u32,
            words,
            row_bound,
        })
    }

    /// From row-major weights, each exactly zero or `±2^p` with `p` in `[-127, 0]` (as
    /// shift-kernels-cpu's `ShiftMatrix::from_weights` takes them), packed in the fewest bits:
    /// Binary when no weight is zero, Ternary otherwise.
    pub fn from_weights(weights: &[f32], rows: usize, cols: usize) -> Result<Self, KernelError> {
        if rows.checked_mul(cols) != Some(weights.len()) {
            return Err(KernelError::Shape(format!(
                "{} weights do not form a [{rows}, {cols}] matrix",
                weights.len()
            )));
        }
        let (mut min_p, mut zeros) = (0i32, false);
        for (index, &value) in weights.iter().enumerate() {
            let (s, p) =
                decode_weight(value).ok_or(KernelError::NotAShiftWeight { index, value })?;
            if s == 0 {
                zeros = true;
            } else {
                min_p = min_p.min(p);
            }
        }
        debug_assert!(min_p >= MIN_SHIFT);
        // Binary holds shifts down to -(2^(b-1) - 1), Ternary down to -(2^(b-1) - 2).
        let need = -min_p as u32 + u32::from(zeros);
        let bits = (2..=8u32)
            .find(|b| (1u32 << (b - 1)) > need)
            .ok_or_else(|| {
                KernelError::Unsupported(format!(
                    "shift {min_p} with zero weights needs 9-bit codes; the packed format has at \
                     most 8"
                ))
            })?;
        let encoding = if zeros {
            Encoding::Ternary
        } else {
            Encoding::Binary
        };
        let packed = PackedShiftWeights::from_weights(weights, rows, cols, encoding, bits)?;
        Self::from_packed(&packed)
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns (fan-in).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Bits per code.
    pub fn code_bits(&self) -> u32 {
        self.bits
    }

    /// The smallest shift of the non-zero weights (0 when there are none), as
    /// `ShiftMatrix::min_shift`: the outputs' grid is `2^(min_shift - F)`.
    pub fn min_shift(&self) -> i32 {
        self.min_shift
    }

    /// Bytes of packed words on the device.
    pub fn device_bytes(&self) -> usize {
        8 * self.words.len()
    }

    /// The interleaved words.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// The weight at `(r, c)` as `(sign, shift)`, decoded from the interleaved words (for
    /// tests of the layout).
    pub fn get(&self, r: usize, c: usize) -> (i8, i32) {
        let word = self.words[(c / self.per_word) * self.rows + r];
        let code = (word >> ((c % self.per_word) as u32 * self.bits)) & ((1 << self.bits) - 1);
        let enc = if self.ternary {
            Encoding::Ternary
        } else {
            Encoding::Binary
        };
        let d = decode_code(code as u8, enc, self.bits).expect("validated codes");
        (d.sign, d.shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shift_core::exp2i;

    #[test]
    fn interleaved_words_hold_every_weight() {
        // 3 rows of 13 weights at 5 bits: 12 codes per word, so each row spills into a
        // second word.
        let w: Vec<f32> = (0..39)
            .map(|i| match i % 4 {
                0 => 0.0,
                1 => exp2i(-(i % 14)),
                2 => -exp2i(-(i % 7)),
                _ => 1.0,
            })
            .collect();
        let g = GpuWeights::from_weights(&w, 3, 13).unwrap();
        assert!(g.ternary);
        assert_eq!((g.bits, g.per_word, g.words_per_row), (5, 12, 2));
        assert_eq!(g.words().len(), 6);
        for r in 0..3 {
            for c in 0..13 {
                let (s, p) = g.get(r, c);
                let v = if s == 0 { 0.0 } else { s as f32 * exp2i(p) };
                assert_eq!(v, w[r * 13 + c], "({r}, {c})");
            }
        }
        assert_eq!(g.min_shift(), -13);
        assert_eq!(g.base, 14);
        assert_eq!(g.span, 14);
    }

    #[test]
    fn chooses_the_narrowest_code() {
        let g = GpuWeights::from_weights(&[1.0, -0.5], 1, 2).unwrap();
        assert!(!g.ternary);
        assert_eq!(g.code_bits(), 2);
        let g = GpuWeights::from_weights(&[1.0, 0.0, -0.5], 1, 3).unwrap();
        assert!(g.ternary);
        assert_eq!(g.code_bits(), 3);
        let g = GpuWeights::from_weights(&[exp2i(-127), 1.0], 1, 2).unwrap();
        assert_eq!((g.code_bits(), g.min_shift(), g.span), (8, -127, 128));
        assert!(matches!(
            GpuWeights::from_weights(&[exp2i(-127), 0.0], 1, 2),
            Err(KernelError::Unsupported(_))
        ));
        assert!(matches!(
            GpuWeights::from_weights(&[0.3], 1, 1),
            Err(KernelError::NotAShiftWeight { index: 0, .. })
        ));
        assert!(matches!(
            GpuWeights::from_weights(&[1.0; 3], 2, 2),
            Err(KernelError::Shape(_))
        ));
    }
}
