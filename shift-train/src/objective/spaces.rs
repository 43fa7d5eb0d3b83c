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
        // AutoDSNN's CIFAR-10 runs also search EfficientNet-B0 (81 convolutions).
        (DataDomain::Cifar10, "efficientnet_b0") => Some(include_str!(
            "../../spaces/dsnn_cifar10_efficientnet_b0.json"
        )),
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

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use shift_nn::models::build_model;
    use shift_nn::LinearRule;

    use super::*;

    /// Every shipped space searches the shift depth from 0 (float) to every layer that
    /// counts toward it (convolutions; Linear layers too for MNIST `linear`), defaulting to
    /// all of them as the reference scripts' `--shift-depth 1000` does.
    #[test]
    fn shift_depth_spans_the_counted_layers() {
        let shipped = [
            (DataDomain::Mnist, "linear"),
            (DataDomain::Mnist, "conv"),
            (DataDomain::Cifar10, "resnet20"),
            (DataDomain::Cifar10, "efficientnet_b0"),
        ];
        for (domain, arch) in shipped {
            let model = build_model(domain, arch, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
            let counted = model
                .layers()
                .iter()
                .filter(|(_, l)| !l.is_linear() || domain.linear_rule(arch) == LinearRule::Count)
                .count();
            let space: serde_json::Value =
                serde_json::from_str(shipped_space(domain, arch).unwrap()).unwrap();
            let depth = space["hyperparameters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|h| h["name"] == "shift_depth")
                .unwrap();
            assert_eq!(depth["lower"], 0, "{arch}");
            assert_eq!(depth["upper"], counted, "{arch}");
            assert_eq!(depth["default_value"], counted, "{arch}");
        }
    }
}
