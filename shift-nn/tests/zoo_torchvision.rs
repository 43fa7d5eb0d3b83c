//! GoogLeNet, DenseNet-121 and EfficientNet-B0 against torchvision's definitions
//! (`torchvision/models/{googlenet,densenet,efficientnet}.py`): state-dict sizes, a sample
//! of names and shapes in registration order, forward and backward passes at small inputs,
//! and `--shift-depth` conversion counted from the end as the reference's `convert_to_shift`.
//! (PyTorch is not installed here, so unlike `zoo_pytorch.rs` there is no PyTorch-written
//! fixture: the expected names and shapes below are read off torchvision's code.)

mod common;

use common::rng;
use shift_core::{FixedPoint, Rounding, ShiftType};
use shift_nn::models::{build_model, densenet_legacy_key, DataDomain};
use shift_nn::{
    convert_to_shift, named_params, no_grad, ops, state_dict, Ctx, LinearRule, Model, NnError,
    ShiftOptions, Tensor, Var,
};

fn model(domain: DataDomain, arch: &str) -> Box<dyn Model> {
    build_model(domain, arch, &mut rng()).unwrap()
}

/// Checks the state dict's size and that `sample` appears in it, in this order, with these
/// shapes.
fn check_keys(m: &dyn Model, tensors: usize, sample: &[(&str, &[usize])]) {
    let dict = state_dict(m);
    assert_eq!(dict.tensors.len(), tensors, "{}: state-dict size", m.arch());
    // Registration order is what PyTorch's `state_dict()` keeps; `named_params` follows it.
    let order: Vec<String> = named_params(m).into_iter().map(|(n, _)| n).collect();
    let mut last = None;
    for (name, shape) in sample {
        let t = dict
            .tensors
            .get(*name)
            .unwrap_or_else(|| panic!("{}: no `{name}`", m.arch()));
        assert_eq!(t.shape(), *shape, "{}: {name}", m.arch());
        if let Some(i) = order.iter().position(|n| n == name) {
            assert!(
                last.is_none_or(|l| l < i),
                "{}: {name} out of order",
                m.arch()
            );
            last = Some(i);
        }
    }
}

#[test]
fn googlenet_names_and_shapes() {
    let m = model(DataDomain::Imagenet, "googlenet");
    // 57 BasicConv2d (conv weight + 5 batch-norm tensors) and fc.
    check_keys(
        m.as_ref(),
        57 * 6 + 2,
        &[
            ("conv1.conv.weight", &[64, 3, 7, 7]),
            ("conv1.bn.running_var", &[64]),
            ("conv2.conv.weight", &[64, 64, 1, 1]),
            ("conv3.conv.weight", &[192, 64, 3, 3]),
            ("inception3a.branch1.conv.weight", &[64, 192, 1, 1]),
            ("inception3a.branch2.0.conv.weight", &[96, 192, 1, 1]),
            ("inception3a.branch2.1.conv.weight", &[128, 96, 3, 3]),
            ("inception3a.branch3.1.conv.weight", &[32, 16, 3, 3]),
            ("inception3a.branch4.1.conv.weight", &[32, 192, 1, 1]),
            ("inception4e.branch1.conv.weight", &[256, 528, 1, 1]),
            ("inception5b.branch2.1.bn.weight", &[384]),
            ("inception5b.branch4.1.bn.num_batches_tracked", &[]),
            ("fc.weight", &[1000, 1024]),
            ("fc.bias", &[1000]),
        ],
    );
    let dict = state_dict(m.as_ref());
    assert!(!dict.tensors.keys().any(|k| k.starts_with("aux")));
}

#[test]
fn densenet121_names_and_shapes() {
    let m = model(DataDomain::Imagenet, "densenet121");
    // 120 convolutions, 121 batch norms, the classifier.
    check_keys(
        m.as_ref(),
        120 + 121 * 5 + 2,
        &[
            ("features.conv0.weight", &[64, 3, 7, 7]),
            ("features.norm0.weight", &[64]),
            ("features.denseblock1.denselayer1.norm1.weight", &[64]),
            (
                "features.denseblock1.denselayer1.conv1.weight",
                &[128, 64, 1, 1],
            ),
            (
                "features.denseblock1.denselayer1.norm2.running_mean",
                &[128],
            ),
            (
                "features.denseblock1.denselayer1.conv2.weight",
                &[32, 128, 3, 3],
            ),
            ("features.denseblock1.denselayer6.norm1.weight", &[224]),
            ("features.transition1.norm.weight", &[256]),
            ("features.transition1.conv.weight", &[128, 256, 1, 1]),
            ("features.denseblock2.denselayer1.norm1.weight", &[128]),
            ("features.transition3.conv.weight", &[512, 1024, 1, 1]),
            (
                "features.denseblock4.denselayer16.conv1.weight",
                &[128, 992, 1, 1],
            ),
            ("features.norm5.weight", &[1024]),
            ("classifier.weight", &[1000, 1024]),
            ("classifier.bias", &[1000]),
        ],
    );
}

