//! Parameter counts equal PyTorch's, forward shapes, conversion rules, and a model that learns.

mod common;

use common::rng;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shift_core::{FixedPoint, Rounding, ShiftType};
use shift_nn::models::{mnist_model, MnistConv, MnistLinear};
use shift_nn::{
    convert_to_shift, named_params, no_grad, param_count, zero_grad, Ctx, LinearRule, Model,
    ShiftOptions, Tensor, Var,
};

fn options(shift_type: ShiftType) -> ShiftOptions {
    ShiftOptions {
        shift_type,
        weight_bits: 5,
        act: FixedPoint::DEFAULT,
        rounding: Rounding::Deterministic,
    }
}

#[test]
fn mnist_parameter_counts_match_pytorch() {
    assert_eq!(param_count(&MnistLinear::new(&mut rng())), 669_706);
    assert_eq!(param_count(&MnistConv::new(&mut rng())), 431_080);
}

#[test]
fn mnist_forward_shapes() {
    for ty in ["linear", "conv"] {
        let model = mnist_model(ty, &mut rng()).unwrap();
        let x = Var::constant(Tensor::zeros(vec![3, 1, 28, 28]));
        let mut ctx = Ctx {
            train: false,
            rng: rng(),
        };
        let y = no_grad(|| model.forward(&x, &mut ctx)).unwrap();
        assert_eq!(y.shape(), [3, 10], "{ty}");
    }
    assert!(mnist_model("resnet", &mut rng()).is_err());
}

#[test]
fn conversion_follows_the_reference_counting_rules() {
    // MNIST linear: linear layers count; depth 2 converts fc3 and fc2.
    let mut m = MnistLinear::new(&mut rng());
    let n = convert_to_shift(
        &mut m,
        2,
        options(ShiftType::PS),
        LinearRule::Count,
        true,
        &mut rng(),
    )
    .unwrap();
    assert_eq!(n, 2);
    assert!(!m.fc1.is_shift() && m.fc2.is_shift() && m.fc3.is_shift());
    let names: Vec<_> = named_params(&m).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "fc1.weight",
            "fc1.bias",
            "fc2.shift",
            "fc2.sign",
            "fc2.bias",
            "fc3.shift",
            "fc3.sign",
            "fc3.bias"
        ]
    );
    // MNIST conv: linear layers always convert and do not count; depth 1 adds conv2 only.
    let mut m = MnistConv::new(&mut rng());
    let n = convert_to_shift(
        &mut m,
        1,
        options(ShiftType::Q),
        LinearRule::AlwaysConvert,
        true,
        &mut rng(),
    )
    .unwrap();
    assert_eq!(n, 3);
    assert!(!m.conv1.is_shift() && m.conv2.is_shift() && m.fc1.is_shift() && m.fc2.is_shift());
    // Depth 0 is the float model; 1000 converts everything.
    let mut m = MnistConv::new(&mut rng());
    assert_eq!(
        convert_to_shift(
            &mut m,
            0,
            options(ShiftType::Q),
            LinearRule::AlwaysConvert,
            true,
            &mut rng()
        )
        .unwrap(),
        0
    );
    assert_eq!(
        convert_to_shift(
            &mut m,
            1000,
            options(ShiftType::Q),
            LinearRule::AlwaysConvert,
            true,
            &mut rng()
        )
        .unwrap(),
        4
    );
}

#[test]
fn conversion_keeps_the_function_close_for_q_and_exact_weights_for_ps() {
    let float = MnistLinear::new(&mut rng());
    let mut ps = float.clone_deep();
    convert_to_shift(
        &mut ps,
        1000,
        options(ShiftType::PS),
        LinearRule::Count,
        true,
        &mut rng(),
    )
    .unwrap();
    // PS parameters are exactly the rounded log2 and sign of the float weight.
    let w = float.fc3.named_params("fc3")[0].1.value().clone();
    let shift = ps.fc3.named_params("fc3")[0].1.value().clone();
    for (w, p) in w.iter().zip(shift.iter()) {
        assert_eq!(*p, shift_core::round_log2_abs(*w).max(-14.0));
    }
}

/// Deep copy (parameters are shared handles, so `clone` would alias them).
trait CloneDeep {
    fn clone_deep(&self) -> Self;
}

impl CloneDeep for MnistLinear {
    fn clone_deep(&self) -> Self {
        let copy = MnistLinear::new(&mut rng());
        let dict = shift_nn::state_dict(self);
        shift_nn::load_state_dict(&copy, &dict, "copy").unwrap();
        copy
    }
}

/// Two Gaussian blobs per class in 784-D: a float and a PS model both reach >95 % training
/// accuracy with plain SGD, so forward, backward and parameter updates work together.
#[test]
fn small_models_learn_a_toy_task() {
    let mut data_rng = ChaCha8Rng::seed_from_u64(9);
    let centres: Vec<Vec<f32>> = (0..10)
        .map(|_| (0..784).map(|_| data_rng.gen_range(-1.0..1.0)).collect())
        .collect();
    let n = 200;
    let labels: Vec<usize> = (0..n).map(|i| i % 10).collect();
    let x = Tensor::from_shape_fn(vec![n, 1, 28, 28], |idx| {
        let (i, j) = (idx[0], idx[2] * 28 + idx[3]);
        centres[labels[i]][j] + 0.5 * ((i * 7919 + j * 104729) % 1000) as f32 / 1000.0
    });
    for shift_type in [None, Some(ShiftType::PS), Some(ShiftType::Q)] {
        let mut model = MnistLinear::new(&mut rng());
        if let Some(ty) = shift_type {
            convert_to_shift(
                &mut model,
                1000,
                options(ty),
                LinearRule::Count,
                false,
                &mut rng(),
            )
            .unwrap();
        }
        let mut ctx = Ctx {
            train: true,
            rng: rng(),
        };
        let lr = if shift_type == Some(ShiftType::PS) {
            0.1
        } else {
            0.05
        };
        for _ in 0..30 {
            zero_grad(&model);
            let out = model.forward(&Var::constant(x.clone()), &mut ctx).unwrap();
            shift_nn::ops::nll_loss(&out, &labels).unwrap().backward();
            for (_, p) in named_params(&model) {
                p.with_value_and_grad(|v, g| v.iter_mut().zip(g).for_each(|(v, g)| *v -= lr * g));
            }
        }
        ctx.train = false;
        let out = no_grad(|| model.forward(&Var::constant(x.clone()), &mut ctx)).unwrap();
        let correct = out
            .value()
            .outer_iter()
            .zip(&labels)
            .filter(|(row, &l)| {
                row.iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .unwrap()
                    .0
                    == l
            })
            .count();
        assert!(
            correct as f32 / n as f32 > 0.95,
            "{shift_type:?}: {correct}/{n}"
        );
    }
}
