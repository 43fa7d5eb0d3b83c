//! torchvision's GoogLeNet (Inception v1) as `googlenet(pretrained=True)` builds it, the model
//! of DeepShift's ImageNet table: no auxiliary heads (`aux_logits=False`, 6,624,904
//! parameters) and `transform_input=True`.
//!
//! Why these two choices: DeepShift's googlenet row is trained from torchvision's pre-trained
//! weights, which torchvision loads into exactly this model. The auxiliary heads exist only
//! in training mode and only as extra outputs, which a [`crate::Model`] (one output) cannot
//! return; torchvision's weight file still holds them (untrained, it says), so the loader of
//! `--pretrained` drops its `aux1.*` and `aux2.*` tensors, as torchvision does after loading.
//! `transform_input` maps ImageNet-normalised inputs to the `[-1, 1]` scaling of the
//! TensorFlow weights torchvision ported; training from scratch, it is a fixed per-channel
//! affine map in front of a convolution followed by batch norm, which learns around it.

use rand::Rng;

use super::blocks::{conv, impl_model, join, linear, Init, Visit};
use super::DataDomain;
use crate::error::NnError;
use crate::layers::{Conv2dSpec, Ctx, WeightLayer};
use crate::model::ModuleRef;
use crate::norm::BatchNorm2d;
use crate::ops;
use crate::tape::Var;

/// torchvision's weight init for GoogLeNet: `trunc_normal(std=0.01)` on every Conv2d and
/// Linear weight.
const INIT: Init = Init::TruncNormal(0.01);

/// `BasicConv2d`: a bias-free convolution (`conv`), batch norm with eps 1e-3 (`bn`), ReLU.
#[derive(Debug, Clone)]
struct BasicConv {
    conv: WeightLayer,
    bn: BatchNorm2d,
}

impl BasicConv {
    fn new(cin: usize, cout: usize, kernel: usize, rng: &mut impl Rng) -> Self {
        Self::with(Conv2dSpec::new(cin, cout, kernel).padding(kernel / 2), rng)
    }

    fn with(spec: Conv2dSpec, rng: &mut impl Rng) -> Self {
        let mut bn = BatchNorm2d::new(spec.out_channels);
        bn.eps = 1e-3;
        Self {
            conv: conv(spec.bias(false), INIT, rng),
            bn,
        }
    }

    fn forward(&self, x: &Var, ctx: &mut Ctx) -> Result<Var, NnError> {
        Ok(ops::relu(
            &self.bn.forward(&self.conv.forward(x, ctx)?, ctx)?,
        ))
    }
}

impl Visit for BasicConv {
    fn visit<'a>(&'a self, prefix: &str, out: &mut Vec<(String, ModuleRef<'a>)>) {
        self.conv.visit(&join(prefix, "conv"), out);
        self.bn.visit(&join(prefix, "bn"), out);
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, out: &mut Vec<(String, &'a mut WeightLayer)>) {
        self.conv.visit_mut(&join(prefix, "conv"), out);
    }
}

/// An Inception module: a 1x1 branch (`branch1`), 1x1 then 3x3 (`branch2.0`, `branch2.1`),
/// 1x1 then 3x3 again (`branch3`; torchvision's known 3x3-for-5x5 deviation from the paper,
/// kept because the weights have that shape) and a 3x3 max pool then 1x1 (`branch4.1`),
/// concatenated along the channels.
#[derive(Debug, Clone)]
struct Inception {
    branch1: BasicConv,
    branch2: [BasicConv; 2],
    branch3: [BasicConv; 2],
    branch4: BasicConv,
}

impl Inception {
    /// torchvision's argument order: `(in, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)`.
    fn new(c: [usize; 7], rng: &mut impl Rng) -> Self {
        let [cin, c1, c3r, c3, c5r, c5, pool] = c;
        Self {
            branch1: BasicConv::new(cin, c1, 1, rng),
            branch2: [
                BasicConv::new(cin, c3r, 1, rng),
                BasicConv::new(c3r, c3, 3, rng),
            ],
            branch3: [
                BasicConv::new(cin, c5r, 1, rng),
                BasicConv::new(c5r, c5, 3, rng),
            ],
            branch4: BasicConv::new(cin, pool, 1, rng),
        }
    }

