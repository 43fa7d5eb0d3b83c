//! Depthwise convolution (one group per channel, one output channel per group: MobileNetV2's
//! and EfficientNet's 3x3 and 5x5 layers), computed directly on the planes.
//!
//! Through im2col and a GEMM per group, each output pixel cost a column of `KH*KW` copied
//! values and a one-row GEMM padded to the micro-kernel's eight rows. Here every output row is
//! a sum of shifted input rows scaled by one weight each, vectorised along the row.
//!
//! Summation orders are fixed by the geometry alone: an output is its taps in `(ky, kx)`
//! order, then the bias; an input gradient element its contributions in `(ky, kx, oy)` order;
//! a weight gradient is [`LANES`] partial sums over the batch's pixels in a fixed pattern
//! (images in order, lane = output column mod [`LANES`]), added lane by lane at the end.
//! Channels run in parallel, each on one thread, so no result depends on the thread count.

use rayon::prelude::*;

use super::Geometry;

/// Partial sums per weight-gradient tap (one AVX-512 register of `f32`).
const LANES: usize = 16;

impl Geometry {
    /// Whether the convolution is depthwise with one output channel per input channel.
    pub(super) fn is_depthwise(&self) -> bool {
        self.spec.groups > 1 && self.spec.groups == self.c && self.oc == self.c
    }

    /// Per kernel column `kx`, the output columns `lo..hi` whose input column is inside the
    /// image, and the input column of `lo`: computed once per call, not per row.
    fn column_ranges(&self) -> Vec<ColumnRange> {
        (0..self.kw)
            .map(|kx| {
                let off = (kx * self.spec.dilation.1) as isize - self.spec.padding.1 as isize;
                let (lo, hi) = self.valid_ox(off);
                let first = if lo < hi {
                    (lo as isize * self.spec.stride.1 as isize + off) as usize
                } else {
                    0
                };
                ColumnRange { lo, hi, first }
            })
            .collect()
    }

    /// The input row under output row `oy` and kernel row `ky`, if inside the image.
    fn input_row(&self, oy: usize, ky: usize) -> Option<usize> {
        let s = self.spec;
        let iy = (oy * s.stride.0 + ky * s.dilation.0) as isize - s.padding.0 as isize;
        (iy >= 0 && (iy as usize) < self.h).then_some(iy as usize)
    }
}

/// See [`Geometry::column_ranges`].
#[derive(Clone, Copy)]
struct ColumnRange {
    lo: usize,
    hi: usize,
    first: usize,
}

/// `out[r.lo..r.hi] += wv * row[r.first..]` with the row read `stride` apart.
fn add_scaled_row(out: &mut [f32], row: &[f32], wv: f32, r: ColumnRange, stride: usize) {
    let out = &mut out[r.lo..r.hi];
    if stride == 1 {
        let n = out.len();
        for (o, v) in out.iter_mut().zip(&row[r.first..r.first + n]) {
            *o += wv * v;
        }
    } else {
        for (o, v) in out.iter_mut().zip(row[r.first..].iter().step_by(stride)) {
            *o += wv * v;
        }
    }
}

/// The forward pass: `y [N, C, OH, OW]`.
pub(super) fn forward(geo: &Geometry, xs: &[f32], ws: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let (hw, p, kk) = (geo.h * geo.w, geo.p(), geo.kh * geo.kw);
    let ranges = geo.column_ranges();
    let sx = geo.spec.stride.1;
    crate::tensor::par_build(geo.n * geo.c * p, p, |plane, y| {
        let c = plane % geo.c;
        let x = &xs[plane * hw..][..hw];
        let w = &ws[c * kk..][..kk];
        for (oy, out) in y.chunks_exact_mut(geo.ow).enumerate() {
            for ky in 0..geo.kh {
                let Some(iy) = geo.input_row(oy, ky) else {
                    continue;
                };
                let row = &x[iy * geo.w..][..geo.w];
                for (kx, r) in ranges.iter().enumerate() {
                    add_scaled_row(out, row, w[ky * geo.kw + kx], *r, sx);
                }
            }
            if let Some(b) = bias {
                out.iter_mut().for_each(|v| *v += b[c]);
            }
        }
    })
}

