//! Fixed-point activations in and out: quantisation onto the `2^-F` grid (the reference's
//! `round_fixed`, as integers), the accumulator bound, and the exact outputs.

use shift_core::FixedPoint;

use crate::error::KernelError;

/// `clamp(floor(x * 2^F), -2^(I-1) * 2^F, (2^(I-1) - 1) * 2^F)`: the integer `q` with
/// `round_fixed(x, I, F) = q * 2^-F` exactly. Returns the integers and the largest `|q|`.
///
/// Values beyond 31 bits plus sign (only formats with `I >= 25` and `I + F = 32` reach
/// them) are an error.
pub fn quantize(x: &[f32], act: FixedPoint) -> Result<(Vec<i32>, u64), KernelError> {
    let mut out = vec![0i32; x.len()];
    let max_abs = quantize_into(x, act, &mut out)?;
    Ok((out, max_abs))
}

/// [`quantize`] into a buffer of the same length.
pub fn quantize_into(x: &[f32], act: FixedPoint, out: &mut [i32]) -> Result<u64, KernelError> {
    assert_eq!(x.len(), out.len(), "quantize_into: lengths");
    let scale = act.scale();
    let lo = act.min_value() * scale;
    let hi = act.max_value() * scale;
    if hi >= 2_147_483_648.0 {
        return Err(KernelError::Unsupported(format!(
            "activations -ab {} {} reach 2^31 on the integer grid: the kernels hold 31 bits plus \
             sign",
            act.int_bits(),
            act.frac_bits()
        )));
    }
    // floor(clamp(y)) == clamp(floor(y)) as the bounds are integers. The floor is
    // truncation, one less where that rounded up: exact, as |y| < 2^31 after the clamp and a
    // truncated |t| >= 2^24 is y itself. (`f32::floor` is a libm call on the baseline x86-64
    // target, without SSE4.1's roundps.)
    let floor = |y: f32| {
        // SAFETY (of the callers' `to_int_unchecked`): y lies in [lo, hi], integers within
        // i32 (hi < 2^31 was checked, lo = -hi - 2^F >= -2^31), and is not NaN.
        let t = unsafe { y.to_int_unchecked::<i32>() };
        t - ((t as f32) > y) as i32
    };
    // Eight independent lanes (so the loop vectorises); the tail in lane 0.
    let (mut q_min, mut q_max, mut nan) = ([0i32; 8], [0i32; 8], [0u32; 8]);
    let mut chunks = out.chunks_exact_mut(8).zip(x.chunks_exact(8));
    for (o, v) in &mut chunks {
        for i in 0..8 {
            nan[i] |= v[i].is_nan() as u32;
            // The comparisons send NaN to lo (the call is then an error).
            let y = v[i] * scale;
            let y = if y > lo { y } else { lo };
            let y = if y < hi { y } else { hi };
            let q = floor(y);
            q_min[i] = q_min[i].min(q);
            q_max[i] = q_max[i].max(q);
            o[i] = q;
        }
    }
    let done = x.len() / 8 * 8;
    for (o, &v) in out[done..].iter_mut().zip(&x[done..]) {
        nan[0] |= v.is_nan() as u32;
        let y = v * scale;
        let y = if y > lo { y } else { lo };
        let q = floor(if y < hi { y } else { hi });
        q_min[0] = q_min[0].min(q);
        q_max[0] = q_max[0].max(q);
        *o = q;
    }
    let nan = nan.iter().any(|&n| n != 0);
    let q_min = q_min.iter().fold(0, |a, &b| a.min(b));
    let q_max = q_max.iter().fold(0, |a, &b| a.max(b));
    let max_abs = q_min.unsigned_abs().max(q_max.unsigned_abs()) as u64;
    if nan {
        let index = x.iter().position(|v| v.is_nan()).unwrap_or(0);
        return Err(KernelError::NanInput { index });
    }
    Ok(max_abs)
}

/// The exact outputs of a shift layer: integers `totals` on the grid `2^exp`, i.e. output
/// `j` is exactly `totals[j] * 2^exp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedOutput {
    /// The exact sums on the grid `2^exp`.
    pub totals: Vec<i64>,
    /// The grid's exponent: `min_shift - F`.
    pub exp: i32,
}

impl FixedOutput {
    /// The outputs as f32, each the correctly rounded value of the exact sum (round to
    /// nearest, ties to even; only results in f32's subnormal range may round twice).
    pub fn to_f32(&self) -> Vec<f32> {
        self.totals
            .iter()
            .map(|&t| total_to_f32(t, self.exp))
            .collect()
    }

