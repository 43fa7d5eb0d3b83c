//! 2-D convolution as a GEMM over implicit im2col columns, images in parallel.
//!
//! The column matrix (`[C*KH*KW, images*OH*OW]`, one row per kernel tap) is never built: the
//! GEMM of [`super::sgemm`] asks for it panel by panel, and [`panels`] writes each panel from
//! the input directly (for the weight gradient, transposed). The forward GEMM writes the
//! `[OC, OH*OW]` output of every image in NCHW order with the bias. With stride 1 the input
//! gradient is a forward convolution too (flipped weight); other strides multiply into a column
//! gradient and fold it back (col2im). Depthwise convolutions skip the GEMM ([`depthwise`]).
//! Each rayon task owns a fixed chunk of images and runs single-threaded GEMMs, so there is one
//! thread pool, no oversubscription, and no result depends on the thread count.

use std::cell::RefCell;
use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::gemm::Mat;
use super::sgemm::{gemm, Level, OutLayout, PackedA, Store};
use crate::error::{shape_err, NnError};
use crate::tape::Var;
use crate::tensor::Tensor;
use panels::Tap;

/// The geometry of a convolution op: stride, padding, dilation and groups (the layer's
/// [`crate::Conv2dSpec`] adds the channels, the kernel and the bias). The default is
/// PyTorch's: stride 1, no padding, dilation 1, one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dGeometry {
    /// Stride (rows, columns).
    pub stride: (usize, usize),
    /// Zero padding (rows, columns).
    pub padding: (usize, usize),
    /// Dilation (rows, columns).
    pub dilation: (usize, usize),
    /// Channel groups.
    pub groups: usize,
}

impl Default for Conv2dGeometry {
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
    spec: Conv2dGeometry,
}

