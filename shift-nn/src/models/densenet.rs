//! torchvision's DenseNet-121 (DeepShift's ImageNet table): growth rate 32, blocks of 6, 12,
//! 24 and 16 layers, 64 initial features, bottleneck width 4 x 32, no dropout;
//! 7,978,856 parameters.
//!
//! torchvision's own weight file (`densenet121-a639ec97.pth`) predates the current module
//! names and spells `denselayer1.norm1` as `denselayer1.norm.1`; torchvision renames those
//! keys when it loads the file ([`legacy_key`] does the same here).

use rand::Rng;

use super::blocks::{conv, impl_model, join, linear, Init, Visit};
use super::DataDomain;
use crate::error::NnError;
use crate::layers::{Conv2dSpec, Ctx, WeightLayer};
use crate::model::ModuleRef;
use crate::norm::BatchNorm2d;
use crate::ops;
use crate::tape::Var;

const GROWTH: usize = 32;
const BN_SIZE: usize = 4;
const BLOCKS: [usize; 4] = [6, 12, 24, 16];
const INIT_FEATURES: usize = 64;

/// `_DenseLayer`: `norm1`, ReLU, `conv1` (1x1 to 128), `norm2`, ReLU, `conv2` (3x3 to 32).
#[derive(Debug, Clone)]
struct DenseLayer {
    norm1: BatchNorm2d,
    conv1: WeightLayer,
    norm2: BatchNorm2d,
    conv2: WeightLayer,
}

impl DenseLayer {
    fn new(cin: usize, rng: &mut impl Rng) -> Self {
        let mid = BN_SIZE * GROWTH;
        Self {
            norm1: BatchNorm2d::new(cin),
            conv1: conv(
                Conv2dSpec::new(cin, mid, 1).bias(false),
                Init::KaimingFanIn,
                rng,
            ),
            norm2: BatchNorm2d::new(mid),
            conv2: conv(
                Conv2dSpec::new(mid, GROWTH, 3).padding(1).bias(false),
                Init::KaimingFanIn,
                rng,
            ),
        }
    }

    fn forward(&self, x: &Var, ctx: &mut Ctx) -> Result<Var, NnError> {
        let y = ops::relu(&self.norm1.forward(x, ctx)?);
        let y = self.conv1.forward(&y, ctx)?;
        let y = ops::relu(&self.norm2.forward(&y, ctx)?);
        self.conv2.forward(&y, ctx)
    }
}

impl Visit for DenseLayer {
    fn visit<'a>(&'a self, prefix: &str, out: &mut Vec<(String, ModuleRef<'a>)>) {
        self.norm1.visit(&join(prefix, "norm1"), out);
        self.conv1.visit(&join(prefix, "conv1"), out);
        self.norm2.visit(&join(prefix, "norm2"), out);
        self.conv2.visit(&join(prefix, "conv2"), out);
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, out: &mut Vec<(String, &'a mut WeightLayer)>) {
        self.conv1.visit_mut(&join(prefix, "conv1"), out);
        self.conv2.visit_mut(&join(prefix, "conv2"), out);
    }
}

/// `_Transition`: `norm`, ReLU, `conv` (1x1, halving the channels), 2x2 average pooling.
#[derive(Debug, Clone)]
struct Transition {
    norm: BatchNorm2d,
    conv: WeightLayer,
}

/// One stage: a dense block (`denseblock{i}`) and, except after the last, a transition.
#[derive(Debug, Clone)]
struct Stage {
    layers: Vec<DenseLayer>,
    transition: Option<Transition>,
}

/// torchvision's `densenet121`.
#[derive(Debug, Clone)]
pub struct DenseNet {
    arch: String,
    conv0: WeightLayer,
    norm0: BatchNorm2d,
    stages: Vec<Stage>,
    norm5: BatchNorm2d,
    classifier: WeightLayer,
}

impl DenseNet {
    /// torchvision's initialisation from `rng` (Kaiming normal convolutions, a zero
    /// classifier bias), 1000 classes.
    pub fn densenet121(rng: &mut impl Rng) -> Self {
        let conv0 = conv(
            Conv2dSpec::new(3, INIT_FEATURES, 7)
                .stride(2)
                .padding(3)
                .bias(false),
            Init::KaimingFanIn,
            rng,
        );
        let mut features = INIT_FEATURES;
        let mut stages = Vec::new();
        for (i, &n) in BLOCKS.iter().enumerate() {
            let layers = (0..n)
                .map(|j| DenseLayer::new(features + j * GROWTH, rng))
                .collect();
            features += n * GROWTH;
            let transition = (i + 1 < BLOCKS.len()).then(|| {
                let t = Transition {
                    norm: BatchNorm2d::new(features),
                    conv: conv(
                        Conv2dSpec::new(features, features / 2, 1).bias(false),
                        Init::KaimingFanIn,
                        rng,
                    ),
                };
                features /= 2;
                t
            });
            stages.push(Stage { layers, transition });
        }
        Self {
            arch: "densenet121".into(),
            conv0,
            norm0: BatchNorm2d::new(INIT_FEATURES),
            stages,
            norm5: BatchNorm2d::new(features),
            classifier: linear(
                features,
                DataDomain::Imagenet.num_classes(),
                Init::DefaultZeroBias,
                rng,
            ),
        }
    }

