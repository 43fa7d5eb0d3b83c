//! Channel concatenation and ResNet's option-A shortcut (subsample and zero-pad channels).

use ndarray::{s, Axis, Ix4};

use crate::error::{shape_err, NnError};
use crate::tape::Var;

/// `torch.cat(xs, dim=1)` of `[N, C_i, H, W]` tensors.
pub fn concat_channels(xs: &[Var]) -> Result<Var, NnError> {
    let first = xs
        .first()
        .ok_or_else(|| shape_err("concat_channels", "no inputs"))?;
    let s0 = first.shape().to_vec();
    if s0.len() < 2 {
        return Err(shape_err(
            "concat_channels",
            format!("input {s0:?} has no channel axis"),
        ));
    }
    for x in xs {
        let s = x.shape();
        let same_rest = s.len() == s0.len() && s[0] == s0[0] && s[2..] == s0[2..];
        if !same_rest {
            return Err(shape_err(
                "concat_channels",
                format!("{s:?} does not fit {s0:?} outside the channel axis"),
            ));
        }
    }
    let views: Vec<_> = xs.iter().map(|x| x.value().view()).collect();
    let y = ndarray::concatenate(Axis(1), &views).expect("shapes checked");
    let widths: Vec<usize> = xs.iter().map(|x| x.shape()[1]).collect();
    Ok(Var::from_op(
        y,
        xs.to_vec(),
        Box::new(move |g| {
            let mut start = 0;
            widths
                .iter()
                .map(|&c| {
                    let part = g.slice_axis(Axis(1), (start..start + c).into()).to_owned();
                    start += c;
                    Some(part)
                })
                .collect()
        }),
    ))
}

/// The option-A shortcut of the CIFAR ResNets,
/// `F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, pad, pad))`: keeps every other row and column and
/// adds `pad` zero channels on each side.
pub fn zero_pad_shortcut(x: &Var, pad: usize) -> Result<Var, NnError> {
    let xv = x.value().view().into_dimensionality::<Ix4>().map_err(|_| {
        shape_err(
            "zero_pad_shortcut",
            format!("input {:?} is not 4-D", x.shape()),
        )
    })?;
    let (n, c, h, w) = xv.dim();
    let sub = xv.slice(s![.., .., ..;2, ..;2]);
    let (oh, ow) = (h.div_ceil(2), w.div_ceil(2));
    let mut y = ndarray::Array4::<f32>::zeros((n, c + 2 * pad, oh, ow));
    y.slice_mut(s![.., pad..pad + c, .., ..]).assign(&sub);
    Ok(Var::from_op(
        y.into_dyn(),
        vec![x.clone()],
        Box::new(move |g| {
            let g = g.view().into_dimensionality::<Ix4>().unwrap();
            let mut dx = ndarray::Array4::<f32>::zeros((n, c, h, w));
            dx.slice_mut(s![.., .., ..;2, ..;2])
                .assign(&g.slice(s![.., pad..pad + c, .., ..]));
            vec![Some(dx.into_dyn())]
        }),
    ))
}

/// `min(max(x, 0), 6)` (MobileNetV2). The gradient is 1 strictly inside (0, 6), as PyTorch's
/// `hardtanh` backward.
pub fn relu6(x: &Var) -> Var {
    let y = crate::tensor::map(x.value(), |v| v.clamp(0.0, 6.0));
    let x_in = x.clone();
    Var::from_op(
        y,
        vec![x.clone()],
        Box::new(move |g| {
            let inside = |g: f32, x: f32| if x > 0.0 && x < 6.0 { g } else { 0.0 };
            vec![Some(crate::tensor::zip_map(g, x_in.value(), inside))]
        }),
    )
}
