//! Finite-difference gradient checks for every op, in f64-accumulated central differences on
//! small random inputs. Ops with straight-through gradients are checked against their rule.

use ndarray::IxDyn;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shift_nn::ops::{self, Conv2dGeometry};
use shift_nn::{Param, ParamKind, Tensor, Var};

fn random(shape: &[usize], rng: &mut impl Rng) -> Tensor {
    Tensor::from_shape_fn(IxDyn(shape), |_| rng.gen_range(-1.0..1.0))
}

/// Checks d(sum(f(inputs) * w))/d(inputs) against central differences.
fn check(name: &str, shapes: &[&[usize]], f: impl Fn(&[Var]) -> Var) {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let params: Vec<Param> = shapes
        .iter()
        .map(|s| Param::new(random(s, &mut rng), ParamKind::Weight))
        .collect();
    let vars: Vec<Var> = params.iter().map(Var::param).collect();
    let out = f(&vars);
    let w = random(out.shape(), &mut rng);
    ops::weighted_sum(&out, &w).unwrap().backward();
    let loss_at = |params: &[Param]| -> f64 {
        let vars: Vec<Var> = params.iter().map(Var::param).collect();
        let out = f(&vars);
        out.value()
            .iter()
            .zip(w.iter())
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum()
    };
    let h = 1e-2f32;
    for (pi, p) in params.iter().enumerate() {
        let analytic = p.grad().clone();
        for i in 0..p.len() {
            let orig = p.value().as_slice().unwrap()[i];
            p.value_mut().as_slice_mut().unwrap()[i] = orig + h;
            let plus = loss_at(&params);
            p.value_mut().as_slice_mut().unwrap()[i] = orig - h;
            let minus = loss_at(&params);
            p.value_mut().as_slice_mut().unwrap()[i] = orig;
            let numeric = (plus - minus) / (2.0 * h as f64);
            let a = analytic.as_slice().unwrap()[i] as f64;
            assert!(
                (a - numeric).abs() <= 2e-3 * (1.0 + numeric.abs()),
                "{name}: input {pi} element {i}: analytic {a}, numeric {numeric}"
            );
        }
    }
}

#[test]
fn linear() {
    check("linear", &[&[3, 5], &[4, 5], &[4]], |v| {
        ops::linear(&v[0], &v[1], Some(&v[2])).unwrap()
    });
}

#[test]
fn conv2d_with_stride_padding_dilation_groups() {
    let spec = Conv2dGeometry {
        stride: (2, 1),
        padding: (1, 2),
        dilation: (1, 2),
        groups: 2,
    };
    check("conv2d", &[&[2, 4, 5, 6], &[6, 2, 3, 2], &[6]], |v| {
        ops::conv2d(&v[0], &v[1], Some(&v[2]), spec).unwrap()
    });
}

/// Nine images: more than the op's task count, so chunks of two with a shorter last one.
#[test]
fn conv2d_batch_split_into_uneven_chunks() {
    let spec = Conv2dGeometry {
        padding: (1, 1),
        ..Conv2dGeometry::default()
    };
    check("conv2d", &[&[9, 2, 4, 3], &[3, 2, 3, 3], &[3]], |v| {
        ops::conv2d(&v[0], &v[1], Some(&v[2]), spec).unwrap()
    });
}

/// 1x1 kernels at stride 1 skip im2col when an image is multiplied alone (batch 3: one
/// image per task) and gather several images otherwise (batch 9); plain and grouped.
#[test]
fn conv2d_pointwise() {
    for (batch, groups) in [(3, 1), (3, 2), (9, 1), (9, 2)] {
        let spec = Conv2dGeometry {
            groups,
            ..Conv2dGeometry::default()
        };
        check(
            "conv2d 1x1",
            &[&[batch, 4, 3, 5], &[6, 4 / groups, 1, 1]],
            |v| ops::conv2d(&v[0], &v[1], None, spec).unwrap(),
        );
    }
}

