//! Residual networks: the CIFAR-10 ResNets of the reference (option A, resnet20..110, and the
//! ImageNet-shaped option B, resnet18/34/50) and torchvision's ImageNet ResNets.

use rand::Rng;

use super::blocks::{conv, impl_model, join, linear, Init, Visit};
use super::DataDomain;
use crate::error::NnError;
use crate::layers::{Conv2dSpec, Ctx, WeightLayer};
use crate::model::ModuleRef;
use crate::norm::BatchNorm2d;
use crate::ops;
use crate::tape::Var;

/// The path added to a block's output.
#[derive(Debug, Clone)]
enum Shortcut {
    Identity,
    /// Option A: keep every other pixel and zero-pad this many channels on each side.
    ZeroPad(usize),
    /// A 1x1 strided convolution and a batch norm, registered as `{name}.0` and `{name}.1`.
    Projection {
        name: &'static str,
        conv: WeightLayer,
        bn: BatchNorm2d,
    },
}

impl Shortcut {
    fn forward(&self, x: &Var, ctx: &mut Ctx) -> Result<Var, NnError> {
        match self {
            Shortcut::Identity => Ok(x.clone()),
            Shortcut::ZeroPad(pad) => ops::zero_pad_shortcut(x, *pad),
            Shortcut::Projection { conv, bn, .. } => bn.forward(&conv.forward(x, ctx)?, ctx),
        }
    }

