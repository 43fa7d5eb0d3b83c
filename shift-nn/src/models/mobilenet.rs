//! The reference's CIFAR-10 MobileNetV2 (stride 1 in the stem and the second stage, 4x4
//! average pooling, 10 classes); torchvision's ImageNet version is in `seqnet`.

use rand::Rng;

use super::blocks::{conv, impl_model, join, linear, Init, Visit};
use super::DataDomain;
use crate::error::NnError;
use crate::layers::{Conv2dSpec, Ctx, WeightLayer};
use crate::model::ModuleRef;
use crate::norm::BatchNorm2d;
use crate::ops;
use crate::tape::Var;

/// Expand (1x1), depthwise (3x3), project (1x1); with stride 1 the input (or its 1x1
/// projection, `shortcut.0`/`shortcut.1`, when the widths differ) is added.
#[derive(Debug, Clone)]
struct Block {
    convs: [(WeightLayer, BatchNorm2d); 3],
    shortcut: Option<(WeightLayer, BatchNorm2d)>,
    stride: usize,
}

impl Block {
    fn new(cin: usize, cout: usize, expansion: usize, stride: usize, rng: &mut impl Rng) -> Self {
        let planes = expansion * cin;
        let i = Init::Default;
        Self {
            convs: [
                (
                    conv(Conv2dSpec::new(cin, planes, 1).bias(false), i, rng),
                    BatchNorm2d::new(planes),
                ),
                (
                    conv(
                        Conv2dSpec::new(planes, planes, 3)
                            .stride(stride)
                            .padding(1)
                            .groups(planes)
                            .bias(false),
                        i,
                        rng,
                    ),
                    BatchNorm2d::new(planes),
                ),
                (
                    conv(Conv2dSpec::new(planes, cout, 1).bias(false), i, rng),
                    BatchNorm2d::new(cout),
                ),
            ],
            shortcut: (stride == 1 && cin != cout).then(|| {
                (
                    conv(Conv2dSpec::new(cin, cout, 1).bias(false), i, rng),
                    BatchNorm2d::new(cout),
                )
            }),
            stride,
        }
    }

    fn forward(&self, x: &Var, ctx: &mut Ctx) -> Result<Var, NnError> {
        let mut out = x.clone();
        for (i, (c, bn)) in self.convs.iter().enumerate() {
            out = bn.forward(&c.forward(&out, ctx)?, ctx)?;
            if i < 2 {
                out = ops::relu(&out);
            }
        }
        if self.stride != 1 {
            return Ok(out);
        }
        let sc = match &self.shortcut {
            Some((c, bn)) => bn.forward(&c.forward(x, ctx)?, ctx)?,
            None => x.clone(),
        };
        ops::add(&out, &sc)
    }
}

impl Visit for Block {
    fn visit<'a>(&'a self, prefix: &str, out: &mut Vec<(String, ModuleRef<'a>)>) {
        for (i, (c, bn)) in self.convs.iter().enumerate() {
            c.visit(&join(prefix, &format!("conv{}", i + 1)), out);
            bn.visit(&join(prefix, &format!("bn{}", i + 1)), out);
        }
        if let Some((c, bn)) = &self.shortcut {
            c.visit(&join(prefix, "shortcut.0"), out);
            bn.visit(&join(prefix, "shortcut.1"), out);
        }
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, out: &mut Vec<(String, &'a mut WeightLayer)>) {
        for (i, (c, _)) in self.convs.iter_mut().enumerate() {
            c.visit_mut(&join(prefix, &format!("conv{}", i + 1)), out);
        }
        if let Some((c, _)) = &mut self.shortcut {
            c.visit_mut(&join(prefix, "shortcut.0"), out);
        }
    }
}

/// The reference's CIFAR-10 `mobilenetv2`.
#[derive(Debug, Clone)]
pub struct CifarMobileNetV2 {
    arch: String,
    conv1: WeightLayer,
    bn1: BatchNorm2d,
    layers: Vec<Block>,
    conv2: WeightLayer,
    bn2: BatchNorm2d,
    linear: WeightLayer,
}

impl CifarMobileNetV2 {
    /// PyTorch's default initialisation from `rng`.
    pub fn new(rng: &mut impl Rng) -> Self {
        // (expansion, output channels, repeats, first stride)
        const CFG: [(usize, usize, usize, usize); 7] = [
            (1, 16, 1, 1),
            (6, 24, 2, 1),
            (6, 32, 3, 2),
            (6, 64, 4, 2),
            (6, 96, 3, 1),
            (6, 160, 3, 2),
            (6, 320, 1, 1),
        ];
        let conv1 = conv(
            Conv2dSpec::new(3, 32, 3).padding(1).bias(false),
            Init::Default,
            rng,
        );
        let mut layers = Vec::new();
        let mut cin = 32;
        for (t, c, n, s) in CFG {
            for i in 0..n {
                layers.push(Block::new(cin, c, t, if i == 0 { s } else { 1 }, rng));
                cin = c;
            }
        }
        Self {
            arch: "mobilenetv2".into(),
            conv1,
            bn1: BatchNorm2d::new(32),
            layers,
            conv2: conv(
                Conv2dSpec::new(320, 1280, 1).bias(false),
                Init::Default,
                rng,
            ),
            bn2: BatchNorm2d::new(1280),
            linear: linear(1280, DataDomain::Cifar10.num_classes(), Init::Default, rng),
        }
    }

    fn forward_impl(&self, x: &Var, ctx: &mut Ctx) -> Result<Var, NnError> {
        let mut x = ops::relu(&self.bn1.forward(&self.conv1.forward(x, ctx)?, ctx)?);
        for block in &self.layers {
            x = block.forward(&x, ctx)?;
        }
        let x = ops::relu(&self.bn2.forward(&self.conv2.forward(&x, ctx)?, ctx)?);
        let x = ops::flatten(&ops::avg_pool2d(&x, 4, 4)?)?;
        self.linear.forward(&x, ctx)
    }
}

impl Visit for CifarMobileNetV2 {
    fn visit<'a>(&'a self, prefix: &str, out: &mut Vec<(String, ModuleRef<'a>)>) {
        self.conv1.visit(&join(prefix, "conv1"), out);
        self.bn1.visit(&join(prefix, "bn1"), out);
        for (i, b) in self.layers.iter().enumerate() {
            b.visit(&join(prefix, &format!("layers.{i}")), out);
        }
        self.conv2.visit(&join(prefix, "conv2"), out);
        self.bn2.visit(&join(prefix, "bn2"), out);
        self.linear.visit(&join(prefix, "linear"), out);
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, out: &mut Vec<(String, &'a mut WeightLayer)>) {
        self.conv1.visit_mut(&join(prefix, "conv1"), out);
        for (i, b) in self.layers.iter_mut().enumerate() {
            b.visit_mut(&join(prefix, &format!("layers.{i}")), out);
        }
        self.conv2.visit_mut(&join(prefix, "conv2"), out);
        self.linear.visit_mut(&join(prefix, "linear"), out);
    }
}

impl_model!(CifarMobileNetV2);
