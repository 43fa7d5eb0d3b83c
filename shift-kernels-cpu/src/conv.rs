//! The 2-D convolution shift layer: each image quantised with zero borders, then im2col
//! straight into the micro-kernel's panels and the shift GEMM per channel group. With a
//! batch, one image is one task and each panel is built just before the micro-kernel reads
//! it; a single image runs its GEMM's tasks in parallel instead.

use rayon::prelude::*;
use shift_core::FixedPoint;

use crate::dispatch::Level;
use crate::error::KernelError;
use crate::fixed::{quantize, quantize_into, total_to_f32, FixedOutput};
use crate::gemm::gemm;
use crate::kernel;
use crate::layer::{plan, quantize_bias};
use crate::matrix::ShiftMatrix;
use crate::pack::{im2col_panel, im2col_panels, padded_size, panels, AlignedBuf};

/// Stride, zero padding and dilation (rows, columns) and channel groups of a convolution;
/// the default is PyTorch's (1, 0, 1, one group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Stride.
    pub stride: (usize, usize),
    /// Zero padding.
    pub padding: (usize, usize),
    /// Dilation.
    pub dilation: (usize, usize),
    /// Channel groups (`in_channels` for a depthwise convolution).
    pub groups: usize,
}

impl Default for ConvGeometry {
    fn default() -> Self {
        Self {
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
        }
    }
}

/// The full shape of one convolution call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dShape {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel rows and columns.
    pub kernel: (usize, usize),
    /// Stride, padding, dilation, groups.
    pub geometry: ConvGeometry,
    /// Input rows.
    pub height: usize,
    /// Input columns.
    pub width: usize,
}

impl Conv2dShape {
    /// Output rows and columns (0 when the kernel does not fit).
    pub fn output_size(&self) -> (usize, usize) {
        let g = &self.geometry;
        let out = |n: usize, k: usize, s: usize, p: usize, d: usize| {
            let span = d * (k - 1) + 1;
            (n + 2 * p).checked_sub(span).map_or(0, |v| v / s + 1)
        };
        (
            out(
                self.height,
                self.kernel.0,
                g.stride.0,
                g.padding.0,
                g.dilation.0,
            ),
            out(
                self.width,
                self.kernel.1,
                g.stride.1,
                g.padding.1,
                g.dilation.1,
            ),
        )
    }

    /// Fan-in of one output: `in_channels / groups * kh * kw`.
    pub fn fan_in(&self) -> usize {
        self.in_channels / self.geometry.groups.max(1) * self.kernel.0 * self.kernel.1
    }

    fn check(&self) -> Result<(), KernelError> {
        let g = &self.geometry;
        let bad = |m: String| Err(KernelError::Shape(m));
        if g.groups == 0
            || !self.in_channels.is_multiple_of(g.groups)
            || !self.out_channels.is_multiple_of(g.groups)
        {
            return bad(format!(
                "{} groups do not divide {} input and {} output channels",
                g.groups, self.in_channels, self.out_channels
            ));
        }
        if self.kernel.0 == 0 || self.kernel.1 == 0 {
            return bad("empty kernel".into());
        }
        if g.stride.0 == 0 || g.stride.1 == 0 || g.dilation.0 == 0 || g.dilation.1 == 0 {
            return bad("stride and dilation must be at least 1".into());
        }
        Ok(())
    }
}

/// A frozen convolution shift layer: weights `[out, in/groups, kh, kw]` as a
/// `[out, in/groups * kh * kw]` matrix, bias, activation format and geometry.
#[derive(Debug, Clone)]
pub struct ShiftConv2d {
    matrix: ShiftMatrix,
    bias: Vec<i32>,
    act: FixedPoint,
    in_channels: usize,
    kernel: (usize, usize),
    geometry: ConvGeometry,
}

