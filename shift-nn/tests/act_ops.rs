//! Forward values of the ops GoogLeNet and EfficientNet add, against closed forms computed
//! here in f64 and against PyTorch results worked out by hand from its definitions
//! (`F.silu`, `torch.sigmoid`, `F.max_pool2d(..., ceil_mode=True)`,
//! `torchvision.ops.stochastic_depth(..., "row")`, GoogLeNet's `_transform_input`).

use ndarray::IxDyn;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shift_nn::{ops, Tensor, Var};

fn var(shape: &[usize], v: Vec<f32>) -> Var {
    Var::constant(Tensor::from_shape_vec(IxDyn(shape), v).unwrap())
}

#[test]
fn silu_and_sigmoid_match_their_definitions() {
    let xs = [-20.0f32, -3.0, -0.5, 0.0, 0.25, 1.0, 4.0, 30.0];
    let x = var(&[xs.len()], xs.to_vec());
    let silu = ops::silu(&x);
    let sig = ops::sigmoid(&x);
    for (i, &v) in xs.iter().enumerate() {
        let s = 1.0 / (1.0 + (-(v as f64)).exp());
        let (got_silu, got_sig) = (silu.value()[i] as f64, sig.value()[i] as f64);
        assert!((got_sig - s).abs() <= 1e-6 * s.max(1e-3), "sigmoid({v})");
        assert!(
            (got_silu - v as f64 * s).abs() <= 1e-6 * (1.0 + v.abs() as f64),
            "silu({v})"
        );
    }
    // Fixed points worth naming: sigmoid(0) = 1/2, silu(0) = 0, silu(1) = 0.7310586.
    assert_eq!(sig.value()[3], 0.5);
    assert_eq!(silu.value()[3], 0.0);
    assert!((silu.value()[5] - 0.731_058_6).abs() < 1e-6);
}

#[test]
fn ceil_mode_max_pool_matches_pytorch() {
    // F.max_pool2d(torch.arange(36.).view(1, 1, 6, 6), 3, 2, ceil_mode=True): windows of rows
    // and columns [0, 3), [2, 5), [4, 6) (floor mode stops after two); each maximum is the
    // window's bottom-right element.
    let x = var(&[1, 1, 6, 6], (0..36).map(|v| v as f32).collect());
    let y = ops::max_pool2d_ceil(&x, 3, 2, 0).unwrap();
    assert_eq!(y.shape(), [1, 1, 3, 3]);
    let want = [14., 16., 17., 26., 28., 29., 32., 34., 35.];
    assert_eq!(y.value().iter().copied().collect::<Vec<_>>(), want);
    assert_eq!(ops::max_pool2d(&x, 3, 2, 0).unwrap().shape(), [1, 1, 2, 2]);
    // Padded positions never win, even where the whole in-bounds window is negative.
    let neg = var(&[1, 1, 2, 2], vec![-4., -3., -2., -1.]);
    let y = ops::max_pool2d_ceil(&neg, 3, 1, 1).unwrap();
    assert_eq!(
        y.value().iter().copied().collect::<Vec<_>>(),
        [-1., -1., -1., -1.]
    );
}

#[test]
fn scale_channels_broadcasts_one_factor_per_sample_and_channel() {
    let x = var(&[2, 2, 1, 2], vec![1., 2., 3., 4., 5., 6., 7., 8.]);
    let s = var(&[2, 2, 1, 1], vec![10., -1., 0.5, 0.]);
    let y = ops::scale_channels(&x, &s).unwrap();
    assert_eq!(
        y.value().iter().copied().collect::<Vec<_>>(),
        [10., 20., -3., -4., 2.5, 3., 0., 0.]
    );
}

#[test]
fn stochastic_depth_drops_whole_rows_and_rescales_the_rest() {
    let n = 400;
    let x = Var::constant(Tensor::from_shape_fn(IxDyn(&[n, 2, 2, 2]), |i| {
        1.0 + i[1] as f32
    }));
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let y = ops::stochastic_depth(&x, 0.2, &mut rng).unwrap();
    let mut kept = 0;
    for (row_y, row_x) in y.value().outer_iter().zip(x.value().outer_iter()) {
        let ratio: Vec<f32> = row_y.iter().zip(row_x).map(|(a, b)| a / b).collect();
        // A row is either dropped (0) or kept and divided by the survival rate 0.8.
        assert!(
            ratio.iter().all(|&r| r == 0.0) || ratio.iter().all(|&r| (r - 1.25).abs() < 1e-6),
            "{ratio:?}"
        );
        kept += usize::from(ratio[0] != 0.0);
    }
    // 80 % survive on average: 320 of 400, binomial sd 8.
    assert!((290..=350).contains(&kept), "{kept} of {n} rows kept");
    // p = 0 is the identity and p = 1 drops everything (torchvision divides by nothing then).
    let same = ops::stochastic_depth(&x, 0.0, &mut rng).unwrap();
    assert_eq!(same.value(), x.value());
    let none = ops::stochastic_depth(&x, 1.0, &mut rng).unwrap();
    assert!(none.value().iter().all(|&v| v == 0.0));
}

#[test]
fn channel_affine_is_googlenets_transform_input() {
    // An ImageNet-normalised pixel equal to the mean (0) maps to (mean - 0.5) / 0.5, and one
    // at mean + std (1) to ((mean + std) - 0.5) / 0.5: the [-1, 1] scaling of raw [0, 1].
    let (mean, std) = ([0.485f32, 0.456, 0.406], [0.229f32, 0.224, 0.225]);
    let scale: Vec<f32> = std.iter().map(|s| s / 0.5).collect();
    let shift: Vec<f32> = mean.iter().map(|m| (m - 0.5) / 0.5).collect();
    let x = var(&[1, 3, 1, 2], vec![0., 1., 0., 1., 0., 1.]);
    let y = ops::channel_affine(&x, &scale, &shift).unwrap();
    for c in 0..3 {
        let at_mean = y.value()[[0, c, 0, 0]];
        let at_one = y.value()[[0, c, 0, 1]];
        assert!((at_mean - (mean[c] - 0.5) / 0.5).abs() < 1e-6);
        assert!((at_one - ((mean[c] + std[c]) - 0.5) / 0.5).abs() < 1e-6);
    }
}
