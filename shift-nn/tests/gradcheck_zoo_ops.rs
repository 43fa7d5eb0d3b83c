//! Finite-difference gradient checks for the ops the CIFAR-10 and ImageNet models add: batch
//! norm (train and eval), average, adaptive average and padded max pooling (floor and ceil
//! mode), channel concat, the option-A shortcut, ReLU6, and for GoogLeNet and EfficientNet
//! SiLU, sigmoid, per-channel scaling, stochastic depth and the per-channel affine map.
//! Central differences of `sum(f(x) * w)` for a random `w`, accumulated in f64; inputs of
//! piecewise ops keep clear of their kinks.

use ndarray::IxDyn;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shift_nn::ops;
use shift_nn::{Param, ParamKind, Tensor, Var};

fn random(shape: &[usize], rng: &mut impl Rng) -> Tensor {
    Tensor::from_shape_fn(IxDyn(shape), |_| rng.gen_range(-1.0..1.0))
}

/// Distinct values at least 0.1 apart (so a step of 0.01 never changes a max-pool's winner).
fn spread(shape: &[usize], rng: &mut impl Rng) -> Tensor {
    let n: usize = shape.iter().product();
    let mut v: Vec<f32> = (0..n).map(|i| i as f32 * 0.1 - n as f32 * 0.05).collect();
    v.shuffle(rng);
    Tensor::from_shape_vec(shape.to_vec(), v).unwrap()
}

/// Checks d(sum(f(inputs) * w))/d(inputs) against central differences.
fn check(name: &str, inputs: Vec<Tensor>, f: impl Fn(&[Var]) -> Var) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let params: Vec<Param> = inputs
        .into_iter()
        .map(|t| Param::new(t, ParamKind::Weight))
        .collect();
    let vars: Vec<Var> = params.iter().map(Var::param).collect();
    let out = f(&vars);
    let w = random(out.shape(), &mut rng);
    ops::weighted_sum(&out, &w).unwrap().backward();
    let loss_at = || -> f64 {
        let vars: Vec<Var> = params.iter().map(Var::param).collect();
        let out = f(&vars);
        out.value()
            .iter()
            .zip(w.iter())
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum()
    };
    let h = 1e-2f32;
    let mut checked = 0;
    for (pi, p) in params.iter().enumerate() {
        let analytic = p.grad().clone();
        for i in 0..p.len() {
            let orig = p.value().as_slice().unwrap()[i];
            p.value_mut().as_slice_mut().unwrap()[i] = orig + h;
            let plus = loss_at();
            p.value_mut().as_slice_mut().unwrap()[i] = orig - h;
            let minus = loss_at();
            p.value_mut().as_slice_mut().unwrap()[i] = orig;
            let numeric = (plus - minus) / (2.0 * h as f64);
            let a = analytic.as_slice().unwrap()[i] as f64;
            assert!(
                (a - numeric).abs() <= 3e-3 * (1.0 + numeric.abs()),
                "{name}: input {pi} element {i}: analytic {a}, numeric {numeric}"
            );
            checked += 1;
        }
    }
    assert!(checked > 0);
}

#[test]
fn batch_norm_train_mode() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let x = random(&[3, 4, 3, 2], &mut rng).mapv(|v| 2.0 * v + 0.5);
    let g = random(&[4], &mut rng).mapv(|v| 1.0 + 0.5 * v);
    let b = random(&[4], &mut rng);
    check("batch_norm2d_train", vec![x, g, b], |v| {
        ops::batch_norm2d_train(&v[0], &v[1], &v[2], 1e-5)
            .unwrap()
            .0
    });
}

#[test]
fn batch_norm_eval_mode() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let x = random(&[2, 3, 2, 3], &mut rng);
    let g = random(&[3], &mut rng);
    let b = random(&[3], &mut rng);
    let (mean, var) = ([0.3, -0.2, 0.0], [1.5, 0.5, 2.0]);
    check("batch_norm2d_eval", vec![x, g, b], |v| {
        ops::batch_norm2d_eval(&v[0], &v[1], &v[2], &mean, &var, 1e-5).unwrap()
    });
}