impl Geometry {
    fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }

    fn p(&self) -> usize {
        self.oh * self.ow
    }

    /// Output columns `[ox_start, ox_end)` whose input column `ox*stride + off` lies inside
    /// `[0, w)`, for a kernel column offset `off` (may be negative through padding). Both
    /// ends stay within `[0, ow]`: a padding wider than the output (a 5x5 kernel with
    /// padding 2 on a 1-pixel-wide input, as EfficientNet's last stages at CIFAR size) can
    /// leave a tap with no valid column at all.
    fn valid_ox(&self, off: isize) -> (usize, usize) {
        let s = self.spec.stride.1 as isize;
        let lo = if off >= 0 { 0 } else { ((-off) + s - 1) / s };
        let lo = lo.min(self.ow as isize);
        let hi = if (self.w as isize) <= off {
            0
        } else {
            ((self.w as isize - off + s - 1) / s).min(self.ow as isize)
        };
        (lo as usize, (hi.max(lo)) as usize)
    }

    /// Whether the column matrix of one image is the image itself (1x1 kernel, stride 1, no
    /// padding): then im2col and col2im are skipped.
    fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.spec.stride == (1, 1) && self.spec.padding == (0, 0)
    }

    /// Fills one image's columns of a column matrix: row `(c, ky, kx)` of `col` (rows
    /// `stride` apart, this image's `P` columns from `offset`) holds, for every output pixel,
    /// the input value of `x [C, H, W]` under that kernel tap (0 in the padding). Each row
    /// segment is a strided gather, a plain copy when the stride is 1. The convolution packs
    /// its GEMM panels directly ([`Self::pack_columns`], [`Self::pack_taps`]); this whole
    /// matrix is the tests' reference.
    #[cfg(test)]
    fn im2col(&self, x: &[f32], col: &mut [f32], stride: usize, offset: usize) {
        let g = *self;
        let p = g.p();
        for k in 0..g.k() {
            let row = &mut col[k * stride + offset..][..p];
            let (ch, ky, kx) = (k / (g.kh * g.kw), (k / g.kw) % g.kh, k % g.kw);
            let off_x = (kx * g.spec.dilation.1) as isize - g.spec.padding.1 as isize;
            let (ox0, ox1) = g.valid_ox(off_x);
            if ox0 == ox1 {
                // The tap reads only padding.
                row.fill(0.0);
                continue;
            }
            let plane = &x[ch * g.h * g.w..][..g.h * g.w];
            for oy in 0..g.oh {
                let iy = (oy * g.spec.stride.0 + ky * g.spec.dilation.0) as isize
                    - g.spec.padding.0 as isize;
                let dst = &mut row[oy * g.ow..][..g.ow];
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
    }

    /// The adjoint of im2col (the column matrix of [`panels`]): adds every entry of one image's columns of `col`
    /// onto its input pixel of `dx [C, H, W]`.
    fn col2im(&self, col: &[f32], stride: usize, offset: usize, dx: &mut [f32]) {
        let g = *self;
        let p = g.p();
        for k in 0..g.k() {
            let row = &col[k * stride + offset..][..p];
            let (ch, ky, kx) = (k / (g.kh * g.kw), (k / g.kw) % g.kh, k % g.kw);
            let off_x = (kx * g.spec.dilation.1) as isize - g.spec.padding.1 as isize;
            let (ox0, ox1) = g.valid_ox(off_x);
            if ox0 == ox1 {
                continue;
            }
            let plane = &mut dx[ch * g.h * g.w..][..g.h * g.w];
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
                if s == 1 {
                    let dst = &mut dst[first..first + (ox1 - ox0)];
                    for (d, v) in dst.iter_mut().zip(&src[ox0..ox1]) {
                        *d += v;
                    }
                } else {
                    for i in 0..ox1 - ox0 {
                        dst[first + i * s] += src[ox0 + i];
                    }
                }
            }
        }
    }

    /// With stride 1, the input gradient is itself a convolution: of the output gradient with
    /// the weight flipped and transposed within each group, padded by `(k-1)*dilation -
    /// padding`. Run as [`forward`], it needs neither a column-gradient matrix nor col2im.
    /// Returns that convolution's geometry and weight, or `None` where it does not apply
    /// (strides above 1, or a padding wider than the dilated kernel) or does not pay: a
    /// pointwise convolution's column gradient is its input gradient already, and the
    /// direct GEMM measured 5-10 % faster there; and a convolution whose input is larger
    /// than its output (less padding than `k - 1`, as MNIST's 5x5 "valid" layers) would do
    /// `h w / (oh ow)` times the column GEMM's multiply-adds (2.25x for 12x12 -> 8x8: its
    /// train step 16 -> 19 ms).
    fn input_gradient_as_conv(&self, ws: &[f32]) -> Option<(Geometry, Vec<f32>)> {
        let s = self.spec;
        let pad = |k: usize, d: usize, p: usize| ((k - 1) * d).checked_sub(p);
        let (ph, pw) = (
            pad(self.kh, s.dilation.0, s.padding.0)?,
            pad(self.kw, s.dilation.1, s.padding.1)?,
        );
        if s.stride != (1, 1) || self.is_pointwise() || self.h * self.w > self.oh * self.ow {
            return None;
        }
        let (cg, ocg, kk) = (self.c / s.groups, self.oc / s.groups, self.kh * self.kw);
        let spec = Conv2dGeometry {
            padding: (ph, pw),
            ..s
        };
        let t_geo = geometry(
            &[self.n, self.oc, self.oh, self.ow],
            &[self.c, ocg, self.kh, self.kw],
            spec,
        )
        .ok()?;
        debug_assert_eq!((t_geo.oh, t_geo.ow), (self.h, self.w));
        let mut w_t = vec![0.0f32; self.c * ocg * kk];
        for g in 0..s.groups {
            for o in 0..ocg {
                for c in 0..cg {
                    let src = &ws[((g * ocg + o) * cg + c) * kk..][..kk];
                    let dst = &mut w_t[((g * cg + c) * ocg + o) * kk..][..kk];
                    dst.iter_mut()
                        .zip(src.iter().rev())
                        .for_each(|(d, v)| *d = *v);
                }
            }
        }
        Some((t_geo, w_t))
    }

    /// Images per parallel task. The split depends only on the batch size, never on the
    /// thread count, so the weight gradient (summed per chunk, then over chunks in order) is
    /// the same on every run.
    fn images_per_chunk(&self) -> usize {
        self.n.div_ceil(MAX_CHUNKS).max(1)
    }

    /// Images multiplied together in one GEMM: enough columns that packing the weight, once
    /// per GEMM, is amortised when the output planes are small.
    fn images_per_tile(&self) -> usize {
        (GEMM_COLUMNS / self.p().max(1)).clamp(1, self.images_per_chunk())
    }
}

/// Target output columns of one GEMM.
const GEMM_COLUMNS: usize = 512;

