//! Average, adaptive average and max pooling over `[N, C, H, W]`.
//!
//! Each pooling is described by the input window of every output row and column (clipped to
//! the input), so one pair of loops serves fixed and adaptive windows alike; rayon runs over
//! the `N * C` planes.

use rayon::prelude::*;

use crate::error::{shape_err, NnError};
use crate::tape::Var;
use crate::tensor::Tensor;

/// Input ranges `[start, end)` of each output position along one axis.
type Windows = Vec<(usize, usize)>;

fn dims4(op: &'static str, x: &Var) -> Result<(usize, usize, usize, usize), NnError> {
    match *x.shape() {
        [n, c, h, w] => Ok((n, c, h, w)),
        ref s => Err(shape_err(op, format!("input {s:?} is not 4-D"))),
    }
}

/// Windows of a `kernel`/`stride`/`padding` pooling along an axis of length `len` (callers
/// check `len + 2 * padding >= kernel`).
fn fixed_windows(len: usize, kernel: usize, stride: usize, padding: usize) -> Windows {
    windows(len, kernel, stride, padding, false)
}

/// As [`fixed_windows`], with `ceil_mode` rounding the output length up as PyTorch's
/// `pooling_output_shape` does: a last, partial window is added, unless it would start in
/// the right padding. Empty when not even one window fits (ceil mode needs
/// `len + 2 * padding + stride - 1 >= kernel`).
fn windows(len: usize, kernel: usize, stride: usize, padding: usize, ceil_mode: bool) -> Windows {
    let round_up = if ceil_mode { stride - 1 } else { 0 };
    let Some(span) = (len + 2 * padding + round_up).checked_sub(kernel) else {
        return Vec::new();
    };
    let mut out = span / stride + 1;
    if ceil_mode && (out - 1) * stride >= len + padding {
        out -= 1;
    }
    (0..out)
        .map(|o| {
            let start = (o * stride) as isize - padding as isize;
            let end = (start + kernel as isize).min(len as isize);
            (start.max(0) as usize, end.max(0) as usize)
        })
        .collect()
}

/// PyTorch's adaptive windows: `[floor(i * len / out), ceil((i + 1) * len / out))`.
fn adaptive_windows(len: usize, out: usize) -> Windows {
    (0..out)
        .map(|i| ((i * len) / out, ((i + 1) * len).div_ceil(out)))
        .collect()
}

fn contiguous(x: &Var) -> Vec<f32> {
    x.value()
        .as_standard_layout()
        .into_owned()
        .into_raw_vec_and_offset()
        .0
}

/// Mean over each window (the window's own area is the divisor: no padding is counted).
fn avg_pool(x: &Var, rows: Windows, cols: Windows) -> Result<Var, NnError> {
    let (n, c, h, w) = dims4("avg_pool2d", x)?;
    let (oh, ow) = (rows.len(), cols.len());
    let xs = contiguous(x);
    let mut y = vec![0.0f32; n * c * oh * ow];
    y.par_chunks_mut((oh * ow).max(1))
        .zip(xs.par_chunks((h * w).max(1)))
        .for_each(|(yp, xp)| {
            for (oy, &(r0, r1)) in rows.iter().enumerate() {
                for (ox, &(c0, c1)) in cols.iter().enumerate() {
                    let mut sum = 0.0f32;
                    for r in r0..r1 {
                        sum += xp[r * w + c0..r * w + c1].iter().sum::<f32>();
                    }
                    let area = ((r1 - r0) * (c1 - c0)).max(1) as f32;
                    yp[oy * ow + ox] = sum / area;
                }
            }
        });
    let y = Tensor::from_shape_vec(vec![n, c, oh, ow], y).expect("shape");
    Ok(Var::from_op(
        y,
        vec![x.clone()],
        Box::new(move |g| {
            let g = g.as_standard_layout();
            let gs = g.as_slice().expect("standard layout");
            let mut dx = vec![0.0f32; n * c * h * w];
            dx.par_chunks_mut((h * w).max(1))
                .zip(gs.par_chunks((oh * ow).max(1)))
                .for_each(|(dp, gp)| {
                    for (oy, &(r0, r1)) in rows.iter().enumerate() {
                        for (ox, &(c0, c1)) in cols.iter().enumerate() {
                            let area = ((r1 - r0) * (c1 - c0)).max(1) as f32;
                            let v = gp[oy * ow + ox] / area;
                            for r in r0..r1 {
                                dp[r * w + c0..r * w + c1].iter_mut().for_each(|d| *d += v);
                            }
                        }
                    }
                });
            vec![Some(Tensor::from_shape_vec(vec![n, c, h, w], dx).unwrap())]
        }),
    ))
}

