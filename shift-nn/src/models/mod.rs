//! The model zoo, with PyTorch's (and torchvision's) module names, so checkpoints move to and
//! from PyTorch unchanged.
//!
//! - MNIST: `linear` and `conv` (the reference's `simple_linear` / `simple_conv`; they end in
//!   log-softmax as the reference's do).
//! - CIFAR-10 (the reference's `cifar10_models`): `resnet20/32/44/56/110` (option-A
//!   shortcuts), `resnet18/34/50`, `mobilenetv2`, `vgg16`, `vgg19`, and torchvision's
//!   `efficientnet_b0` with 10 classes (AutoDSNN's CIFAR-10 runs).
//! - ImageNet (torchvision): `resnet18/34/50`, `vgg16`, `alexnet`, `mobilenet_v2`,
//!   `googlenet`, `densenet121`, `efficientnet_b0`.
//!
//! CIFAR-10 and ImageNet models return logits, as in PyTorch; train them with
//! [`crate::ops::cross_entropy`] (which is also right for the MNIST models: log-softmax of
//! log-probabilities changes nothing).

pub(crate) mod blocks;
mod densenet;
mod domain;
mod efficientnet;
mod googlenet;
mod mnist;
mod mobilenet;
mod resnet;
mod seqnet;

pub use densenet::{legacy_key as densenet_legacy_key, DenseNet};
pub use domain::DataDomain;
pub use efficientnet::EfficientNet;
pub use googlenet::GoogLeNet;
pub use mnist::{MnistConv, MnistLinear};
pub use mobilenet::CifarMobileNetV2;
pub use resnet::ResNet;
pub use seqnet::SeqNet;

use rand::Rng;

use crate::error::NnError;
use crate::model::Model;

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

/// Builds `arch` for `domain` with its PyTorch initialisation drawn from `rng`. Unknown
/// names are a [`NnError::Config`] listing the known ones.
pub fn build_model(
    domain: DataDomain,
    arch: &str,
    rng: &mut impl Rng,
) -> Result<Box<dyn Model>, NnError> {
    if !domain.archs().contains(&arch) {
        return Err(NnError::Config(format!(
            "unknown {domain:?} architecture `{arch}`: use one of {}",
            domain.archs().join(", ")
        )));
    }
    Ok(match (domain, arch) {
        (DataDomain::Mnist, _) => return mnist_model(arch, rng),
        (DataDomain::Cifar10, "mobilenetv2") => Box::new(CifarMobileNetV2::new(rng)),
        (DataDomain::Cifar10, "vgg16" | "vgg19") => Box::new(SeqNet::cifar_vgg(arch, rng)?),
        (_, "efficientnet_b0") => Box::new(EfficientNet::b0(domain, rng)),
        (DataDomain::Cifar10, _) => Box::new(ResNet::cifar(arch, rng)?),
        (DataDomain::Imagenet, "vgg16") => Box::new(SeqNet::vgg16(rng)),
        (DataDomain::Imagenet, "alexnet") => Box::new(SeqNet::alexnet(rng)),
        (DataDomain::Imagenet, "mobilenet_v2") => Box::new(SeqNet::mobilenet_v2(rng)),
        (DataDomain::Imagenet, "googlenet") => Box::new(GoogLeNet::new(rng)),
        (DataDomain::Imagenet, "densenet121") => Box::new(DenseNet::densenet121(rng)),
        (DataDomain::Imagenet, _) => Box::new(ResNet::imagenet(arch, rng)?),
    })
}