/// At most this many partial weight gradients are summed: enough tasks to balance the
/// threads of a small machine, few enough that the partial sums stay small.
const MAX_CHUNKS: usize = 8;

thread_local! {
    /// Each worker thread's column, column-gradient and staging buffers, kept between calls:
    /// allocating them per call zeroed (and, for fresh pages, faulted in) up to a few MB per
    /// convolution, about a tenth of a ResNet-20 step.
    static SCRATCH: RefCell<[Vec<f32>; 4]> = const { RefCell::new([Vec::new(), Vec::new(), Vec::new(), Vec::new()]) };
}

/// Runs `f` with this thread's four scratch buffers. Their contents are stale: callers
/// overwrite every element they read. The buffers are taken out for the call, so a nested
/// call on the same thread (rayon work stealing) gets fresh empty ones instead of a borrow
/// conflict.
fn with_scratch<R>(f: impl FnOnce(&mut [Vec<f32>; 4]) -> R) -> R {
    let mut bufs = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
    let r = f(&mut bufs);
    SCRATCH.with(|s| *s.borrow_mut() = bufs);
    r
}

/// `buf` with exactly `len` elements, of which only the newly grown tail is zeroed.
fn sized(buf: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    &mut buf[..len]
}

fn geometry(x: &[usize], w: &[usize], spec: Conv2dGeometry) -> Result<Geometry, NnError> {
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
pub fn conv2d(
    x: &Var,
    weight: &Var,
    bias: Option<&Var>,
    spec: Conv2dGeometry,
) -> Result<Var, NnError> {
    let geo = geometry(x.shape(), weight.shape(), spec)?;
    if let Some(b) = bias {
        if b.shape() != [geo.oc] {
            return Err(shape_err(
                "conv2d",
                format!("bias {:?}, expected [{}]", b.shape(), geo.oc),
            ));
        }
    }
    let xv = x.value().as_standard_layout();
    let wv = weight.value().as_standard_layout();
    let bias_v = bias.map(|b| b.value().as_standard_layout().into_owned());
    let y = forward(
        &geo,
        xv.as_slice().unwrap(),
        wv.as_slice().unwrap(),
        bias_v.as_ref().map(|b| b.as_slice().unwrap()),
    );
    drop((xv, wv));
    let mut inputs = vec![x.clone(), weight.clone()];
    if let Some(b) = bias {
        inputs.push(b.clone());
    }
    let (need_x, need_w, has_bias) = (x.requires_grad(), weight.requires_grad(), bias.is_some());
    let w_shape = weight.shape().to_vec();
    let (x_in, w_in) = (x.clone(), weight.clone());
    Ok(Var::from_op(
        Tensor::from_shape_vec(vec![geo.n, geo.oc, geo.oh, geo.ow], y).unwrap(),
        inputs,
        Box::new(move |g: &Tensor| {
            let xv = x_in.value().as_standard_layout();
            let wv = w_in.value().as_standard_layout();
            let g = g.as_standard_layout();
            let gs = g.as_slice().unwrap();
            let (gx, gw) = backward(
                &geo,
                xv.as_slice().unwrap(),
                wv.as_slice().unwrap(),
                gs,
                need_x,
                need_w,
            );
            let gx =
                gx.map(|dx| Tensor::from_shape_vec(vec![geo.n, geo.c, geo.h, geo.w], dx).unwrap());
            let gw = gw.map(|gw| Tensor::from_shape_vec(w_shape.clone(), gw).unwrap());
            let mut out = vec![gx, gw];
            if has_bias {
                let (oc, p) = (geo.oc, geo.p());
                let gb: Vec<f32> = (0..oc)
                    .into_par_iter()
                    .map(|c| {
                        (0..geo.n)
                            .map(|img| crate::tensor::sum(&gs[(img * oc + c) * p..][..p]))
                            .sum()
                    })
                    .collect();
                out.push(Some(Tensor::from_shape_vec(vec![oc], gb).unwrap()));
            }
            out
        }),
    ))
}

/// A tile of consecutive images and the column matrix (`[K, images*P]`) they share.
struct Tile {
    first: usize,
    images: usize,
}

impl Tile {
    /// The tiles of the task chunk `ci`.
    fn of_chunk(geo: &Geometry, ci: usize) -> impl Iterator<Item = Tile> {
        let (chunk, tile) = (geo.images_per_chunk(), geo.images_per_tile());
        let (first, last) = (ci * chunk, ((ci + 1) * chunk).min(geo.n));
        (first..last).step_by(tile).map(move |start| Tile {
            first: start,
            images: tile.min(last - start),
        })
    }
}

/// The forward pass: `y [N, OC, OH, OW]`.
///
/// Per task chunk and channel group, one GEMM over all the chunk's output pixels: the weight
/// is packed once for the whole call, im2col values go straight into the GEMM's panels
/// ([`Geometry::pack_columns`]), and the GEMM writes each image's NCHW block with the bias.
fn forward(geo: &Geometry, xs: &[f32], ws: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    if geo.is_depthwise() {
        return depthwise::forward(geo, xs, ws, bias);
    }
    let (p, k, oc, groups) = (geo.p(), geo.k(), geo.oc, geo.spec.groups);
    let (kg, ocg, x_len) = (k / groups, oc / groups, geo.c * geo.h * geo.w);
    let level = Level::detect();
    let packed: Vec<(PackedA, Vec<Tap>)> = (0..groups)
        .map(|g| {
            let a = PackedA::new(level, ws, Mat::rm(ocg, kg).at(g * ocg * kg));
            (a, geo.taps(g))
        })
        .collect();
    let chunk = geo.images_per_chunk();
    let layout = OutLayout {
        group: p,
        ldc: p,
        group_stride: oc * p,
    };
    crate::tensor::par_build(geo.n * oc * p, chunk * oc * p, |ci, y_chunk| {
        let images = y_chunk.len() / (oc * p).max(1);
        let x_chunk = &xs[ci * chunk * x_len..][..images * x_len];
        with_scratch(|[panel, _, _, _]| {
            for (g, (a, taps)) in packed.iter().enumerate() {
                gemm(
                    a,
                    images * p,
                    |j0, w, pn| geo.pack_columns(x_chunk, taps, (j0, w), level.nr(), pn),
                    &mut y_chunk[g * ocg * p..],
                    layout,
                    Store {
                        accumulate: false,
                        bias: bias.map(|b| &b[g * ocg..]),
                    },
                    panel,
                );
            }
        })
    })
}

/// The backward pass: `(dL/dx, dL/dweight)`, each when asked for.
///
/// Each task chunk returns its partial weight gradient, summed in chunk order. The column
/// matrices are rebuilt here rather than kept from the forward pass, which would hold K/C
/// times the input per layer for the whole step.
fn backward(
    geo: &Geometry,
    xs: &[f32],
    ws: &[f32],
    gs: &[f32],
    need_x: bool,
    need_w: bool,
) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
    if geo.is_depthwise() {
        return depthwise::backward(geo, xs, ws, gs, need_x, need_w);
    }
    if need_x {
        if let Some((t_geo, w_t)) = geo.input_gradient_as_conv(ws) {
            let dx = forward(&t_geo, gs, &w_t, None);
            let (_, gw) = backward(geo, xs, ws, gs, false, need_w);
            return (Some(dx), gw);
        }
    }
    let (p, k, oc, groups) = (geo.p(), geo.k(), geo.oc, geo.spec.groups);
    let (kg, ocg, x_len) = (k / groups, oc / groups, geo.c * geo.h * geo.w);
    let chunk = geo.images_per_chunk();
    let n_chunks = geo.n.div_ceil(chunk);
    // dx is zeroed chunk by chunk on the workers (col2im accumulates into it), not by one
    // serial memset on the calling thread.
    let dx_len = if need_x { geo.n * x_len } else { 0 };
    let mut dx: Vec<f32> = Vec::with_capacity(dx_len);
    let mut dx_chunks: Vec<&mut [MaybeUninit<f32>]> = if need_x {
        dx.spare_capacity_mut()[..dx_len]
            .chunks_mut(chunk * x_len)
            .collect()
    } else {
        (0..n_chunks).map(|_| &mut [][..]).collect()
    };
    let level = Level::detect();
    let nr = level.nr();
    // The transposed weight of each group, packed once for the input gradient.
    let w_t: Vec<PackedA> = if need_x {
        (0..groups)
            .map(|g| PackedA::new(level, ws, Mat::rm(ocg, kg).at(g * ocg * kg).t()))
            .collect()
    } else {
        Vec::new()
    };
    let taps: Vec<Vec<Tap>> = if need_w {
        (0..groups).map(|g| geo.taps(g)).collect()
    } else {
        Vec::new()
    };
    let partials: Vec<Vec<f32>> = dx_chunks
        .par_iter_mut()
        .enumerate()
        .map(|(ci, dx_chunk)| {
            for e in dx_chunk.iter_mut() {
                e.write(0.0);
            }
            // SAFETY: every element was initialised just above, and `MaybeUninit<f32>` has
            // the layout of `f32`.
            let dx_chunk =
                unsafe { &mut *(&mut **dx_chunk as *mut [MaybeUninit<f32>] as *mut [f32]) };
            with_scratch(|[panel, tmp, gcol, g_cols]| {
                let mut gw = vec![0.0f32; if need_w { oc * kg } else { 0 }];
                for tile in Tile::of_chunk(geo, ci) {
                    let cols = tile.images * p;
                    let g_tile = &gs[tile.first * oc * p..][..oc * cols];
                    let x_tile = &xs[tile.first * x_len..][..tile.images * x_len];
                    // The output gradient as `[OC, images*P]`, the forward GEMM's output.
                    let g_mat: &[f32] = if tile.images == 1 || !need_w {
                        g_tile
                    } else {
                        let g_cols = sized(g_cols, oc * cols);
                        for (i, g_n) in g_tile.chunks_exact(oc * p).enumerate() {
                            for (c, plane) in g_n.chunks_exact(p).enumerate() {
                                g_cols[c * cols + i * p..][..p].copy_from_slice(plane);
                            }
                        }
                        g_cols
                    };
                    if need_w {
                        // dW += G · colᵀ, the tile's pixels as the depth: G packed as `A`,
                        // the transposed column matrix written straight into `B`'s panels.
                        for (grp, taps) in taps.iter().enumerate() {
                            let a =
                                PackedA::new(level, g_mat, Mat::rm(ocg, cols).at(grp * ocg * cols));
                            gemm(
                                &a,
                                kg,
                                |t0, w, pn| {
                                    geo.pack_taps(level, x_tile, &taps[t0..t0 + w], nr, pn, tmp)
                                },
                                &mut gw[grp * ocg * kg..],
                                OutLayout::rows(kg, kg),
                                Store {
                                    accumulate: true,
                                    bias: None,
                                },
                                panel,
                            );
                        }
                    }
                    if need_x {
                        let local = (tile.first - ci * chunk) * x_len;
                        let direct = tile.images == 1 && geo.is_pointwise();
                        // The GEMM overwrites the stale scratch.
                        let dst: &mut [f32] = if direct {
                            &mut dx_chunk[local..][..x_len]
                        } else {
                            sized(gcol, k * cols)
                        };
                        // dcol = Wᵀ · G, G's rows copied into `B`'s panels run by run.
                        for (grp, a) in w_t.iter().enumerate() {
                            gemm(
                                a,
                                cols,
                                |j0, w, pn| {
                                    for o in 0..ocg {
                                        let mut j = j0;
                                        while j < j0 + w {
                                            let len = (p - j % p).min(j0 + w - j);
                                            let src = ((j / p) * oc + grp * ocg + o) * p + j % p;
                                            pn[o * nr + j - j0..][..len]
                                                .copy_from_slice(&g_tile[src..][..len]);
                                            j += len;
                                        }
                                    }
                                },
                                &mut dst[grp * kg * cols..],
                                OutLayout::rows(cols, cols),
                                Store {
                                    accumulate: false,
                                    bias: None,
                                },
                                panel,
                            );
                        }
                        if !direct {
                            for i in 0..tile.images {
                                let dx_n = &mut dx_chunk[local + i * x_len..][..x_len];
                                geo.col2im(gcol, cols, i * p, dx_n);
                            }
                        }
                    }
                }
                gw
            })
        })
        .collect();
    drop(dx_chunks);
    // SAFETY: the chunks cover `0..dx_len` and every task initialised its chunk (a panic in
    // a task propagates out of `collect` before this line).
    unsafe { dx.set_len(dx_len) };
    let gw = need_w.then(|| {
        let mut total = vec![0.0f32; oc * kg];
        for part in &partials {
            total.iter_mut().zip(part).for_each(|(t, v)| *t += v);
        }
        total
    });
    (need_x.then_some(dx), gw)
}

#[path = "conv_depthwise.rs"]
mod depthwise;
#[path = "conv_panels.rs"]
mod panels;

#[cfg(test)]
#[path = "conv_tests.rs"]
mod tests;
