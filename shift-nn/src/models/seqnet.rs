//! Feature-extractor-plus-classifier networks built from `nn.Sequential`s: the reference's
//! CIFAR-10 VGG, and torchvision's VGG-16, AlexNet and MobileNetV2.

use rand::Rng;

use super::blocks::{conv, impl_model, join, linear, Init, Item, Seq, Visit};
use super::DataDomain;
use crate::error::NnError;
use crate::layers::{Conv2dSpec, Ctx, WeightLayer};
use crate::model::ModuleRef;
use crate::norm::BatchNorm2d;
use crate::ops;
use crate::tape::Var;

/// Pooling between the features and the classifier.
#[derive(Debug, Clone, Copy)]
enum Pool {
    /// `avg_pool2d(k)`.
    Avg(usize),
    /// `adaptive_avg_pool2d((h, w))`.
    Adaptive(usize, usize),
}

/// The classifier: one `nn.Linear` or an `nn.Sequential`, registered as `classifier`.
#[derive(Debug, Clone)]
enum Classifier {
    Linear(WeightLayer),
    Seq(Seq),
}

/// `features -> pool -> flatten -> classifier`.
#[derive(Debug, Clone)]
pub struct SeqNet {
    arch: String,
    features_name: &'static str,
    features: Seq,
    pool: Pool,
    classifier: Classifier,
}

const VGG16: &[usize] = &[
    64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512,
];
const VGG19: &[usize] = &[
    64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512,
];

/// VGG feature layers from a configuration (0 marks a 2x2 max-pool).
fn vgg_features(cfg: &[usize], batch_norm: bool, rng: &mut impl Rng) -> Seq {
    let mut items = Vec::new();
    let mut cin = 3;
    for &v in cfg {
        if v == 0 {
            items.push(Item::MaxPool(2, 2, 0));
            continue;
        }
        if batch_norm {
            // The reference CIFAR VGG: conv without bias, N(0, sqrt(2 / (k*k*out))) (the
            // same law as kaiming fan-out), batch norm weight 0.5.
            items.push(Item::Weight(conv(
                Conv2dSpec::new(cin, v, 3).padding(1).bias(false),
                Init::KaimingFanOut,
                rng,
            )));
            items.push(Item::Norm(BatchNorm2d::with_weight(v, 0.5)));
        } else {
            items.push(Item::Weight(conv(
                Conv2dSpec::new(cin, v, 3).padding(1),
                Init::KaimingFanOut,
                rng,
            )));
        }
        items.push(Item::Relu);
        cin = v;
    }
    if !batch_norm {
        // torchvision ends the VGG features with a max-pool.
        items.push(Item::MaxPool(2, 2, 0));
    }
    Seq(items)
}

/// Conv, batch norm, ReLU6 (torchvision's `Conv2dNormActivation`).
fn conv_bn_relu6(
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    groups: usize,
    rng: &mut impl Rng,
) -> Item {
    Item::Seq(Seq(vec![
        Item::Weight(conv(
            Conv2dSpec::new(cin, cout, k)
                .stride(stride)
                .padding((k - 1) / 2)
                .groups(groups)
                .bias(false),
            Init::KaimingFanOut,
            rng,
        )),
        Item::Norm(BatchNorm2d::new(cout)),
        Item::Relu6,
    ]))
}

impl SeqNet {
    /// The reference's CIFAR-10 `vgg16` / `vgg19` (batch norm, 512 -> 10 classifier).
    pub fn cifar_vgg(arch: &str, rng: &mut impl Rng) -> Result<Self, NnError> {
        let cfg = match arch {
            "vgg16" => VGG16,
            "vgg19" => VGG19,
            other => return Err(NnError::Config(format!("unknown CIFAR-10 VGG `{other}`"))),
        };
        Ok(Self {
            arch: arch.to_string(),
            features_name: "feature",
            features: vgg_features(cfg, true, rng),
            pool: Pool::Avg(2),
            classifier: Classifier::Linear(linear(
                512,
                DataDomain::Cifar10.num_classes(),
                Init::Normal(0.01),
                rng,
            )),
        })
    }

    /// torchvision's `vgg16` (no batch norm, 1000 classes).
    pub fn vgg16(rng: &mut impl Rng) -> Self {
        let features = vgg_features(VGG16, false, rng);
        let fc = |i, o, rng: &mut _| Item::Weight(linear(i, o, Init::Normal(0.01), rng));
        let classifier = Seq(vec![
            fc(512 * 7 * 7, 4096, rng),
            Item::Relu,
            Item::Dropout(0.5),
            fc(4096, 4096, rng),
            Item::Relu,
            Item::Dropout(0.5),
            fc(4096, DataDomain::Imagenet.num_classes(), rng),
        ]);
        Self {
            arch: "vgg16".into(),
            features_name: "features",
            features,
            pool: Pool::Adaptive(7, 7),
            classifier: Classifier::Seq(classifier),
        }
    }