#[test]
fn average_pooling() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    check("avg_pool2d", vec![random(&[2, 2, 5, 6], &mut rng)], |v| {
        ops::avg_pool2d(&v[0], 2, 2).unwrap()
    });
    check(
        "avg_pool2d overlapping",
        vec![random(&[1, 2, 5, 5], &mut rng)],
        |v| ops::avg_pool2d(&v[0], 3, 1).unwrap(),
    );
    // 5 -> 3 and 7 -> 2 give overlapping and uneven windows.
    check(
        "adaptive_avg_pool2d",
        vec![random(&[2, 2, 5, 7], &mut rng)],
        |v| ops::adaptive_avg_pool2d(&v[0], 3, 2).unwrap(),
    );
}

#[test]
fn padded_max_pooling() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    check(
        "max_pool2d_padded",
        vec![spread(&[2, 2, 7, 6], &mut rng)],
        |v| ops::max_pool2d(&v[0], 3, 2, 1).unwrap(),
    );
}

#[test]
fn concat_shortcut_relu6() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    check(
        "concat_channels",
        vec![
            random(&[2, 1, 3, 2], &mut rng),
            random(&[2, 3, 3, 2], &mut rng),
            random(&[2, 2, 3, 2], &mut rng),
        ],
        |v| ops::concat_channels(v).unwrap(),
    );
    check(
        "zero_pad_shortcut",
        vec![random(&[2, 3, 5, 4], &mut rng)],
        |v| ops::zero_pad_shortcut(&v[0], 2).unwrap(),
    );
    // Values in (0.05, 5.95) away from the kinks, plus clearly negative and > 6 ones.
    let x = Tensor::from_shape_fn(IxDyn(&[4, 6]), |i| {
        let k = (i[0] * 6 + i[1]) as f32;
        match i[1] {
            0 => -1.0 - k * 0.1,
            5 => 6.5 + k * 0.1,
            _ => 0.2 + k * 0.2,
        }
    });
    check("relu6", vec![x], |v| ops::relu6(&v[0]));
}

#[test]
fn shapes_are_checked() {
    let x = Var::constant(Tensor::zeros(IxDyn(&[2, 3, 4, 4])));
    let c = Var::constant(Tensor::zeros(IxDyn(&[3])));
    let wrong = Var::constant(Tensor::zeros(IxDyn(&[2])));
    assert!(ops::batch_norm2d_train(&x, &wrong, &c, 1e-5).is_err());
    assert!(ops::batch_norm2d_eval(&x, &c, &c, &[0.0; 2], &[1.0; 3], 1e-5).is_err());
    assert!(ops::avg_pool2d(&x, 5, 1).is_err());
    assert!(ops::adaptive_avg_pool2d(&x, 0, 1).is_err());
    assert!(ops::max_pool2d(&x, 2, 2, 2).is_err());
    let y = Var::constant(Tensor::zeros(IxDyn(&[2, 3, 5, 4])));
    assert!(ops::concat_channels(&[x.clone(), y]).is_err());
    assert!(ops::concat_channels(&[]).is_err());
    assert!(ops::zero_pad_shortcut(&c, 1).is_err());
    assert!(ops::max_pool2d_ceil(&x, 2, 2, 2).is_err());
    assert!(ops::scale_channels(&x, &c).is_err());
    assert!(ops::scale_channels(&x, &Var::constant(Tensor::zeros(IxDyn(&[2, 3, 2, 1])))).is_err());
    assert!(ops::stochastic_depth(&x, 1.5, &mut ChaCha8Rng::seed_from_u64(0)).is_err());
    assert!(ops::channel_affine(&x, &[1.0; 2], &[0.0; 3]).is_err());
    // Option A keeps every other pixel of odd sizes too, as `x[:, :, ::2, ::2]`.
    let z = ops::zero_pad_shortcut(&Var::constant(Tensor::ones(IxDyn(&[1, 2, 5, 3]))), 1).unwrap();
    assert_eq!(z.shape(), [1, 4, 3, 2]);
    assert_eq!(z.value().sum(), 12.0);
}

#[test]
fn ceil_mode_max_pooling() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    // 6 -> 3 windows of 3 with stride 2, the last one covering two columns; and GoogLeNet's
    // stride-1 padded pooling.
    check(
        "max_pool2d_ceil",
        vec![spread(&[2, 2, 6, 7], &mut rng)],
        |v| ops::max_pool2d_ceil(&v[0], 3, 2, 0).unwrap(),
    );
    check(
        "max_pool2d_ceil padded",
        vec![spread(&[1, 2, 4, 5], &mut rng)],
        |v| ops::max_pool2d_ceil(&v[0], 3, 1, 1).unwrap(),
    );
}

