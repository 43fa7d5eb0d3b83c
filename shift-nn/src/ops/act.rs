//! The ops EfficientNet and GoogLeNet add: SiLU and sigmoid, the per-channel scaling of
//! squeeze-and-excitation, stochastic depth (torchvision's `"row"` mode) and a fixed
//! per-channel affine map (GoogLeNet's `transform_input`).

use rand::Rng;

use crate::error::{shape_err, NnError};
use crate::tape::Var;
use crate::tensor::{self, Tensor};

fn sigmoid_f(v: f32) -> f32 {
    1.0 / (1.0 + (-v).exp())
}

/// `x * sigmoid(x)` (`nn.SiLU`, "swish").
pub fn silu(x: &Var) -> Var {
    let y = tensor::map(x.value(), |v| v * sigmoid_f(v));
    let x_in = x.clone();
    Var::from_op(
        y,
        vec![x.clone()],
        Box::new(move |g| {
            // d/dx x s(x) = s(x) (1 + x (1 - s(x))).
            let dx = tensor::zip_map(g, x_in.value(), |g, x| {
                let s = sigmoid_f(x);
                g * s * (1.0 + x * (1.0 - s))
            });
            vec![Some(dx)]
        }),
    )
}

/// `1 / (1 + exp(-x))` (`nn.Sigmoid`).
pub fn sigmoid(x: &Var) -> Var {
    let y = tensor::map(x.value(), sigmoid_f);
    // The backward pass needs only the output: s' = s (1 - s).
    let s = y.clone();
    Var::from_op(
        y,
        vec![x.clone()],
        Box::new(move |g| vec![Some(tensor::zip_map(g, &s, |g, s| g * s * (1.0 - s)))]),
    )
}

/// `x * s` for `x [N, C, H, W]` and one factor per sample and channel, `s [N, C, 1, 1]`
/// (broadcast over the plane): squeeze-and-excitation's `scale * input`.
pub fn scale_channels(x: &Var, s: &Var) -> Result<Var, NnError> {
    let (xs, ss) = (x.shape().to_vec(), s.shape().to_vec());
    if xs.len() != 4 || ss != [xs[0], xs[1], 1, 1] {
        return Err(shape_err(
            "scale_channels",
            format!("{xs:?} scaled by {ss:?}: the factors must be [N, C, 1, 1]"),
        ));
    }
    let plane = xs[2] * xs[3];
    let xv = x.value().as_standard_layout().into_owned();
    let sv = s.value().as_standard_layout().into_owned();
    let mut y = vec![0.0f32; xv.len()];
    for ((yp, xp), &f) in y
        .chunks_mut(plane.max(1))
        .zip(xv.as_slice().expect("standard layout").chunks(plane.max(1)))
        .zip(sv.iter())
    {
        yp.iter_mut().zip(xp).for_each(|(y, &x)| *y = x * f);
    }
    let y = Tensor::from_shape_vec(xs.clone(), y).expect("shape");
    Ok(Var::from_op(
        y,
        vec![x.clone(), s.clone()],
        Box::new(move |g| {
            let g = g.as_standard_layout();
            let gr = g.as_slice().expect("standard layout");
            let xr = xv.as_slice().expect("standard layout");
            let sr = sv.as_slice().expect("standard layout");
            let mut dx = vec![0.0f32; gr.len()];
            let mut ds = vec![0.0f32; sr.len()];
            for (((dxp, gp), xp), (&f, d)) in dx
                .chunks_mut(plane.max(1))
                .zip(gr.chunks(plane.max(1)))
                .zip(xr.chunks(plane.max(1)))
                .zip(sr.iter().zip(ds.iter_mut()))
            {
                dxp.iter_mut().zip(gp).for_each(|(d, &g)| *d = g * f);
                *d = gp.iter().zip(xp).map(|(&g, &x)| g * x).sum();
            }
            vec![
                Some(Tensor::from_shape_vec(xs.clone(), dx).unwrap()),
                Some(Tensor::from_shape_vec(vec![xs[0], xs[1], 1, 1], ds).unwrap()),
            ]
        }),
    ))
}

/// torchvision's `stochastic_depth(x, p, mode="row", training=True)`: each sample (row of
/// the first axis) is zeroed with probability `p` and the kept ones are scaled by
/// `1 / (1 - p)`. One draw `rng.gen::<f32>() < p` per sample, in order (as
/// [`super::dropout`] draws one per element). Only call it in training mode; `p` in `[0, 1]`.
pub fn stochastic_depth<R: Rng + ?Sized>(x: &Var, p: f32, rng: &mut R) -> Result<Var, NnError> {
    if !(0.0..=1.0).contains(&p) {
        return Err(shape_err(
            "stochastic_depth",
            format!("drop probability {p} is not in [0, 1]"),
        ));
    }
    let n = *x
        .shape()
        .first()
        .ok_or_else(|| shape_err("stochastic_depth", "0-D input"))?;
    if p == 0.0 {
        return Ok(x.clone());
    }
    let survival = 1.0 - p;
    // torchvision divides only when the survival rate is positive (p = 1 drops everything).
    let keep = if survival > 0.0 { 1.0 / survival } else { 0.0 };
    let factors: Vec<f32> = (0..n)
        .map(|_| if rng.gen::<f32>() < p { 0.0 } else { keep })
        .collect();
    let mut mask = Tensor::zeros(x.value().raw_dim());
    for (mut row, &f) in mask.outer_iter_mut().zip(&factors) {
        row.fill(f);
    }
    let y = x.value() * &mask;
    Ok(Var::from_op(
        y,
        vec![x.clone()],
        Box::new(move |g| vec![Some(g * &mask)]),
    ))
}

/// `x[:, c] * scale[c] + shift[c]` for `x [N, C, H, W]` and constant per-channel factors
/// (GoogLeNet's `transform_input`, which maps ImageNet-normalised inputs to the `[-1, 1]`
/// scaling its ported weights were trained with).
pub fn channel_affine(x: &Var, scale: &[f32], shift: &[f32]) -> Result<Var, NnError> {
    let s = x.shape().to_vec();
    if s.len() != 4 || scale.len() != s[1] || shift.len() != s[1] {
        return Err(shape_err(
            "channel_affine",
            format!(
                "input {s:?} with {} scales and {} shifts",
                scale.len(),
                shift.len()
            ),
        ));
    }
    let mut y = x.value().as_standard_layout().into_owned();
    let mut factor = Tensor::zeros(y.raw_dim());
    for (mut sample, mut fs) in y.outer_iter_mut().zip(factor.outer_iter_mut()) {
        for (c, (mut plane, mut f)) in sample.outer_iter_mut().zip(fs.outer_iter_mut()).enumerate()
        {
            plane.mapv_inplace(|v| v * scale[c] + shift[c]);
            f.fill(scale[c]);
        }
    }
    Ok(Var::from_op(
        y,
        vec![x.clone()],
        Box::new(move |g| vec![Some(g * &factor)]),
    ))
}
