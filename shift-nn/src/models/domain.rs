//! The data domains of the zoo: MNIST, CIFAR-10 and ImageNet.

use crate::model::LinearRule;

/// The kind of data a model is built for (it fixes the input size, the class count and which
/// architecture a name means). Not to be confused with `shift_data::Dataset`, a source of
/// examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataDomain {
    /// 1x28x28, 10 classes.
    Mnist,
    /// 3x32x32, 10 classes.
    Cifar10,
    /// 3x224x224, 1000 classes.
    Imagenet,
}

impl DataDomain {
    /// The architecture names [`super::build_model`] accepts for this domain.
    pub fn archs(self) -> &'static [&'static str] {
        match self {
            DataDomain::Mnist => &["linear", "conv"],
            DataDomain::Cifar10 => &[
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
                "efficientnet_b0",
            ],
            DataDomain::Imagenet => &[
                "resnet18",
                "resnet34",
                "resnet50",
                "vgg16",
                "alexnet",
                "mobilenet_v2",
                "googlenet",
                "densenet121",
                "efficientnet_b0",
            ],
        }
    }

    /// The number of classes, which the zoo's models of this domain output: the one place
    /// the class counts are written down.
    pub fn num_classes(self) -> usize {
        match self {
            DataDomain::Mnist | DataDomain::Cifar10 => 10,
            DataDomain::Imagenet => 1000,
        }
    }

    /// The shape of one input image, `[C, H, W]`.
    pub fn input_shape(self) -> [usize; 3] {
        match self {
            DataDomain::Mnist => [1, 28, 28],
            DataDomain::Cifar10 => [3, 32, 32],
            DataDomain::Imagenet => [3, 224, 224],
        }
    }

    /// How [`crate::convert_to_shift`] treats Linear layers for `arch`: they count toward the
    /// depth only for MNIST `linear`; everywhere else they are always converted.
    pub fn linear_rule(self, arch: &str) -> LinearRule {
        if self == DataDomain::Mnist && arch == "linear" {
            LinearRule::Count
        } else {
            LinearRule::AlwaysConvert
        }
    }
}
