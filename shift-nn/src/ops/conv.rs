//! 2-D convolution as im2col + one GEMM per group over the whole batch.
//!
//! The column matrix has one row per output pixel of every image (`[N*OH*OW, C*KH*KW]`), so
//! each image's rows are contiguous and rayon fills them in parallel, and a single large GEMM
//! per group keeps matrixmultiply's threads busy.

use ndarray::{Array2, Array4, Axis, Ix4};
use rayon::prelude::*;

use super::gemm::{sgemm, Mat};
use crate::error::{shape_err, NnError};
use crate::tape::{Tensor, Var};

/// Convolution geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dSpec {
    /// Stride (rows, columns).
    pub stride: (usize, usize),
    /// Zero padding (rows, columns).
    pub padding: (usize, usize),
    /// Dilation (rows, columns).
    pub dilation: (usize, usize),
    /// Channel groups.
    pub groups: usize,
}

impl Default for Conv2dSpec {
    fn default() -> Self {
        Self {
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
        }
    }
}

#[derive(Clone, Copy)]
struct Geometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    oc: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    spec: Conv2dSpec,
}

impl Geometry {
    fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }

    fn p(&self) -> usize {
        self.oh * self.ow
    }

    /// For each column index of a row: `(channel, dy, dx)` offsets, precomputed once.
    fn im2col(&self, x: &[f32], col: &mut [f32]) {
        let (k, p) = (self.k(), self.p());
        let g = *self;
        col.par_chunks_mut(p * k)
            .zip(x.par_chunks(g.c * g.h * g.w))
            .for_each(|(col_n, x_n)| {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let row = &mut col_n[(oy * g.ow + ox) * k..][..k];
                        let mut idx = 0;
                        for ch in 0..g.c {
                            let plane = &x_n[ch * g.h * g.w..][..g.h * g.w];
                            for ky in 0..g.kh {
                                let iy = (oy * g.spec.stride.0 + ky * g.spec.dilation.0) as isize
                                    - g.spec.padding.0 as isize;
                                for kx in 0..g.kw {
                                    let ix = (ox * g.spec.stride.1 + kx * g.spec.dilation.1)
                                        as isize
                                        - g.spec.padding.1 as isize;
                                    row[idx] = if iy >= 0
                                        && (iy as usize) < g.h
                                        && ix >= 0
                                        && (ix as usize) < g.w
                                    {
                                        plane[iy as usize * g.w + ix as usize]
                                    } else {
                                        0.0
                                    };
                                    idx += 1;
                                }
                            }
                        }
                    }
                }
            });
    }

    fn col2im(&self, col: &[f32], dx: &mut [f32]) {
        let (k, p) = (self.k(), self.p());
        let g = *self;
        dx.par_chunks_mut(g.c * g.h * g.w)
            .zip(col.par_chunks(p * k))
            .for_each(|(dx_n, col_n)| {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let row = &col_n[(oy * g.ow + ox) * k..][..k];
                        let mut idx = 0;
                        for ch in 0..g.c {
                            for ky in 0..g.kh {
                                let iy = (oy * g.spec.stride.0 + ky * g.spec.dilation.0) as isize
                                    - g.spec.padding.0 as isize;
                                for kx in 0..g.kw {
                                    let ix = (ox * g.spec.stride.1 + kx * g.spec.dilation.1)
                                        as isize
                                        - g.spec.padding.1 as isize;
                                    if iy >= 0
                                        && (iy as usize) < g.h
                                        && ix >= 0
                                        && (ix as usize) < g.w
                                    {
                                        dx_n[ch * g.h * g.w + iy as usize * g.w + ix as usize] +=
                                            row[idx];
                                    }
                                    idx += 1;
                                }
                            }
                        }
                    }
                }
            });
    }
}

fn geometry(x: &[usize], w: &[usize], spec: Conv2dSpec) -> Result<Geometry, NnError> {
    let bad = |d: String| shape_err("conv2d", d);
    if x.len() != 4 || w.len() != 4 {
        return Err(bad(format!("input {x:?} and weight {w:?} must be 4-D")));
    }
    let g = spec.groups;
    if g == 0 || x[1] % g != 0 || w[0] % g != 0 || w[1] * g != x[1] {
        return Err(bad(format!(
            "input {x:?}, weight {w:?}, groups {g}: need in_channels = weight[1] * groups"
        )));
    }
    if spec.stride.0 == 0 || spec.stride.1 == 0 || spec.dilation.0 == 0 || spec.dilation.1 == 0 {
        return Err(bad("stride and dilation must be at least 1".into()));
    }
    let span = |k: usize, d: usize| (k - 1) * d + 1;
    let (ph, pw) = (x[2] + 2 * spec.padding.0, x[3] + 2 * spec.padding.1);
    let (sh, sw) = (span(w[2], spec.dilation.0), span(w[3], spec.dilation.1));
    if ph < sh || pw < sw {
        return Err(bad(format!("kernel {w:?} larger than padded input {x:?}")));
    }
    Ok(Geometry {
        n: x[0],
        c: x[1],
        h: x[2],
        w: x[3],
        oc: w[0],
        kh: w[2],
        kw: w[3],
        oh: (ph - sh) / spec.stride.0 + 1,
        ow: (pw - sw) / spec.stride.1 + 1,
        spec,
    })
}

