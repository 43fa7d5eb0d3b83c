//! `--use-kernel`: every shift layer of a model runs on the integer kernels of
//! `shift-kernels-cpu` (or, with `--device cuda`, of `shift-kernels-cuda`, bit for bit the
//! same), its weights packed once; float layers and the model's forward code stay as they
//! are (each shift layer is frozen with a [`FrozenForward`]).

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use shift_kernels_cpu::{ConvGeometry, Level, ShiftConv2d, ShiftLinear, ShiftMatrix};
use shift_kernels_cuda::{CudaDevice, CudaShiftConv2d, CudaShiftLinear, GpuWeights};
use shift_nn::{FrozenForward, LayerShape, Model, NnError, Tensor, WeightLayer};

/// Where `--use-kernel` runs the shift layers (`--device`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DeviceArg {
    /// shift-kernels-cpu (scalar, AVX2, AVX-512 or NEON, detected).
    #[default]
    Cpu,
    /// shift-kernels-cuda on GPU 0 (needs an NVIDIA driver and GPU).
    Cuda,
}

/// A kernel back end: a CPU instruction-set level or a GPU.
#[derive(Debug, Clone)]
pub enum KernelDevice {
    /// shift-kernels-cpu at this level.
    Cpu(Level),
    /// shift-kernels-cuda on this device.
    Cuda(Arc<CudaDevice>),
}

impl KernelDevice {
    /// Opens the back end `--device` names; without a GPU the error says why.
    pub fn open(arg: DeviceArg) -> Result<Self> {
        Ok(match arg {
            DeviceArg::Cpu => KernelDevice::Cpu(Level::detect()),
            DeviceArg::Cuda => KernelDevice::Cuda(
                CudaDevice::new(0).context("--device cuda: the CUDA kernels cannot run here")?,
            ),
        })
    }
}

impl std::fmt::Display for KernelDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KernelDevice::Cpu(level) => write!(f, "{level}"),
            KernelDevice::Cuda(d) => write!(f, "CUDA, {}", d.name()),
        }
    }
}

/// A shift layer on the kernels.
#[derive(Debug)]
pub struct KernelLayer {
    op: KernelOp,
    level: Level,
}

#[derive(Debug)]
enum KernelOp {
    Linear(ShiftLinear),
    Conv(ShiftConv2d),
    CudaLinear(CudaShiftLinear),
    CudaConv(CudaShiftConv2d),
}

impl KernelLayer {
    /// Packs a shift layer's weights (rounded deterministically, as DeepShift saves them)
    /// and bias for the kernels of `device` (on a GPU: uploaded once).
    pub fn on_device(name: &str, layer: &WeightLayer, device: &KernelDevice) -> Result<Self> {
        // the CPU level; unused by the GPU layers
        let level = match device {
            KernelDevice::Cpu(level) => *level,
            KernelDevice::Cuda(_) => Level::Scalar,
        };
        let shift_nn::LayerWeights::Shift(_, options) = &layer.weights else {
            bail!("{name} is not a shift layer");
        };
        let weights = shift_weights(name, layer)?;
        let bias = layer
            .bias
            .as_ref()
            .map(|b| b.value().iter().copied().collect::<Vec<f32>>());
        let ws = layer.shape.weight_shape();
        let (rows, cols) = (ws[0], ws[1..].iter().product::<usize>());
        if let KernelDevice::Cuda(dev) = device {
            let w = GpuWeights::from_weights(&weights, rows, cols)
                .with_context(|| format!("packing {name}"))?;
            let op = match layer.shape {
                LayerShape::Linear { .. } => KernelOp::CudaLinear(CudaShiftLinear::new(
                    dev.clone(),
                    w,
                    bias.as_deref(),
                    options.act,
                )?),
                LayerShape::Conv2d {
                    in_channels,
                    kernel,
                    geometry,
                    ..
                } => KernelOp::CudaConv(CudaShiftConv2d::new(
                    dev.clone(),
                    w,
                    bias.as_deref(),
                    options.act,
                    in_channels,
                    kernel,
                    kernel_geometry(&geometry),
                )?),
            };
            return Ok(Self { op, level });
        }
        let matrix = ShiftMatrix::from_weights(&weights, rows, cols)
            .with_context(|| format!("packing {name}"))?;
        let op = match layer.shape {
            LayerShape::Linear { .. } => {
                KernelOp::Linear(ShiftLinear::new(matrix, bias.as_deref(), options.act)?)
            }
            LayerShape::Conv2d {
                in_channels,
                kernel,
                geometry,
                ..
            } => KernelOp::Conv(ShiftConv2d::new(
                matrix,
                bias.as_deref(),
                options.act,
                in_channels,
                kernel,
                kernel_geometry(&geometry),
            )?),
        };
        Ok(Self { op, level })
    }