impl ShiftConv2d {
    /// A layer from its weights (rows: output channels), bias, activation format and
    /// geometry.
    pub fn new(
        matrix: ShiftMatrix,
        bias: Option<&[f32]>,
        act: FixedPoint,
        in_channels: usize,
        kernel: (usize, usize),
        geometry: ConvGeometry,
    ) -> Result<Self, KernelError> {
        let shape = Conv2dShape {
            in_channels,
            out_channels: matrix.rows(),
            kernel,
            geometry,
            height: 0,
            width: 0,
        };
        shape.check()?;
        if shape.fan_in() != matrix.cols() {
            return Err(KernelError::Shape(format!(
                "a [{}, {}] weight matrix is not {} channels / {} groups x {}x{}",
                matrix.rows(),
                matrix.cols(),
                in_channels,
                geometry.groups,
                kernel.0,
                kernel.1
            )));
        }
        let bias = quantize_bias(bias, matrix.rows(), act)?;
        Ok(Self {
            matrix,
            bias,
            act,
            in_channels,
            kernel,
            geometry,
        })
    }

    /// The weights.
    pub fn matrix(&self) -> &ShiftMatrix {
        &self.matrix
    }

    /// The shape of a call on `height x width` inputs.
    pub fn shape(&self, height: usize, width: usize) -> Conv2dShape {
        Conv2dShape {
            in_channels: self.in_channels,
            out_channels: self.matrix.rows(),
            kernel: self.kernel,
            geometry: self.geometry,
            height,
            width,
        }
    }

    /// The exact outputs `[batch, out, OH, OW]` for `x [batch, in, height, width]`.
    pub fn forward_fixed(
        &self,
        x: &[f32],
        batch: usize,
        height: usize,
        width: usize,
        level: Level,
    ) -> Result<FixedOutput, KernelError> {
        let mut exp = 0;
        let totals = self.run(x, batch, height, width, level, |e| {
            exp = e;
            |y: &mut [i64], t: &[i64]| y.copy_from_slice(t)
        })?;
        Ok(FixedOutput { totals, exp })
    }

    /// [`Self::forward_fixed`] rounded to f32 (each output straight from its exact total,
    /// without the `i64` outputs in memory).
    pub fn forward(
        &self,
        x: &[f32],
        batch: usize,
        height: usize,
        width: usize,
        level: Level,
    ) -> Result<Vec<f32>, KernelError> {
        self.run(x, batch, height, width, level, |exp| {
            move |y: &mut [f32], t: &[i64]| {
                for (y, &t) in y.iter_mut().zip(t) {
                    *y = total_to_f32(t, exp);
                }
            }
        })
    }