/// The backward pass: `(dL/dx, dL/dweight)`, each when asked for.
pub(super) fn backward(
    geo: &Geometry,
    xs: &[f32],
    ws: &[f32],
    gs: &[f32],
    need_x: bool,
    need_w: bool,
) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
    let (hw, p, kk) = (geo.h * geo.w, geo.p(), geo.kh * geo.kw);
    let ranges = geo.column_ranges();
    let sx = geo.spec.stride.1;
    let dx = need_x.then(|| {
        crate::tensor::par_build(geo.n * geo.c * hw, hw, |plane, dx| {
            let c = plane % geo.c;
            let g = &gs[plane * p..][..p];
            let w = &ws[c * kk..][..kk];
            for ky in 0..geo.kh {
                for (kx, r) in ranges.iter().enumerate() {
                    let wv = w[ky * geo.kw + kx];
                    if r.lo == r.hi {
                        continue;
                    }
                    for (oy, g_row) in g.chunks_exact(geo.ow).enumerate() {
                        let Some(iy) = geo.input_row(oy, ky) else {
                            continue;
                        };
                        let row = &mut dx[iy * geo.w..][..geo.w];
                        let src = &g_row[r.lo..r.hi];
                        if sx == 1 {
                            for (d, v) in row[r.first..].iter_mut().zip(src) {
                                *d += wv * v;
                            }
                        } else {
                            for (d, v) in row[r.first..].iter_mut().step_by(sx).zip(src) {
                                *d += wv * v;
                            }
                        }
                    }
                }
            }
        })
    });
    let dw = need_w.then(|| {
        let per_channel: Vec<Vec<f32>> = (0..geo.c)
            .into_par_iter()
            .map(|c| {
                let mut lanes = vec![[0.0f32; LANES]; kk];
                for img in 0..geo.n {
                    let plane = img * geo.c + c;
                    let (x, g) = (&xs[plane * hw..][..hw], &gs[plane * p..][..p]);
                    for (oy, g_row) in g.chunks_exact(geo.ow).enumerate() {
                        for ky in 0..geo.kh {
                            let Some(iy) = geo.input_row(oy, ky) else {
                                continue;
                            };
                            let row = &x[iy * geo.w..][..geo.w];
                            for (kx, r) in ranges.iter().enumerate() {
                                let acc = &mut lanes[ky * geo.kw + kx];
                                add_products(acc, g_row, row, *r, sx);
                            }
                        }
                    }
                }
                lanes.iter().map(|l| l.iter().sum()).collect()
            })
            .collect();
        per_channel.concat()
    });
    (dx, dw)
}

/// `acc[i % LANES] += g[ox] * row[first + i*stride]` over the valid output columns
/// `ox = lo + i` (with stride 1, whole lane blocks that vectorise).
fn add_products(acc: &mut [f32; LANES], g: &[f32], row: &[f32], r: ColumnRange, stride: usize) {
    let g = &g[r.lo..r.hi];
    if stride == 1 {
        let x = &row[r.first..r.first + g.len()];
        let (gc, xc) = (g.chunks_exact(LANES), x.chunks_exact(LANES));
        let (gr, xr) = (gc.remainder(), xc.remainder());
        for (gb, xb) in gc.zip(xc) {
            for l in 0..LANES {
                acc[l] += gb[l] * xb[l];
            }
        }
        for (l, (gv, xv)) in gr.iter().zip(xr).enumerate() {
            acc[l] += gv * xv;
        }
    } else {
        for (i, (gv, xv)) in g
            .iter()
            .zip(row[r.first..].iter().step_by(stride))
            .enumerate()
        {
            acc[i % LANES] += gv * xv;
        }
    }
}
