//! Everything of a launch that does not need a GPU: quantising the input (shift-kernels-cpu's
//! `quantize`), the bias on the kernels' scale, the accumulator rule (the CPU's, so both
//! refuse the same calls with the same error), the choice of kernel, grid and parameters, and
//! turning the kernels' totals back into shift-kernels-cpu's [`FixedOutput`]. The CUDA
//! backend ([`crate::CudaDevice`]) and the host emulator of the tests run the same [`Job`]s.

use shift_core::FixedPoint;
use shift_kernels_cpu::{quantize, Conv2dShape, ConvGeometry, FixedOutput, KernelError};

use crate::params::{ConvParams, GemmParams, GemvParams, Params};
use crate::weights::GpuWeights;

/// Threads per block of the GEMV and convolution kernels.
const BLOCK: u32 = 128;
/// Threads per block of the GEMM kernel (each holds 4 columns).
const GEMM_BLOCK: u32 = 64;

/// Launch-shape choices that do not change any result (integer sums are exact in any order);
/// the tests vary them to exercise every path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// Multiprocessors of the device (sizes the GEMV's split of K).
    pub sm_count: u32,
    /// Force this many K slices in the GEMV (default: enough blocks for the device).
    pub gemv_slices: Option<u32>,
    /// Cap on the words of one 32-bit window (default: the largest the rule allows).
    pub max_flush_words: Option<u32>,
    /// Always use the 64-bit kernels.
    pub force_wide: bool,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            sm_count: 108,
            gemv_slices: None,
            max_flush_words: None,
            force_wide: false,
        }
    }
}

/// How the kernels' totals become the layer's output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Post {
    /// Already `[batch, rows]` or `[batch, oc, oh, ow]`.
    Direct,
    /// `[rows][npad]` to `[batch][rows]`.
    Transpose {
        /// Batch.
        batch: usize,
        /// Rows.
        rows: usize,
        /// Padded batch.
        npad: usize,
    },
}

/// One kernel launch, ready for a backend: which kernel, the grid, its parameters (buffer
/// addresses still to be set), the buffers to upload and the output to allocate.
#[derive(Debug, Clone)]
pub struct Job {
    /// Kernel entry point in the PTX.
    pub kernel: String,
    /// Grid in blocks.
    pub grid: (u32, u32, u32),
    /// Block in threads.
    pub block: (u32, u32, u32),
    /// Parameters.
    pub params: Params,
    /// Quantised input in the kernel's layout.
    pub x: Vec<i32>,
    /// Row start values.
    pub init: Vec<i64>,
    /// Totals the kernel writes (zeroed before the launch).
    pub out_len: usize,
    /// Output order.
    pub post: Post,
    /// Exponent of the output grid.
    pub exp: i32,
    /// No launch is needed (no columns): the output is the start values.
    pub empty: bool,
}

impl Job {
    /// The layer's exact output from the kernel's totals.
    pub fn finish(&self, raw: Vec<i64>) -> FixedOutput {
        let totals = match self.post {
            Post::Direct => raw,
            Post::Transpose { batch, rows, npad } => {
                let mut t = Vec::with_capacity(batch * rows);
                for n in 0..batch {
                    t.extend((0..rows).map(|r| raw[r * npad + n]));
                }
                t
            }
        };
        FixedOutput {
            totals,
            exp: self.exp,
        }
    }

    /// The output when [`Self::empty`]: every row's start value.
    pub fn empty_output(&self) -> Vec<i64> {
        match self.params {
            Params::Gemv(_) => self.init.clone(),
            Params::Gemm(p) => {
                let mut raw = vec![0i64; self.out_len];
                for (r, &b) in self.init.iter().enumerate() {
                    raw[r * p.npad as usize..][..p.npad as usize].fill(b);
                }
                raw
            }
            Params::Conv(p) => {
                let plane = (p.oh * p.ow) as usize;
                let mut raw = vec![0i64; self.out_len];
                for (i, chunk) in raw.chunks_mut(plane.max(1)).enumerate() {
                    chunk.fill(self.init[i % p.rows as usize]);
                }
                raw
            }
        }
    }
}