    /// The convolution with each piece of exact totals (one output row's pixels of one
    /// panel) stored by `store(exp)(dst, totals)`, where `exp` is the output grid's
    /// exponent.
    fn run<T, S>(
        &self,
        x: &[f32],
        batch: usize,
        height: usize,
        width: usize,
        level: Level,
        store: impl FnOnce(i32) -> S,
    ) -> Result<Vec<T>, KernelError>
    where
        T: Copy + Default + Send,
        S: Fn(&mut [T], &[i64]) + Sync,
    {
        let shape = self.shape(height, width);
        let image = self.in_channels * height * width;
        if x.len() != batch * image {
            return Err(KernelError::Shape(format!(
                "conv input of {} values is not [{batch}, {}, {height}, {width}]",
                x.len(),
                self.in_channels
            )));
        }
        // Each image is quantised (zero-padded) where it is used, into a buffer that stays
        // in cache, after one pass for the largest |q|.
        let max_abs = max_abs_quantized(x, self.act)?;
        let plan = plan(&self.matrix, &self.bias, max_abs, self.act)?;
        let store = store(plan.exp);
        let (oh, ow) = shape.output_size();
        let p = oh * ow;
        let oc = self.matrix.rows();
        let groups = self.geometry.groups;
        let (cg, og) = (self.in_channels / groups, oc / groups);
        let k = self.matrix.cols();
        let nr = level.panel_width();
        let n_panels = panels(p, nr);
        let mut out = vec![T::default(); batch * oc * p];
        let (hp, wp) = padded_size(&shape);
        let group_len = cg * hp * wp;
        // Quantises one image into `tmp`, then copies it into `xq` with zero borders (one call
        // of quantize_into per image, not per row).
        let padded = |xi: &[f32], tmp: &mut [i32], xq: &mut [i32]| {
            // No NaN and no value beyond max_abs: max_abs_quantized checked all of x.
            quantize_into(xi, self.act, tmp).expect("checked by max_abs_quantized");
            if height * width == 0 {
                // Only padding.
                xq.fill(0);
                return;
            }
            let (ph, pw) = self.geometry.padding;
            for (plane, dst) in tmp
                .chunks_exact(height * width)
                .zip(xq.chunks_exact_mut(hp * wp))
            {
                dst[..ph * wp].fill(0);
                dst[(ph + height) * wp..].fill(0);
                for (src, dst) in plane
                    .chunks_exact(width)
                    .zip(dst[ph * wp..].chunks_exact_mut(wp))
                {
                    dst[..pw].fill(0);
                    dst[pw + width..].fill(0);
                    dst[pw..pw + width].copy_from_slice(src);
                }
            }
        };
        if p == 0 || oc == 0 {
            return Ok(out);
        }
        if batch == 1 {
            // The image's panels at once, the GEMM's (panel, rows) tasks in parallel.
            let mut xq = vec![0i32; self.in_channels * hp * wp];
            padded(x, &mut vec![0i32; image], &mut xq);
            let mut col = AlignedBuf::zeroed(n_panels * k * nr);
            let mut tot = vec![0i64; n_panels * og * nr];
            for g in 0..groups {
                im2col_panels(&xq[g * group_len..][..group_len], &shape, cg, nr, &mut col);
                let rows = g * og..(g + 1) * og;
                gemm(
                    level,
                    &self.matrix,
                    rows.clone(),
                    &col,
                    &plan.init[rows],
                    plan.max_run,
                    true,
                    &mut tot,
                );
                // Panel j holds pixels j*nr.. of every row: store the rows' pieces.
                for (r, y) in out[g * og * p..(g + 1) * og * p]
                    .chunks_exact_mut(p)
                    .enumerate()
                {
                    for (j, y) in y.chunks_mut(nr).enumerate() {
                        let at = (j * og + r) * nr;
                        store(y, &tot[at..at + y.len()]);
                    }
                }
            }
            return Ok(out);
        }
        // One image per task, each panel built just before the micro-kernel reads it (so
        // it is read from L1, and the column matrix never goes to memory).
        // Two panels at a time (kernel::run2) while both fit in L1 with room to spare.
        let pairs = 2 * k * nr * 4 <= PAIR_BYTES;
        let buffers = || {
            (
                vec![0i32; image],
                vec![0i32; self.in_channels * hp * wp],
                AlignedBuf::zeroed(2 * k * nr),
                vec![0i64; 2 * og * nr],
            )
        };
        type Buffers = (Vec<i32>, Vec<i32>, AlignedBuf, Vec<i64>);
        let one_image = |(tmp, xq, col, tot): &mut Buffers, (yi, xi): (&mut [T], &[f32])| {
            padded(xi, tmp, xq);
            for g in 0..groups {
                let xg = &xq[g * group_len..][..group_len];
                let rows = g * og..(g + 1) * og;
                let mut j = 0;
                while j < n_panels {
                    // Two panels per pass over the rows' indices where both fit in L1.
                    let two = pairs && j + 1 < n_panels;
                    let (ca, cb) = col.split_at_mut(k * nr);
                    let (ta, tb) = tot.split_at_mut(og * nr);
                    let (m, init) = (&self.matrix, &plan.init[rows.clone()]);
                    im2col_panel(xg, &shape, cg, nr, j, ca);
                    if two {
                        im2col_panel(xg, &shape, cg, nr, j + 1, cb);
                        kernel::run2(level, m, rows.clone(), ca, cb, init, plan.max_run, ta, tb);
                    } else {
                        kernel::run(level, m, rows.clone(), ca, init, plan.max_run, ta);
                    }
                    for (jj, t) in [(j, &ta[..]), (j + 1, &tb[..])]
                        .into_iter()
                        .take(1 + two as usize)
                    {
                        let (p0, len) = (jj * nr, nr.min(p - jj * nr));
                        for (r, y) in yi[g * og * p..(g + 1) * og * p]
                            .chunks_exact_mut(p)
                            .enumerate()
                        {
                            store(&mut y[p0..p0 + len], &t[r * nr..r * nr + len]);
                        }
                    }
                    j += 1 + two as usize;
                }
            }
        };
        // By index rather than zipped with x's chunks: an empty image (no input channels, or
        // an input all padding) still has outputs, the bias.
        out.par_chunks_mut(oc * p)
            .enumerate()
            .for_each_init(buffers, |b, (n, yi)| {
                one_image(b, (yi, &x[n * image..(n + 1) * image]))
            });
        Ok(out)
    }
}

