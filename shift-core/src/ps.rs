//! DeepShift-PS: weights from (shift, sign) parameters and their gradients.

use crate::pow2::{check_len, exp2i, sign};
use crate::{CoreError, ShiftRange};

/// The integer shift a PS shift parameter stands for: clamped into the range, then rounded
/// half to even.
#[inline]
pub fn ps_shift(shift: f32, range: ShiftRange) -> i32 {
    crate::rounding::round_half_even(range.clamp(shift)) as i32
}

/// The ternary sign a PS sign parameter stands for: `sign(round(sign))` in {-1, 0, +1}.
#[inline]
pub fn ps_sign(sign_param: f32) -> f32 {
    sign(crate::rounding::round_half_even(sign_param))
}

/// The PS weight `s * 2^p` with `p = round(clamp(shift))` and `s = sign(round(sign))`.
#[inline]
pub fn ps_weight(shift: f32, sign_param: f32, range: ShiftRange) -> f32 {
    ps_sign(sign_param) * exp2i(ps_shift(shift, range))
}

/// The in-place clamp that the reference applies to the shift parameter at every forward.
pub fn ps_clamp_shift_slice(shift: &mut [f32], range: ShiftRange) {
    for p in shift {
        *p = range.clamp(*p);
    }
}

/// PS weights of a tensor. `shift` is expected to be clamped already (see
/// [`ps_clamp_shift_slice`]); it is clamped again here so unclamped input is still correct.
pub fn ps_weight_slice(
    shift: &[f32],
    sign_param: &[f32],
    out: &mut [f32],
    range: ShiftRange,
) -> Result<(), CoreError> {
    check_len("sign", sign_param.len(), shift.len())?;
    check_len("out", out.len(), shift.len())?;
    for ((&p, &s), o) in shift.iter().zip(sign_param).zip(out.iter_mut()) {
        *o = ps_weight(p, s, range);
    }
    Ok(())
}

/// Accumulates the PS parameter gradients from `grad_weight = dL/dW`.
///
/// `dL/dshift += G * s * 2^p * ln 2` (the derivative of `2^p`, with straight-through rounding)
/// and `dL/dsign += G` (the reference's asymmetric product passes the gradient to the sign
/// unscaled). `shift` must already be clamped, as it is after the forward pass.
pub fn ps_backward_slice(
    grad_weight: &[f32],
    shift: &[f32],
    sign_param: &[f32],
    grad_shift: &mut [f32],
    grad_sign: &mut [f32],
) -> Result<(), CoreError> {
    let n = grad_weight.len();
    check_len("shift", shift.len(), n)?;
    check_len("sign", sign_param.len(), n)?;
    check_len("grad_shift", grad_shift.len(), n)?;
    check_len("grad_sign", grad_sign.len(), n)?;
    for i in 0..n {
        let g = grad_weight[i];
        let p = crate::rounding::round_half_even(shift[i]) as i32;
        grad_shift[i] += (g * ps_sign(sign_param[i])) * (exp2i(p) * std::f32::consts::LN_2);
        grad_sign[i] += g;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_bit_ps_weights_are_ternary() {
        let r = ShiftRange { min: 0, max: 0 };
        for (shift, sign, w) in [(-5.0, 0.7, 1.0), (0.3, -0.6, -1.0), (-1.0, 0.4, 0.0)] {
            assert_eq!(ps_weight(shift, sign, r), w);
        }
    }

    #[test]
    fn gradient_matches_a_finite_difference_of_the_smooth_weight() {
        // d/dp (s * 2^p) at an integer p, the straight-through view of the rounding.
        let (g, p, s) = (0.75f32, -3.0f32, -1.0f32);
        let mut gs = [0.0];
        let mut gg = [0.0];
        ps_backward_slice(&[g], &[p], &[s], &mut gs, &mut gg).unwrap();
        let h = 1e-3f64;
        let f = |x: f64| s as f64 * 2f64.powf(x);
        let fd = g as f64 * (f(p as f64 + h) - f(p as f64 - h)) / (2.0 * h);
        assert!((gs[0] as f64 - fd).abs() < 1e-6, "{} vs {fd}", gs[0]);
        assert_eq!(gg[0], g);
    }
}