/// `F.avg_pool2d(x, kernel, stride)` without padding.
pub fn avg_pool2d(x: &Var, kernel: usize, stride: usize) -> Result<Var, NnError> {
    let (_, _, h, w) = dims4("avg_pool2d", x)?;
    if kernel == 0 || stride == 0 || h < kernel || w < kernel {
        return Err(shape_err(
            "avg_pool2d",
            format!("input {:?}, kernel {kernel}, stride {stride}", x.shape()),
        ));
    }
    avg_pool(
        x,
        fixed_windows(h, kernel, stride, 0),
        fixed_windows(w, kernel, stride, 0),
    )
}

/// `F.adaptive_avg_pool2d(x, (out_h, out_w))`.
pub fn adaptive_avg_pool2d(x: &Var, out_h: usize, out_w: usize) -> Result<Var, NnError> {
    let (_, _, h, w) = dims4("adaptive_avg_pool2d", x)?;
    if out_h == 0 || out_w == 0 || h == 0 || w == 0 {
        return Err(shape_err(
            "adaptive_avg_pool2d",
            format!("input {:?} to {out_h}x{out_w}", x.shape()),
        ));
    }
    avg_pool(x, adaptive_windows(h, out_h), adaptive_windows(w, out_w))
}

/// `F.max_pool2d(x, kernel, stride, padding)`: padded positions never win (PyTorch pads with
/// negative infinity), so `padding` may be at most `kernel / 2`. The first maximum of a
/// window (row-major) takes the gradient; NaN propagates.
pub fn max_pool2d(x: &Var, kernel: usize, stride: usize, padding: usize) -> Result<Var, NnError> {
    max_pool(x, kernel, stride, padding, false)
}

