//! Power-of-two rounding: the DeepShift-Q forward pass and the float-to-shift conversion.

use rand::Rng;

use crate::{CoreError, Rounding, ShiftRange};

/// `2^p` as an exact f32 (subnormal for `p < -126`, zero below `-149`).
#[inline]
pub fn exp2i(p: i32) -> f32 {
    if (-126..=127).contains(&p) {
        // A normal power of two is just its biased exponent.
        f32::from_bits(((p + 127) as u32) << 23)
    } else {
        2f64.powi(p) as f32
    }
}

/// `log2|w|` computed as the reference does: the correctly rounded f32 natural logarithm
/// divided in f32 by f32 `ln 2`.
///
/// This is not `f32::log2`: exact ties such as `2^(k+0.5)` land on either side of `k + 0.5`
/// depending on the formula, and the reference's formula is what the golden tensors encode.
/// Zero gives `-inf`.
pub fn log2_abs(w: f32) -> f32 {
    ((w.abs() as f64).ln() as f32) / std::f32::consts::LN_2
}

/// The sign as `torch.sign` defines it: -1, 0 or +1 (0 for both zeros).
#[inline]
pub fn sign(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Rounds a value to an integer: half to even, or stochastically with the caller's RNG.
///
/// Non-finite values are returned unchanged (the reference's `-inf` shift of a zero weight
/// passes through and is clamped later).
pub fn round_value<R: Rng + ?Sized>(x: f32, rounding: Rounding, rng: &mut R) -> f32 {
    match rounding {
        Rounding::Deterministic => crate::rounding::round_half_even(x),
        Rounding::Stochastic => {
            if !x.is_finite() {
                return x;
            }
            let floor = crate::rounding::floor(x);
            let frac = x - floor;
            // `gen::<f32>()` lies in [0, 1), so a zero fraction never rounds up.
            if rng.gen::<f32>() < frac {
                floor + 1.0
            } else {
                floor
            }
        }
    }
}

/// Mantissa bits of f32 `sqrt(2)`, the tie point of `round(log2|w|)` within an octave.
const SQRT2_MANTISSA: i32 = 0x0035_04F3;
/// Half-width, in mantissa ulps, of the window around the tie where the exact (slow) formula
/// is used. Far wider than the formula's error at any exponent (at most ~70 ulps at 2^-127),
/// so the fast path only decides cases the slow path decides the same way.
const TIE_WINDOW: i32 = 256;

/// `round_ties_even(log2|w|)` with the reference's arithmetic, fast for normal numbers.
///
/// Outside a narrow window around `sqrt(2) * 2^e` the answer follows from the exponent and
/// mantissa bits alone; inside it, and for zeros and subnormals, [`log2_abs`] decides.
#[inline]
pub fn round_log2_abs(w: f32) -> f32 {
    let bits = w.abs().to_bits();
    let biased_exp = (bits >> 23) as i32;
    if biased_exp == 0 || biased_exp == 255 {
        return crate::rounding::round_half_even(log2_abs(w));
    }
    let mantissa = (bits & 0x007F_FFFF) as i32;
    if (mantissa - SQRT2_MANTISSA).abs() <= TIE_WINDOW {
        return crate::rounding::round_half_even(log2_abs(w));
    }
    // Branch-free: the comparison is a coin flip for random weights.
    (biased_exp - 127 + i32::from(mantissa > SQRT2_MANTISSA)) as f32
}

/// The rounded exponent of `|w|`, as [`round_value`] of [`log2_abs`] but fast when deterministic.
pub fn rounded_shift<R: Rng + ?Sized>(w: f32, rounding: Rounding, rng: &mut R) -> f32 {
    match rounding {
        Rounding::Deterministic => round_log2_abs(w),
        Rounding::Stochastic => round_value(log2_abs(w), rounding, rng),
    }
}

/// DeepShift-Q's projection (`clampabs`): magnitudes above `2^max` become `2^max`, non-zero
/// magnitudes below `2^min` become `2^min`; zeros and signs are kept. NaN passes through.
#[inline]
pub fn q_project(w: f32, range: ShiftRange) -> f32 {
    project_between(w, exp2i(range.min), exp2i(range.max))
}

#[inline]
fn project_between(w: f32, lo: f32, hi: f32) -> f32 {
    if w > hi {
        hi
    } else if w < -hi {
        -hi
    } else if w > 0.0 && w < lo {
        lo
    } else if w < 0.0 && w > -lo {
        -lo
    } else {
        w
    }
}

/// Rounds a weight to `sign(w) * 2^round(log2|w|)` without projecting it first.
///
/// Zero stays zero (the reference computes `0 * 2^-inf`). NaN gives NaN.
#[inline]
pub fn round_pow2<R: Rng + ?Sized>(w: f32, rounding: Rounding, rng: &mut R) -> f32 {
    if w == 0.0 || w.is_nan() {
        return w * 0.0;
    }
    // Copy the sign bit instead of multiplying by `sign(w)`: no data-dependent branch.
    let magnitude = exp2i(rounded_shift(w, rounding, rng) as i32);
    f32::from_bits((w.to_bits() & 0x8000_0000) | magnitude.to_bits())
}

/// The DeepShift-Q weight of a stored float weight: projection, then power-of-two rounding.
///
/// Infinite weights project to `±2^max` as in the reference; NaN is an error.
pub fn q_weight<R: Rng + ?Sized>(
    w: f32,
    range: ShiftRange,
    rounding: Rounding,
    rng: &mut R,
) -> Result<f32, CoreError> {
    if w.is_nan() {
        return Err(CoreError::NonFiniteWeight { index: 0, value: w });
    }
    Ok(round_pow2(q_project(w, range), rounding, rng))
}

/// The DeepShift-Q forward pass over a tensor: projects `weights` in place (as the reference's
/// in-place `clampabs`) and writes the rounded weights to `out`.
///
/// A NaN weight is an error reported before anything is modified.
pub fn q_weight_slice<R: Rng + ?Sized>(
    weights: &mut [f32],
    out: &mut [f32],
    range: ShiftRange,
    rounding: Rounding,
    rng: &mut R,
) -> Result<(), CoreError> {
    check_len("out", out.len(), weights.len())?;
    if let Some(index) = weights.iter().position(|w| w.is_nan()) {
        return Err(CoreError::NonFiniteWeight {
            index,
            value: weights[index],
        });
    }
    let (lo, hi) = (exp2i(range.min), exp2i(range.max));
    for (w, o) in weights.iter_mut().zip(out.iter_mut()) {
        *w = project_between(*w, lo, hi);
        *o = round_pow2(*w, rounding, rng);
    }
    Ok(())
}

/// Converts a float weight into DeepShift-PS parameters `(shift, sign)`:
/// `shift = round(log2|w|)`, `sign = sign(w)`.
///
/// An exact zero gives `(-inf, 0)`, as the reference; the PS forward pass later clamps the
/// shift into its range and the zero sign keeps the weight at zero. NaN and infinity are
/// errors: no shift describes them.
pub fn weight_to_shift_sign<R: Rng + ?Sized>(
    w: f32,
    rounding: Rounding,
    rng: &mut R,
) -> Result<(f32, f32), CoreError> {
    if !w.is_finite() {
        return Err(CoreError::NonFiniteWeight { index: 0, value: w });
    }
    if w == 0.0 {
        return Ok((f32::NEG_INFINITY, 0.0));
    }
    Ok((rounded_shift(w, rounding, rng), sign(w)))
}

/// Slice form of [`weight_to_shift_sign`]; with `range`, shifts are clamped into it (so zeros
/// get the range's minimum instead of `-inf`).
pub fn weights_to_shift_sign_slice<R: Rng + ?Sized>(
    weights: &[f32],
    shift_out: &mut [f32],
    sign_out: &mut [f32],
    range: Option<ShiftRange>,
    rounding: Rounding,
    rng: &mut R,
) -> Result<(), CoreError> {
    check_len("shift_out", shift_out.len(), weights.len())?;
    check_len("sign_out", sign_out.len(), weights.len())?;
    for (index, ((&w, shift), sgn)) in weights
        .iter()
        .zip(shift_out.iter_mut())
        .zip(sign_out.iter_mut())
        .enumerate()
    {
        let (p, s) = weight_to_shift_sign(w, rounding, rng)
            .map_err(|_| CoreError::NonFiniteWeight { index, value: w })?;
        *shift = range.map_or(p, |r| r.clamp(p));
        *sgn = s;
    }
    Ok(())
}

pub(crate) fn check_len(what: &'static str, got: usize, expected: usize) -> Result<(), CoreError> {
    if got == expected {
        Ok(())
    } else {
        Err(CoreError::LengthMismatch {
            what,
            got,
            expected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn fast_round_log2_agrees_with_the_reference_formula() {
        let mut rng = StdRng::seed_from_u64(3);
        let check = |w: f32| {
            assert_eq!(
                round_log2_abs(w),
                crate::rounding::round_half_even(log2_abs(w)),
                "w = {w:e} ({:#x})",
                w.to_bits()
            );
        };
        for exp in -149..=127 {
            for delta in -600..=600 {
                let bits = ((exp.max(-126) + 127) as u32) << 23;
                let mantissa = (SQRT2_MANTISSA + delta) as u32;
                check(f32::from_bits(bits | mantissa));
            }
        }
        for _ in 0..200_000 {
            check(f32::from_bits(rng.gen::<u32>() & 0x7F7F_FFFF));
        }
    }

    #[test]
    fn exp2i_is_exact_everywhere() {
        for p in -160..=127 {
            assert_eq!(
                exp2i(p).to_bits(),
                (2f64.powi(p) as f32).to_bits(),
                "p = {p}"
            );
        }
    }

    #[test]
    fn zero_and_non_finite_weights() {
        let mut rng = StdRng::seed_from_u64(0);
        let r = ShiftRange { min: -14, max: 0 };
        let det = Rounding::Deterministic;
        assert_eq!(q_weight(0.0, r, det, &mut rng).unwrap(), 0.0);
        assert_eq!(q_weight(f32::INFINITY, r, det, &mut rng).unwrap(), 1.0);
        assert!(q_weight(f32::NAN, r, det, &mut rng).is_err());
        assert_eq!(
            weight_to_shift_sign(0.0, det, &mut rng).unwrap(),
            (f32::NEG_INFINITY, 0.0)
        );
        assert!(weight_to_shift_sign(f32::NEG_INFINITY, det, &mut rng).is_err());
        let (mut s, mut g) = ([0.0; 2], [0.0; 2]);
        weights_to_shift_sign_slice(&[0.0, -0.3], &mut s, &mut g, Some(r), det, &mut rng).unwrap();
        assert_eq!((s, g), ([-14.0, -2.0], [0.0, -1.0]));
        let mut w = [0.5, f32::NAN];
        let err = q_weight_slice(&mut w, &mut [0.0; 2], r, det, &mut rng).unwrap_err();
        assert!(matches!(err, CoreError::NonFiniteWeight { index: 1, .. }));
    }
}