#[test]
fn relu_add_reshape() {
    check("relu", &[&[3, 7]], |v| ops::relu(&v[0]));
    check("add", &[&[2, 3], &[2, 3]], |v| {
        ops::add(&v[0], &v[1]).unwrap()
    });
    check("flatten", &[&[2, 3, 2]], |v| ops::flatten(&v[0]).unwrap());
}

#[test]
fn max_pool() {
    check("max_pool2d", &[&[2, 2, 5, 4]], |v| {
        ops::max_pool2d(&v[0], 2, 2, 0).unwrap()
    });
}

#[test]
fn log_softmax_and_losses() {
    check("log_softmax", &[&[3, 5]], |v| {
        ops::log_softmax(&v[0]).unwrap()
    });
    check("cross_entropy", &[&[4, 5]], |v| {
        ops::cross_entropy(&v[0], &[0, 4, 2, 2]).unwrap()
    });
    check("nll_loss", &[&[4, 5]], |v| {
        ops::nll_loss(&v[0], &[1, 3, 0, 2]).unwrap()
    });
}

#[test]
fn dropout_gradient_is_its_mask() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let p = Param::new(random(&[50], &mut rng), ParamKind::Weight);
    let x = Var::param(&p);
    let y = ops::dropout(&x, 0.5, &mut rng);
    ops::weighted_sum(&y, &Tensor::ones(IxDyn(&[50])))
        .unwrap()
        .backward();
    for ((g, xv), yv) in p.grad().iter().zip(p.value().iter()).zip(y.value().iter()) {
        assert!(*g == 0.0 && *yv == 0.0 || (*g == 2.0 && (*yv - 2.0 * xv).abs() < 1e-6));
    }
}

#[test]
fn straight_through_ops_pass_gradients_unchanged() {
    use shift_core::{shift_range, FixedPoint, Rounding, ShiftType};
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let w = Param::new(random(&[3, 4], &mut rng), ParamKind::Weight);
    let range = shift_range(ShiftType::Q, 5).unwrap();
    let q = ops::q_weight(&w, range, Rounding::Deterministic, &mut rng).unwrap();
    let up = random(&[3, 4], &mut rng);
    ops::weighted_sum(&q, &up).unwrap().backward();
    assert_eq!(*w.grad(), up);
    let x = Param::new(random(&[6], &mut rng), ParamKind::Weight);
    let r = ops::round_fixed(&Var::param(&x), FixedPoint::new(3, 2).unwrap());
    let up = random(&[6], &mut rng);
    ops::weighted_sum(&r, &up).unwrap().backward();
    assert_eq!(*x.grad(), up);
}

#[test]
fn ps_weight_gradient_matches_finite_differences_of_the_smooth_form() {
    use shift_core::{shift_range, ShiftType};
    // At integer shifts, W = s * 2^p is smooth in p; the STE gradient is its derivative.
    let range = shift_range(ShiftType::PS, 5).unwrap();
    let shift = Param::new(
        Tensor::from_shape_vec(vec![3], vec![-3.0, -1.0, 0.0]).unwrap(),
        ParamKind::Shift,
    );
    let sign = Param::new(
        Tensor::from_shape_vec(vec![3], vec![0.9, -0.8, 0.1]).unwrap(),
        ParamKind::Sign,
    );
    let w = ops::ps_weight(&shift, &sign, range).unwrap();
    let up = Tensor::from_shape_vec(vec![3], vec![0.5, 2.0, -1.0]).unwrap();
    ops::weighted_sum(&w, &up).unwrap().backward();
    let ln2 = std::f32::consts::LN_2;
    let want_shift = [0.5 * 0.125 * ln2, 2.0 * -0.5 * ln2, 0.0];
    for (g, want) in shift.grad().iter().zip(want_shift) {
        assert!((g - want).abs() < 1e-7, "{g} vs {want}");
    }
    assert_eq!(*sign.grad(), up);
}