    fn visit<'a>(&'a self, prefix: &str, out: &mut Vec<(String, ModuleRef<'a>)>) {
        if let Shortcut::Projection { name, conv, bn } = self {
            conv.visit(&join(prefix, &format!("{name}.0")), out);
            bn.visit(&join(prefix, &format!("{name}.1")), out);
        }
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, out: &mut Vec<(String, &'a mut WeightLayer)>) {
        if let Shortcut::Projection { name, conv, .. } = self {
            conv.visit_mut(&join(prefix, &format!("{name}.0")), out);
        }
    }
}

/// Conv-BN pairs of a block (`conv1`/`bn1`, ...) and its shortcut: a basic block has two
/// pairs, a bottleneck three; every pair but the last is followed by ReLU.
#[derive(Debug, Clone)]
struct Block {
    convs: Vec<(WeightLayer, BatchNorm2d)>,
    shortcut: Shortcut,
}

impl Block {
    fn forward(&self, x: &Var, ctx: &mut Ctx) -> Result<Var, NnError> {
        let mut out = x.clone();
        let last = self.convs.len() - 1;
        for (i, (c, bn)) in self.convs.iter().enumerate() {
            out = bn.forward(&c.forward(&out, ctx)?, ctx)?;
            if i < last {
                out = ops::relu(&out);
            }
        }
        let sc = self.shortcut.forward(x, ctx)?;
        Ok(ops::relu(&ops::add(&out, &sc)?))
    }
}

impl Visit for Block {
    fn visit<'a>(&'a self, prefix: &str, out: &mut Vec<(String, ModuleRef<'a>)>) {
        for (i, (c, bn)) in self.convs.iter().enumerate() {
            c.visit(&join(prefix, &format!("conv{}", i + 1)), out);
            bn.visit(&join(prefix, &format!("bn{}", i + 1)), out);
        }
        self.shortcut.visit(prefix, out);
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, out: &mut Vec<(String, &'a mut WeightLayer)>) {
        for (i, (c, _)) in self.convs.iter_mut().enumerate() {
            c.visit_mut(&join(prefix, &format!("conv{}", i + 1)), out);
        }
        self.shortcut.visit_mut(prefix, out);
    }
}

/// Which family a ResNet belongs to: stem, shortcut style, pooling and names differ.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Family {
    /// The reference's CIFAR ResNets with option-A shortcuts (widths 16, 32, 64).
    CifarA,
    /// The reference's CIFAR ResNets with projection shortcuts (widths 64..512).
    CifarB,
    /// torchvision's ImageNet ResNets.
    Torchvision,
}

/// A ResNet (see the module docs for the families).
#[derive(Debug, Clone)]
pub struct ResNet {
    arch: String,
    family: Family,
    conv1: WeightLayer,
    bn1: BatchNorm2d,
    stages: Vec<Vec<Block>>,
    fc: WeightLayer,
}

/// Basic (two 3x3 convolutions) or bottleneck (1x1, 3x3, 1x1 with expansion 4) blocks.
#[derive(Debug, Clone, Copy, PartialEq)]
enum BlockKind {
    Basic,
    Bottleneck,
}

impl ResNet {
    fn build(
        arch: &str,
        family: Family,
        kind: BlockKind,
        counts: &[usize],
        num_classes: usize,
        rng: &mut impl Rng,
    ) -> Self {
        let init = match family {
            Family::Torchvision => Init::KaimingFanOut,
            _ => Init::Default,
        };
        let (stem_width, widths): (usize, &[usize]) = match family {
            Family::CifarA => (16, &[16, 32, 64]),
            _ => (64, &[64, 128, 256, 512]),
        };
        let conv1 = match family {
            Family::Torchvision => conv(
                Conv2dSpec::new(3, 64, 7).stride(2).padding(3).bias(false),
                init,
                rng,
            ),
            _ => conv(
                Conv2dSpec::new(3, stem_width, 3).padding(1).bias(false),
                init,
                rng,
            ),
        };
        // The blocks' convolutions, bias-free as every convolution of a ResNet.
        let conv3x3 = |cin, cout, stride| {
            Conv2dSpec::new(cin, cout, 3)
                .stride(stride)
                .padding(1)
                .bias(false)
        };
        let conv1x1 = |cin, cout, stride| Conv2dSpec::new(cin, cout, 1).stride(stride).bias(false);
        let expansion = if kind == BlockKind::Bottleneck { 4 } else { 1 };
        let mut cin = stem_width;
        let mut stages = Vec::new();
        for (s, (&planes, &count)) in widths.iter().zip(counts).enumerate() {
            let mut blocks = Vec::new();
            for b in 0..count {
                let stride = if s > 0 && b == 0 { 2 } else { 1 };
                let cout = planes * expansion;
                let mut convs = Vec::new();
                if kind == BlockKind::Basic {
                    convs.push((conv(conv3x3(cin, planes, stride), init, rng), planes));
                    convs.push((conv(conv3x3(planes, planes, 1), init, rng), planes));
                } else {
                    convs.push((conv(conv1x1(cin, planes, 1), init, rng), planes));
                    convs.push((conv(conv3x3(planes, planes, stride), init, rng), planes));
                    convs.push((conv(conv1x1(planes, cout, 1), init, rng), cout));
                }
                let shortcut = if stride == 1 && cin == cout {
                    Shortcut::Identity
                } else if family == Family::CifarA {
                    Shortcut::ZeroPad(planes / 4)
                } else {
                    Shortcut::Projection {
                        name: if family == Family::Torchvision {
                            "downsample"
                        } else {
                            "shortcut"
                        },
                        conv: conv(conv1x1(cin, cout, stride), init, rng),
                        bn: BatchNorm2d::new(cout),
                    }
                };
                let convs = convs
                    .into_iter()
                    .map(|(c, ch)| (c, BatchNorm2d::new(ch)))
                    .collect();
                blocks.push(Block { convs, shortcut });
                cin = cout;
            }
            stages.push(blocks);
        }
        // torchvision keeps nn.Linear's default initialisation for `fc`.
        let fc = linear(cin, num_classes, Init::Default, rng);
        Self {
            arch: arch.to_string(),
            family,
            conv1,
            bn1: BatchNorm2d::new(stem_width),
            stages,
            fc,
        }
    }

