//! Layers with PyTorch's initialisation, and the DeepShift shift layers.

use ndarray::IxDyn;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use shift_core::{shift_range, FixedPoint, Rounding, ShiftRange, ShiftType};

use crate::error::NnError;
use crate::ops::{self, Conv2dGeometry};
use crate::param::{Param, ParamKind};
use crate::tape::{grad_enabled, Var};
use crate::tensor::Tensor;

/// An inference-only forward pass that replaces a [`WeightLayer`]'s own (for example the
/// integer shift kernels of `shift-kernels-cpu`, weights packed once), installed with
/// [`WeightLayer::freeze`]. The model's forward code stays the same; a frozen layer refuses
/// to run while gradients are recorded, since it has none.
pub trait FrozenForward: std::fmt::Debug {
    /// The layer's output for `x` (`[N, in]` for Linear, `[N, C, H, W]` for Conv2d), bias
    /// included.
    fn forward(&self, x: &Tensor) -> Result<Tensor, NnError>;
}

/// State passed through a forward pass: training or evaluation, and the RNG for dropout and
/// stochastic rounding (seeded, so runs are reproducible).
pub struct Ctx {
    /// Training mode (dropout active) or evaluation.
    pub train: bool,
    /// Randomness for dropout and stochastic rounding.
    pub rng: ChaCha8Rng,
}

impl Ctx {
    /// A context in training (`train = true`) or evaluation mode whose RNG is seeded with
    /// `seed`, so that callers need no RNG crate of their own.
    pub fn new(train: bool, seed: u64) -> Self {
        use rand::SeedableRng;
        Self {
            train,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }
}

fn uniform(shape: &[usize], lo: f32, hi: f32, rng: &mut impl Rng) -> Tensor {
    Tensor::from_shape_fn(IxDyn(shape), |_| rng.gen_range(lo..hi))
}

/// `kaiming_uniform_(a = sqrt 5)`, PyTorch's default for Linear and Conv2d weights: U(±1/sqrt(fan_in)).
fn default_weight(shape: &[usize], rng: &mut impl Rng) -> Tensor {
    let bound = 1.0 / (fan_in(shape) as f32).sqrt();
    uniform(shape, -bound, bound, rng)
}

fn fan_in(weight_shape: &[usize]) -> usize {
    weight_shape[1..].iter().product()
}

/// The geometry of a weight layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerShape {
    /// Fully connected, `in -> out`.
    Linear {
        /// Input features.
        in_features: usize,
        /// Output features.
        out_features: usize,
    },
    /// 2-D convolution.
    Conv2d {
        /// Input channels.
        in_channels: usize,
        /// Output channels.
        out_channels: usize,
        /// Kernel size (rows, columns).
        kernel: (usize, usize),
        /// Stride, padding, dilation, groups.
        geometry: Conv2dGeometry,
    },
}

/// The arguments of `nn.Conv2d`: channels, a square kernel, the geometry and whether there is
/// a bias, built in the manner of candle-nn's `Conv2dConfig`:
/// `Conv2dSpec::new(3, 16, 3).stride(2).padding(1).bias(false)`. Unset options keep PyTorch's
/// defaults (stride 1, no padding, dilation 1, one group, a bias).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dSpec {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel size (rows, columns).
    pub kernel: (usize, usize),
    /// Stride, padding, dilation, groups.
    pub geometry: Conv2dGeometry,
    /// Whether the layer has a bias.
    pub bias: bool,
}

impl Conv2dSpec {
    /// `nn.Conv2d(in_channels, out_channels, kernel)` with PyTorch's defaults.
    pub fn new(in_channels: usize, out_channels: usize, kernel: usize) -> Self {
        Self {
            in_channels,
            out_channels,
            kernel: (kernel, kernel),
            geometry: Conv2dGeometry::default(),
            bias: true,
        }
    }

    /// The same stride along rows and columns.
    pub fn stride(mut self, stride: usize) -> Self {
        self.geometry.stride = (stride, stride);
        self
    }

