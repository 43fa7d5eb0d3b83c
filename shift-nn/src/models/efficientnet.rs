//! torchvision's EfficientNet-B0 (AutoDSNN's CIFAR-10 runs; also on ImageNet): a 3x3 stem,
//! sixteen MBConv blocks with squeeze-and-excitation and SiLU, a 1x1 head to 1280 channels,
//! dropout 0.2 and `classifier.1`; 5,288,548 parameters with 1000 classes. Batch norm keeps
//! PyTorch's defaults (eps 1e-5, momentum 0.1), as torchvision's B0 does (only its V2 models
//! use eps 1e-3).
//!
//! The CIFAR-10 model is the same network with a 10-class classifier (4,020,358 parameters):
//! its stride-32 features reduce a 32x32 image to 1x1 before the global pooling, as in
//! torchvision with `num_classes=10`.
//!
//! Stochastic depth ("row" mode) drops a residual block's branch per sample in training with
//! a probability growing linearly from 0 to 0.2 over the blocks (`0.2 * index / 16`), drawn
//! from the forward pass's RNG; in evaluation it is the identity.

use rand::Rng;

use super::blocks::{conv, impl_model, join, linear, Init, Visit};
use super::DataDomain;
use crate::error::NnError;
use crate::layers::{Conv2dSpec, Ctx, WeightLayer};
use crate::model::ModuleRef;
use crate::norm::BatchNorm2d;
use crate::ops;
use crate::tape::Var;

/// torchvision's EfficientNet convolution init: Kaiming normal, fan out, bias 0.
const CONV_INIT: Init = Init::KaimingFanOut;

/// The network-level stochastic depth probability (torchvision's `stochastic_depth_prob`).
const STOCHASTIC_DEPTH: f32 = 0.2;

/// `Conv2dNormActivation`: a bias-free convolution (`.0`) with "same" padding, batch norm
/// (`.1`) and, unless it is a projection, SiLU.
#[derive(Debug, Clone)]
struct ConvBn {
    conv: WeightLayer,
    bn: BatchNorm2d,
    silu: bool,
}

impl ConvBn {
    fn new(spec: Conv2dSpec, silu: bool, rng: &mut impl Rng) -> Self {
        let pad = (spec.kernel.0 - 1) / 2;
        Self {
            bn: BatchNorm2d::new(spec.out_channels),
            conv: conv(spec.padding(pad).bias(false), CONV_INIT, rng),
            silu,
        }
    }

    fn forward(&self, x: &Var, ctx: &mut Ctx) -> Result<Var, NnError> {
        let y = self.bn.forward(&self.conv.forward(x, ctx)?, ctx)?;
        Ok(if self.silu { ops::silu(&y) } else { y })
    }
}

impl Visit for ConvBn {
    fn visit<'a>(&'a self, prefix: &str, out: &mut Vec<(String, ModuleRef<'a>)>) {
        self.conv.visit(&join(prefix, "0"), out);
        self.bn.visit(&join(prefix, "1"), out);
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, out: &mut Vec<(String, &'a mut WeightLayer)>) {
        self.conv.visit_mut(&join(prefix, "0"), out);
    }
}

/// `SqueezeExcitation`: global average pooling, `fc1` (1x1 with bias), SiLU, `fc2`, sigmoid,
/// and the input scaled per channel by the result.
#[derive(Debug, Clone)]
struct SqueezeExcitation {
    fc1: WeightLayer,
    fc2: WeightLayer,
}

impl SqueezeExcitation {
    fn forward(&self, x: &Var, ctx: &mut Ctx) -> Result<Var, NnError> {
        let s = ops::adaptive_avg_pool2d(x, 1, 1)?;
        let s = ops::silu(&self.fc1.forward(&s, ctx)?);
        let s = ops::sigmoid(&self.fc2.forward(&s, ctx)?);
        ops::scale_channels(x, &s)
    }
}

impl Visit for SqueezeExcitation {
    fn visit<'a>(&'a self, prefix: &str, out: &mut Vec<(String, ModuleRef<'a>)>) {
        self.fc1.visit(&join(prefix, "fc1"), out);
        self.fc2.visit(&join(prefix, "fc2"), out);
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, out: &mut Vec<(String, &'a mut WeightLayer)>) {
        self.fc1.visit_mut(&join(prefix, "fc1"), out);
        self.fc2.visit_mut(&join(prefix, "fc2"), out);
    }
}

/// `MBConv`: its `block` sequential holds an expansion (1x1, absent at expand ratio 1), the
/// depthwise convolution, squeeze-and-excitation and the projection; with stride 1 and equal
/// widths the input is added after stochastic depth.
#[derive(Debug, Clone)]
struct MbConv {
    expand: Option<ConvBn>,
    depthwise: ConvBn,
    se: SqueezeExcitation,
    project: ConvBn,
    residual: bool,
    drop_prob: f32,
}

impl MbConv {
    fn new(
        (expand_ratio, kernel, stride, cin, cout): (usize, usize, usize, usize, usize),
        drop_prob: f32,
        rng: &mut impl Rng,
    ) -> Self {
        let mid = cin * expand_ratio;
        let expand = (mid != cin).then(|| ConvBn::new(Conv2dSpec::new(cin, mid, 1), true, rng));
        let depthwise = ConvBn::new(
            Conv2dSpec::new(mid, mid, kernel).stride(stride).groups(mid),
            true,
            rng,
        );
        // torchvision squeezes to a quarter of the block's *input* width.
        let squeeze = (cin / 4).max(1);
        let se = SqueezeExcitation {
            fc1: conv(Conv2dSpec::new(mid, squeeze, 1), CONV_INIT, rng),
            fc2: conv(Conv2dSpec::new(squeeze, mid, 1), CONV_INIT, rng),
        };
        let project = ConvBn::new(Conv2dSpec::new(mid, cout, 1), false, rng);
        Self {
            expand,
            depthwise,
            se,
            project,
            residual: stride == 1 && cin == cout,
            drop_prob,
        }
    }

