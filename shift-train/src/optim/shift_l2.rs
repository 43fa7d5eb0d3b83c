//! The reference's weight decay of DeepShift-PS shift parameters.
//!
//! Shift and sign parameters sit in groups without optimiser weight decay; instead, with
//! weight decay `wd > 0`, the reference adds `wd * 0.5 * sum((2^shift)^2)` over all shift
//! parameters to the loss (`shift_l2_norm` in its training scripts).

use crate::TrainError;

/// The term `wd * 0.5 * sum((2^shift)^2)` for one shift parameter (sum it over all of them).
///
/// The scalar `wd * 0.5` is formed in `f64` and cast to `f32`, as PyTorch multiplies a
/// Python float into a `float32` tensor; the sum is accumulated in `f64`.
pub fn shift_l2(shift: &[f32], weight_decay: f64) -> f32 {
    let sum: f64 = shift
        .iter()
        .map(|&s| {
            let w = 2f32.powf(s);
            f64::from(w * w)
        })
        .sum();
    (weight_decay * 0.5) as f32 * sum as f32
}

/// Adds the gradient of [`shift_l2`] with respect to each shift to `grad`:
/// `wd * 0.5 * (2 * 2^s) * (2^s * ln 2)`, in the order PyTorch's autograd multiplies.
pub fn shift_l2_grad(shift: &[f32], weight_decay: f64, grad: &mut [f32]) -> Result<(), TrainError> {
    if grad.len() != shift.len() {
        return Err(TrainError::LengthMismatch {
            param: "shift".into(),
            what: "grad",
            expected: shift.len(),
            found: grad.len(),
        });
    }
    let c = (weight_decay * 0.5) as f32;
    let ln2 = std::f64::consts::LN_2 as f32;
    for (g, &s) in grad.iter_mut().zip(shift) {
        let w = 2f32.powf(s);
        *g += c * (2.0 * w) * (w * ln2);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_matches_the_formula() {
        let s = [0.0f32, -1.0, -2.5, -14.0];
        let expected: f64 = s.iter().map(|&x| 4f64.powf(f64::from(x))).sum::<f64>() * 1e-4 * 0.5;
        let got = shift_l2(&s, 1e-4);
        assert!(
            (f64::from(got) - expected).abs() <= 1e-6 * expected,
            "{got} vs {expected}"
        );
        assert_eq!(shift_l2(&s, 0.0), 0.0);
        assert_eq!(shift_l2(&[], 1e-4), 0.0);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let s = [0.0f32, -1.0, -2.5, -0.3];
        let wd = 0.01;
        let mut g = vec![1.0f32; s.len()];
        shift_l2_grad(&s, wd, &mut g).unwrap();
        for i in 0..s.len() {
            let h = 1e-3;
            let f = |x: f64| wd * 0.5 * 4f64.powf(x);
            let fd = (f(f64::from(s[i]) + h) - f(f64::from(s[i]) - h)) / (2.0 * h);
            // The gradient accumulates onto the existing 1.0.
            let analytic = f64::from(g[i]) - 1.0;
            assert!(
                (analytic - fd).abs() <= 1e-6 + 1e-5 * fd.abs(),
                "{i}: {analytic} vs {fd}"
            );
        }
    }

    #[test]
    fn gradient_length_mismatch_is_an_error() {
        let mut g = vec![0.0f32; 2];
        assert!(matches!(
            shift_l2_grad(&[0.0; 3], 0.1, &mut g),
            Err(TrainError::LengthMismatch {
                expected: 3,
                found: 2,
                ..
            })
        ));
    }
}
