//! The DeepShift ops: Q power-of-two weights, PS weights and fixed-point activations, each
//! with the reference's gradient (straight-through where the reference is).

use rand::Rng;
use rayon::prelude::*;
use shift_core::{FixedPoint, Rounding, ShiftRange};

use crate::error::NnError;
use crate::param::Param;
use crate::tape::Var;
use crate::tensor::{Tensor, PAR_CHUNK};

/// The RNG handed to deterministic rounding, which never draws from it (it panics if drawn
/// from).
pub(crate) struct NoRng;

impl rand::RngCore for NoRng {
    fn next_u32(&mut self) -> u32 {
        unreachable!("deterministic rounding draws no random numbers")
    }
    fn next_u64(&mut self) -> u64 {
        unreachable!("deterministic rounding draws no random numbers")
    }
    fn fill_bytes(&mut self, _: &mut [u8]) {
        unreachable!("deterministic rounding draws no random numbers")
    }
    fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), rand::Error> {
        unreachable!("deterministic rounding draws no random numbers")
    }
}

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
        let (ws, os) = (
            w.as_slice_mut().expect("contiguous"),
            out.as_slice_mut().expect("contiguous"),
        );
        match rounding {
            // Stochastic rounding draws from one RNG stream in element order: serial.
            Rounding::Stochastic => shift_core::q_weight_slice(ws, os, range, rounding, rng)?,
            Rounding::Deterministic => {
                // Found before any chunk is projected, as the serial form promises.
                // A branch-free fold per chunk vectorises; the exact index is only looked up
                // on the error path.
                let has_nan = ws
                    .par_chunks(PAR_CHUNK)
                    .any(|c| c.iter().fold(false, |acc, w| acc | w.is_nan()));
                if let Some(index) = has_nan
                    .then(|| ws.iter().position(|w| w.is_nan()))
                    .flatten()
                {
                    let value = ws[index];
                    return Err(shift_core::CoreError::NonFiniteWeight { index, value }.into());
                }
                ws.par_chunks_mut(PAR_CHUNK)
                    .zip(os.par_chunks_mut(PAR_CHUNK))
                    .try_for_each(|(w, o)| {
                        shift_core::q_weight_slice(w, o, range, rounding, &mut NoRng)
                    })?
            }
        }
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
    shift
        .value_mut()
        .as_slice_mut()
        .expect("contiguous")
        .par_chunks_mut(PAR_CHUNK)
        .for_each(|p| shift_core::ps_clamp_shift_slice(p, range));
    let (shift_v, sign_v) = (shift.value().clone(), sign.value().clone());
    let mut w = Tensor::zeros(shift_v.raw_dim());
    w.as_slice_mut()
        .unwrap()
        .par_chunks_mut(PAR_CHUNK)
        .zip(shift_v.as_slice().unwrap().par_chunks(PAR_CHUNK))
        .zip(sign_v.as_slice().unwrap().par_chunks(PAR_CHUNK))
        .try_for_each(|((w, p), s)| shift_core::ps_weight_slice(p, s, w, range))?;
    let inputs = vec![Var::param_handle(shift), Var::param_handle(sign)];
    Ok(Var::from_op(
        w,
        inputs,
        Box::new(move |g| {
            let g = g.as_standard_layout();
            let mut gs = Tensor::zeros(shift_v.raw_dim());
            let mut gg = Tensor::zeros(shift_v.raw_dim());
            let c = PAR_CHUNK;
            gs.as_slice_mut()
                .unwrap()
                .par_chunks_mut(c)
                .zip(gg.as_slice_mut().unwrap().par_chunks_mut(c))
                .zip(g.as_slice().unwrap().par_chunks(c))
                .zip(shift_v.as_slice().unwrap().par_chunks(c))
                .zip(sign_v.as_slice().unwrap().par_chunks(c))
                .for_each(|((((gs, gg), g), p), s)| {
                    shift_core::ps_backward_slice(g, p, s, gs, gg)
                        .expect("shapes agree by construction")
                });
            vec![Some(gs), Some(gg)]
        }),
    ))
}

/// Fixed-point rounding of activations (or a bias) with a straight-through gradient.
pub fn round_fixed(x: &Var, format: FixedPoint) -> Var {
    let mut y = x.value().as_standard_layout().into_owned();
    y.as_slice_mut()
        .unwrap()
        .par_chunks_mut(PAR_CHUNK)
        .for_each(|c| shift_core::round_fixed_slice(c, format));
    Var::from_op(y, vec![x.clone()], Box::new(|g| vec![Some(g.clone())]))
}
