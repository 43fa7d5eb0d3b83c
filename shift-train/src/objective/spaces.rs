//! The search spaces shipped with the objective: AutoDSNN's space (shift depth, shift type,
//! weight bits 2-5, activation integer and fraction bits, rounding, seven optimisers, lr, momentum,
//! weight decay, batch size) as ConfigSpace JSON, with what AutoDSNN got wrong put right: log
//! scales on the learning rate and weight decay, momentum active only under SGD, the shift
//! hyperparameters active only at a shift depth above 0.
//!
//! Each space's default configuration is the reference script's default DSNN for its data set
//! (mnist.py: SGD lr 0.01, PS, 5-bit weights, every layer, activations 16/16; cifar10.py: SGD lr
//! 0.1, momentum 0.9, weight decay 1e-4, batch 128), which a study compares its results with.

use shift_nn::models::DataDomain;

/// The shipped space for an architecture, as ConfigSpace JSON text; `None` where none is
/// shipped (give a space file instead).
pub fn shipped_space(domain: DataDomain, arch: &str) -> Option<&'static str> {
    match (domain, arch) {
        (DataDomain::Mnist, "linear") => Some(include_str!("../../spaces/dsnn_mnist_linear.json")),
        (DataDomain::Mnist, "conv") => Some(include_str!("../../spaces/dsnn_mnist_conv.json")),
        (DataDomain::Cifar10, "resnet20") => {
            Some(include_str!("../../spaces/dsnn_cifar10_resnet20.json"))
        }
        _ => None,
    }
}

/// The file name of [`shipped_space`]'s space, for messages: `dsnn_mnist_conv.json`.
pub fn shipped_space_name(domain: DataDomain, arch: &str) -> Option<String> {
    shipped_space(domain, arch)?;
    let d = match domain {
        DataDomain::Mnist => "mnist",
        DataDomain::Cifar10 => "cifar10",
        DataDomain::Imagenet => "imagenet",
    };
    Some(format!("dsnn_{d}_{arch}.json"))
}