    /// The same zero padding along rows and columns.
    pub fn padding(mut self, padding: usize) -> Self {
        self.geometry.padding = (padding, padding);
        self
    }

    /// The same dilation along rows and columns.
    pub fn dilation(mut self, dilation: usize) -> Self {
        self.geometry.dilation = (dilation, dilation);
        self
    }

    /// Channel groups (`in_channels` for a depthwise convolution).
    pub fn groups(mut self, groups: usize) -> Self {
        self.geometry.groups = groups;
        self
    }

    /// Whether the layer has a bias.
    pub fn bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }
}

impl LayerShape {
    /// The PyTorch weight shape (`[out, in]` or `[out, in/groups, kh, kw]`).
    pub fn weight_shape(&self) -> Vec<usize> {
        match *self {
            LayerShape::Linear {
                in_features,
                out_features,
            } => vec![out_features, in_features],
            LayerShape::Conv2d {
                in_channels,
                out_channels,
                kernel,
                geometry,
            } => vec![
                out_channels,
                in_channels / geometry.groups,
                kernel.0,
                kernel.1,
            ],
        }
    }

    /// Output features (Linear) or output channels (Conv2d).
    pub fn out_dim(&self) -> usize {
        self.weight_shape()[0]
    }

    fn apply(&self, x: &Var, w: &Var, b: Option<&Var>) -> Result<Var, NnError> {
        match *self {
            LayerShape::Linear { .. } => ops::linear(x, w, b),
            LayerShape::Conv2d { geometry, .. } => ops::conv2d(x, w, b, geometry),
        }
    }
}

/// Options of DeepShift layers (`--shift-type`, `-wb`, `-ab`, `-r`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShiftOptions {
    /// Q or PS.
    pub shift_type: ShiftType,
    /// Weight bits, 2..=8.
    pub weight_bits: u32,
    /// Fixed-point format of inputs and biases.
    pub act: FixedPoint,
    /// Rounding of shifts.
    pub rounding: Rounding,
}

impl ShiftOptions {
    /// The shift range of these options.
    pub fn range(&self) -> Result<ShiftRange, NnError> {
        Ok(shift_range(self.shift_type, self.weight_bits)?)
    }
}

/// How a shift layer holds its weight.
#[derive(Debug, Clone)]
pub enum ShiftWeights {
    /// DeepShift-Q: a float weight rounded in the forward pass.
    Q {
        /// `weight`.
        weight: Param,
    },
    /// DeepShift-PS: shift and sign parameters.
    PS {
        /// `shift`.
        shift: Param,
        /// `sign`.
        sign: Param,
    },
}

/// A Linear or Conv2d layer, float or shift. Models hold these so that `convert_to_shift`
/// can replace float layers by shift layers in place.
#[derive(Debug, Clone)]
pub struct WeightLayer {
    /// Geometry.
    pub shape: LayerShape,
    /// Float weight or shift weights.
    pub weights: LayerWeights,
    /// Optional bias.
    pub bias: Option<Param>,
    /// An inference-only replacement of the forward pass (see [`FrozenForward`]); boxed
    /// twice so that the field is one thin pointer.
    frozen: Option<std::rc::Rc<Box<dyn FrozenForward>>>,
}

/// Float or shift weights of a [`WeightLayer`].
#[derive(Debug, Clone)]
pub enum LayerWeights {
    /// An ordinary float weight.
    Float(Param),
    /// DeepShift weights with their options.
    Shift(ShiftWeights, ShiftOptions),
}

impl WeightLayer {
    /// `nn.Linear(in, out, bias)` with PyTorch's initialisation.
    pub fn linear(in_features: usize, out_features: usize, bias: bool, rng: &mut impl Rng) -> Self {
        Self::float(
            LayerShape::Linear {
                in_features,
                out_features,
            },
            bias,
            rng,
        )
    }

