//! The layers on the GPU: shift-kernels-cpu's `ShiftLinear` and `ShiftConv2d`, same
//! arguments, same exact results.

use std::sync::Arc;

use cudarc::driver::CudaSlice;
use shift_core::FixedPoint;
use shift_kernels_cpu::{Conv2dShape, ConvGeometry, FixedOutput};

use crate::device::CudaDevice;
use crate::error::CudaError;
use crate::plan::{ConvPlan, LinearPlan, Tuning};
use crate::weights::GpuWeights;

/// A frozen linear shift layer on a GPU: weights resident in packed form.
#[derive(Debug)]
pub struct CudaShiftLinear {
    plan: LinearPlan,
    words: CudaSlice<u64>,
    device: Arc<CudaDevice>,
    tuning: Tuning,
}

impl CudaShiftLinear {
    /// Uploads the weights `[out, in]`; bias and activation format as the CPU layer takes them.
    pub fn new(
        device: Arc<CudaDevice>,
        weights: GpuWeights,
        bias: Option<&[f32]>,
        act: FixedPoint,
    ) -> Result<Self, CudaError> {
        let plan = LinearPlan::new(weights, bias, act)?;
        let words = device.upload(plan.weights().words())?;
        Ok(Self {
            tuning: device.tuning(),
            plan,
            words,
            device,
        })
    }

    /// Input features.
    pub fn in_features(&self) -> usize {
        self.plan.weights().cols()
    }

    /// Output features.
    pub fn out_features(&self) -> usize {
        self.plan.weights().rows()
    }

    /// The host-side plan.
    pub fn plan(&self) -> &LinearPlan {
        &self.plan
    }

    /// The exact outputs `[batch, out]` of `x [batch, in]`, equal to shift-kernels-cpu's
    /// `ShiftLinear::forward_fixed` bit for bit.
    pub fn forward_fixed(&self, x: &[f32], batch: usize) -> Result<FixedOutput, CudaError> {
        let job = self.plan.job(x, batch, &self.tuning)?;
        let raw = self.device.run(&job, &self.words)?;
        Ok(job.finish(raw))
    }

    /// The exact outputs for inputs already on the fixed-point grid (`max_abs` bounds their
    /// magnitude), as shift-kernels-cpu's `ShiftLinear::forward_quantized`.
    pub fn forward_quantized(
        &self,
        xq: &[i32],
        max_abs: u64,
        batch: usize,
    ) -> Result<FixedOutput, CudaError> {
        if xq.len() != batch * self.in_features() {
            return Err(shift_kernels_cpu::KernelError::Shape(format!(
                "linear input of {} values is not [{batch}, {}]",
                xq.len(),
                self.in_features()
            ))
            .into());
        }
        let job = self
            .plan
            .job_quantized(xq.to_vec(), max_abs, batch, &self.tuning)?;
        let raw = self.device.run(&job, &self.words)?;
        Ok(job.finish(raw))
    }

    /// [`Self::forward_fixed`] correctly rounded to f32 (shift-kernels-cpu's rounding).
    pub fn forward(&self, x: &[f32], batch: usize) -> Result<Vec<f32>, CudaError> {
        Ok(self.forward_fixed(x, batch)?.to_f32())
    }
}

/// A frozen convolution shift layer on a GPU (stride, padding, dilation, groups, depthwise).
#[derive(Debug)]
pub struct CudaShiftConv2d {
    plan: ConvPlan,
    words: CudaSlice<u64>,
    device: Arc<CudaDevice>,
    tuning: Tuning,
}

impl CudaShiftConv2d {
    /// Uploads the weights `[out, in/groups * kh * kw]`; the rest as shift-kernels-cpu's
    /// `ShiftConv2d::new`.
    pub fn new(
        device: Arc<CudaDevice>,
        weights: GpuWeights,
        bias: Option<&[f32]>,
        act: FixedPoint,
        in_channels: usize,
        kernel: (usize, usize),
        geometry: ConvGeometry,
    ) -> Result<Self, CudaError> {
        let plan = ConvPlan::new(weights, bias, act, in_channels, kernel, geometry)?;
        let words = device.upload(plan.weights().words())?;
        Ok(Self {
            tuning: device.tuning(),
            plan,
            words,
            device,
        })
    }

    /// The host-side plan.
    pub fn plan(&self) -> &ConvPlan {
        &self.plan
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.plan.weights().rows()
    }

    /// The shape of a call on `height x width` inputs.
    pub fn shape(&self, height: usize, width: usize) -> Conv2dShape {
        self.plan.shape(height, width)
    }

    /// The exact outputs `[batch, out, OH, OW]` of `x [batch, in, height, width]`, equal to
    /// shift-kernels-cpu's `ShiftConv2d::forward_fixed` bit for bit.
    pub fn forward_fixed(
        &self,
        x: &[f32],
        batch: usize,
        height: usize,
        width: usize,
    ) -> Result<FixedOutput, CudaError> {
        let job = self.plan.job(x, batch, height, width, &self.tuning)?;
        let raw = self.device.run(&job, &self.words)?;
        Ok(job.finish(raw))
    }

    /// [`Self::forward_fixed`] correctly rounded to f32.
    pub fn forward(
        &self,
        x: &[f32],
        batch: usize,
        height: usize,
        width: usize,
    ) -> Result<Vec<f32>, CudaError> {
        Ok(self.forward_fixed(x, batch, height, width)?.to_f32())
    }
}