/// The bias rounded onto the activations' grid as the float layers round it (the CPU
/// kernels' rule), or zeros.
pub(crate) fn quantize_bias(
    bias: Option<&[f32]>,
    rows: usize,
    act: FixedPoint,
) -> Result<Vec<i32>, KernelError> {
    match bias {
        None => Ok(vec![0; rows]),
        Some(b) if b.len() != rows => Err(KernelError::Shape(format!(
            "bias of {} values for {rows} outputs",
            b.len()
        ))),
        Some(b) => quantize(b, act).map(|(q, _)| q).map_err(|e| match e {
            KernelError::NanInput { index } => KernelError::Shape(format!("bias {index} is NaN")),
            e => e,
        }),
    }
}

/// `|b| << s` as u128, saturating.
fn shifted(b: i64, s: u32) -> u128 {
    let m = b.unsigned_abs() as u128;
    if m == 0 {
        0
    } else if s >= m.leading_zeros() {
        u128::MAX
    } else {
        m << s
    }
}

/// The accumulator decision of one call: the start values, the kernel width and the 32-bit
/// window.
struct Acc {
    init: Vec<i64>,
    wide: bool,
    flush_words: u32,
}

/// shift-kernels-cpu's rule: with `M = max |q|`, every row's `M * R + |b| 2^-p_min` must fit
/// i64, else the call is the same [`KernelError::AccumulatorOverflow`]. On top, the 32-bit
/// kernels run when a window of `flush_words` words, each term at most `M << (span - 1)`,
/// stays inside i32.
fn accumulate(
    w: &GpuWeights,
    bias: &[i32],
    max_input: u64,
    act: FixedPoint,
    tuning: &Tuning,
) -> Result<Acc, KernelError> {
    let off = (-w.min_shift) as u32;
    let mut worst = 0u128;
    for (r, &b) in bias.iter().enumerate() {
        let need = (max_input as u128)
            .saturating_mul(w.row_bound[r])
            .saturating_add(shifted(b as i64, off));
        worst = worst.max(need);
    }
    if worst > i64::MAX as u128 {
        return Err(KernelError::AccumulatorOverflow {
            needed_bits: 129 - worst.leading_zeros(),
            max_input,
            frac_bits: act.frac_bits(),
            span: w.span,
            fan_in: w.cols,
        });
    }
    // b << off fits i64 by the rule just checked (and is 0 for b = 0, whatever off is).
    let init = bias
        .iter()
        .map(|&b| if b == 0 { 0 } else { (b as i64) << off })
        .collect();
    let term = shifted(max_input as i64, w.span - 1);
    let wpr = w.words_per_row.max(1) as u128;
    let window = if term == 0 {
        Some(wpr)
    } else {
        let n = i32::MAX as u128 / (w.per_word as u128).saturating_mul(term);
        (n >= 1).then(|| n.min(wpr))
    };
    let window = window.map(|n| {
        let n = n as u32;
        tuning.max_flush_words.map_or(n, |cap| n.min(cap.max(1)))
    });
    Ok(Acc {
        init,
        wide: tuning.force_wide || window.is_none(),
        flush_words: window.unwrap_or(1),
    })
}

fn kernel_name(family: &str, wide: bool, ternary: bool) -> String {
    format!(
        "shift_{family}_{}_{}",
        if wide { "i64" } else { "i32" },
        if ternary { "ter" } else { "bin" }
    )
}

fn u32_of(v: usize, what: &str) -> Result<u32, KernelError> {
    u32::try_from(v)
        .ok()
        .filter(|&v| v < 1 << 31)
        .ok_or_else(|| {
            KernelError::Unsupported(format!("{what} {v} is beyond the GPU kernels' 2^31"))
        })
}

/// A linear layer's launch plans (host side of [`crate::CudaShiftLinear`]).
#[derive(Debug, Clone)]
pub struct LinearPlan {
    weights: GpuWeights,
    bias: Vec<i32>,
    act: FixedPoint,
}