    /// `nn.Conv2d` as `spec` describes it, with PyTorch's initialisation.
    pub fn conv2d(spec: Conv2dSpec, rng: &mut impl Rng) -> Self {
        Self::float(
            LayerShape::Conv2d {
                in_channels: spec.in_channels,
                out_channels: spec.out_channels,
                kernel: spec.kernel,
                geometry: spec.geometry,
            },
            spec.bias,
            rng,
        )
    }

    fn float(shape: LayerShape, bias: bool, rng: &mut impl Rng) -> Self {
        let ws = shape.weight_shape();
        let weight = Param::new(default_weight(&ws, rng), ParamKind::Weight);
        let bound = 1.0 / (fan_in(&ws) as f32).sqrt();
        let bias = bias.then(|| {
            Param::new(
                uniform(&[shape.out_dim()], -bound, bound, rng),
                ParamKind::Bias,
            )
        });
        Self {
            shape,
            weights: LayerWeights::Float(weight),
            bias,
            frozen: None,
        }
    }

    /// Whether this is a Linear layer.
    pub fn is_linear(&self) -> bool {
        matches!(self.shape, LayerShape::Linear { .. })
    }

    /// Whether the layer already holds shift weights.
    pub fn is_shift(&self) -> bool {
        matches!(self.weights, LayerWeights::Shift(..))
    }

    /// Replaces a float layer by a shift layer. With `convert_weights`, Q keeps the float
    /// weight and PS derives shift and sign from it; otherwise the shift layer gets
    /// DeepShift's own initialisation (training from scratch). The bias is kept.
    pub fn convert_to_shift(
        &mut self,
        options: ShiftOptions,
        convert_weights: bool,
        rng: &mut impl Rng,
    ) -> Result<(), NnError> {
        let LayerWeights::Float(weight) = &self.weights else {
            return Ok(());
        };
        let range = options.range()?;
        let ws = self.shape.weight_shape();
        let shift_weights = match (options.shift_type, convert_weights) {
            (ShiftType::Q, true) => ShiftWeights::Q {
                weight: Param::new(weight.value().clone(), ParamKind::Weight),
            },
            (ShiftType::Q, false) => ShiftWeights::Q {
                weight: Param::new(default_weight(&ws, rng), ParamKind::Weight),
            },
            (ShiftType::PS, true) => {
                let w = weight.value();
                let mut shift = Tensor::zeros(w.raw_dim());
                let mut sign = Tensor::zeros(w.raw_dim());
                shift_core::weights_to_shift_sign_slice(
                    w.as_standard_layout().as_slice().unwrap(),
                    shift.as_slice_mut().unwrap(),
                    sign.as_slice_mut().unwrap(),
                    Some(range),
                    options.rounding,
                    rng,
                )?;
                ShiftWeights::PS {
                    shift: Param::new(shift, ParamKind::Shift),
                    sign: Param::new(sign, ParamKind::Sign),
                }
            }
            (ShiftType::PS, false) => {
                let (lo, hi) = if self.is_linear() {
                    (range.min as f32, range.max as f32)
                } else {
                    (-10.0, -1.0)
                };
                ShiftWeights::PS {
                    shift: Param::new(uniform(&ws, lo, hi, rng), ParamKind::Shift),
                    sign: Param::new(uniform(&ws, -1.0, 1.0, rng), ParamKind::Sign),
                }
            }
        };
        self.weights = LayerWeights::Shift(shift_weights, options);
        Ok(())
    }

    /// Replaces the forward pass by an inference-only one (e.g. packed integer kernels
    /// built from this layer's current weights); parameters stay as they are, for saving.
    pub fn freeze(&mut self, frozen: Box<dyn FrozenForward>) {
        self.frozen = Some(std::rc::Rc::new(frozen));
    }

    /// Restores the layer's own forward pass.
    pub fn unfreeze(&mut self) {
        self.frozen = None;
    }

    /// Whether [`Self::freeze`] replaced the forward pass.
    pub fn is_frozen(&self) -> bool {
        self.frozen.is_some()
    }