    /// The reference's CIFAR-10 `resnet20/32/44/56/110` (option A, `6n + 2` layers) or
    /// `resnet18/34/50` (projection shortcuts, 3x3 stem, `avg_pool2d(4)`).
    pub fn cifar(arch: &str, rng: &mut impl Rng) -> Result<Self, NnError> {
        let classes = DataDomain::Cifar10.num_classes();
        let n = match arch {
            "resnet20" => 3,
            "resnet32" => 5,
            "resnet44" => 7,
            "resnet56" => 9,
            "resnet110" => 18,
            _ => {
                let (kind, counts) = deep_config(arch)?;
                return Ok(Self::build(
                    arch,
                    Family::CifarB,
                    kind,
                    &counts,
                    classes,
                    rng,
                ));
            }
        };
        Ok(Self::build(
            arch,
            Family::CifarA,
            BlockKind::Basic,
            &[n; 3],
            classes,
            rng,
        ))
    }

    /// torchvision's `resnet18/34/50` with its initialisation, 1000 classes.
    pub fn imagenet(arch: &str, rng: &mut impl Rng) -> Result<Self, NnError> {
        let (kind, counts) = deep_config(arch)?;
        Ok(Self::build(
            arch,
            Family::Torchvision,
            kind,
            &counts,
            DataDomain::Imagenet.num_classes(),
            rng,
        ))
    }

    fn forward_impl(&self, x: &Var, ctx: &mut Ctx) -> Result<Var, NnError> {
        let mut x = ops::relu(&self.bn1.forward(&self.conv1.forward(x, ctx)?, ctx)?);
        if self.family == Family::Torchvision {
            x = ops::max_pool2d(&x, 3, 2, 1)?;
        }
        for stage in &self.stages {
            for block in stage {
                x = block.forward(&x, ctx)?;
            }
        }
        x = match self.family {
            // `F.avg_pool2d(out, out.size()[3])`.
            Family::CifarA => {
                let k = x.shape().get(3).copied().unwrap_or(0);
                ops::avg_pool2d(&x, k, k)?
            }
            Family::CifarB => ops::avg_pool2d(&x, 4, 4)?,
            Family::Torchvision => ops::adaptive_avg_pool2d(&x, 1, 1)?,
        };
        self.fc.forward(&ops::flatten(&x)?, ctx)
    }
}

fn deep_config(arch: &str) -> Result<(BlockKind, [usize; 4]), NnError> {
    match arch {
        "resnet18" => Ok((BlockKind::Basic, [2, 2, 2, 2])),
        "resnet34" => Ok((BlockKind::Basic, [3, 4, 6, 3])),
        "resnet50" => Ok((BlockKind::Bottleneck, [3, 4, 6, 3])),
        other => Err(NnError::Config(format!("unknown ResNet `{other}`"))),
    }
}

impl Visit for ResNet {
    fn visit<'a>(&'a self, prefix: &str, out: &mut Vec<(String, ModuleRef<'a>)>) {
        self.conv1.visit(&join(prefix, "conv1"), out);
        self.bn1.visit(&join(prefix, "bn1"), out);
        for (s, stage) in self.stages.iter().enumerate() {
            for (b, block) in stage.iter().enumerate() {
                block.visit(&join(prefix, &format!("layer{}.{b}", s + 1)), out);
            }
        }
        self.fc.visit(&join(prefix, self.fc_name()), out);
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, out: &mut Vec<(String, &'a mut WeightLayer)>) {
        let fc_name = self.fc_name();
        self.conv1.visit_mut(&join(prefix, "conv1"), out);
        for (s, stage) in self.stages.iter_mut().enumerate() {
            for (b, block) in stage.iter_mut().enumerate() {
                block.visit_mut(&join(prefix, &format!("layer{}.{b}", s + 1)), out);
            }
        }
        self.fc.visit_mut(&join(prefix, fc_name), out);
    }
}

impl ResNet {
    fn fc_name(&self) -> &'static str {
        if self.family == Family::Torchvision {
            "fc"
        } else {
            "linear"
        }
    }
}

impl_model!(ResNet);
