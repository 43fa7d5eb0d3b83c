//! The model zoo. Only the MNIST models exist so far; the CIFAR-10 and ImageNet
//! architectures are not implemented yet.

mod mnist;

pub use mnist::{MnistConv, MnistLinear};

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