impl LinearPlan {
    /// Weights `[out, in]`, optional bias, activation format.
    pub fn new(
        weights: GpuWeights,
        bias: Option<&[f32]>,
        act: FixedPoint,
    ) -> Result<Self, KernelError> {
        let bias = quantize_bias(bias, weights.rows, act)?;
        Ok(Self { weights, bias, act })
    }

    /// The weights.
    pub fn weights(&self) -> &GpuWeights {
        &self.weights
    }

    /// The launch for `x [batch, in]`: GEMV at batch 1, GEMM otherwise.
    pub fn job(&self, x: &[f32], batch: usize, tuning: &Tuning) -> Result<Job, KernelError> {
        let k = self.weights.cols;
        if x.len() != batch * k {
            return Err(KernelError::Shape(format!(
                "linear input of {} values is not [{batch}, {k}]",
                x.len()
            )));
        }
        let (xq, max_abs) = quantize(x, self.act)?;
        self.job_quantized(xq, max_abs, batch, tuning)
    }

    /// [`Self::job`] for inputs already on the grid (`max_abs` bounds their magnitude).
    pub fn job_quantized(
        &self,
        xq: Vec<i32>,
        max_abs: u64,
        batch: usize,
        tuning: &Tuning,
    ) -> Result<Job, KernelError> {
        let w = &self.weights;
        let (m, k) = (w.rows, w.cols);
        if xq.len() != batch * k {
            return Err(KernelError::Shape(format!(
                "linear input of {} values is not [{batch}, {k}]",
                xq.len()
            )));
        }
        let acc = accumulate(w, &self.bias, max_abs, self.act, tuning)?;
        let exp = w.min_shift - self.act.frac_bits() as i32;
        let rows = u32_of(m, "rows")?;
        let cols = u32_of(k, "columns")?;
        let wpr = w.words_per_row as u32;
        if batch == 1 {
            let blocks = rows.div_ceil(BLOCK);
            let want = (tuning.sm_count * 8).div_ceil(blocks.max(1));
            let slices = tuning
                .gemv_slices
                .unwrap_or(want.min(wpr.div_ceil(4)))
                .clamp(1, wpr.max(1));
            let wps = wpr.div_ceil(slices).max(1);
            let slices = wpr.div_ceil(wps).max(1);
            return Ok(Job {
                kernel: kernel_name("gemv", acc.wide, w.ternary),
                grid: (blocks, slices, 1),
                block: (BLOCK, 1, 1),
                params: Params::Gemv(GemvParams {
                    rows,
                    cols,
                    bits: w.bits,
                    per_word: w.per_word as u32,
                    words_per_row: wpr,
                    words_per_slice: wps,
                    base: w.base,
                    flush_words: acc.flush_words,
                    ..Default::default()
                }),
                x: xq,
                init: acc.init,
                out_len: m,
                post: Post::Direct,
                exp,
                empty: k == 0 || m == 0,
            });
        }
        let npad = batch.div_ceil(4) * 4;
        let mut xt = vec![0i32; k * npad];
        for n in 0..batch {
            for c in 0..k {
                xt[c * npad + n] = xq[n * k + c];
            }
        }
        let npad32 = u32_of(npad, "batch")?;
        Ok(Job {
            kernel: kernel_name("gemm", acc.wide, w.ternary),
            grid: ((npad32 / 4).div_ceil(GEMM_BLOCK), rows.div_ceil(4), 1),
            block: (GEMM_BLOCK, 1, 1),
            params: Params::Gemm(GemmParams {
                rows,
                cols,
                bits: w.bits,
                per_word: w.per_word as u32,
                words_per_row: wpr,
                npad: npad32,
                base: w.base,
                flush_words: acc.flush_words,
                ..Default::default()
            }),
            x: xt,
            init: acc.init,
            out_len: m * npad,
            post: Post::Transpose {
                batch,
                rows: m,
                npad,
            },
            exp,
            empty: k == 0 || m == 0 || batch == 0,
        })
    }
}

