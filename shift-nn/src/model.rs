//! The model interface, parameter access, `convert_to_shift` and parameter counting.

use rand::Rng;

use crate::buffer::Buffer;
use crate::error::NnError;
use crate::layers::{Ctx, ShiftOptions, WeightLayer};
use crate::norm::BatchNorm2d;
use crate::param::Param;
use crate::tape::Var;

/// A network: a forward pass plus its weight layers in registration order (the order of
/// PyTorch's `model.modules()`), which is what naming and conversion need.
pub trait Model {
    /// The forward pass; MNIST models end in log-softmax as the reference's do.
    fn forward(&self, x: &Var, ctx: &mut Ctx) -> Result<Var, NnError>;
    /// Weight layers with their PyTorch module names, in registration order.
    fn layers(&self) -> Vec<(String, &WeightLayer)>;
    /// Mutable weight layers, in registration order.
    fn layers_mut(&mut self) -> Vec<(String, &mut WeightLayer)>;
    /// The architecture's name (`simple_conv`, `resnet20`, ...).
    fn arch(&self) -> &str;
    /// The number of classes the model outputs: the output width of its last weight layer in
    /// registration order (the classifier in every model of the zoo, built with its domain's
    /// [`crate::models::DataDomain::num_classes`]). 0 for a model without weight layers.
    fn num_classes(&self) -> usize {
        self.layers()
            .last()
            .map_or(0, |(_, layer)| layer.shape.out_dim())
    }
    /// Every module that owns parameters or buffers (weight layers and batch norms), with its
    /// PyTorch name, in registration order. The default lists [`Model::layers`], which is
    /// right for models without batch norm.
    fn modules(&self) -> Vec<(String, ModuleRef<'_>)> {
        self.layers()
            .into_iter()
            .map(|(name, layer)| (name, ModuleRef::Weight(layer)))
            .collect()
    }
}

/// A module that owns parameters, as [`Model::modules`] lists them.
#[derive(Debug, Clone, Copy)]
pub enum ModuleRef<'a> {
    /// A Linear or Conv2d layer, float or shift.
    Weight(&'a WeightLayer),
    /// A batch norm.
    Norm(&'a BatchNorm2d),
}

/// All parameters with PyTorch's dotted names, in registration order.
pub fn named_params(model: &dyn Model) -> Vec<(String, Param)> {
    model
        .modules()
        .into_iter()
        .flat_map(|(name, module)| match module {
            ModuleRef::Weight(layer) => layer.named_params(&name),
            ModuleRef::Norm(bn) => bn.named_params(&name),
        })
        .collect()
}

/// All buffers (batch norm running statistics) with PyTorch's dotted names.
pub fn named_buffers(model: &dyn Model) -> Vec<(String, Buffer)> {
    model
        .modules()
        .into_iter()
        .flat_map(|(name, module)| match module {
            ModuleRef::Weight(_) => Vec::new(),
            ModuleRef::Norm(bn) => bn.named_buffers(&name),
        })
        .collect()
}

/// Total number of parameter elements (PyTorch's `sum(p.numel())`).
pub fn param_count(model: &dyn Model) -> usize {
    named_params(model).iter().map(|(_, p)| p.len()).sum()
}

/// Zeroes every gradient.
pub fn zero_grad(model: &dyn Model) {
    for (_, p) in named_params(model) {
        p.zero_grad();
    }
}

/// Which Linear layers count toward the shift depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinearRule {
    /// Linear layers are always converted and do not count (CIFAR-10, ImageNet, MNIST conv).
    AlwaysConvert,
    /// Linear layers count toward the depth like convolutions (MNIST linear).
    Count,
}

/// Converts the *last* `depth` layers to shift layers, as the reference's `convert_to_shift`:
/// layers are visited in reverse registration order; each converted Conv2d counts toward the
/// depth; Linear layers count or are always converted according to `linear_rule`. A depth of
/// 0 converts nothing (the float baseline, as the reference scripts only convert when
/// `--shift-depth > 0`). Returns the number of layers converted.
pub fn convert_to_shift(
    model: &mut dyn Model,
    depth: usize,
    options: ShiftOptions,
    linear_rule: LinearRule,
    convert_weights: bool,
    rng: &mut impl Rng,
) -> Result<usize, NnError> {
    options.range()?;
    if depth == 0 {
        return Ok(0);
    }
    let mut counted = 0;
    let mut converted = 0;
    for (_, layer) in model.layers_mut().into_iter().rev() {
        if layer.is_shift() {
            continue;
        }
        let convert = if layer.is_linear() {
            linear_rule == LinearRule::AlwaysConvert || counted < depth
        } else {
            counted < depth
        };
        if !convert {
            continue;
        }
        layer.convert_to_shift(options, convert_weights, rng)?;
        converted += 1;
        if !layer.is_linear() || linear_rule == LinearRule::Count {
            counted += 1;
        }
    }
    Ok(converted)
}