    /// torchvision's `alexnet` (PyTorch's default initialisation, 1000 classes).
    pub fn alexnet(rng: &mut impl Rng) -> Self {
        let c = |i, o, k, s, p, rng: &mut _| {
            Item::Weight(conv(
                Conv2dSpec::new(i, o, k).stride(s).padding(p),
                Init::Default,
                rng,
            ))
        };
        let features = Seq(vec![
            c(3, 64, 11, 4, 2, rng),
            Item::Relu,
            Item::MaxPool(3, 2, 0),
            c(64, 192, 5, 1, 2, rng),
            Item::Relu,
            Item::MaxPool(3, 2, 0),
            c(192, 384, 3, 1, 1, rng),
            Item::Relu,
            c(384, 256, 3, 1, 1, rng),
            Item::Relu,
            c(256, 256, 3, 1, 1, rng),
            Item::Relu,
            Item::MaxPool(3, 2, 0),
        ]);
        let fc = |i, o, rng: &mut _| Item::Weight(linear(i, o, Init::Default, rng));
        let classifier = Seq(vec![
            Item::Dropout(0.5),
            fc(256 * 6 * 6, 4096, rng),
            Item::Relu,
            Item::Dropout(0.5),
            fc(4096, 4096, rng),
            Item::Relu,
            fc(4096, DataDomain::Imagenet.num_classes(), rng),
        ]);
        Self {
            arch: "alexnet".into(),
            features_name: "features",
            features,
            pool: Pool::Adaptive(6, 6),
            classifier: Classifier::Seq(classifier),
        }
    }

    /// torchvision's `mobilenet_v2` (width 1.0, ReLU6, inverted residuals, 1000 classes).
    pub fn mobilenet_v2(rng: &mut impl Rng) -> Self {
        // (expansion t, output channels c, repeats n, first stride s)
        const CFG: [(usize, usize, usize, usize); 7] = [
            (1, 16, 1, 1),
            (6, 24, 2, 2),
            (6, 32, 3, 2),
            (6, 64, 4, 2),
            (6, 96, 3, 1),
            (6, 160, 3, 2),
            (6, 320, 1, 1),
        ];
        let mut items = vec![conv_bn_relu6(3, 32, 3, 2, 1, rng)];
        let mut cin = 32;
        for (t, c, n, s) in CFG {
            for i in 0..n {
                let stride = if i == 0 { s } else { 1 };
                let hidden = cin * t;
                let mut body = Vec::new();
                if t != 1 {
                    body.push(conv_bn_relu6(cin, hidden, 1, 1, 1, rng));
                }
                body.push(conv_bn_relu6(hidden, hidden, 3, stride, hidden, rng));
                body.push(Item::Weight(conv(
                    Conv2dSpec::new(hidden, c, 1).bias(false),
                    Init::KaimingFanOut,
                    rng,
                )));
                body.push(Item::Norm(BatchNorm2d::new(c)));
                items.push(Item::Block {
                    name: "conv",
                    body: Seq(body),
                    residual: stride == 1 && cin == c,
                });
                cin = c;
            }
        }
        items.push(conv_bn_relu6(cin, 1280, 1, 1, 1, rng));
        let classifier = Seq(vec![
            Item::Dropout(0.2),
            Item::Weight(linear(
                1280,
                DataDomain::Imagenet.num_classes(),
                Init::Normal(0.01),
                rng,
            )),
        ]);
        Self {
            arch: "mobilenet_v2".into(),
            features_name: "features",
            features: Seq(items),
            pool: Pool::Adaptive(1, 1),
            classifier: Classifier::Seq(classifier),
        }
    }

    fn forward_impl(&self, x: &Var, ctx: &mut Ctx) -> Result<Var, NnError> {
        let x = self.features.forward(x, ctx)?;
        let x = match self.pool {
            Pool::Avg(k) => ops::avg_pool2d(&x, k, k)?,
            Pool::Adaptive(h, w) => ops::adaptive_avg_pool2d(&x, h, w)?,
        };
        let x = ops::flatten(&x)?;
        match &self.classifier {
            Classifier::Linear(l) => l.forward(&x, ctx),
            Classifier::Seq(s) => s.forward(&x, ctx),
        }
    }
}

impl Visit for SeqNet {
    fn visit<'a>(&'a self, prefix: &str, out: &mut Vec<(String, ModuleRef<'a>)>) {
        self.features.visit(&join(prefix, self.features_name), out);
        match &self.classifier {
            Classifier::Linear(l) => l.visit(&join(prefix, "classifier"), out),
            Classifier::Seq(s) => s.visit(&join(prefix, "classifier"), out),
        }
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, out: &mut Vec<(String, &'a mut WeightLayer)>) {
        self.features
            .visit_mut(&join(prefix, self.features_name), out);
        match &mut self.classifier {
            Classifier::Linear(l) => l.visit_mut(&join(prefix, "classifier"), out),
            Classifier::Seq(s) => s.visit_mut(&join(prefix, "classifier"), out),
        }
    }
}

impl_model!(SeqNet);
