//! `--use-kernel`: every shift layer of a model runs on the integer kernels of
//! `shift-kernels-cpu`, its weights packed once; float layers and the model's forward code
//! stay as they are (each shift layer is frozen with a [`FrozenForward`]).

use anyhow::{bail, Context, Result};
use shift_kernels_cpu::{ConvGeometry, Level, ShiftConv2d, ShiftLinear, ShiftMatrix};
use shift_nn::{FrozenForward, LayerShape, Model, NnError, Tensor, WeightLayer};

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
}

impl KernelLayer {
    /// Packs a shift layer's weights (rounded deterministically, as DeepShift saves them)
    /// and bias for the kernels at `level`.
    pub fn from_layer(name: &str, layer: &WeightLayer, level: Level) -> Result<Self> {
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
                ConvGeometry {
                    stride: geometry.stride,
                    padding: geometry.padding,
                    dilation: geometry.dilation,
                    groups: geometry.groups,
                },
            )?),
        };
        Ok(Self { op, level })
    }

    /// The weights in the kernels' form.
    pub fn matrix(&self) -> &ShiftMatrix {
        match &self.op {
            KernelOp::Linear(l) => l.matrix(),
            KernelOp::Conv(c) => c.matrix(),
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
    let (mut n, mut bytes) = (0, 0);
    for (name, layer) in model.layers_mut() {
        if layer.is_shift() {
            let k = KernelLayer::from_layer(&name, layer, level)?;
            bytes += k.matrix().memory_bytes();
            layer.freeze(Box::new(k));
            n += 1;
        }
    }
    Ok((n, bytes))
}
