//! The reference's weight decay of DeepShift-PS shift parameters, as a term of the loss.
//!
//! Shift and sign parameters sit in optimiser groups without weight decay; instead, with
//! weight decay `wd > 0`, the reference adds `wd * 0.5 * sum((2^shift)^2)` over all shift
//! parameters to the loss (`shift_l2_norm` in its training scripts). Recording it on the tape
//! lets `backward` deliver its gradient with the rest, so no training loop patches gradients.

use crate::param::Param;
use crate::tape::Var;
use crate::tensor::Tensor;

/// The term `wd * 0.5 * sum((2^shift)^2)` of one shift parameter, as a scalar on the tape
/// (add the terms of all shift parameters to the loss).
pub fn shift_l2(shift: &Param, weight_decay: f64) -> Var {
    let values = shift.value().as_standard_layout().into_owned();
    let slice = values.as_slice().expect("standard layout");
    let term = shift_l2_value(slice, weight_decay);
    Var::from_op(
        Tensor::from_elem(vec![], term),
        vec![Var::param_handle(shift)],
        Box::new(move |g| {
            let upstream = g.iter().next().copied().unwrap_or(0.0);
            let mut grad = Tensor::zeros(values.raw_dim());
            let slice = values.as_slice().expect("standard layout");
            let out = grad.as_slice_mut().expect("fresh tensor");
            shift_l2_grad(slice, weight_decay, upstream, out);
            vec![Some(grad)]
        }),
    )
}

/// `wd * 0.5 * sum((2^s)^2)`: the scalar `wd * 0.5` is formed in `f64` and cast to `f32`, as
/// PyTorch multiplies a Python float into a `float32` tensor; the sum is accumulated in `f64`.
fn shift_l2_value(shift: &[f32], weight_decay: f64) -> f32 {
    let sum: f64 = shift
        .iter()
        .map(|&s| {
            let w = 2f32.powf(s);
            f64::from(w * w)
        })
        .sum();
    (weight_decay * 0.5) as f32 * sum as f32
}

/// Writes `upstream * d(term)/d(shift)` = `upstream * wd * 0.5 * (2 * 2^s) * (2^s * ln 2)`,
/// in the order PyTorch's autograd multiplies.
fn shift_l2_grad(shift: &[f32], weight_decay: f64, upstream: f32, out: &mut [f32]) {
    let c = (weight_decay * 0.5) as f32;
    let ln2 = std::f64::consts::LN_2 as f32;
    for (g, &s) in out.iter_mut().zip(shift) {
        let w = 2f32.powf(s);
        *g = upstream * (c * (2.0 * w) * (w * ln2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::ParamKind;

    fn shift_param(values: &[f32]) -> Param {
        Param::new(
            Tensor::from_shape_vec(vec![values.len()], values.to_vec()).unwrap(),
            ParamKind::Shift,
        )
    }

    #[test]
    fn value_matches_the_formula() {
        let s = [0.0f32, -1.0, -2.5, -14.0];
        let expected: f64 = s.iter().map(|&x| 4f64.powf(f64::from(x))).sum::<f64>() * 1e-4 * 0.5;
        let got = *shift_l2(&shift_param(&s), 1e-4).value().first().unwrap();
        assert!(
            (f64::from(got) - expected).abs() <= 1e-6 * expected,
            "{got} vs {expected}"
        );
        assert_eq!(shift_l2_value(&s, 0.0), 0.0);
        assert_eq!(shift_l2_value(&[], 1e-4), 0.0);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let s = [0.0f32, -1.0, -2.5, -0.3];
        let wd = 0.01;
        let p = shift_param(&s);
        shift_l2(&p, wd).backward();
        let g = p.grad().clone();
        for i in 0..s.len() {
            let h = 1e-3;
            let f = |x: f64| wd * 0.5 * 4f64.powf(x);
            let fd = (f(f64::from(s[i]) + h) - f(f64::from(s[i]) - h)) / (2.0 * h);
            let analytic = f64::from(g[i]);
            assert!(
                (analytic - fd).abs() <= 1e-6 + 1e-5 * fd.abs(),
                "{i}: {analytic} vs {fd}"
            );
        }
    }
}