    /// Bytes the weights take in the kernels' form (on the GPU: the packed words).
    pub fn memory_bytes(&self) -> usize {
        match &self.op {
            KernelOp::Linear(l) => l.matrix().memory_bytes(),
            KernelOp::Conv(c) => c.matrix().memory_bytes(),
            KernelOp::CudaLinear(l) => l.plan().weights().device_bytes(),
            KernelOp::CudaConv(c) => c.plan().weights().device_bytes(),
        }
    }
}

/// A shift layer's weights `sign * 2^p`, row-major, as its rounded parameters give them.
pub fn shift_weights(name: &str, layer: &WeightLayer) -> Result<Vec<f32>> {
    let params = layer.rounded_params(name)?;
    let get = |suffix: &str| {
        params
            .iter()
            .find(|(n, _)| n.ends_with(suffix))
            .map(|(_, t)| t.iter().copied().collect::<Vec<f32>>())
    };
    if let (Some(shift), Some(sign)) = (get(".shift"), get(".sign")) {
        Ok(shift
            .iter()
            .zip(&sign)
            .map(|(&p, &s)| {
                if s == 0.0 {
                    0.0
                } else {
                    s * shift_core::exp2i(p as i32)
                }
            })
            .collect())
    } else if let Some(w) = get(".weight") {
        Ok(w)
    } else {
        bail!("{name} has neither weight nor shift/sign")
    }
}

impl FrozenForward for KernelLayer {
    fn forward(&self, x: &Tensor) -> Result<Tensor, NnError> {
        let x = x.as_standard_layout();
        let xs = x.as_slice().expect("standard layout");
        let shape = x.shape();
        let err = |e: shift_kernels_cpu::KernelError| NnError::Config(format!("shift kernel: {e}"));
        let gpu_err =
            |e: shift_kernels_cuda::CudaError| NnError::Config(format!("CUDA shift kernel: {e}"));
        let bad = |what: &str| NnError::Shape {
            op: "kernel",
            detail: format!("{what}: input {shape:?}"),
        };
        let (y, out_shape) = match &self.op {
            KernelOp::Linear(l) => {
                if shape.len() != 2 || shape[1] != l.in_features() {
                    return Err(bad("linear"));
                }
                let y = l.forward(xs, shape[0], self.level).map_err(err)?;
                (y, vec![shape[0], l.out_features()])
            }
            KernelOp::Conv(c) => {
                if shape.len() != 4 {
                    return Err(bad("conv2d"));
                }
                let (n, h, w) = (shape[0], shape[2], shape[3]);
                let y = c.forward(xs, n, h, w, self.level).map_err(err)?;
                let (oh, ow) = c.shape(h, w).output_size();
                (y, vec![n, c.matrix().rows(), oh, ow])
            }
            KernelOp::CudaLinear(l) => {
                if shape.len() != 2 || shape[1] != l.in_features() {
                    return Err(bad("linear"));
                }
                let y = l.forward(xs, shape[0]).map_err(gpu_err)?;
                (y, vec![shape[0], l.out_features()])
            }
            KernelOp::CudaConv(c) => {
                if shape.len() != 4 {
                    return Err(bad("conv2d"));
                }
                let (n, h, w) = (shape[0], shape[2], shape[3]);
                let y = c.forward(xs, n, h, w).map_err(gpu_err)?;
                let (oh, ow) = c.shape(h, w).output_size();
                (y, vec![n, c.out_channels(), oh, ow])
            }
        };
        Tensor::from_shape_vec(out_shape, y).map_err(|e| NnError::Shape {
            op: "kernel",
            detail: e.to_string(),
        })
    }
}

/// Freezes every shift layer of `model` onto the kernels at `level`; returns how many, and
/// the bytes their weights take in the kernels' form.
pub fn freeze_shift_layers(model: &mut dyn Model, level: Level) -> Result<(usize, usize)> {
    freeze_on(model, &KernelDevice::Cpu(level))
}

/// `--use-kernel [--device D]`: opens the back end and freezes every shift layer onto it;
/// returns how many, their weights' bytes and the back end's name.
pub fn freeze_on_device(model: &mut dyn Model, arg: DeviceArg) -> Result<(usize, usize, String)> {
    let device = KernelDevice::open(arg)?;
    let (n, bytes) = freeze_on(model, &device)?;
    Ok((n, bytes, device.to_string()))
}

/// [`freeze_shift_layers`] on any back end.
pub fn freeze_on(model: &mut dyn Model, device: &KernelDevice) -> Result<(usize, usize)> {
    let (mut n, mut bytes) = (0, 0);
    for (name, layer) in model.layers_mut() {
        if layer.is_shift() {
            let k = KernelLayer::on_device(&name, layer, device)?;
            bytes += k.memory_bytes();
            layer.freeze(Box::new(k));
            n += 1;
        }
    }
    Ok((n, bytes))
}

/// The kernels' convolution geometry of a shift-nn convolution (the same four fields; the CPU
/// and CUDA layers share this type).
fn kernel_geometry(geometry: &shift_nn::ops::Conv2dGeometry) -> ConvGeometry {
    ConvGeometry {
        stride: geometry.stride,
        padding: geometry.padding,
        dilation: geometry.dilation,
        groups: geometry.groups,
    }
}