/// `F.max_pool2d(x, kernel, stride, padding, ceil_mode=True)` (GoogLeNet): the output length
/// is rounded up, so a last window may hang over the input's end and pools what it covers.
/// Otherwise as [`max_pool2d`].
pub fn max_pool2d_ceil(
    x: &Var,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> Result<Var, NnError> {
    max_pool(x, kernel, stride, padding, true)
}

fn max_pool(
    x: &Var,
    kernel: usize,
    stride: usize,
    padding: usize,
    ceil_mode: bool,
) -> Result<Var, NnError> {
    let (n, c, h, w) = dims4("max_pool2d", x)?;
    let valid = kernel > 0 && stride > 0 && 2 * padding <= kernel;
    let (rows, cols) = if valid {
        (
            windows(h, kernel, stride, padding, ceil_mode),
            windows(w, kernel, stride, padding, ceil_mode),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    if rows.is_empty() || cols.is_empty() {
        return Err(shape_err(
            "max_pool2d",
            format!(
                "input {:?}, kernel {kernel}, stride {stride}, padding {padding}",
                x.shape()
            ),
        ));
    }
    let (oh, ow) = (rows.len(), cols.len());
    let xv = x.value().as_standard_layout();
    let xs = xv.as_slice().expect("standard layout");
    let mut y = vec![0.0f32; n * c * oh * ow];
    let mut arg = vec![0u32; n * c * oh * ow];
    y.par_chunks_mut((oh * ow).max(1))
        .zip(arg.par_chunks_mut((oh * ow).max(1)))
        .zip(xs.par_chunks((h * w).max(1)))
        .for_each(|((yp, ap), xp)| {
            for (oy, &(r0, r1)) in rows.iter().enumerate() {
                for (ox, &(c0, c1)) in cols.iter().enumerate() {
                    let mut best = f32::NEG_INFINITY;
                    let mut best_i = r0 * w + c0;
                    for r in r0..r1 {
                        for col in c0..c1 {
                            let i = r * w + col;
                            // NaN propagates, as in PyTorch.
                            if xp[i] > best || xp[i].is_nan() {
                                best = xp[i];
                                best_i = i;
                            }
                        }
                    }
                    yp[oy * ow + ox] = best;
                    ap[oy * ow + ox] = best_i as u32;
                }
            }
        });
    let y = Tensor::from_shape_vec(vec![n, c, oh, ow], y).expect("shape");
    Ok(Var::from_op(
        y,
        vec![x.clone()],
        Box::new(move |g| {
            let g = g.as_standard_layout();
            let gs = g.as_slice().expect("standard layout");
            let mut dx = vec![0.0f32; n * c * h * w];
            dx.par_chunks_mut((h * w).max(1))
                .zip(gs.par_chunks((oh * ow).max(1)))
                .zip(arg.par_chunks((oh * ow).max(1)))
                .for_each(|((dp, gp), ap)| {
                    for (gv, &i) in gp.iter().zip(ap) {
                        dp[i as usize] += gv;
                    }
                });
            vec![Some(Tensor::from_shape_vec(vec![n, c, h, w], dx).unwrap())]
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_windows_match_pytorch() {
        // PyTorch: 5 -> 3 gives [0,2), [1,4), [3,5).
        assert_eq!(adaptive_windows(5, 3), vec![(0, 2), (1, 4), (3, 5)]);
        // 1 -> 7 replicates the single input (torchvision VGG on small images).
        assert_eq!(adaptive_windows(1, 7), vec![(0, 1); 7]);
    }

    #[test]
    fn ceil_mode_windows_match_pytorch() {
        // GoogLeNet's maxpool1: 3x3, stride 2 on 112 gives 56 (floor mode: 55); the last
        // window starts at 110 and covers what is left.
        let w = windows(112, 3, 2, 0, true);
        assert_eq!(w.len(), 56);
        assert_eq!(w[55], (110, 112));
        assert_eq!(fixed_windows(112, 3, 2, 0).len(), 55);
        // maxpool4: 2x2, stride 2 on 14 divides evenly, so nothing is added.
        assert_eq!(windows(14, 2, 2, 0, true).len(), 7);
        // 3, kernel 2, stride 2, padding 1: ceil(3 / 2) + 1 = 3 windows would start at -1,
        // 1 and 3, but index 3 is the right padding ((3 - 1) * 2 >= len + padding), so
        // PyTorch drops that one.
        assert_eq!(windows(3, 2, 2, 1, true), vec![(0, 1), (1, 3)]);
        // 4, kernel 3, stride 2, padding 1: the third window starts at 3, inside the input.
        assert_eq!(windows(4, 3, 2, 1, true), vec![(0, 2), (1, 4), (3, 4)]);
        // Ceil mode accepts an input shorter than the kernel when one window starts inside
        // it (GoogLeNet at its minimum size 15 pools 2 pixels with a 3x3 kernel)...
        assert_eq!(windows(2, 3, 2, 0, true), vec![(0, 2)]);
        // ... but not one where even that window is missing, and floor mode needs the kernel.
        assert!(windows(1, 3, 2, 0, true).is_empty());
        assert!(windows(2, 3, 2, 0, false).is_empty());
    }

    #[test]
    fn padded_windows_are_clipped() {
        // ResNet stem: 3x3, stride 2, padding 1 on 112 -> 56 outputs.
        let w = fixed_windows(112, 3, 2, 1);
        assert_eq!(w.len(), 56);
        assert_eq!(w[0], (0, 2));
        assert_eq!(w[55], (109, 112));
    }
}
