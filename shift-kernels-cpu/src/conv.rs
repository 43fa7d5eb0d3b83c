//! The 2-D convolution shift layer: im2col of each image straight into the micro-kernel's
//! panels, then the shift GEMM per channel group.

use rayon::prelude::*;
use shift_core::FixedPoint;

use crate::dispatch::Level;
use crate::error::KernelError;
use crate::fixed::{quantize, FixedOutput};
use crate::gemm::gemm;
use crate::kernel;
use crate::layer::{plan, quantize_bias};
use crate::matrix::ShiftMatrix;
use crate::pack::{im2col_panel, im2col_panels, panels};

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
        let shape = self.shape(height, width);
        let image = self.in_channels * height * width;
        if x.len() != batch * image {
            return Err(KernelError::Shape(format!(
                "conv input of {} values is not [{batch}, {}, {height}, {width}]",
                x.len(),
                self.in_channels
            )));
        }
        let (xq, max_abs) = quantize(x, self.act)?;
        let plan = plan(&self.matrix, &self.bias, max_abs, self.act)?;
        let (oh, ow) = shape.output_size();
        let p = oh * ow;
        let oc = self.matrix.rows();
        let groups = self.geometry.groups;
        let (cg, og) = (self.in_channels / groups, oc / groups);
        let k = self.matrix.cols();
        let nr = level.panel_width();
        let n_panels = panels(p, nr);
        let mut totals = vec![0i64; batch * oc * p];
        let group_len = cg * height * width;
        // Batch 1: the image's panels at once, the GEMM's (panel, rows) tasks in parallel.
        let one_image_parallel = |xi: &[i32], yi: &mut [i64]| {
            let mut col = vec![0i32; n_panels * k * nr];
            let mut tot = vec![0i64; n_panels * og * nr];
            for g in 0..groups {
                im2col_panels(&xi[g * group_len..][..group_len], &shape, cg, nr, &mut col);
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
                // Panel j holds pixels j*nr.. of every row: copy the rows' pieces out.
                for (r, y) in yi[g * og * p..(g + 1) * og * p]
                    .chunks_exact_mut(p)
                    .enumerate()
                {
                    for (j, y) in y.chunks_mut(nr).enumerate() {
                        let at = (j * og + r) * nr;
                        y.copy_from_slice(&tot[at..at + y.len()]);
                    }
                }
            }
        };
        // Larger batches: one image per task, each panel built just before the micro-kernel
        // reads it (so it is read from L1, and the column matrix never goes to memory).
        let one_image = |(col, tot): &mut (Vec<i32>, Vec<i64>), xi: &[i32], yi: &mut [i64]| {
            for g in 0..groups {
                let xg = &xi[g * group_len..][..group_len];
                let rows = g * og..(g + 1) * og;
                for j in 0..n_panels {
                    im2col_panel(xg, &shape, cg, nr, j, col);
                    kernel::run(
                        level,
                        &self.matrix,
                        rows.clone(),
                        col,
                        &plan.init[rows.clone()],
                        plan.max_run,
                        tot,
                    );
                    let (p0, len) = (j * nr, nr.min(p - j * nr));
                    for (r, y) in yi[g * og * p..(g + 1) * og * p]
                        .chunks_exact_mut(p)
                        .enumerate()
                    {
                        y[p0..p0 + len].copy_from_slice(&tot[r * nr..r * nr + len]);
                    }
                }
            }
        };
        if p > 0 && oc > 0 {
            if batch == 1 {
                one_image_parallel(&xq, &mut totals);
            } else {
                totals
                    .par_chunks_mut(oc * p)
                    .zip(xq.par_chunks(image.max(1)))
                    .for_each_init(
                        || (vec![0i32; k * nr], vec![0i64; og * nr]),
                        |buf, (yi, xi)| one_image(buf, xi, yi),
                    );
            }
        }
        Ok(FixedOutput {
            totals,
            exp: plan.exp,
        })
    }

    /// [`Self::forward_fixed`] rounded to f32.
    pub fn forward(
        &self,
        x: &[f32],
        batch: usize,
        height: usize,
        width: usize,
        level: Level,
    ) -> Result<Vec<f32>, KernelError> {
        Ok(self.forward_fixed(x, batch, height, width, level)?.to_f32())
    }
}
