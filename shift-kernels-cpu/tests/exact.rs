//! Every level of the kernels equals the scalar reference bit for bit, and the reference
//! equals the float DeepShift forward (shift-nn's ops on the same rounded weights and inputs).

use ndarray::IxDyn;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shift_core::{exp2i, shift_range, Encoding, FixedPoint, PackedShiftWeights, ShiftType};
use shift_kernels_cpu::{
    reference, Conv2dShape, ConvGeometry, FixedOutput, KernelError, Level, ShiftConv2d,
    ShiftLinear, ShiftMatrix,
};
use shift_nn::{ops, Tensor, Var};

const SIZES: [usize; 5] = [1, 3, 17, 64, 255];
const ACTS: [(u32, u32); 5] = [(16, 16), (3, 5), (8, 8), (1, 4), (4, 20)];

/// Random DeepShift weights: Q has no zeros, PS has ternary signs. `narrow` limits the
/// shifts to the top 20 levels of the range (as trained wide-bit layers mostly are).
fn weights(rng: &mut ChaCha8Rng, n: usize, ty: ShiftType, wb: u32, narrow: bool) -> Vec<f32> {
    let r = shift_range(ty, wb).unwrap();
    let lo = if narrow { r.min.max(-19) } else { r.min };
    (0..n)
        .map(|_| {
            let p = rng.gen_range(lo..=r.max);
            let s: i32 = match ty {
                ShiftType::Q => {
                    if rng.gen_bool(0.5) {
                        1
                    } else {
                        -1
                    }
                }
                ShiftType::PS => rng.gen_range(-1..=1),
            };
            s as f32 * exp2i(p)
        })
        .collect()
}

/// Inputs spread over the format's range and beyond (so clamping happens), with some
/// exact zeros.
fn inputs(rng: &mut ChaCha8Rng, n: usize, act: FixedPoint) -> Vec<f32> {
    let a = act.max_value().max(1.0) * 1.2;
    (0..n)
        .map(|_| {
            if rng.gen_bool(0.1) {
                0.0
            } else {
                rng.gen_range(-a..a) * rng.gen_range(0.0f32..1.0).powi(3)
            }
        })
        .collect()
}

fn same(a: &Result<FixedOutput, KernelError>, b: &Result<FixedOutput, KernelError>) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) => {
            a == b
                && a.to_f32()
                    .iter()
                    .zip(b.to_f32())
                    .all(|(x, y)| x.to_bits() == y.to_bits())
        }
        (
            Err(KernelError::AccumulatorOverflow { .. }),
            Err(KernelError::AccumulatorOverflow { .. }),
        ) => true,
        _ => false,
    }
}

fn pack(w: &[f32], rows: usize, cols: usize, ty: ShiftType, wb: u32) -> ShiftMatrix {
    let enc = match ty {
        ShiftType::Q => Encoding::Binary,
        ShiftType::PS => Encoding::Ternary,
    };
    let packed = PackedShiftWeights::from_weights(w, rows, cols, enc, wb).unwrap();
    let m = ShiftMatrix::from_packed(&packed).unwrap();
    assert_eq!(m, ShiftMatrix::from_weights(w, rows, cols).unwrap());
    m
}

#[test]
fn linear_every_level_equals_the_reference() {
    let levels = Level::available();
    eprintln!("levels: {levels:?}");
    // The SIMD path of the target must be among them (NEON runs under qemu in CI).
    #[cfg(target_arch = "aarch64")]
    assert!(levels.contains(&Level::Neon), "{levels:?}");
    #[cfg(target_arch = "x86_64")]
    assert!(
        !std::is_x86_feature_detected!("avx512f") || levels.contains(&Level::Avx512),
        "{levels:?}"
    );
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let mut ok_per_wb = [0usize; 9];
    let mut cases = 0;
    for wb in 2..=8 {
        for ty in [ShiftType::Q, ShiftType::PS] {
            for (case, &(i, f)) in ACTS.iter().enumerate() {
                let act = FixedPoint::new(i, f).unwrap();
                let rows = SIZES[(case + wb as usize) % SIZES.len()];
                let cols = SIZES[(case * 3 + wb as usize + 1) % SIZES.len()];
                let batch = [1, 3, 17, 33, 2][case];
                let narrow = wb >= 6 && case % 2 == 0;
                let w = weights(&mut rng, rows * cols, ty, wb, narrow);
                let bias: Vec<f32> = inputs(&mut rng, rows, act);
                let x = inputs(&mut rng, batch * cols, act);
                let b = (case % 2 == 0).then_some(&bias[..]);
                let want = reference::linear(&w, rows, cols, b, &x, batch, act);
                let layer = ShiftLinear::new(pack(&w, rows, cols, ty, wb), b, act).unwrap();
                for &level in &levels {
                    let got = layer.forward_fixed(&x, batch, level);
                    assert!(
                        same(&got, &want),
                        "wb {wb} {ty:?} -ab {i} {f} [{rows}x{cols}] batch {batch} {level}: {:?} vs {:?}",
                        got.as_ref().map(|g| &g.totals[..g.totals.len().min(4)]),
                        want.as_ref().map(|g| &g.totals[..g.totals.len().min(4)])
                    );
                }
                cases += 1;
                if want.is_ok() {
                    ok_per_wb[wb as usize] += 1;
                }
            }
        }
    }
    // Most cases must be computed, not refused, and every width must have some.
    for (wb, &ok) in ok_per_wb.iter().enumerate().skip(2) {
        assert!(ok >= 3, "weight bits {wb}: {ok} computed");
    }
    assert!(
        ok_per_wb.iter().sum::<usize>() * 10 >= cases * 7,
        "{ok_per_wb:?} of {cases}"
    );
}