#[test]
fn efficientnet_b0_names_and_shapes() {
    let m = model(DataDomain::Imagenet, "efficientnet_b0");
    // 81 convolutions (32 of them the SE's, with biases), 49 batch norms, the classifier.
    check_keys(
        m.as_ref(),
        81 + 32 + 49 * 5 + 2,
        &[
            ("features.0.0.weight", &[32, 3, 3, 3]),
            ("features.0.1.weight", &[32]),
            // Expand ratio 1: depthwise, SE, projection.
            ("features.1.0.block.0.0.weight", &[32, 1, 3, 3]),
            ("features.1.0.block.1.fc1.weight", &[8, 32, 1, 1]),
            ("features.1.0.block.1.fc1.bias", &[8]),
            ("features.1.0.block.1.fc2.weight", &[32, 8, 1, 1]),
            ("features.1.0.block.2.0.weight", &[16, 32, 1, 1]),
            ("features.1.0.block.2.1.running_var", &[16]),
            // Expand, depthwise, SE (squeezing to a quarter of the block's input), project.
            ("features.2.0.block.0.0.weight", &[96, 16, 1, 1]),
            ("features.2.0.block.1.0.weight", &[96, 1, 3, 3]),
            ("features.2.0.block.2.fc1.weight", &[4, 96, 1, 1]),
            ("features.2.0.block.3.0.weight", &[24, 96, 1, 1]),
            ("features.3.0.block.1.0.weight", &[144, 1, 5, 5]),
            ("features.6.3.block.2.fc2.weight", &[1152, 48, 1, 1]),
            ("features.7.0.block.3.1.running_mean", &[320]),
            ("features.8.0.weight", &[1280, 320, 1, 1]),
            ("features.8.1.weight", &[1280]),
            ("classifier.1.weight", &[1000, 1280]),
            ("classifier.1.bias", &[1000]),
        ],
    );
    let cifar = model(DataDomain::Cifar10, "efficientnet_b0");
    assert_eq!(
        state_dict(cifar.as_ref()).tensors["classifier.1.weight"].shape(),
        [10, 1280]
    );
}

/// Forward in eval and train mode at `size` x `size`, and a backward pass that reaches the
/// first convolution.
fn forward_backward(domain: DataDomain, arch: &str, size: usize) {
    let m = model(domain, arch);
    let x = Var::constant(Tensor::from_shape_fn(vec![2, 3, size, size], |i| {
        ((i[0] * 7 + i[1] * 5 + i[2] * 3 + i[3]) % 11) as f32 * 0.1 - 0.5
    }));
    let mut ctx = Ctx {
        train: false,
        rng: rng(),
    };
    let y = no_grad(|| m.forward(&x, &mut ctx)).unwrap();
    assert_eq!(y.shape(), [2, domain.num_classes()], "{arch}");
    assert!(y.value().iter().all(|v| v.is_finite()), "{arch}");
    ctx.train = true;
    let y = m.forward(&x, &mut ctx).unwrap();
    ops::cross_entropy(&y, &[1, 7]).unwrap().backward();
    let (first, p) = named_params(m.as_ref()).into_iter().next().unwrap();
    let g: f32 = p.grad().iter().map(|g| g.abs()).sum();
    assert!(
        g > 0.0 && g.is_finite(),
        "{arch}: gradient of {first} is {g}"
    );
}

#[test]
fn small_inputs_run_forward_and_backward() {
    // torchvision's minimum sizes: GoogLeNet 15, DenseNet 29, EfficientNet 1.
    forward_backward(DataDomain::Imagenet, "googlenet", 32);
    forward_backward(DataDomain::Imagenet, "densenet121", 32);
    forward_backward(DataDomain::Imagenet, "efficientnet_b0", 32);
    forward_backward(DataDomain::Cifar10, "efficientnet_b0", 32);
}

#[test]
fn googlenet_accepts_its_minimum_size_and_refuses_smaller() {
    let m = model(DataDomain::Imagenet, "googlenet");
    let run = |s: usize| {
        let x = Var::constant(Tensor::from_elem(vec![1, 3, s, s], 0.1));
        no_grad(|| {
            m.forward(
                &x,
                &mut Ctx {
                    train: false,
                    rng: rng(),
                },
            )
        })
    };
    assert_eq!(run(15).unwrap().shape(), [1, 1000]);
    assert!(matches!(run(14), Err(NnError::Shape { .. })));
}