    fn forward(&self, x: &Var, ctx: &mut Ctx) -> Result<Var, NnError> {
        let mut y = x.clone();
        if let Some(e) = &self.expand {
            y = e.forward(&y, ctx)?;
        }
        y = self.depthwise.forward(&y, ctx)?;
        y = self.se.forward(&y, ctx)?;
        y = self.project.forward(&y, ctx)?;
        if !self.residual {
            return Ok(y);
        }
        if ctx.train {
            y = ops::stochastic_depth(&y, self.drop_prob, &mut ctx.rng)?;
        }
        ops::add(&y, x)
    }

    /// The children of `block` with their indices.
    fn names(&self) -> [usize; 4] {
        // [expand, depthwise, se, project]; without an expansion everything moves up one.
        let o = usize::from(self.expand.is_some());
        [0, o, o + 1, o + 2]
    }
}

impl Visit for MbConv {
    fn visit<'a>(&'a self, prefix: &str, out: &mut Vec<(String, ModuleRef<'a>)>) {
        let [e, d, s, p] = self.names();
        let at = |i: usize| join(prefix, &format!("block.{i}"));
        if let Some(x) = &self.expand {
            x.visit(&at(e), out);
        }
        self.depthwise.visit(&at(d), out);
        self.se.visit(&at(s), out);
        self.project.visit(&at(p), out);
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, out: &mut Vec<(String, &'a mut WeightLayer)>) {
        let [e, d, s, p] = self.names();
        let at = |i: usize| join(prefix, &format!("block.{i}"));
        if let Some(x) = &mut self.expand {
            x.visit_mut(&at(e), out);
        }
        self.depthwise.visit_mut(&at(d), out);
        self.se.visit_mut(&at(s), out);
        self.project.visit_mut(&at(p), out);
    }
}

/// B0's stages: (expand ratio, kernel, first stride, input width, output width, blocks).
const B0: [(usize, usize, usize, usize, usize, usize); 7] = [
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
];

/// torchvision's `efficientnet_b0` (see the module docs).
#[derive(Debug, Clone)]
pub struct EfficientNet {
    arch: String,
    stem: ConvBn,
    stages: Vec<Vec<MbConv>>,
    head: ConvBn,
    classifier: WeightLayer,
}

impl EfficientNet {
    /// torchvision's initialisation from `rng`, with `domain`'s class count.
    pub fn b0(domain: DataDomain, rng: &mut impl Rng) -> Self {
        let stem = ConvBn::new(Conv2dSpec::new(3, 32, 3).stride(2), true, rng);
        let total: usize = B0.iter().map(|s| s.5).sum();
        let mut index = 0;
        let mut stages = Vec::new();
        for (t, k, s, cin, cout, n) in B0 {
            let mut blocks = Vec::new();
            for i in 0..n {
                let (cin, s) = if i == 0 { (cin, s) } else { (cout, 1) };
                let p = STOCHASTIC_DEPTH * index as f32 / total as f32;
                blocks.push(MbConv::new((t, k, s, cin, cout), p, rng));
                index += 1;
            }
            stages.push(blocks);
        }
        let head = ConvBn::new(Conv2dSpec::new(320, 1280, 1), true, rng);
        Self {
            arch: "efficientnet_b0".into(),
            stem,
            stages,
            head,
            classifier: linear(1280, domain.num_classes(), Init::UniformFanOut, rng),
        }
    }

    fn forward_impl(&self, x: &Var, ctx: &mut Ctx) -> Result<Var, NnError> {
        let mut x = self.stem.forward(x, ctx)?;
        for block in self.stages.iter().flatten() {
            x = block.forward(&x, ctx)?;
        }
        let x = self.head.forward(&x, ctx)?;
        let mut x = ops::flatten(&ops::adaptive_avg_pool2d(&x, 1, 1)?)?;
        if ctx.train {
            x = ops::dropout(&x, 0.2, &mut ctx.rng);
        }
        self.classifier.forward(&x, ctx)
    }
}

impl Visit for EfficientNet {
    fn visit<'a>(&'a self, prefix: &str, out: &mut Vec<(String, ModuleRef<'a>)>) {
        let f = join(prefix, "features");
        self.stem.visit(&join(&f, "0"), out);
        for (i, stage) in self.stages.iter().enumerate() {
            for (j, block) in stage.iter().enumerate() {
                block.visit(&join(&f, &format!("{}.{j}", i + 1)), out);
            }
        }
        self.head
            .visit(&join(&f, &(self.stages.len() + 1).to_string()), out);
        self.classifier.visit(&join(prefix, "classifier.1"), out);
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, out: &mut Vec<(String, &'a mut WeightLayer)>) {
        let f = join(prefix, "features");
        let head = join(&f, &(self.stages.len() + 1).to_string());
        self.stem.visit_mut(&join(&f, "0"), out);
        for (i, stage) in self.stages.iter_mut().enumerate() {
            for (j, block) in stage.iter_mut().enumerate() {
                block.visit_mut(&join(&f, &format!("{}.{j}", i + 1)), out);
            }
        }
        self.head.visit_mut(&head, out);
        self.classifier
            .visit_mut(&join(prefix, "classifier.1"), out);
    }
}

impl_model!(EfficientNet);
