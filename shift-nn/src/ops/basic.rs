//! Element-wise ops, reshaping, dropout and the classification losses (pooling is in `pool`).

use ndarray::{Axis, Ix2};
use rand::Rng;

use crate::error::{shape_err, NnError};
use crate::tape::Var;
use crate::tensor::{self, Tensor};

/// `max(x, 0)`.
pub fn relu(x: &Var) -> Var {
    let y = tensor::map(x.value(), |v| v.max(0.0));
    // The input node is kept alive by the graph anyway: the backward pass reads it instead
    // of a stored mask.
    let x_in = x.clone();
    Var::from_op(
        y,
        vec![x.clone()],
        Box::new(move |g| {
            let dx = tensor::zip_map(g, x_in.value(), |g, x| if x > 0.0 { g } else { 0.0 });
            vec![Some(dx)]
        }),
    )
}

/// `a + b` of equal shapes.
pub fn add(a: &Var, b: &Var) -> Result<Var, NnError> {
    if a.shape() != b.shape() {
        return Err(shape_err(
            "add",
            format!("{:?} + {:?}", a.shape(), b.shape()),
        ));
    }
    let y = tensor::zip_map(a.value(), b.value(), |a, b| a + b);
    Ok(Var::from_op(
        y,
        vec![a.clone(), b.clone()],
        Box::new(|g| vec![Some(g.clone()), Some(g.clone())]),
    ))
}

/// Reshapes (element order kept, row-major).
pub fn reshape(x: &Var, shape: &[usize]) -> Result<Var, NnError> {
    let n: usize = shape.iter().product();
    if n != x.value().len() {
        return Err(shape_err(
            "reshape",
            format!("{:?} into {shape:?}", x.shape()),
        ));
    }
    let y = x
        .value()
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order(shape.to_vec())
        .unwrap();
    let back = x.shape().to_vec();
    Ok(Var::from_op(
        y,
        vec![x.clone()],
        Box::new(move |g| {
            let g = g.as_standard_layout().into_owned();
            vec![Some(g.into_shape_with_order(back.clone()).unwrap())]
        }),
    ))
}

/// `[N, ...] -> [N, prod(...)]`.
pub fn flatten(x: &Var) -> Result<Var, NnError> {
    let n = *x
        .shape()
        .first()
        .ok_or_else(|| shape_err("flatten", "0-D input"))?;
    let rest = x.value().len() / n.max(1);
    reshape(x, &[n, rest])
}

/// Inverted dropout: zeroes each element with probability `p` and scales the rest by
/// `1 / (1 - p)`. Only call it in training mode.
pub fn dropout<R: Rng + ?Sized>(x: &Var, p: f32, rng: &mut R) -> Var {
    if p <= 0.0 {
        return x.clone();
    }
    let scale = 1.0 / (1.0 - p);
    let mask = x
        .value()
        .mapv(|_| if rng.gen::<f32>() < p { 0.0 } else { scale });
    let y = x.value() * &mask;
    Var::from_op(y, vec![x.clone()], Box::new(move |g| vec![Some(g * &mask)]))
}

/// `log_softmax` over the last axis of `[N, C]`.
pub fn log_softmax(x: &Var) -> Result<Var, NnError> {
    let xv = x
        .value()
        .view()
        .into_dimensionality::<Ix2>()
        .map_err(|_| shape_err("log_softmax", format!("{:?} is not [N, C]", x.shape())))?;
    let mut y = xv.to_owned();
    for mut row in y.axis_iter_mut(Axis(0)) {
        let max = row.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let lse = max + row.iter().map(|&v| (v - max).exp()).sum::<f32>().ln();
        row.mapv_inplace(|v| v - lse);
    }
    let probs = y.mapv(f32::exp);
    Ok(Var::from_op(
        y.into_dyn(),
        vec![x.clone()],
        Box::new(move |g| {
            let g = g.view().into_dimensionality::<Ix2>().unwrap();
            let sums = g.sum_axis(Axis(1)).insert_axis(Axis(1));
            vec![Some((&g - &(&probs * &sums)).into_dyn())]
        }),
    ))
}

/// Mean negative log-likelihood of `log_probs [N, C]` at the target classes.
pub fn nll_loss(log_probs: &Var, targets: &[usize]) -> Result<Var, NnError> {
    let s = log_probs.shape().to_vec();
    if s.len() != 2 || s[0] != targets.len() {
        return Err(shape_err(
            "nll_loss",
            format!("{s:?} with {} targets", targets.len()),
        ));
    }
    if let Some(&t) = targets.iter().find(|&&t| t >= s[1]) {
        return Err(shape_err(
            "nll_loss",
            format!("target {t} out of range for {} classes", s[1]),
        ));
    }
    let lp = log_probs.value();
    let n = s[0] as f32;
    let loss: f32 = -targets
        .iter()
        .enumerate()
        .map(|(i, &t)| lp[[i, t]])
        .sum::<f32>()
        / n;
    let targets = targets.to_vec();
    Ok(Var::from_op(
        Tensor::from_elem(vec![], loss),
        vec![log_probs.clone()],
        Box::new(move |g| {
            let scale = g.iter().next().copied().unwrap_or(1.0) / n;
            let mut dx = Tensor::zeros(s.clone());
            for (i, &t) in targets.iter().enumerate() {
                dx[[i, t]] = -scale;
            }
            vec![Some(dx)]
        }),
    ))
}

/// Cross-entropy of raw scores, `nll_loss(log_softmax(x))`.
pub fn cross_entropy(logits: &Var, targets: &[usize]) -> Result<Var, NnError> {
    nll_loss(&log_softmax(logits)?, targets)
}

/// `sum(x * w)` for a constant weight tensor `w`: turns any output into a scalar loss whose
/// gradient is `w` (used by tests to feed an upstream gradient).
pub fn weighted_sum(x: &Var, w: &Tensor) -> Result<Var, NnError> {
    if x.shape() != w.shape() {
        return Err(shape_err(
            "weighted_sum",
            format!("{:?} vs {:?}", x.shape(), w.shape()),
        ));
    }
    let y = (x.value() * w).sum();
    let w = w.clone();
    Ok(Var::from_op(
        Tensor::from_elem(vec![], y),
        vec![x.clone()],
        Box::new(move |g| {
            let s = g.iter().next().copied().unwrap_or(1.0);
            vec![Some(&w * s)]
        }),
    ))
}