    fn forward_impl(&self, x: &Var, ctx: &mut Ctx) -> Result<Var, NnError> {
        let x = self.norm0.forward(&self.conv0.forward(x, ctx)?, ctx)?;
        let mut x = ops::max_pool2d(&ops::relu(&x), 3, 2, 1)?;
        for stage in &self.stages {
            // Each layer sees every earlier output: `torch.cat([features, new], 1)`.
            for layer in &stage.layers {
                let new = layer.forward(&x, ctx)?;
                x = ops::concat_channels(&[x, new])?;
            }
            if let Some(t) = &stage.transition {
                let y = ops::relu(&t.norm.forward(&x, ctx)?);
                x = ops::avg_pool2d(&t.conv.forward(&y, ctx)?, 2, 2)?;
            }
        }
        let x = ops::relu(&self.norm5.forward(&x, ctx)?);
        let x = ops::flatten(&ops::adaptive_avg_pool2d(&x, 1, 1)?)?;
        self.classifier.forward(&x, ctx)
    }
}

impl Visit for DenseNet {
    fn visit<'a>(&'a self, prefix: &str, out: &mut Vec<(String, ModuleRef<'a>)>) {
        let f = join(prefix, "features");
        self.conv0.visit(&join(&f, "conv0"), out);
        self.norm0.visit(&join(&f, "norm0"), out);
        for (i, stage) in self.stages.iter().enumerate() {
            for (j, layer) in stage.layers.iter().enumerate() {
                let name = format!("denseblock{}.denselayer{}", i + 1, j + 1);
                layer.visit(&join(&f, &name), out);
            }
            if let Some(t) = &stage.transition {
                let name = join(&f, &format!("transition{}", i + 1));
                t.norm.visit(&join(&name, "norm"), out);
                t.conv.visit(&join(&name, "conv"), out);
            }
        }
        self.norm5.visit(&join(&f, "norm5"), out);
        self.classifier.visit(&join(prefix, "classifier"), out);
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, out: &mut Vec<(String, &'a mut WeightLayer)>) {
        let f = join(prefix, "features");
        self.conv0.visit_mut(&join(&f, "conv0"), out);
        for (i, stage) in self.stages.iter_mut().enumerate() {
            for (j, layer) in stage.layers.iter_mut().enumerate() {
                let name = format!("denseblock{}.denselayer{}", i + 1, j + 1);
                layer.visit_mut(&join(&f, &name), out);
            }
            if let Some(t) = &mut stage.transition {
                let name = join(&f, &format!("transition{}", i + 1));
                t.conv.visit_mut(&join(&name, "conv"), out);
            }
        }
        self.classifier.visit_mut(&join(prefix, "classifier"), out);
    }
}

impl_model!(DenseNet);

/// The current name of a key of torchvision's DenseNet weight files, whose dense layers say
/// `norm.1`, `relu.1`, `conv.1`, `norm.2`, ... where the modules are now `norm1`, `conv1`,
/// `norm2`, ... (torchvision's `_load_state_dict` pattern
/// `^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$`).
/// `None` when the key needs no renaming.
pub fn legacy_key(key: &str) -> Option<String> {
    let (head, suffix) = key.rsplit_once('.')?;
    if !matches!(suffix, "weight" | "bias" | "running_mean" | "running_var") {
        return None;
    }
    let (head, digit) = head.rsplit_once('.')?;
    if digit != "1" && digit != "2" {
        return None;
    }
    let (layer, module) = head.rsplit_once('.')?;
    if !matches!(module, "norm" | "relu" | "conv") {
        return None;
    }
    let (_, last) = layer.rsplit_once('.').unwrap_or(("", layer));
    let n = last.strip_prefix("denselayer")?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!("{layer}.{module}{digit}.{suffix}"))
}