/// A convolution's launch plans (host side of [`crate::CudaShiftConv2d`]).
#[derive(Debug, Clone)]
pub struct ConvPlan {
    weights: GpuWeights,
    bias: Vec<i32>,
    act: FixedPoint,
    in_channels: usize,
    kernel: (usize, usize),
    geometry: ConvGeometry,
}

impl ConvPlan {
    /// Weights `[out, in/groups * kh * kw]`, bias, activation format and geometry (checked
    /// as shift-kernels-cpu's `ShiftConv2d::new` checks them).
    pub fn new(
        weights: GpuWeights,
        bias: Option<&[f32]>,
        act: FixedPoint,
        in_channels: usize,
        kernel: (usize, usize),
        geometry: ConvGeometry,
    ) -> Result<Self, KernelError> {
        // The CPU layer's checks, on a matrix of the same shape (no weights are decoded).
        let probe = shift_kernels_cpu::ShiftMatrix::from_weights(
            &vec![0.0; weights.rows * weights.cols],
            weights.rows,
            weights.cols,
        )?;
        shift_kernels_cpu::ShiftConv2d::new(probe, None, act, in_channels, kernel, geometry)?;
        let bias = quantize_bias(bias, weights.rows, act)?;
        Ok(Self {
            weights,
            bias,
            act,
            in_channels,
            kernel,
            geometry,
        })
    }

    /// The weights.
    pub fn weights(&self) -> &GpuWeights {
        &self.weights
    }

    /// The shape of a call on `height x width` inputs.
    pub fn shape(&self, height: usize, width: usize) -> Conv2dShape {
        Conv2dShape {
            in_channels: self.in_channels,
            out_channels: self.weights.rows,
            kernel: self.kernel,
            geometry: self.geometry,
            height,
            width,
        }
    }