/// `conv2d(x [N,C,H,W], weight [OC, C/groups, KH, KW], bias [OC])`, as `torch.nn.functional.conv2d`.
pub fn conv2d(x: &Var, weight: &Var, bias: Option<&Var>, spec: Conv2dSpec) -> Result<Var, NnError> {
    let geo = geometry(x.shape(), weight.shape(), spec)?;
    if let Some(b) = bias {
        if b.shape() != [geo.oc] {
            return Err(shape_err(
                "conv2d",
                format!("bias {:?}, expected [{}]", b.shape(), geo.oc),
            ));
        }
    }
    let (n, p, k, oc, groups) = (geo.n, geo.p(), geo.k(), geo.oc, spec.groups);
    let (kg, ocg) = (k / groups, oc / groups);
    let xv = x.value().as_standard_layout().into_owned();
    let wv = weight.value().as_standard_layout().into_owned();
    let mut col = vec![0.0f32; n * p * k];
    geo.im2col(xv.as_slice().unwrap(), &mut col);
    // out_t[N*P, OC] = col[N*P, K_g] · W_gᵀ per group.
    let mut out_t = vec![0.0f32; n * p * oc];
    let ws = wv.as_slice().unwrap();
    for g in 0..groups {
        sgemm(
            1.0,
            (
                &col,
                Mat {
                    rows: n * p,
                    cols: kg,
                    rs: k as isize,
                    cs: 1,
                    offset: g * kg,
                },
            ),
            (ws, Mat::rm(ocg, kg).at(g * ocg * kg).t()),
            0.0,
            (
                &mut out_t,
                Mat {
                    rows: n * p,
                    cols: ocg,
                    rs: oc as isize,
                    cs: 1,
                    offset: g * ocg,
                },
            ),
        );
    }
    let bias_v = bias.map(|b| b.value().as_standard_layout().into_owned());
    let mut y = Array4::<f32>::zeros((n, oc, geo.oh, geo.ow));
    y.as_slice_mut()
        .unwrap()
        .par_chunks_mut(oc * p)
        .zip(out_t.par_chunks(p * oc))
        .for_each(|(y_n, t_n)| {
            for c in 0..oc {
                let b = bias_v.as_ref().map_or(0.0, |b| b.as_slice().unwrap()[c]);
                for q in 0..p {
                    y_n[c * p + q] = t_n[q * oc + c] + b;
                }
            }
        });
    let mut inputs = vec![x.clone(), weight.clone()];
    if let Some(b) = bias {
        inputs.push(b.clone());
    }
    let (need_x, need_w, has_bias) = (x.requires_grad(), weight.requires_grad(), bias.is_some());
    let w_shape = weight.shape().to_vec();
    let x_shape = x.shape().to_vec();
    Ok(Var::from_op(
        y.into_dyn(),
        inputs,
        Box::new(move |g: &Tensor| {
            let g4 = g.view().into_dimensionality::<Ix4>().unwrap();
            let g4 = g4.as_standard_layout();
            let gs = g4.as_slice().unwrap();
            let mut g_t = vec![0.0f32; n * p * oc];
            g_t.par_chunks_mut(p * oc)
                .zip(gs.par_chunks(oc * p))
                .for_each(|(t_n, g_n)| {
                    for c in 0..oc {
                        for q in 0..p {
                            t_n[q * oc + c] = g_n[c * p + q];
                        }
                    }
                });
            let gw = need_w.then(|| {
                let mut gw = vec![0.0f32; oc * kg];
                for grp in 0..groups {
                    sgemm(
                        1.0,
                        (
                            &g_t,
                            Mat {
                                rows: n * p,
                                cols: ocg,
                                rs: oc as isize,
                                cs: 1,
                                offset: grp * ocg,
                            }
                            .t(),
                        ),
                        (
                            &col,
                            Mat {
                                rows: n * p,
                                cols: kg,
                                rs: k as isize,
                                cs: 1,
                                offset: grp * kg,
                            },
                        ),
                        0.0,
                        (&mut gw, Mat::rm(ocg, kg).at(grp * ocg * kg)),
                    );
                }
                Tensor::from_shape_vec(w_shape.clone(), gw).unwrap()
            });
            let gx = need_x.then(|| {
                let mut gcol = vec![0.0f32; n * p * k];
                for grp in 0..groups {
                    sgemm(
                        1.0,
                        (
                            &g_t,
                            Mat {
                                rows: n * p,
                                cols: ocg,
                                rs: oc as isize,
                                cs: 1,
                                offset: grp * ocg,
                            },
                        ),
                        (wv.as_slice().unwrap(), Mat::rm(ocg, kg).at(grp * ocg * kg)),
                        0.0,
                        (
                            &mut gcol,
                            Mat {
                                rows: n * p,
                                cols: kg,
                                rs: k as isize,
                                cs: 1,
                                offset: grp * kg,
                            },
                        ),
                    );
                }
                let mut dx = vec![0.0f32; x_shape.iter().product()];
                geo.col2im(&gcol, &mut dx);
                Tensor::from_shape_vec(x_shape.clone(), dx).unwrap()
            });
            let mut out = vec![gx, gw];
            if has_bias {
                let gb = Array2::from_shape_vec((n * p, oc), g_t)
                    .unwrap()
                    .sum_axis(Axis(0));
                out.push(Some(gb.into_dyn()));
            }
            out
        }),
    ))
}
