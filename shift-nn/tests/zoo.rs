//! The model zoo: parameter counts equal PyTorch's, output shapes at the datasets' input
//! sizes, conversion of BN networks, and state dicts with buffers.

mod common;

use common::rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shift_core::{FixedPoint, Rounding, ShiftType};
use shift_nn::models::{build_model, DataDomain};
use shift_nn::{
    convert_to_shift, load_safetensors, load_state_dict, named_buffers, named_params, no_grad,
    param_count, rounded_state_dict, save_safetensors, state_dict, Ctx, LinearRule, NnError,
    ParamKind, ShiftOptions, Tensor, Var,
};

fn eval_ctx() -> Ctx {
    Ctx {
        train: false,
        rng: rng(),
    }
}

/// `sum(p.numel() for p in model.parameters())` in PyTorch 2.15 / torchvision 0.29 (the
/// CIFAR-10 models as defined by the reference's `cifar10_models`). GoogLeNet, DenseNet-121
/// and EfficientNet-B0 are torchvision's `num_params` of their weights (GoogLeNet without the
/// auxiliary heads); the CIFAR-10 EfficientNet-B0 is that minus the 1000-class classifier
/// (1,281,000) plus a 10-class one (12,810).
const COUNTS: &[(DataDomain, &str, usize)] = &[
    (DataDomain::Mnist, "linear", 669_706),
    (DataDomain::Mnist, "conv", 431_080),
    (DataDomain::Cifar10, "resnet20", 269_722),
    (DataDomain::Cifar10, "resnet32", 464_154),
    (DataDomain::Cifar10, "resnet44", 658_586),
    (DataDomain::Cifar10, "resnet56", 853_018),
    (DataDomain::Cifar10, "resnet110", 1_727_962),
    (DataDomain::Cifar10, "resnet18", 11_173_962),
    (DataDomain::Cifar10, "resnet34", 21_282_122),
    (DataDomain::Cifar10, "resnet50", 23_520_842),
    (DataDomain::Cifar10, "mobilenetv2", 2_296_922),
    (DataDomain::Cifar10, "vgg16", 14_724_042),
    (DataDomain::Cifar10, "vgg19", 20_035_018),
    (DataDomain::Cifar10, "efficientnet_b0", 4_020_358),
    (DataDomain::Imagenet, "resnet18", 11_689_512),
    (DataDomain::Imagenet, "resnet34", 21_797_672),
    (DataDomain::Imagenet, "resnet50", 25_557_032),
    (DataDomain::Imagenet, "vgg16", 138_357_544),
    (DataDomain::Imagenet, "alexnet", 61_100_840),
    (DataDomain::Imagenet, "mobilenet_v2", 3_504_872),
    (DataDomain::Imagenet, "googlenet", 6_624_904),
    (DataDomain::Imagenet, "densenet121", 7_978_856),
    (DataDomain::Imagenet, "efficientnet_b0", 5_288_548),
];

#[test]
fn parameter_counts_match_pytorch() {
    for &(dataset, arch, count) in COUNTS {
        let model = build_model(dataset, arch, &mut rng()).unwrap();
        assert_eq!(param_count(model.as_ref()), count, "{dataset:?} {arch}");
        assert_eq!(
            model.num_classes(),
            dataset.num_classes(),
            "{dataset:?} {arch}"
        );
    }
    for dataset in [DataDomain::Mnist, DataDomain::Cifar10, DataDomain::Imagenet] {
        let listed = COUNTS.iter().filter(|c| c.0 == dataset).count();
        assert_eq!(
            listed,
            dataset.archs().len(),
            "{dataset:?}: every arch counted"
        );
    }
}

fn forward_shape(dataset: DataDomain, arch: &str, batch: usize) -> Vec<usize> {
    let model = build_model(dataset, arch, &mut rng()).unwrap();
    let [c, h, w] = dataset.input_shape();
    let x = Var::constant(Tensor::from_elem(vec![batch, c, h, w], 0.5));
    let y = no_grad(|| model.forward(&x, &mut eval_ctx())).unwrap();
    assert!(y.value().iter().all(|v| v.is_finite()), "{arch}");
    y.shape().to_vec()
}

#[test]
fn cifar_forward_shapes() {
    for arch in DataDomain::Cifar10.archs() {
        assert_eq!(
            forward_shape(DataDomain::Cifar10, arch, 2),
            [2, 10],
            "{arch}"
        );
    }
}

#[test]
fn imagenet_forward_shapes() {
    for arch in DataDomain::Imagenet.archs() {
        assert_eq!(
            forward_shape(DataDomain::Imagenet, arch, 1),
            [1, 1000],
            "{arch}"
        );
    }
}

#[test]
fn unknown_architectures_are_config_errors() {
    let e = build_model(DataDomain::Cifar10, "resnet21", &mut rng())
        .err()
        .unwrap();
    assert!(
        matches!(e, NnError::Config(_)) && e.to_string().contains("resnet20"),
        "{e}"
    );
    assert!(build_model(DataDomain::Imagenet, "mobilenetv2", &mut rng()).is_err());
    assert!(build_model(DataDomain::Mnist, "resnet18", &mut rng()).is_err());
    assert_eq!(DataDomain::Mnist.linear_rule("linear"), LinearRule::Count);
    assert_eq!(
        DataDomain::Mnist.linear_rule("conv"),
        LinearRule::AlwaysConvert
    );
    assert_eq!(
        DataDomain::Cifar10.linear_rule("resnet20"),
        LinearRule::AlwaysConvert
    );
}

fn options(shift_type: ShiftType) -> ShiftOptions {
    ShiftOptions {
        shift_type,
        weight_bits: 5,
        act: FixedPoint::DEFAULT,
        rounding: Rounding::Deterministic,
    }
}

