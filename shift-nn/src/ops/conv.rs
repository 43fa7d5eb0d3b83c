//! 2-D convolution as im2col + one GEMM per group over the whole batch.
//!
//! The column matrix has one row per kernel tap and one column per output pixel of every
//! image (`[C*KH*KW, N*OH*OW]`): im2col is a parallel run of contiguous copies, and a single
//! large row-major GEMM per group keeps matrixmultiply's threads busy.

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

    /// Output columns `[ox_start, ox_end)` whose input column `ox*stride + off` lies inside
    /// `[0, w)`, for a kernel column offset `off` (may be negative through padding).
    fn valid_ox(&self, off: isize) -> (usize, usize) {
        let s = self.spec.stride.1 as isize;
        let lo = if off >= 0 { 0 } else { ((-off) + s - 1) / s };
        let hi = if (self.w as isize) <= off {
            0
        } else {
            ((self.w as isize - off + s - 1) / s).min(self.ow as isize)
        };
        (lo as usize, (hi.max(lo)) as usize)
    }

    /// Fills `col [K, N*P]`: row `(c, ky, kx)` holds, for every image and output pixel, the
    /// input value under that kernel tap (0 in the padding). Rows are filled in parallel and
    /// each output row segment is a strided gather, contiguous when the stride is 1.
    fn im2col(&self, x: &[f32], col: &mut [f32]) {
        let g = *self;
        let (p, np) = (g.p(), g.n * g.p());
        col.par_chunks_mut(np).enumerate().for_each(|(k, row)| {
            let (ch, ky, kx) = (k / (g.kh * g.kw), (k / g.kw) % g.kh, k % g.kw);
            let off_x = (kx * g.spec.dilation.1) as isize - g.spec.padding.1 as isize;
            let (ox0, ox1) = g.valid_ox(off_x);
            for n in 0..g.n {
                let plane = &x[(n * g.c + ch) * g.h * g.w..][..g.h * g.w];
                let out = &mut row[n * p..][..p];
                for oy in 0..g.oh {
                    let iy = (oy * g.spec.stride.0 + ky * g.spec.dilation.0) as isize
                        - g.spec.padding.0 as isize;
                    let dst = &mut out[oy * g.ow..][..g.ow];
                    if iy < 0 || iy as usize >= g.h {
                        dst.fill(0.0);
                        continue;
                    }
                    let src = &plane[iy as usize * g.w..][..g.w];
                    dst[..ox0].fill(0.0);
                    dst[ox1..].fill(0.0);
                    let s = g.spec.stride.1;
                    let first = (ox0 as isize * s as isize + off_x) as usize;
                    if s == 1 {
                        dst[ox0..ox1].copy_from_slice(&src[first..first + (ox1 - ox0)]);
                    } else {
                        for (i, d) in dst[ox0..ox1].iter_mut().enumerate() {
                            *d = src[first + i * s];
                        }
                    }
                }
            }
        });
    }

    /// The adjoint of [`Self::im2col`]: adds every column entry back onto its input pixel.
    /// Images are independent, so they are processed in parallel.
    fn col2im(&self, col: &[f32], dx: &mut [f32]) {
        let g = *self;
        let (p, np) = (g.p(), g.n * g.p());
        dx.par_chunks_mut(g.c * g.h * g.w)
            .enumerate()
            .for_each(|(n, dx_n)| {
                for k in 0..g.k() {
                    let (ch, ky, kx) = (k / (g.kh * g.kw), (k / g.kw) % g.kh, k % g.kw);
                    let off_x = (kx * g.spec.dilation.1) as isize - g.spec.padding.1 as isize;
                    let (ox0, ox1) = g.valid_ox(off_x);
                    let row = &col[k * np + n * p..][..p];
                    let plane = &mut dx_n[ch * g.h * g.w..][..g.h * g.w];
                    for oy in 0..g.oh {
                        let iy = (oy * g.spec.stride.0 + ky * g.spec.dilation.0) as isize
                            - g.spec.padding.0 as isize;
                        if iy < 0 || iy as usize >= g.h {
                            continue;
                        }
                        let dst = &mut plane[iy as usize * g.w..][..g.w];
                        let src = &row[oy * g.ow..][..g.ow];
                        let s = g.spec.stride.1;
                        let first = (ox0 as isize * s as isize + off_x) as usize;
                        for i in 0..ox1 - ox0 {
                            dst[first + i * s] += src[ox0 + i];
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
    let (kg, ocg, np) = (k / groups, oc / groups, n * p);
    let xv = x.value().as_standard_layout();
    let wv = weight.value().as_standard_layout();
    let mut col = vec![0.0f32; k * np];
    geo.im2col(xv.as_slice().unwrap(), &mut col);
    // out_t[OC, N*P] = W_g[OC_g, K_g] · col_g[K_g, N*P] per group.
    let mut out_t = vec![0.0f32; oc * np];
    let ws = wv.as_slice().unwrap();
    for g in 0..groups {
        sgemm(
            1.0,
            (ws, Mat::rm(ocg, kg).at(g * ocg * kg)),
            (&col, Mat::rm(kg, np).at(g * kg * np)),
            0.0,
            (&mut out_t, Mat::rm(ocg, np).at(g * ocg * np)),
        );
    }
    let bias_v = bias.map(|b| b.value().as_standard_layout().into_owned());
    let mut y = Array4::<f32>::zeros((n, oc, geo.oh, geo.ow));
    y.as_slice_mut()
        .unwrap()
        .par_chunks_mut(p)
        .enumerate()
        .for_each(|(i, y_np)| {
            let (img, c) = (i / oc, i % oc);
            let b = bias_v.as_ref().map_or(0.0, |b| b.as_slice().unwrap()[c]);
            for (d, s) in y_np.iter_mut().zip(&out_t[c * np + img * p..][..p]) {
                *d = s + b;
            }
        });
    let mut inputs = vec![x.clone(), weight.clone()];
    if let Some(b) = bias {
        inputs.push(b.clone());
    }
    let (need_x, need_w, has_bias) = (x.requires_grad(), weight.requires_grad(), bias.is_some());
    let w_shape = weight.shape().to_vec();
    let w_in = weight.clone();
    let x_shape = x.shape().to_vec();
    Ok(Var::from_op(
        y.into_dyn(),
        inputs,
        Box::new(move |g: &Tensor| {
            let wv = w_in.value().as_standard_layout();
            let g4 = g.view().into_dimensionality::<Ix4>().unwrap();
            let g4 = g4.as_standard_layout();
            let gs = g4.as_slice().unwrap();
            let mut g_t = vec![0.0f32; oc * np];
            g_t.par_chunks_mut(np).enumerate().for_each(|(c, row)| {
                for img in 0..n {
                    row[img * p..][..p].copy_from_slice(&gs[(img * oc + c) * p..][..p]);
                }
            });
            let gw = need_w.then(|| {
                let mut gw = vec![0.0f32; oc * kg];
                for grp in 0..groups {
                    sgemm(
                        1.0,
                        (&g_t, Mat::rm(ocg, np).at(grp * ocg * np)),
                        (&col, Mat::rm(kg, np).at(grp * kg * np).t()),
                        0.0,
                        (&mut gw, Mat::rm(ocg, kg).at(grp * ocg * kg)),
                    );
                }
                Tensor::from_shape_vec(w_shape.clone(), gw).unwrap()
            });
            let gx = need_x.then(|| {
                let mut gcol = vec![0.0f32; k * np];
                for grp in 0..groups {
                    sgemm(
                        1.0,
                        (
                            wv.as_slice().unwrap(),
                            Mat::rm(ocg, kg).at(grp * ocg * kg).t(),
                        ),
                        (&g_t, Mat::rm(ocg, np).at(grp * ocg * np)),
                        0.0,
                        (&mut gcol, Mat::rm(kg, np).at(grp * kg * np)),
                    );
                }
                let mut dx = vec![0.0f32; x_shape.iter().product()];
                geo.col2im(&gcol, &mut dx);
                Tensor::from_shape_vec(x_shape.clone(), dx).unwrap()
            });
            let mut out = vec![gx, gw];
            if has_bias {
                let gb = Array2::from_shape_vec((oc, np), g_t)
                    .unwrap()
                    .sum_axis(Axis(1));
                out.push(Some(gb.into_dyn()));
            }
            out
        }),
    ))
}