    /// The launch for `x [batch, in, height, width]`.
    pub fn job(
        &self,
        x: &[f32],
        batch: usize,
        height: usize,
        width: usize,
        tuning: &Tuning,
    ) -> Result<Job, KernelError> {
        let image = self.in_channels * height * width;
        if x.len() != batch * image {
            return Err(KernelError::Shape(format!(
                "conv input of {} values is not [{batch}, {}, {height}, {width}]",
                x.len(),
                self.in_channels
            )));
        }
        let (xq, max_abs) = quantize(x, self.act)?;
        let w = &self.weights;
        let acc = accumulate(w, &self.bias, max_abs, self.act, tuning)?;
        let shape = self.shape(height, width);
        let (oh, ow) = shape.output_size();
        let g = &self.geometry;
        let (oc, groups) = (w.rows, g.groups);
        let og = oc / groups;
        let r = if og.is_multiple_of(4) { 4 } else { 1 };
        let positions = u32_of(batch * oh * ow, "output positions")?;
        u32_of(batch * oc * oh * ow, "outputs")?;
        u32_of(x.len(), "inputs")?;
        let p = ConvParams {
            rows: u32_of(oc, "output channels")?,
            cols: w.cols as u32,
            bits: w.bits,
            per_word: w.per_word as u32,
            words_per_row: w.words_per_row as u32,
            base: w.base,
            flush_words: acc.flush_words,
            batch: batch as u32,
            in_ch: self.in_channels as u32,
            height: height as u32,
            width: width as u32,
            kh: self.kernel.0 as u32,
            kw: self.kernel.1 as u32,
            sh: g.stride.0 as u32,
            sw: g.stride.1 as u32,
            ph: g.padding.0 as u32,
            pw: g.padding.1 as u32,
            dh: g.dilation.0 as u32,
            dw: g.dilation.1 as u32,
            cg: (self.in_channels / groups) as u32,
            og: og as u32,
            oh: oh as u32,
            ow: ow as u32,
            plane: (height * width) as u32,
            row_step: u32_of(g.dilation.0 * width, "dilation x width")?,
            ..Default::default()
        };
        Ok(Job {
            kernel: kernel_name(&format!("conv{r}"), acc.wide, w.ternary),
            grid: (positions.div_ceil(BLOCK), (oc / r) as u32, 1),
            block: (BLOCK, 1, 1),
            params: Params::Conv(p),
            x: xq,
            init: acc.init,
            out_len: batch * oc * oh * ow,
            post: Post::Direct,
            exp: w.min_shift - self.act.frac_bits() as i32,
            empty: positions == 0 || oc == 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(w: &[f32], cols: usize, act: FixedPoint) -> LinearPlan {
        let rows = w.len() / cols;
        LinearPlan::new(GpuWeights::from_weights(w, rows, cols).unwrap(), None, act).unwrap()
    }

    #[test]
    fn picks_the_kernel_and_the_window() {
        let act = FixedPoint::new(8, 8).unwrap();
        let p = plan(&[1.0; 64], 32, act);
        let t = Tuning::default();
        let gemv = p.job(&[0.5; 32], 1, &t).unwrap();
        assert_eq!(gemv.kernel, "shift_gemv_i32_bin");
        let Params::Gemv(g) = gemv.params else {
            panic!()
        };
        // one level, |q| <= 128 (0.5 * 2^8): 32 codes per word, the whole row in a window
        assert_eq!((g.per_word, g.words_per_row, g.flush_words), (32, 1, 1));
        let gemm = p.job(&[0.5; 96], 3, &t).unwrap();
        assert_eq!(gemm.kernel, "shift_gemm_i32_bin");
        assert_eq!(gemm.out_len, 2 * 4);
        let wide = p
            .job(
                &[0.5; 32],
                1,
                &Tuning {
                    force_wide: true,
                    ..t
                },
            )
            .unwrap();
        assert_eq!(wide.kernel, "shift_gemv_i64_bin");
        // -ab 16 16 inputs near 2^15 with a 16-level span need 64-bit terms
        let mut w = vec![1.0f32; 32];
        w[0] = shift_core::exp2i(-15);
        let p = plan(&w, 32, FixedPoint::DEFAULT);
        assert!(p
            .job(&[-30000.0; 32], 1, &t)
            .unwrap()
            .kernel
            .contains("i64"));
    }

    #[test]
    fn refuses_what_the_cpu_refuses() {
        let p = plan(&[1.0, shift_core::exp2i(-127)], 2, FixedPoint::DEFAULT);
        let err = p.job(&[1.0, 1.0], 1, &Tuning::default()).unwrap_err();
        let cpu = shift_kernels_cpu::reference::linear(
            &[1.0, shift_core::exp2i(-127)],
            1,
            2,
            None,
            &[1.0, 1.0],
            1,
            FixedPoint::DEFAULT,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), cpu.to_string());
        assert!(matches!(
            p.job(&[1.0], 1, &Tuning::default()),
            Err(KernelError::Shape(_))
        ));
        assert!(matches!(
            p.job_quantized(vec![0; 3], 0, 1, &Tuning::default()),
            Err(KernelError::Shape(_))
        ));
        assert!(matches!(
            p.job(&[f32::NAN, 0.0], 1, &Tuning::default()),
            Err(KernelError::NanInput { index: 0 })
        ));
        let w = GpuWeights::from_weights(&[1.0; 4], 2, 2).unwrap();
        assert!(LinearPlan::new(w, Some(&[1.0]), FixedPoint::DEFAULT).is_err());
    }

    #[test]
    fn gemm_output_is_transposed_back() {
        let job = Job {
            kernel: String::new(),
            grid: (1, 1, 1),
            block: (1, 1, 1),
            params: Params::Gemm(GemmParams::default()),
            x: vec![],
            init: vec![],
            out_len: 8,
            post: Post::Transpose {
                batch: 3,
                rows: 2,
                npad: 4,
            },
            exp: -3,
            empty: false,
        };
        // raw [rows][npad] = [[0, 1, 2, pad], [10, 11, 12, pad]]
        let out = job.finish(vec![0, 1, 2, 99, 10, 11, 12, 99]);
        assert_eq!(out.totals, vec![0, 10, 1, 11, 2, 12]);
        assert_eq!(out.exp, -3);
    }
}