#[test]
fn resnet20_conversion_counts_convolutions_from_the_end() {
    let mut model = build_model(DataDomain::Cifar10, "resnet20", &mut rng()).unwrap();
    let n = convert_to_shift(
        model.as_mut(),
        3,
        options(ShiftType::PS),
        LinearRule::AlwaysConvert,
        true,
        &mut rng(),
    )
    .unwrap();
    // The linear layer (always) and the last three convolutions.
    assert_eq!(n, 4);
    let shifted: Vec<String> = model
        .layers()
        .into_iter()
        .filter(|(_, l)| l.is_shift())
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        shifted,
        [
            "layer3.1.conv2",
            "layer3.2.conv1",
            "layer3.2.conv2",
            "linear"
        ]
    );
    let kinds: Vec<(String, ParamKind)> = named_params(model.as_ref())
        .into_iter()
        .map(|(n, p)| (n, p.kind()))
        .filter(|(n, _)| n.starts_with("layer3.2.") || n.starts_with("linear"))
        .collect();
    let expect = [
        ("layer3.2.conv1.shift", ParamKind::Shift),
        ("layer3.2.conv1.sign", ParamKind::Sign),
        ("layer3.2.bn1.weight", ParamKind::NormWeight),
        ("layer3.2.bn1.bias", ParamKind::NormBias),
        ("layer3.2.conv2.shift", ParamKind::Shift),
        ("layer3.2.conv2.sign", ParamKind::Sign),
        ("layer3.2.bn2.weight", ParamKind::NormWeight),
        ("layer3.2.bn2.bias", ParamKind::NormBias),
        ("linear.shift", ParamKind::Shift),
        ("linear.sign", ParamKind::Sign),
        ("linear.bias", ParamKind::Bias),
    ];
    let kinds: Vec<(&str, ParamKind)> = kinds.iter().map(|(n, k)| (n.as_str(), *k)).collect();
    assert_eq!(kinds, expect);
    // Everything: 19 convolutions and the linear layer.
    let rest = convert_to_shift(
        model.as_mut(),
        1000,
        options(ShiftType::PS),
        LinearRule::AlwaysConvert,
        true,
        &mut rng(),
    )
    .unwrap();
    assert_eq!(rest, 16);
    let x = Var::constant(Tensor::from_elem(vec![2, 3, 32, 32], 0.25));
    let mut ctx = Ctx {
        train: true,
        rng: rng(),
    };
    let y = model.forward(&x, &mut ctx).unwrap();
    shift_nn::ops::cross_entropy(&y, &[3, 4])
        .unwrap()
        .backward();
    let shift_grads: f32 = named_params(model.as_ref())
        .iter()
        .filter(|(_, p)| p.kind() == ParamKind::Shift)
        .map(|(_, p)| p.grad().iter().map(|g| g.abs()).sum::<f32>())
        .sum();
    assert!(shift_grads > 0.0);
}

#[test]
fn batch_norm_buffers_round_trip_through_safetensors_as_int64_counters() {
    let model = build_model(DataDomain::Cifar10, "resnet20", &mut rng()).unwrap();
    let x = Var::constant(Tensor::from_shape_fn(vec![4, 3, 32, 32], |i| {
        (i[0] + 2 * i[1] + i[2] * i[3]) as f32 * 0.01
    }));
    let mut ctx = Ctx {
        train: true,
        rng: rng(),
    };
    for _ in 0..3 {
        no_grad(|| model.forward(&x, &mut ctx)).unwrap();
    }
    let dict = state_dict(model.as_ref());
    assert_eq!(dict.tensors.len(), 59 + 19 * 3);
    assert_eq!(dict.tensors["layer2.0.bn1.num_batches_tracked"][[]], 3.0);
    assert_ne!(dict.tensors["bn1.running_mean"].sum(), 0.0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("resnet20.safetensors");
    save_safetensors(&dict, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let counter = st.tensor("bn1.num_batches_tracked").unwrap();
    assert_eq!(counter.dtype(), safetensors::Dtype::I64);
    assert_eq!(counter.shape(), [] as [usize; 0]);
    assert_eq!(counter.data(), 3i64.to_le_bytes());
    assert_eq!(
        st.tensor("bn1.running_var").unwrap().dtype(),
        safetensors::Dtype::F32
    );

    let other = build_model(
        DataDomain::Cifar10,
        "resnet20",
        &mut ChaCha8Rng::seed_from_u64(9),
    )
    .unwrap();
    let back = load_safetensors(&path).unwrap();
    load_state_dict(other.as_ref(), &back, "resnet20.safetensors").unwrap();
    assert_eq!(state_dict(other.as_ref()).tensors, dict.tensors);
    let (a, b) = no_grad(|| {
        (
            model.forward(&x, &mut eval_ctx()).unwrap(),
            other.forward(&x, &mut eval_ctx()).unwrap(),
        )
    });
    assert_eq!(a.value(), b.value());

    // Strict: a missing running statistic is named.
    let mut missing = back.clone();
    missing.tensors.remove("layer3.2.bn2.running_var");
    let e = load_state_dict(other.as_ref(), &missing, "f").unwrap_err();
    assert!(e.to_string().contains("layer3.2.bn2.running_var"), "{e}");

    // Rounded (evaluation) dicts keep batch norms and their buffers.
    let rounded = rounded_state_dict(model.as_ref()).unwrap();
    assert_eq!(
        rounded.tensors.keys().collect::<Vec<_>>(),
        dict.tensors.keys().collect::<Vec<_>>()
    );
    assert_eq!(named_buffers(model.as_ref()).len(), 19 * 3);
}
