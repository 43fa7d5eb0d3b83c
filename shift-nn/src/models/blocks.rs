//! Building blocks shared by the zoo: naming (a visitor that lists modules under PyTorch's
//! dotted names), the initialisations torchvision and the reference models apply, and
//! `Seq`, an `nn.Sequential` whose children are named by their index.

use rand::Rng;
use rand_distr::{Distribution, Normal};

use crate::error::NnError;
use crate::layers::{Conv2dSpec, Ctx, WeightLayer};
use crate::model::ModuleRef;
use crate::norm::BatchNorm2d;
use crate::ops;
use crate::tape::Var;
use crate::tensor::Tensor;

/// `prefix.name`, or `name` at the top level.
pub(crate) fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Lists a module tree under PyTorch's names in registration order.
pub(crate) trait Visit {
    /// Every weight layer and batch norm under `prefix`.
    fn visit<'a>(&'a self, prefix: &str, out: &mut Vec<(String, ModuleRef<'a>)>);
    /// Every weight layer under `prefix`, mutably (for conversion).
    fn visit_mut<'a>(&'a mut self, prefix: &str, out: &mut Vec<(String, &'a mut WeightLayer)>);
}

impl Visit for WeightLayer {
    fn visit<'a>(&'a self, prefix: &str, out: &mut Vec<(String, ModuleRef<'a>)>) {
        out.push((prefix.to_string(), ModuleRef::Weight(self)));
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, out: &mut Vec<(String, &'a mut WeightLayer)>) {
        out.push((prefix.to_string(), self));
    }
}

impl Visit for BatchNorm2d {
    fn visit<'a>(&'a self, prefix: &str, out: &mut Vec<(String, ModuleRef<'a>)>) {
        out.push((prefix.to_string(), ModuleRef::Norm(self)));
    }

    fn visit_mut<'a>(&'a mut self, _: &str, _: &mut Vec<(String, &'a mut WeightLayer)>) {}
}

/// The weight layers among `modules`.
pub(crate) fn weight_layers<'a>(
    modules: Vec<(String, ModuleRef<'a>)>,
) -> Vec<(String, &'a WeightLayer)> {
    modules
        .into_iter()
        .filter_map(|(n, m)| match m {
            ModuleRef::Weight(l) => Some((n, l)),
            ModuleRef::Norm(_) => None,
        })
        .collect()
}

/// Implements [`crate::Model`] for a type that implements [`Visit`] and has
/// `fn forward_impl(&self, &Var, &mut Ctx)` and an `arch: String` field.
macro_rules! impl_model {
    ($t:ty) => {
        impl $crate::model::Model for $t {
            fn forward(
                &self,
                x: &$crate::tape::Var,
                ctx: &mut $crate::layers::Ctx,
            ) -> Result<$crate::tape::Var, $crate::error::NnError> {
                self.forward_impl(x, ctx)
            }

            fn layers(&self) -> Vec<(String, &$crate::layers::WeightLayer)> {
                $crate::models::blocks::weight_layers(self.modules())
            }

            fn layers_mut(&mut self) -> Vec<(String, &mut $crate::layers::WeightLayer)> {
                let mut out = Vec::new();
                $crate::models::blocks::Visit::visit_mut(self, "", &mut out);
                out
            }

            fn arch(&self) -> &str {
                &self.arch
            }

            fn modules(&self) -> Vec<(String, $crate::model::ModuleRef<'_>)> {
                let mut out = Vec::new();
                $crate::models::blocks::Visit::visit(self, "", &mut out);
                out
            }
        }
    };
}
pub(crate) use impl_model;

/// How a model initialises its convolution and linear weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Init {
    /// PyTorch's layer defaults: kaiming uniform (a = sqrt 5), bias U(±1/sqrt(fan_in)).
    Default,
    /// torchvision: `kaiming_normal_(mode="fan_out", nonlinearity="relu")`, bias 0.
    KaimingFanOut,
    /// `normal_(0, std)`, bias 0.
    Normal(f32),
    /// torchvision's DenseNet: `kaiming_normal_` with its defaults (fan in, gain sqrt 2),
    /// bias 0.
    KaimingFanIn,
    /// torchvision's GoogLeNet: a normal of this std truncated to two standard deviations
    /// (its `truncnorm(-2, 2, scale=std)`); the bias keeps PyTorch's default, as only the
    /// weight is overwritten there.
    TruncNormal(f32),
    /// torchvision's EfficientNet Linear: `uniform_(-r, r)` with `r = 1 / sqrt(out_features)`,
    /// bias 0.
    UniformFanOut,
    /// PyTorch's default weight and a zero bias (torchvision's DenseNet classifier).
    DefaultZeroBias,
}

fn normal(shape: &[usize], std: f32, rng: &mut impl Rng) -> Tensor {
    let dist = Normal::new(0.0f32, std).expect("std is finite and positive");
    Tensor::from_shape_fn(shape.to_vec(), |_| dist.sample(rng))
}

/// Overwrites a float layer's weight (and zeroes its bias) according to `init`.
pub(crate) fn apply_init(layer: &WeightLayer, init: Init, rng: &mut impl Rng) {
    let crate::layers::LayerWeights::Float(weight) = &layer.weights else {
        return;
    };
    let shape = weight.value().shape().to_vec();
    match init {
        Init::Default => return,
        // fan_out = out_channels * kh * kw; gain sqrt(2) for ReLU.
        Init::KaimingFanOut => {
            let std = (2.0 / (shape[0] * shape[2..].iter().product::<usize>()) as f32).sqrt();
            weight.set_value(normal(&shape, std, rng));
        }
        // fan_in = in_channels / groups * kh * kw.
        Init::KaimingFanIn => {
            let std = (2.0 / shape[1..].iter().product::<usize>() as f32).sqrt();
            weight.set_value(normal(&shape, std, rng));
        }
        Init::Normal(std) => weight.set_value(normal(&shape, std, rng)),
        Init::TruncNormal(std) => {
            let dist = Normal::new(0.0f32, std).expect("std is finite and positive");
            // Rejection sampling: the acceptance rate within two sigmas is 95 %.
            weight.set_value(Tensor::from_shape_fn(shape.clone(), |_| loop {
                let v = dist.sample(rng);
                if v.abs() <= 2.0 * std {
                    break v;
                }
            }));
            return;
        }
        Init::UniformFanOut => {
            let r = 1.0 / (shape[0] as f32).sqrt();
            weight.set_value(Tensor::from_shape_fn(shape.clone(), |_| {
                rng.gen_range(-r..r)
            }));
        }
        Init::DefaultZeroBias => {}
    }
    if let Some(b) = &layer.bias {
        let dim = b.value().raw_dim();
        b.set_value(Tensor::zeros(dim));
    }
}

/// `nn.Conv2d` as `spec` describes it, initialised by `init`.
pub(crate) fn conv(spec: Conv2dSpec, init: Init, rng: &mut impl Rng) -> WeightLayer {
    let layer = WeightLayer::conv2d(spec, rng);
    apply_init(&layer, init, rng);
    layer
}

/// `nn.Linear(inf, outf)` with a bias, initialised by `init`.
pub(crate) fn linear(inf: usize, outf: usize, init: Init, rng: &mut impl Rng) -> WeightLayer {
    let layer = WeightLayer::linear(inf, outf, true, rng);
    apply_init(&layer, init, rng);
    layer
}

/// One child of a [`Seq`].
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// Conv2d or Linear.
    Weight(WeightLayer),
    /// BatchNorm2d.
    Norm(BatchNorm2d),
    /// ReLU.
    Relu,
    /// ReLU6.
    Relu6,
    /// MaxPool2d(kernel, stride, padding).
    MaxPool(usize, usize, usize),
    /// Dropout(p), active in training mode only.
    Dropout(f32),
    /// A nested sequential, named by its index.
    Seq(Seq),
    /// A child module holding a sequential under `name` (`features.3.conv.0`), with an
    /// identity shortcut added when `residual` (torchvision's InvertedResidual).
    Block {
        /// The attribute name of the inner sequential.
        name: &'static str,
        /// The inner sequential.
        body: Seq,
        /// Whether the input is added to the output.
        residual: bool,
    },
}

/// `nn.Sequential`: children named `0`, `1`, ... (layers without parameters take an index too).
#[derive(Debug, Clone, Default)]
pub(crate) struct Seq(pub Vec<Item>);

impl Seq {
    pub(crate) fn forward(&self, x: &Var, ctx: &mut Ctx) -> Result<Var, NnError> {
        let mut x = x.clone();
        for item in &self.0 {
            x = match item {
                Item::Weight(l) => l.forward(&x, ctx)?,
                Item::Norm(bn) => bn.forward(&x, ctx)?,
                Item::Relu => ops::relu(&x),
                Item::Relu6 => ops::relu6(&x),
                Item::MaxPool(k, s, p) => ops::max_pool2d(&x, *k, *s, *p)?,
                Item::Dropout(p) if ctx.train => ops::dropout(&x, *p, &mut ctx.rng),
                Item::Dropout(_) => x,
                Item::Seq(seq) => seq.forward(&x, ctx)?,
                Item::Block { body, residual, .. } => {
                    let y = body.forward(&x, ctx)?;
                    if *residual {
                        ops::add(&x, &y)?
                    } else {
                        y
                    }
                }
            };
        }
        Ok(x)
    }
}

impl Visit for Seq {
    fn visit<'a>(&'a self, prefix: &str, out: &mut Vec<(String, ModuleRef<'a>)>) {
        for (i, item) in self.0.iter().enumerate() {
            let name = join(prefix, &i.to_string());
            match item {
                Item::Weight(l) => l.visit(&name, out),
                Item::Norm(bn) => bn.visit(&name, out),
                Item::Seq(seq) => seq.visit(&name, out),
                Item::Block { name: n, body, .. } => body.visit(&join(&name, n), out),
                _ => {}
            }
        }
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, out: &mut Vec<(String, &'a mut WeightLayer)>) {
        for (i, item) in self.0.iter_mut().enumerate() {
            let name = join(prefix, &i.to_string());
            match item {
                Item::Weight(l) => l.visit_mut(&name, out),
                Item::Seq(seq) => seq.visit_mut(&name, out),
                Item::Block { name: n, body, .. } => body.visit_mut(&join(&name, n), out),
                _ => {}
            }
        }
    }
}