#[test]
fn conv_every_level_equals_the_reference() {
    let levels = Level::available();
    let mut rng = ChaCha8Rng::seed_from_u64(20);
    // (in, out, groups, kernel, stride, padding, dilation, h, w, batch)
    let shapes = [
        (1, 20, 1, (5, 5), 1, 0, 1, 28, 28, 2),
        (3, 8, 1, (3, 3), 2, 1, 1, 9, 9, 2),
        (4, 6, 2, (5, 5), 1, 2, 1, 7, 7, 1),
        (16, 16, 16, (3, 3), 1, 1, 1, 8, 8, 3),
        (6, 9, 3, (2, 3), 2, 2, 2, 11, 10, 1),
        (17, 3, 1, (1, 1), 1, 0, 1, 3, 17, 3),
        (5, 7, 1, (3, 3), 3, 0, 2, 1, 1, 2),
        (2, 4, 1, (3, 1), 1, 1, 1, 1, 3, 1),
    ];
    let mut computed = 0;
    for (n, &(c, oc, g, k, s, p, d, h, w, batch)) in shapes.iter().enumerate() {
        for wb in [2, 3, 4, 5, 6, 7, 8] {
            let ty = if (n + wb as usize).is_multiple_of(2) {
                ShiftType::PS
            } else {
                ShiftType::Q
            };
            let (i, f) = ACTS[(n + wb as usize) % ACTS.len()];
            let act = FixedPoint::new(i, f).unwrap();
            let shape = Conv2dShape {
                in_channels: c,
                out_channels: oc,
                kernel: k,
                geometry: ConvGeometry {
                    stride: (s, s),
                    padding: (p, p),
                    dilation: (d, d),
                    groups: g,
                },
                height: h,
                width: w,
            };
            let fan = shape.fan_in();
            let wts = weights(&mut rng, oc * fan, ty, wb, wb >= 6);
            let bias = inputs(&mut rng, oc, act);
            let b = (wb % 2 == 1).then_some(&bias[..]);
            let x = inputs(&mut rng, batch * c * h * w, act);
            let want = reference::conv2d(&wts, b, &x, batch, &shape, act);
            let layer = ShiftConv2d::new(pack(&wts, oc, fan, ty, wb), b, act, c, k, shape.geometry)
                .unwrap();
            for &level in &levels {
                let got = layer.forward_fixed(&x, batch, h, w, level);
                assert!(same(&got, &want), "conv {n} wb {wb} {level}");
            }
            computed += want.is_ok() as usize;
        }
    }
    assert!(computed >= shapes.len() * 5, "{computed} computed");
}

/// The float DeepShift forward of shift-nn: round input and bias to fixed point, then the
/// f32 linear/conv op with the shift weights.
fn float_linear(
    w: &[f32],
    rows: usize,
    cols: usize,
    b: &[f32],
    x: &[f32],
    n: usize,
    act: FixedPoint,
) -> Vec<f32> {
    let t = |v: &[f32], s: &[usize]| {
        Var::constant(Tensor::from_shape_vec(IxDyn(s), v.to_vec()).unwrap())
    };
    let xq = ops::round_fixed(&t(x, &[n, cols]), act);
    let bq = ops::round_fixed(&t(b, &[rows]), act);
    let y = ops::linear(&xq, &t(w, &[rows, cols]), Some(&bq)).unwrap();
    y.value().iter().copied().collect()
}