#[test]
fn silu_sigmoid_and_channel_scaling() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let x = random(&[2, 3, 2, 2], &mut rng).mapv(|v| 3.0 * v);
    check("silu", vec![x.clone()], |v| ops::silu(&v[0]));
    check("sigmoid", vec![x], |v| ops::sigmoid(&v[0]));
    check(
        "scale_channels",
        vec![
            random(&[2, 3, 2, 3], &mut rng),
            random(&[2, 3, 1, 1], &mut rng),
        ],
        |v| ops::scale_channels(&v[0], &v[1]).unwrap(),
    );
    // The squeeze-and-excitation composite, where the scale depends on the input itself.
    check(
        "squeeze-excitation",
        vec![random(&[2, 3, 3, 2], &mut rng)],
        |v| {
            let s = ops::sigmoid(&ops::silu(&ops::adaptive_avg_pool2d(&v[0], 1, 1).unwrap()));
            ops::scale_channels(&v[0], &s).unwrap()
        },
    );
}

#[test]
fn stochastic_depth_and_channel_affine() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    // A fresh RNG with the same seed on every call draws the same rows, so the op is a fixed
    // linear map here; at p = 0.5 over 6 rows some are kept and some dropped.
    check(
        "stochastic_depth",
        vec![random(&[6, 2, 2, 2], &mut rng)],
        |v| ops::stochastic_depth(&v[0], 0.5, &mut ChaCha8Rng::seed_from_u64(4)).unwrap(),
    );
    check(
        "channel_affine",
        vec![random(&[2, 3, 2, 2], &mut rng)],
        |v| ops::channel_affine(&v[0], &[0.5, -2.0, 1.5], &[0.1, 0.2, -0.3]).unwrap(),
    );
}

/// Direct convolution with zero padding, stride 1, one group: the definition, for
/// comparison.
fn conv_direct(x: &Tensor, w: &Tensor, pad: usize) -> Tensor {
    let (xs, ws) = (x.shape(), w.shape());
    let (n, c, h, wd, o, kh, kw) = (xs[0], xs[1], xs[2], xs[3], ws[0], ws[2], ws[3]);
    let (oh, ow) = (h + 2 * pad + 1 - kh, wd + 2 * pad + 1 - kw);
    Tensor::from_shape_fn(IxDyn(&[n, o, oh, ow]), |i| {
        let mut sum = 0.0f32;
        for ci in 0..c {
            for ky in 0..kh {
                for kx in 0..kw {
                    let (iy, ix) = (
                        (i[2] + ky) as isize - pad as isize,
                        (i[3] + kx) as isize - pad as isize,
                    );
                    if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < wd {
                        sum += x[[i[0], ci, iy as usize, ix as usize]] * w[[i[1], ci, ky, kx]];
                    }
                }
            }
        }
        sum
    })
}

#[test]
fn conv_with_padding_wider_than_the_input() {
    // EfficientNet's 5x5 depthwise convolutions (padding 2) meet 1x1 and 2x1 feature maps
    // at CIFAR size, where some kernel taps have no input column at all.
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let geometry = ops::Conv2dGeometry {
        padding: (2, 2),
        ..Default::default()
    };
    for shape in [[2, 3, 1, 1], [1, 2, 2, 1], [1, 2, 1, 3]] {
        let x = random(&shape, &mut rng);
        let w = random(&[4, shape[1], 5, 5], &mut rng);
        let y = ops::conv2d(
            &Var::constant(x.clone()),
            &Var::constant(w.clone()),
            None,
            geometry,
        )
        .unwrap();
        let want = conv_direct(&x, &w, 2);
        assert_eq!(y.shape(), want.shape());
        let err = (y.value() - &want)
            .mapv(f32::abs)
            .fold(0.0f32, |m, &v| m.max(v));
        assert!(err < 1e-5, "{shape:?}: {err}");
        check("conv2d wide padding", vec![x, w], |v| {
            ops::conv2d(&v[0], &v[1], None, geometry).unwrap()
        });
    }
}