    /// The forward pass. Shift layers round their input and bias to fixed point first. A
    /// frozen layer runs its [`FrozenForward`] instead, and only without gradients
    /// ([`crate::no_grad`]).
    pub fn forward(&self, x: &Var, ctx: &mut Ctx) -> Result<Var, NnError> {
        if let Some(frozen) = &self.frozen {
            if grad_enabled() {
                return Err(NnError::Config(
                    "a frozen (packed) layer runs inference only: call the model under no_grad"
                        .into(),
                ));
            }
            return Ok(Var::constant(frozen.forward(x.value())?));
        }
        match &self.weights {
            LayerWeights::Float(w) => {
                let b = self.bias.as_ref().map(Var::param);
                self.shape.apply(x, &Var::param(w), b.as_ref())
            }
            LayerWeights::Shift(sw, opts) => {
                let range = opts.range()?;
                let w = match sw {
                    ShiftWeights::Q { weight } => {
                        ops::q_weight(weight, range, opts.rounding, &mut ctx.rng)?
                    }
                    ShiftWeights::PS { shift, sign } => ops::ps_weight(shift, sign, range)?,
                };
                let x = ops::round_fixed(x, opts.act);
                let b = self
                    .bias
                    .as_ref()
                    .map(|b| ops::round_fixed(&Var::param(b), opts.act));
                self.shape.apply(&x, &w, b.as_ref())
            }
        }
    }

    /// Parameters with their PyTorch names under `prefix` (`fc1.weight`, `conv1.shift`, ...).
    pub fn named_params(&self, prefix: &str) -> Vec<(String, Param)> {
        let mut out = match &self.weights {
            LayerWeights::Float(w) | LayerWeights::Shift(ShiftWeights::Q { weight: w }, _) => {
                vec![(format!("{prefix}.weight"), w.clone())]
            }
            LayerWeights::Shift(ShiftWeights::PS { shift, sign }, _) => vec![
                (format!("{prefix}.shift"), shift.clone()),
                (format!("{prefix}.sign"), sign.clone()),
            ],
        };
        if let Some(b) = &self.bias {
            out.push((format!("{prefix}.bias"), b.clone()));
        }
        out
    }

    /// The tensors as DeepShift saves them for evaluation: PS `shift = round(shift)`,
    /// `sign = sign(round(sign))`, Q `weight = sign * 2^p`, biases of shift layers rounded to
    /// fixed point 16/16. Float layers are returned unchanged.
    pub fn rounded_params(&self, prefix: &str) -> Result<Vec<(String, Tensor)>, NnError> {
        let LayerWeights::Shift(sw, opts) = &self.weights else {
            return Ok(self
                .named_params(prefix)
                .into_iter()
                .map(|(n, p)| (n, p.value().clone()))
                .collect());
        };
        let range = opts.range()?;
        let mut out = Vec::new();
        match sw {
            ShiftWeights::Q { weight } => {
                let mut w = weight.value().as_standard_layout().into_owned();
                let mut q = Tensor::zeros(w.raw_dim());
                shift_core::q_weight_slice(
                    w.as_slice_mut().unwrap(),
                    q.as_slice_mut().unwrap(),
                    range,
                    Rounding::Deterministic,
                    &mut ops::NoRng,
                )?;
                out.push((format!("{prefix}.weight"), q));
            }
            ShiftWeights::PS { shift, sign } => {
                let s = shift.value().mapv(|p| range.clamp(p).round_ties_even());
                let g = sign.value().mapv(shift_core::ps_sign);
                out.push((format!("{prefix}.shift"), s));
                out.push((format!("{prefix}.sign"), g));
            }
        }
        if let Some(b) = &self.bias {
            let mut b = b.value().as_standard_layout().into_owned();
            shift_core::round_fixed_slice(b.as_slice_mut().unwrap(), FixedPoint::DEFAULT);
            out.push((format!("{prefix}.bias"), b));
        }
        Ok(out)
    }
}