/// Bytes of two panels up to which a convolution runs the micro-kernel on two panels at
/// once: this machine's L1 holds 48 KB, and the image and the outputs need some of it.
const PAIR_BYTES: usize = 40 << 10;

/// The largest `|q|` that [`quantize`] would return for `x`, with its errors (an
/// unsupported format, the first NaN), without the quantised copy: `q` is monotonic in `x`,
/// so it is the larger of the smallest and the largest value's.
fn max_abs_quantized(x: &[f32], act: FixedPoint) -> Result<u64, KernelError> {
    let (lo, hi, nan) = x
        .par_chunks(1 << 14)
        .map(|c| {
            c.iter().fold(
                (f32::INFINITY, f32::NEG_INFINITY, false),
                |(lo, hi, nan), &v| {
                    (
                        if v < lo { v } else { lo },
                        if v > hi { v } else { hi },
                        nan | v.is_nan(),
                    )
                },
            )
        })
        .reduce(
            || (f32::INFINITY, f32::NEG_INFINITY, false),
            |a, b| (a.0.min(b.0), a.1.max(b.1), a.2 | b.2),
        );
    if nan {
        // quantize reports the first NaN's index.
        return quantize(x, act).map(|(_, m)| m);
    }
    let ends: &[f32] = if x.is_empty() { &[] } else { &[lo, hi] };
    let mut q = [0i32; 2];
    quantize_into(ends, act, &mut q[..ends.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer() -> ShiftConv2d {
        // 2 output channels over 2 input channels, 3x3, stride 1, padding 1.
        let w: Vec<f32> = (0..36)
            .map(|i| [0.5, -0.25, 1.0, 0.0, -0.125][i % 5])
            .collect();
        let geometry = ConvGeometry {
            padding: (1, 1),
            ..Default::default()
        };
        let m = ShiftMatrix::from_weights(&w, 2, 18).unwrap();
        let act = FixedPoint::new(4, 8).unwrap();
        ShiftConv2d::new(m, Some(&[0.3, -0.7]), act, 2, (3, 3), geometry).unwrap()
    }

    #[test]
    fn f32_outputs_are_the_rounded_totals_on_every_batch_path() {
        let l = layer();
        for batch in [1, 3] {
            let x: Vec<f32> = (0..batch * 2 * 5 * 6)
                .map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.173)
                .collect();
            for level in Level::available() {
                let fixed = l.forward_fixed(&x, batch, 5, 6, level).unwrap();
                assert_eq!(l.forward(&x, batch, 5, 6, level).unwrap(), fixed.to_f32());
            }
        }
    }

    /// Odd panel counts (pairs of panels, then one alone), a narrow last panel, a level of
    /// more than `max_run` weights: the reference's sums on every level.
    #[test]
    fn panel_pairs_and_a_lone_last_panel_equal_the_reference() {
        let geometry = ConvGeometry {
            padding: (1, 1),
            ..Default::default()
        };
        let w: Vec<f32> = (0..4 * 27)
            .map(|i| [0.5, -0.25, 1.0, 0.0, -0.125, 1.0, -1.0][i * 5 % 7])
            .collect();
        // The last case's inputs reach 2^29.3 on the grid: runs of 3 terms, so levels split.
        for (act, hw, scale) in [
            ((16, 16), 9, 1.0),
            ((4, 20), 9, 1.0),
            ((8, 8), 7, 1.0),
            ((16, 16), 9, 1000.0),
        ] {
            let act = FixedPoint::new(act.0, act.1).unwrap();
            let m = ShiftMatrix::from_weights(&w, 4, 27).unwrap();
            let l = ShiftConv2d::new(m, Some(&[0.3, -0.7, 0.0, 2.0]), act, 3, (3, 3), geometry)
                .unwrap();
            let x: Vec<f32> = (0..3 * 3 * hw * hw)
                .map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.9 * scale)
                .collect();
            let shape = l.shape(hw, hw);
            let b = [0.3, -0.7, 0.0, 2.0];
            let want = crate::reference::conv2d(&w, Some(&b), &x, 3, &shape, act).unwrap();
            for level in Level::available() {
                let got = l.forward_fixed(&x, 3, hw, hw, level).unwrap();
                assert_eq!(got, want, "{level} {hw}x{hw}");
            }
        }
    }

    /// Images with no values (no input channels; a 0 x 0 input under padding) still give
    /// every output its bias, on both batch paths and every level.
    #[test]
    fn empty_images_give_the_bias() {
        let act = FixedPoint::new(4, 8).unwrap();
        let bias = [0.5, -0.25];
        let no_channels = ShiftConv2d::new(
            ShiftMatrix::from_weights(&[], 2, 0).unwrap(),
            Some(&bias),
            act,
            0,
            (1, 1),
            ConvGeometry::default(),
        )
        .unwrap();
        let padded = ShiftConv2d::new(
            ShiftMatrix::from_weights(&[1.0, -0.5], 2, 1).unwrap(),
            Some(&bias),
            act,
            1,
            (1, 1),
            ConvGeometry {
                padding: (1, 1),
                ..Default::default()
            },
        )
        .unwrap();
        for (l, (h, w), pixels) in [(&no_channels, (3, 2), 6), (&padded, (0, 0), 4)] {
            for batch in [1, 3] {
                for level in Level::available() {
                    let y = l.forward(&[], batch, h, w, level).unwrap();
                    let want: Vec<f32> = (0..batch)
                        .flat_map(|_| bias.iter().flat_map(|&b| std::iter::repeat_n(b, pixels)))
                        .collect();
                    assert_eq!(y, want, "batch {batch} {h}x{w} {level}");
                }
            }
        }
    }

    #[test]
    fn largest_input_and_nan_are_found_as_quantize_finds_them() {
        let act = FixedPoint::new(4, 8).unwrap();
        let mut x: Vec<f32> = (0..100).map(|i| (i as f32 - 60.0) * 0.37).collect();
        assert_eq!(
            max_abs_quantized(&x, act).unwrap(),
            quantize(&x, act).unwrap().1
        );
        x[77] = f32::NAN;
        assert!(matches!(
            max_abs_quantized(&x, act),
            Err(KernelError::NanInput { index: 77 })
        ));
        let l = layer();
        assert!(l.forward(&x[..60], 1, 5, 6, Level::Scalar).is_ok());
        let mut xb = vec![0.5f32; 120];
        xb[101] = f32::NAN;
        assert!(matches!(
            l.forward(&xb, 2, 5, 6, Level::Scalar),
            Err(KernelError::NanInput { index: 101 })
        ));
    }
}
