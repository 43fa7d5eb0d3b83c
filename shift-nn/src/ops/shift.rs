//! The DeepShift ops: Q power-of-two weights, PS weights and fixed-point activations, each
//! with the reference's gradient (straight-through where the reference is).

use rand::Rng;
use shift_core::{FixedPoint, Rounding, ShiftRange};

use crate::error::NnError;
use crate::param::Param;
use crate::tape::{Tensor, Var};

/// DeepShift-Q weight: projects the stored weight in place (the reference's `clampabs`), then
/// rounds it to a power of two. The gradient passes straight through to the stored weight.
pub fn q_weight<R: Rng + ?Sized>(
    weight: &Param,
    range: ShiftRange,
    rounding: Rounding,
    rng: &mut R,
) -> Result<Var, NnError> {
    let rounded = {
        let mut w = weight.value_mut();
        let mut out = Tensor::zeros(w.raw_dim());
        shift_core::q_weight_slice(
            w.as_slice_mut().expect("contiguous"),
            out.as_slice_mut().expect("contiguous"),
            range,
            rounding,
            rng,
        )?;
        out
    };
    let leaf = Var::param_handle(weight);
    Ok(Var::from_op(
        rounded,
        vec![leaf],
        Box::new(|g| vec![Some(g.clone())]),
    ))
}

/// DeepShift-PS weight `sign(round(sign)) * 2^round(shift)`: clamps the shift parameter into
/// its range in place, as the reference does at each forward pass.
///
/// Gradients: `dL/dshift = G * s * 2^p * ln 2`, `dL/dsign = G`.
pub fn ps_weight(shift: &Param, sign: &Param, range: ShiftRange) -> Result<Var, NnError> {
    shift_core::ps_clamp_shift_slice(shift.value_mut().as_slice_mut().expect("contiguous"), range);
    let (shift_v, sign_v) = (shift.value().clone(), sign.value().clone());
    let mut w = Tensor::zeros(shift_v.raw_dim());
    shift_core::ps_weight_slice(
        shift_v.as_slice().unwrap(),
        sign_v.as_slice().unwrap(),
        w.as_slice_mut().unwrap(),
        range,
    )?;
    let inputs = vec![Var::param_handle(shift), Var::param_handle(sign)];
    Ok(Var::from_op(
        w,
        inputs,
        Box::new(move |g| {
            let g = g.as_standard_layout();
            let mut gs = Tensor::zeros(shift_v.raw_dim());
            let mut gg = Tensor::zeros(shift_v.raw_dim());
            shift_core::ps_backward_slice(
                g.as_slice().unwrap(),
                shift_v.as_slice().unwrap(),
                sign_v.as_slice().unwrap(),
                gs.as_slice_mut().unwrap(),
                gg.as_slice_mut().unwrap(),
            )
            .expect("shapes agree by construction");
            vec![Some(gs), Some(gg)]
        }),
    ))
}

/// Fixed-point rounding of activations (or a bias) with a straight-through gradient.
pub fn round_fixed(x: &Var, format: FixedPoint) -> Var {
    let mut y = x.value().as_standard_layout().into_owned();
    shift_core::round_fixed_slice(y.as_slice_mut().unwrap(), format);
    Var::from_op(y, vec![x.clone()], Box::new(|g| vec![Some(g.clone())]))
}
