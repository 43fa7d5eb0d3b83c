//! Fixed-point rounding of activations (`-ab I F`).

use crate::CoreError;

/// A signed fixed-point format with `int_bits` integer bits (the sign bit included) and
/// `frac_bits` fraction bits, at most 32 bits in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FixedPoint {
    int_bits: u32,
    frac_bits: u32,
}

impl FixedPoint {
    /// The reference's default, `-ab 16 16`.
    pub const DEFAULT: FixedPoint = FixedPoint {
        int_bits: 16,
        frac_bits: 16,
    };

    /// A format with `I` integer and `F` fraction bits; `I >= 1` and `I + F <= 32`.
    pub fn new(int_bits: u32, frac_bits: u32) -> Result<Self, CoreError> {
        if int_bits < 1 || int_bits.checked_add(frac_bits).is_none_or(|t| t > 32) {
            return Err(CoreError::ActivationBits {
                int_bits,
                frac_bits,
            });
        }
        Ok(Self {
            int_bits,
            frac_bits,
        })
    }

    /// Integer bits, the sign bit included.
    pub fn int_bits(self) -> u32 {
        self.int_bits
    }

    /// Fraction bits.
    pub fn frac_bits(self) -> u32 {
        self.frac_bits
    }

    /// Smallest representable value, `-2^(I-1)`.
    pub fn min_value(self) -> f32 {
        -((1u64 << (self.int_bits - 1)) as f32)
    }

    /// Largest value the reference clamps to, `2^(I-1) - 1` (as f32, so `2^31` for `I = 32`).
    pub fn max_value(self) -> f32 {
        ((1u64 << (self.int_bits - 1)) - 1) as f32
    }

    /// `2^F`, the number of steps per unit.
    pub fn scale(self) -> f32 {
        (1u64 << self.frac_bits) as f32
    }
}

impl Default for FixedPoint {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// `clamp(floor(x * 2^F) / 2^F, -2^(I-1), 2^(I-1) - 1)`, the reference's `round_to_fixed`.
///
/// Scaling by a power of two is exact in f32, so this equals the reference bit for bit. With
/// `I = 1` the range is `[-1, 0]` by the same formula. (The reference code special-cases
/// `I = 1` as `sign(x) - 1`, which returns -2 for negative inputs, outside its own range; this
/// crate follows the formula, see the README.) NaN stays NaN.
pub fn round_fixed(x: f32, fp: FixedPoint) -> f32 {
    let scale = fp.scale();
    (crate::rounding::floor(x * scale) / scale).clamp(fp.min_value(), fp.max_value())
}

/// [`round_fixed`] over a slice, in place.
pub fn round_fixed_slice(xs: &mut [f32], fp: FixedPoint) {
    let scale = fp.scale();
    let (lo, hi) = (fp.min_value(), fp.max_value());
    for x in xs {
        *x = (crate::rounding::floor(*x * scale) / scale).clamp(lo, hi);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_formats_are_errors() {
        assert!(FixedPoint::new(0, 8).is_err());
        assert!(FixedPoint::new(17, 16).is_err());
        assert!(FixedPoint::new(u32::MAX, 1).is_err());
        assert!(FixedPoint::new(32, 0).is_ok());
        assert!(FixedPoint::new(1, 31).is_ok());
    }

    #[test]
    fn one_integer_bit_spans_minus_one_to_zero() {
        let fp = FixedPoint::new(1, 2).unwrap();
        assert_eq!(round_fixed(0.9, fp), 0.0);
        assert_eq!(round_fixed(-0.3, fp), -0.5);
        assert_eq!(round_fixed(-7.0, fp), -1.0);
    }

    #[test]
    fn floors_towards_minus_infinity() {
        let fp = FixedPoint::new(4, 2).unwrap();
        assert_eq!(round_fixed(1.3, fp), 1.25);
        assert_eq!(round_fixed(-1.3, fp), -1.5);
        assert_eq!(round_fixed(100.0, fp), 7.0);
        assert_eq!(round_fixed(-100.0, fp), -8.0);
    }
}
