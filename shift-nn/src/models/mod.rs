//! The model zoo, with PyTorch's (and torchvision's) module names, so checkpoints move to and
//! from PyTorch unchanged.
//!
//! - MNIST: `linear` and `conv` (the reference's `simple_linear` / `simple_conv`; they end in
//!   log-softmax as the reference's do).
//! - CIFAR-10 (the reference's `cifar10_models`): `resnet20/32/44/56/110` (option-A
//!   shortcuts), `resnet18/34/50`, `mobilenetv2`, `vgg16`, `vgg19`.
//! - ImageNet (torchvision): `resnet18/34/50`, `vgg16`, `alexnet`, `mobilenet_v2`.
//!
//! CIFAR-10 and ImageNet models return logits, as in PyTorch; train them with
//! [`crate::ops::cross_entropy`] (which is also right for the MNIST models: log-softmax of
//! log-probabilities changes nothing).

pub(crate) mod blocks;
mod mnist;
mod mobilenet;
mod resnet;
mod seqnet;

pub use mnist::{MnistConv, MnistLinear};
pub use mobilenet::CifarMobileNetV2;
pub use resnet::ResNet;
pub use seqnet::SeqNet;

use rand::Rng;

use crate::error::NnError;
use crate::model::{LinearRule, Model};

/// Builds an MNIST model by the reference's `--type` name (`linear` or `conv`).
pub fn mnist_model(model_type: &str, rng: &mut impl Rng) -> Result<Box<dyn Model>, NnError> {
    match model_type {
        "linear" => Ok(Box::new(MnistLinear::new(rng))),
        "conv" => Ok(Box::new(MnistConv::new(rng))),
        other => Err(NnError::Config(format!(
            "unknown MNIST model type `{other}`: use linear or conv"
        ))),
    }
}

/// The dataset a model is built for (it fixes the input size, the class count and which
/// architecture a name means).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dataset {
    /// 1x28x28, 10 classes.
    Mnist,
    /// 3x32x32, 10 classes.
    Cifar10,
    /// 3x224x224, 1000 classes.
    Imagenet,
}

impl Dataset {
    /// The architecture names [`build_model`] accepts for this dataset.
    pub fn archs(self) -> &'static [&'static str] {
        match self {
            Dataset::Mnist => &["linear", "conv"],
            Dataset::Cifar10 => &[
                "resnet20",
                "resnet32",
                "resnet44",
                "resnet56",
                "resnet110",
                "resnet18",
                "resnet34",
                "resnet50",
                "mobilenetv2",
                "vgg16",
                "vgg19",
            ],
            Dataset::Imagenet => &[
                "resnet18",
                "resnet34",
                "resnet50",
                "vgg16",
                "alexnet",
                "mobilenet_v2",
            ],
        }
    }

    /// The shape of one input image, `[C, H, W]`.
    pub fn input_shape(self) -> [usize; 3] {
        match self {
            Dataset::Mnist => [1, 28, 28],
            Dataset::Cifar10 => [3, 32, 32],
            Dataset::Imagenet => [3, 224, 224],
        }
    }

    /// How [`crate::convert_to_shift`] treats Linear layers for `arch`: they count toward the
    /// depth only for MNIST `linear`; everywhere else they are always converted.
    pub fn linear_rule(self, arch: &str) -> LinearRule {
        if self == Dataset::Mnist && arch == "linear" {
            LinearRule::Count
        } else {
            LinearRule::AlwaysConvert
        }
    }
}

/// Builds `arch` for `dataset` with its PyTorch initialisation drawn from `rng`. Unknown
/// names are a [`NnError::Config`] listing the known ones.
pub fn build_model(
    dataset: Dataset,
    arch: &str,
    rng: &mut impl Rng,
) -> Result<Box<dyn Model>, NnError> {
    if !dataset.archs().contains(&arch) {
        return Err(NnError::Config(format!(
            "unknown {dataset:?} architecture `{arch}`: use one of {}",
            dataset.archs().join(", ")
        )));
    }
    Ok(match (dataset, arch) {
        (Dataset::Mnist, _) => return mnist_model(arch, rng),
        (Dataset::Cifar10, "mobilenetv2") => Box::new(CifarMobileNetV2::new(rng)),
        (Dataset::Cifar10, "vgg16" | "vgg19") => Box::new(SeqNet::cifar_vgg(arch, rng)?),
        (Dataset::Cifar10, _) => Box::new(ResNet::cifar(arch, rng)?),
        (Dataset::Imagenet, "vgg16") => Box::new(SeqNet::vgg16(rng)),
        (Dataset::Imagenet, "alexnet") => Box::new(SeqNet::alexnet(rng)),
        (Dataset::Imagenet, "mobilenet_v2") => Box::new(SeqNet::mobilenet_v2(rng)),
        (Dataset::Imagenet, _) => Box::new(ResNet::imagenet(arch, rng)?),
    })
}