fn convert(m: &mut dyn Model, depth: usize) -> usize {
    let options = ShiftOptions {
        shift_type: ShiftType::PS,
        weight_bits: 5,
        act: FixedPoint::DEFAULT,
        rounding: Rounding::Deterministic,
    };
    convert_to_shift(
        m,
        depth,
        options,
        LinearRule::AlwaysConvert,
        true,
        &mut rng(),
    )
    .unwrap()
}

fn shifted(m: &dyn Model) -> Vec<String> {
    m.layers()
        .into_iter()
        .filter(|(_, l)| l.is_shift())
        .map(|(n, _)| n)
        .collect()
}

#[test]
fn shift_depth_counts_convolutions_from_the_end() {
    // (domain, arch, depth, the converted layers in registration order, all weight layers)
    let cases: [(DataDomain, &str, usize, &[&str], usize); 4] = [
        (
            DataDomain::Imagenet,
            "googlenet",
            2,
            &[
                "inception5b.branch3.1.conv",
                "inception5b.branch4.1.conv",
                "fc",
            ],
            58,
        ),
        (
            DataDomain::Imagenet,
            "densenet121",
            2,
            &[
                "features.denseblock4.denselayer16.conv1",
                "features.denseblock4.denselayer16.conv2",
                "classifier",
            ],
            121,
        ),
        // The squeeze-and-excitation 1x1 convolutions are Conv2d modules and count.
        (
            DataDomain::Imagenet,
            "efficientnet_b0",
            3,
            &[
                "features.7.0.block.2.fc2",
                "features.7.0.block.3.0",
                "features.8.0",
                "classifier.1",
            ],
            82,
        ),
        (
            DataDomain::Cifar10,
            "efficientnet_b0",
            1,
            &["features.8.0", "classifier.1"],
            82,
        ),
    ];
    for (domain, arch, depth, want, total) in cases {
        let mut m = model(domain, arch);
        assert_eq!(m.layers().len(), total, "{arch}: weight layers");
        assert_eq!(convert(m.as_mut(), depth), want.len(), "{arch}");
        assert_eq!(shifted(m.as_ref()), want, "{arch}");
        // The rest, as `--shift-depth 1000`.
        assert_eq!(convert(m.as_mut(), 1000), total - want.len(), "{arch}");
        assert_eq!(shifted(m.as_ref()).len(), total, "{arch}");
    }
}

#[test]
fn converted_efficientnet_trains_in_shift_form() {
    let mut m = model(DataDomain::Cifar10, "efficientnet_b0");
    convert(m.as_mut(), 1000);
    // Distinct samples: train-mode batch norm maps a batch of equal ones to zeros.
    let x = Var::constant(Tensor::from_shape_fn(vec![2, 3, 32, 32], |i| {
        ((i[0] * 5 + i[1] * 3 + i[2] + 2 * i[3]) % 7) as f32 * 0.2 - 0.6
    }));
    let mut ctx = Ctx {
        train: true,
        rng: rng(),
    };
    let y = m.forward(&x, &mut ctx).unwrap();
    ops::cross_entropy(&y, &[0, 3]).unwrap().backward();
    let shift_grads: f32 = named_params(m.as_ref())
        .iter()
        .filter(|(n, _)| n.ends_with(".shift"))
        .map(|(_, p)| p.grad().iter().map(|g| g.abs()).sum::<f32>())
        .sum();
    assert!(shift_grads > 0.0);
}

#[test]
fn densenet_legacy_keys_are_renamed_as_torchvision_does() {
    let cases = [
        (
            "features.denseblock1.denselayer1.norm.1.weight",
            Some("features.denseblock1.denselayer1.norm1.weight"),
        ),
        (
            "features.denseblock4.denselayer16.conv.2.weight",
            Some("features.denseblock4.denselayer16.conv2.weight"),
        ),
        (
            "features.denseblock2.denselayer3.norm.2.running_var",
            Some("features.denseblock2.denselayer3.norm2.running_var"),
        ),
        // Already current, not a dense layer, a counter the pattern leaves alone, or a
        // digit other than 1 and 2.
        ("features.denseblock1.denselayer1.norm1.weight", None),
        ("features.transition1.norm.weight", None),
        (
            "features.denseblock1.denselayer1.norm.1.num_batches_tracked",
            None,
        ),
        ("features.denseblock1.denselayer1.norm.3.weight", None),
        ("features.denseblock1.denselayerx.norm.1.weight", None),
        ("weight", None),
    ];
    for (key, want) in cases {
        assert_eq!(densenet_legacy_key(key).as_deref(), want, "{key}");
    }
}