    /// The outputs rounded onto another fixed-point format as `round_fixed` does (floor,
    /// then clamp), as integers on that format's `2^-F` grid: exact, for a next shift layer.
    pub fn to_fixed(&self, act: FixedPoint) -> Vec<i64> {
        let f = act.frac_bits() as i32;
        let lo = -(1i64 << (act.int_bits() - 1 + act.frac_bits()));
        let hi = ((1i64 << (act.int_bits() - 1)) - 1) << act.frac_bits();
        // value * 2^F = total * 2^(exp + F)
        let up = self.exp + f;
        self.totals
            .iter()
            .map(|&t| {
                let q = if up >= 0 {
                    // Saturates: an out-of-range value clamps anyway.
                    if up >= 63 || t.unsigned_abs() > (i64::MAX >> up) as u64 {
                        if t < 0 {
                            lo
                        } else if t > 0 {
                            hi
                        } else {
                            0
                        }
                    } else {
                        t << up
                    }
                } else if -up >= 63 {
                    if t < 0 {
                        -1
                    } else {
                        0
                    }
                } else {
                    t >> -up // arithmetic shift: floor
                };
                q.clamp(lo, hi)
            })
            .collect()
    }
}

/// `t * 2^exp` rounded to f32 (`t as f32` is correctly rounded; scaling by a power of two
/// is exact unless the result leaves f32's normal range).
pub fn total_to_f32(t: i64, exp: i32) -> f32 {
    let mut v = t as f32;
    let mut e = exp;
    while e < -126 {
        v *= shift_core::exp2i(-126);
        e += 126;
    }
    while e > 127 {
        v *= shift_core::exp2i(127);
        e -= 127;
    }
    v * shift_core::exp2i(e)
}

/// The accumulator rule shared by the reference and the kernels: for the largest input
/// magnitude `max_input`, rows with bounds `row_bounds` (`sum 2^(p - min_shift)`) and biases
/// (already on the kernels' integer scale, as magnitudes), every partial sum of a row is at
/// most `max_input * bound + |bias|`; that must fit in `i64`.
pub(crate) fn check_accumulator(
    max_input: u64,
    row_bounds: impl Iterator<Item = (u128, u128)>,
    frac_bits: u32,
    span: u32,
    fan_in: usize,
) -> Result<(), KernelError> {
    let mut worst = 0u128;
    for (bound, bias) in row_bounds {
        let need = (max_input as u128)
            .saturating_mul(bound)
            .saturating_add(bias);
        worst = worst.max(need);
    }
    if worst > i64::MAX as u128 {
        return Err(KernelError::AccumulatorOverflow {
            needed_bits: 129 - worst.leading_zeros(),
            max_input,
            frac_bits,
            span,
            fan_in,
        });
    }
    Ok(())
}

/// `|b| << shift` as u128, saturating.
pub(crate) fn shifted_magnitude(b: i64, shift: u32) -> u128 {
    let m = b.unsigned_abs() as u128;
    if m == 0 {
        0
    } else if shift >= m.leading_zeros() {
        u128::MAX
    } else {
        m << shift
    }
}

/// Terms per `i32` run of the micro-kernels: `floor((2^31 - 1) / max_input)`, so that no
/// run of adds and subtractions of inputs of at most that magnitude leaves `i32`. 0 when
/// even one input does not fit (then the wide path runs).
pub(crate) fn max_run(max_input: u64) -> usize {
    (i32::MAX as u64)
        .checked_div(max_input)
        .map_or(usize::MAX, |r| r as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shift_core::round_fixed;

    #[test]
    fn quantize_matches_round_fixed() {
        for (i, f) in [(16, 16), (3, 5), (1, 4), (8, 0), (4, 20)] {
            let act = FixedPoint::new(i, f).unwrap();
            let xs = [
                0.0, -0.0, 0.3, -0.3, 1.7, -2.6, 100.0, -1e9, 1e30, -3.0e-6, 7.99, -8.0,
            ];
            let (q, m) = quantize(&xs, act).unwrap();
            for (&x, &q) in xs.iter().zip(&q) {
                assert_eq!(
                    q as f32 / act.scale(),
                    round_fixed(x, act),
                    "{x} at {i}/{f}"
                );
                assert!(q.unsigned_abs() as u64 <= m);
            }
        }
        assert!(matches!(
            quantize(&[f32::NAN], FixedPoint::DEFAULT),
            Err(KernelError::NanInput { index: 0 })
        ));
        assert!(quantize(&[1.0], FixedPoint::new(32, 0).unwrap()).is_err());
    }

    #[test]
    fn fixed_output_floors_like_round_fixed() {
        let act = FixedPoint::new(4, 2).unwrap();
        let out = FixedOutput {
            totals: vec![13, -13, 1000, -1000, 0],
            exp: -3,
        };
        let vals = out.to_f32();
        let fixed = out.to_fixed(act);
        for (v, q) in vals.iter().zip(fixed) {
            assert_eq!(q as f32 / 4.0, round_fixed(*v, act));
        }
        assert_eq!(total_to_f32(3, -130), 3.0 * 2f32.powi(-65) * 2f32.powi(-65));
        assert_eq!(total_to_f32(-5, 130), -5.0 * 2f32.powi(65) * 2f32.powi(65));
        assert_eq!(max_run(0), usize::MAX);
        assert_eq!(max_run(1 << 31), 0);
    }
}