    fn forward(&self, x: &Var, ctx: &mut Ctx) -> Result<Var, NnError> {
        let b1 = self.branch1.forward(x, ctx)?;
        let b2 = self.branch2[0].forward(x, ctx)?;
        let b2 = self.branch2[1].forward(&b2, ctx)?;
        let b3 = self.branch3[0].forward(x, ctx)?;
        let b3 = self.branch3[1].forward(&b3, ctx)?;
        let b4 = self
            .branch4
            .forward(&ops::max_pool2d_ceil(x, 3, 1, 1)?, ctx)?;
        ops::concat_channels(&[b1, b2, b3, b4])
    }
}

impl Visit for Inception {
    fn visit<'a>(&'a self, prefix: &str, out: &mut Vec<(String, ModuleRef<'a>)>) {
        self.branch1.visit(&join(prefix, "branch1"), out);
        for (i, b) in self.branch2.iter().enumerate() {
            b.visit(&join(prefix, &format!("branch2.{i}")), out);
        }
        for (i, b) in self.branch3.iter().enumerate() {
            b.visit(&join(prefix, &format!("branch3.{i}")), out);
        }
        self.branch4.visit(&join(prefix, "branch4.1"), out);
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, out: &mut Vec<(String, &'a mut WeightLayer)>) {
        self.branch1.visit_mut(&join(prefix, "branch1"), out);
        for (i, b) in self.branch2.iter_mut().enumerate() {
            b.visit_mut(&join(prefix, &format!("branch2.{i}")), out);
        }
        for (i, b) in self.branch3.iter_mut().enumerate() {
            b.visit_mut(&join(prefix, &format!("branch3.{i}")), out);
        }
        self.branch4.visit_mut(&join(prefix, "branch4.1"), out);
    }
}

/// The Inception modules' names and widths, in registration order; a max pool follows
/// `inception3b` (3x3, stride 2) and `inception4e` (2x2, stride 2).
const INCEPTIONS: [(&str, [usize; 7]); 9] = [
    ("inception3a", [192, 64, 96, 128, 16, 32, 32]),
    ("inception3b", [256, 128, 128, 192, 32, 96, 64]),
    ("inception4a", [480, 192, 96, 208, 16, 48, 64]),
    ("inception4b", [512, 160, 112, 224, 24, 64, 64]),
    ("inception4c", [512, 128, 128, 256, 24, 64, 64]),
    ("inception4d", [512, 112, 144, 288, 32, 64, 64]),
    ("inception4e", [528, 256, 160, 320, 32, 128, 128]),
    ("inception5a", [832, 256, 160, 320, 32, 128, 128]),
    ("inception5b", [832, 384, 192, 384, 48, 128, 128]),
];

/// `transform_input`: `x[:, c] * (std[c] / 0.5) + (mean[c] - 0.5) / 0.5` for torchvision's
/// ImageNet mean and std.
const TRANSFORM_SCALE: [f32; 3] = [0.229 / 0.5, 0.224 / 0.5, 0.225 / 0.5];
const TRANSFORM_SHIFT: [f32; 3] = [
    (0.485 - 0.5) / 0.5,
    (0.456 - 0.5) / 0.5,
    (0.406 - 0.5) / 0.5,
];

/// torchvision's `googlenet` (see the module docs): stem `conv1` (7x7, stride 2), `conv2`,
/// `conv3`, nine Inception modules, global average pooling, dropout 0.2 and `fc`.
#[derive(Debug, Clone)]
pub struct GoogLeNet {
    arch: String,
    conv1: BasicConv,
    conv2: BasicConv,
    conv3: BasicConv,
    inceptions: Vec<Inception>,
    fc: WeightLayer,
}

impl GoogLeNet {
    /// torchvision's initialisation from `rng`, 1000 classes.
    pub fn new(rng: &mut impl Rng) -> Self {
        let conv1 = BasicConv::with(Conv2dSpec::new(3, 64, 7).stride(2).padding(3), rng);
        let conv2 = BasicConv::new(64, 64, 1, rng);
        let conv3 = BasicConv::new(64, 192, 3, rng);
        let inceptions = INCEPTIONS
            .iter()
            .map(|&(_, c)| Inception::new(c, rng))
            .collect();
        Self {
            arch: "googlenet".into(),
            conv1,
            conv2,
            conv3,
            inceptions,
            fc: linear(1024, DataDomain::Imagenet.num_classes(), INIT, rng),
        }
    }

    fn forward_impl(&self, x: &Var, ctx: &mut Ctx) -> Result<Var, NnError> {
        let x = ops::channel_affine(x, &TRANSFORM_SCALE, &TRANSFORM_SHIFT)?;
        let x = self.conv1.forward(&x, ctx)?;
        let x = ops::max_pool2d_ceil(&x, 3, 2, 0)?;
        let x = self.conv3.forward(&self.conv2.forward(&x, ctx)?, ctx)?;
        let mut x = ops::max_pool2d_ceil(&x, 3, 2, 0)?;
        for ((name, _), inception) in INCEPTIONS.iter().zip(&self.inceptions) {
            x = inception.forward(&x, ctx)?;
            x = match *name {
                "inception3b" => ops::max_pool2d_ceil(&x, 3, 2, 0)?,
                "inception4e" => ops::max_pool2d_ceil(&x, 2, 2, 0)?,
                _ => x,
            };
        }
        let mut x = ops::flatten(&ops::adaptive_avg_pool2d(&x, 1, 1)?)?;
        if ctx.train {
            x = ops::dropout(&x, 0.2, &mut ctx.rng);
        }
        self.fc.forward(&x, ctx)
    }
}

impl Visit for GoogLeNet {
    fn visit<'a>(&'a self, prefix: &str, out: &mut Vec<(String, ModuleRef<'a>)>) {
        self.conv1.visit(&join(prefix, "conv1"), out);
        self.conv2.visit(&join(prefix, "conv2"), out);
        self.conv3.visit(&join(prefix, "conv3"), out);
        for ((name, _), inception) in INCEPTIONS.iter().zip(&self.inceptions) {
            inception.visit(&join(prefix, name), out);
        }
        self.fc.visit(&join(prefix, "fc"), out);
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, out: &mut Vec<(String, &'a mut WeightLayer)>) {
        self.conv1.visit_mut(&join(prefix, "conv1"), out);
        self.conv2.visit_mut(&join(prefix, "conv2"), out);
        self.conv3.visit_mut(&join(prefix, "conv3"), out);
        for ((name, _), inception) in INCEPTIONS.iter().zip(&mut self.inceptions) {
            inception.visit_mut(&join(prefix, name), out);
        }
        self.fc.visit_mut(&join(prefix, "fc"), out);
    }
}

impl_model!(GoogLeNet);
