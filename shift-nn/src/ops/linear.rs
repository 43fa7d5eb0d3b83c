//! Fully connected layer: `y = x · Wᵀ + b`.

use ndarray::{Axis, Ix2};

use super::gemm::{sgemm_par as sgemm, Mat};
use crate::error::{shape_err, NnError};
use crate::tape::Var;
use crate::tensor::Tensor;

/// `x [N, in] · weight[out, in]ᵀ + bias[out]`.
pub fn linear(x: &Var, weight: &Var, bias: Option<&Var>) -> Result<Var, NnError> {
    let (xs, ws) = (x.shape().to_vec(), weight.shape().to_vec());
    if xs.len() != 2 || ws.len() != 2 || xs[1] != ws[1] {
        return Err(shape_err("linear", format!("input {xs:?}, weight {ws:?}")));
    }
    let (n, inf, outf) = (xs[0], xs[1], ws[0]);
    if let Some(b) = bias {
        if b.shape() != [outf] {
            return Err(shape_err(
                "linear",
                format!("bias {:?}, expected [{outf}]", b.shape()),
            ));
        }
    }
    let xv = x.value().as_standard_layout();
    let wv = weight.value().as_standard_layout();
    let mut y = match bias {
        Some(b) => b
            .value()
            .view()
            .insert_axis(Axis(0))
            .broadcast((n, outf))
            .unwrap()
            .to_owned(),
        None => ndarray::Array2::zeros((n, outf)),
    };
    let beta = if bias.is_some() { 1.0 } else { 0.0 };
    sgemm(
        1.0,
        (xv.as_slice().unwrap(), Mat::rm(n, inf)),
        (wv.as_slice().unwrap(), Mat::rm(outf, inf).t()),
        beta,
        (y.as_slice_mut().unwrap(), Mat::rm(n, outf)),
    );
    let mut inputs = vec![x.clone(), weight.clone()];
    if let Some(b) = bias {
        inputs.push(b.clone());
    }
    let (need_x, need_w) = (x.requires_grad(), weight.requires_grad());
    let has_bias = bias.is_some();
    drop((xv, wv));
    // The backward pass reads the inputs through their (reference-counted) graph nodes
    // instead of copies.
    let (x_in, w_in) = (x.clone(), weight.clone());
    Ok(Var::from_op(
        y.into_dyn(),
        inputs,
        Box::new(move |g: &Tensor| {
            let xv = x_in.value().as_standard_layout();
            let wv = w_in.value().as_standard_layout();
            let g = g.view().into_dimensionality::<Ix2>().unwrap();
            let g = g.as_standard_layout();
            let gs = g.as_slice().unwrap();
            let gx = need_x.then(|| {
                let mut gx = ndarray::Array2::<f32>::zeros((n, inf));
                sgemm(
                    1.0,
                    (gs, Mat::rm(n, outf)),
                    (wv.as_slice().unwrap(), Mat::rm(outf, inf)),
                    0.0,
                    (gx.as_slice_mut().unwrap(), Mat::rm(n, inf)),
                );
                gx.into_dyn()
            });
            let gw = need_w.then(|| {
                let mut gw = ndarray::Array2::<f32>::zeros((outf, inf));
                sgemm(
                    1.0,
                    (gs, Mat::rm(n, outf).t()),
                    (xv.as_slice().unwrap(), Mat::rm(n, inf)),
                    0.0,
                    (gw.as_slice_mut().unwrap(), Mat::rm(outf, inf)),
                );
                gw.into_dyn()
            });
            let mut out = vec![gx, gw];
            if has_bias {
                out.push(Some(g.sum_axis(Axis(0)).into_dyn()));
            }
            out
        }),
    ))
}