#[test]
fn reference_equals_the_float_forward() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut exact_cases = 0;
    for wb in 2..=6 {
        for ty in [ShiftType::Q, ShiftType::PS] {
            for &(i, f) in &ACTS {
                let act = FixedPoint::new(i, f).unwrap();
                let (rows, cols, n) = (17, 255, 5);
                let w = weights(&mut rng, rows * cols, ty, wb, true);
                let b = inputs(&mut rng, rows, act);
                let x = inputs(&mut rng, n * cols, act);
                let Ok(exact) = reference::linear(&w, rows, cols, Some(&b), &x, n, act) else {
                    continue;
                };
                let ours = exact.to_f32();
                let float = float_linear(&w, rows, cols, &b, &x, n, act);
                // f64: exact whenever every partial sum fits 53 bits on the output grid.
                let fits53 = exact.totals.iter().all(|t| t.unsigned_abs() < 1 << 40);
                let xr: Vec<f64> = x
                    .iter()
                    .map(|&v| shift_core::round_fixed(v, act) as f64)
                    .collect();
                let br: Vec<f64> = b
                    .iter()
                    .map(|&v| shift_core::round_fixed(v, act) as f64)
                    .collect();
                for s in 0..n {
                    for r in 0..rows {
                        let mut sum = br[r];
                        let mut mag = br[r].abs();
                        for c in 0..cols {
                            let term = xr[s * cols + c] * w[r * cols + c] as f64;
                            sum += term;
                            mag += term.abs();
                        }
                        let (o, fl) = (ours[s * rows + r], float[s * rows + r]);
                        // Recursive/blocked f32 summation: |error| <= (K + 1) u sum |x w|,
                        // plus the final rounding of ours.
                        let tol = (cols as f64 + 2.0) * f32::EPSILON as f64 / 2.0 * mag + 1e-30;
                        assert!(
                            ((o as f64) - (fl as f64)).abs() <= tol,
                            "{o} vs float {fl} (tol {tol})"
                        );
                        if fits53
                            && mag
                                < (1u64 << 52) as f64
                                    * exp2i(exact.exp).max(f32::MIN_POSITIVE) as f64
                        {
                            assert_eq!(o, sum as f32, "exact f64 sum");
                        }
                    }
                }
                exact_cases += fits53 as usize;
            }
        }
    }
    assert!(exact_cases > 10, "{exact_cases}");
}

#[test]
fn conv_reference_equals_the_float_forward() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let act = FixedPoint::new(8, 8).unwrap();
    let geometry = ConvGeometry {
        stride: (2, 1),
        padding: (1, 2),
        dilation: (1, 2),
        groups: 2,
    };
    let shape = Conv2dShape {
        in_channels: 4,
        out_channels: 6,
        kernel: (3, 3),
        geometry,
        height: 9,
        width: 8,
    };
    let w = weights(&mut rng, 6 * shape.fan_in(), ShiftType::PS, 5, false);
    let b = inputs(&mut rng, 6, act);
    let x = inputs(&mut rng, 2 * 4 * 9 * 8, act);
    let ours = reference::conv2d(&w, Some(&b), &x, 2, &shape, act)
        .unwrap()
        .to_f32();
    let t = |v: &[f32], s: &[usize]| {
        Var::constant(Tensor::from_shape_vec(IxDyn(s), v.to_vec()).unwrap())
    };
    let xq = ops::round_fixed(&t(&x, &[2, 4, 9, 8]), act);
    let bq = ops::round_fixed(&t(&b, &[6]), act);
    let g = ops::Conv2dGeometry {
        stride: (2, 1),
        padding: (1, 2),
        dilation: (1, 2),
        groups: 2,
    };
    let y = ops::conv2d(&xq, &t(&w, &[6, 2, 3, 3]), Some(&bq), g).unwrap();
    assert_eq!(y.value().len(), ours.len());
    for (a, f) in ours.iter().zip(y.value().iter()) {
        assert!((a - f).abs() <= 1e-5 * (1.0 + f.abs()), "{a} vs {f}");
    }
}

#[test]
fn overflow_is_an_error_on_every_level() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let act = FixedPoint::DEFAULT;
    // Q at 8 bits spans 2^-127..1: 32-bit inputs cannot be summed exactly in 64 bits.
    let mut w = weights(&mut rng, 4 * 16, ShiftType::Q, 8, false);
    w[0] = exp2i(-127);
    w[1] = 1.0;
    let x = vec![1000.0f32; 2 * 16];
    let layer = ShiftLinear::new(ShiftMatrix::from_weights(&w, 4, 16).unwrap(), None, act).unwrap();
    assert!(matches!(
        reference::linear(&w, 4, 16, None, &x, 2, act),
        Err(KernelError::AccumulatorOverflow { .. })
    ));
    for level in Level::available() {
        let e = layer.forward(&x, 2, level).unwrap_err();
        assert!(
            matches!(e, KernelError::AccumulatorOverflow { needed_bits, .. } if needed_bits > 64),
            "{e}"
        );
        assert!(e.to_string().contains("64-bit"), "{e}");
    }
    // The same weights on small inputs fit: the rule is per call.
    let tiny = vec![0.0f32; 2 * 16];
    assert!(layer.forward(&tiny, 2, Level::Scalar).is_ok());
}

#[test]
fn inputs_of_magnitude_two_to_the_31_take_the_wide_path() {
    let act = FixedPoint::DEFAULT;
    let w = [1.0, -1.0, 0.5, 1.0, 1.0, -0.5];
    let x = [-40000.0f32, -40000.0, -40000.0, 3.0, -1.5, 1e9];
    let want = reference::linear(&w, 2, 3, None, &x, 2, act).unwrap();
    let layer = ShiftLinear::new(ShiftMatrix::from_weights(&w, 2, 3).unwrap(), None, act).unwrap();
    for level in Level::available() {
        assert_eq!(layer.forward_fixed(&x, 2, level).unwrap(), want, "{level}");
    }
    // -40000 clamps to -2^15 (-2^31 on the grid): 1 * x - 1 * x + 0.5 * x = -2^14.
    assert_eq!(want.to_f32()[0], -16384.0);
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let act = FixedPoint::new(8, 8).unwrap();
    let w = weights(&mut rng, 300 * 255, ShiftType::PS, 5, false);
    let x = inputs(&mut rng, 70 * 255, act);
    let layer =
        ShiftLinear::new(ShiftMatrix::from_weights(&w, 300, 255).unwrap(), None, act).unwrap();
    let level = Level::best_up_to(None);
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| layer.forward(&x, 70, level).unwrap())
    };
    let one = run(1);
    assert_eq!(one, run(3));
    assert_eq!(one, layer.forward(&x, 70, Level::Scalar).unwrap());
}

#[test]
fn gemv_every_level_equals_the_reference() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for (i, &rows) in SIZES.iter().enumerate() {
        for (j, &cols) in SIZES.iter().enumerate() {
            let ty = if (i + j) % 2 == 0 {
                ShiftType::PS
            } else {
                ShiftType::Q
            };
            let wb = 2 + ((i + 2 * j) % 5) as u32;
            let (ib, fb) = ACTS[(i + j) % ACTS.len()];
            let act = FixedPoint::new(ib, fb).unwrap();
            let w = weights(&mut rng, rows * cols, ty, wb, false);
            let b = inputs(&mut rng, rows, act);
            let x = inputs(&mut rng, cols, act);
            let want = reference::linear(&w, rows, cols, Some(&b), &x, 1, act);
            let layer = ShiftLinear::new(pack(&w, rows, cols, ty, wb), Some(&b), act).unwrap();
            for level in Level::available() {
                let got = layer.forward_fixed(&x, 1, level);
                assert!(same(&got, &want), "gemv [{rows}x{cols}] wb {wb} {level}");
            }
        }
    }
}

/// Batch 1 with inputs so large that the AVX-512 table path sums only a few inputs per
/// `i32` chunk (and, beyond that, falls back): still exact on every level.
#[test]
fn gemv_with_short_chunks_equals_the_reference() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let act = FixedPoint::DEFAULT;
    for (wb, ty, mag) in [
        (2, ShiftType::PS, 4096.0f32),
        (2, ShiftType::Q, 2048.0),
        (3, ShiftType::Q, 512.0),
        (5, ShiftType::Q, 0.5),
        (5, ShiftType::PS, 1.0),
        (4, ShiftType::PS, 30000.0),
    ] {
        for (rows, cols) in [(255, 255), (17, 3), (33, 64)] {
            let w = weights(&mut rng, rows * cols, ty, wb, false);
            let x: Vec<f32> = (0..cols).map(|_| rng.gen_range(-mag..mag)).collect();
            let want = reference::linear(&w, rows, cols, None, &x, 1, act);
            let layer = ShiftLinear::new(pack(&w, rows, cols, ty, wb), None, act).unwrap();
            for level in Level::available() {
                let got = layer.forward_fixed(&x, 1, level);
                assert!(
                    same(&got, &want),
                    "wb {wb} {ty:?} |x| < {mag} [{rows}x{cols}] {level}"
                );
            }
        }
    }
}
