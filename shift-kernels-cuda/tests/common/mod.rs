//! The bit-exactness cases shared by the emulator test (the kernels' C++ on the host) and the
//! GPU test (the PTX on a device): each runs a [`Job`] through a backend and compares the
//! result with shift-kernels-cpu's scalar reference bit for bit.

#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shift_core::{exp2i, shift_range, Encoding, FixedPoint, PackedShiftWeights, ShiftType};
use shift_kernels_cpu::{reference, Conv2dShape, ConvGeometry, FixedOutput, KernelError};
use shift_kernels_cuda::{ConvPlan, GpuWeights, Job, LinearPlan, Tuning};

/// Runs a job against the layer's words and returns the kernel's raw totals.
pub type Backend<'a> = dyn FnMut(&Job, &[u64]) -> Vec<i64> + 'a;

pub const ACTS: [(u32, u32); 5] = [(16, 16), (3, 5), (8, 8), (1, 4), (4, 20)];

/// Random DeepShift weights (Q: no zeros; PS: ternary signs), shifts from the top `levels`
/// of the range (all of it when `levels` is 0).
pub fn weights(rng: &mut ChaCha8Rng, n: usize, ty: ShiftType, wb: u32, levels: i32) -> Vec<f32> {
    let r = shift_range(ty, wb).unwrap();
    let lo = if levels > 0 {
        r.min.max(-(levels - 1))
    } else {
        r.min
    };
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

/// Inputs over the format's range and beyond (clamping), with exact zeros.
pub fn inputs(rng: &mut ChaCha8Rng, n: usize, act: FixedPoint) -> Vec<f32> {
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

fn gpu_weights(w: &[f32], rows: usize, cols: usize, ty: ShiftType, wb: u32) -> GpuWeights {
    let enc = match ty {
        ShiftType::Q => Encoding::Binary,
        ShiftType::PS => Encoding::Ternary,
    };
    let packed = PackedShiftWeights::from_weights(w, rows, cols, enc, wb).unwrap();
    GpuWeights::from_packed(&packed).unwrap()
}

/// Whether the GPU path and the reference agree: the same totals and grid, or both the
/// accumulator error.
fn agree(
    got: Result<FixedOutput, KernelError>,
    want: &Result<FixedOutput, KernelError>,
) -> Result<(), String> {
    match (got, want) {
        (Ok(g), Ok(w)) if &g == w => Ok(()),
        (Ok(g), Ok(w)) => {
            let i = g.totals.iter().zip(&w.totals).position(|(a, b)| a != b);
            Err(format!(
                "totals differ (exp {} vs {}, lengths {} vs {}, first at {i:?})",
                g.exp,
                w.exp,
                g.totals.len(),
                w.totals.len()
            ))
        }
        (
            Err(KernelError::AccumulatorOverflow { needed_bits: a, .. }),
            Err(KernelError::AccumulatorOverflow { needed_bits: b, .. }),
        ) if a == *b => Ok(()),
        (g, w) => Err(format!("got {g:?}, reference {w:?}")),
    }
}

fn run_job(
    job: Result<Job, KernelError>,
    words: &[u64],
    backend: &mut Backend,
) -> Result<FixedOutput, KernelError> {
    let job = job?;
    let raw = if job.empty {
        job.empty_output()
    } else {
        backend(&job, words)
    };
    Ok(job.finish(raw))
}

/// The tunings every case runs under: the default, the 64-bit kernels, one-word 32-bit
/// windows, and a GEMV split into many slices.
pub fn tunings() -> [Tuning; 4] {
    let d = Tuning {
        sm_count: 4,
        ..Default::default()
    };
    [
        d,
        Tuning {
            force_wide: true,
            ..d
        },
        Tuning {
            max_flush_words: Some(1),
            gemv_slices: Some(1),
            ..d
        },
        Tuning {
            gemv_slices: Some(1000),
            max_flush_words: Some(2),
            ..d
        },
    ]
}

/// Linear layers of awkward sizes at every weight width, Q and PS, five activation formats,
/// batch 1 (GEMV) and 2..33 (GEMM), with and without bias. Returns the number of cases.
pub fn linear_cases(backend: &mut Backend, seed: u64, count: usize) -> usize {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sizes = [1usize, 3, 17, 64, 255];
    let batches = [1usize, 1, 2, 3, 5, 33];
    for case in 0..count {
        let rows = sizes[rng.gen_range(0..sizes.len())];
        let cols = sizes[rng.gen_range(0..sizes.len())];
        let batch = batches[rng.gen_range(0..batches.len())];
        let wb = 2 + (case % 7) as u32;
        let ty = if rng.gen_bool(0.5) {
            ShiftType::Q
        } else {
            ShiftType::PS
        };
        let (ib, fb) = ACTS[rng.gen_range(0..ACTS.len())];
        let act = FixedPoint::new(ib, fb).unwrap();
        let levels = if rng.gen_bool(0.5) { 20 } else { 0 };
        let w = weights(&mut rng, rows * cols, ty, wb, levels);
        let bias: Option<Vec<f32>> = rng.gen_bool(0.5).then(|| {
            inputs(&mut rng, rows, act)
                .iter()
                .map(|v| v * 0.5)
                .collect()
        });
        let x = inputs(&mut rng, batch * cols, act);
        let want = reference::linear(&w, rows, cols, bias.as_deref(), &x, batch, act);
        let gw = gpu_weights(&w, rows, cols, ty, wb);
        let plan = LinearPlan::new(gw.clone(), bias.as_deref(), act).unwrap();
        for t in tunings() {
            let got = run_job(plan.job(&x, batch, &t), gw.words(), backend);
            if let Err(e) = agree(got, &want) {
                panic!(
                    "linear case {case}: [{rows}, {cols}] batch {batch} wb {wb} {ty:?} -ab {ib} \
                     {fb} levels {levels} {t:?}: {e}"
                );
            }
        }
    }
    count
}

/// Convolutions: strides, padding, dilation, groups and depthwise, 1x1 to 5x3 kernels.
pub fn conv_cases(backend: &mut Backend, seed: u64) -> usize {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // (in, out, kernel, stride, padding, dilation, groups, h, w, batch)
    type C = (
        usize,
        usize,
        (usize, usize),
        (usize, usize),
        (usize, usize),
        (usize, usize),
        usize,
        usize,
        usize,
        usize,
    );
    let shapes: [C; 9] = [
        (1, 4, (3, 3), (1, 1), (0, 0), (1, 1), 1, 7, 9, 2),
        (3, 8, (3, 3), (1, 1), (1, 1), (1, 1), 1, 8, 8, 3),
        (4, 6, (3, 3), (2, 2), (1, 1), (1, 1), 2, 9, 7, 1),
        (6, 6, (3, 3), (1, 1), (1, 1), (1, 1), 6, 5, 5, 2),
        (8, 8, (3, 3), (2, 1), (2, 2), (2, 2), 8, 11, 6, 1),
        (5, 7, (1, 1), (1, 1), (0, 0), (1, 1), 1, 4, 3, 2),
        (2, 4, (5, 3), (1, 2), (2, 1), (1, 1), 1, 9, 10, 1),
        (16, 16, (3, 3), (1, 1), (1, 1), (1, 1), 1, 6, 6, 1),
        (3, 5, (4, 4), (3, 3), (0, 0), (1, 1), 1, 3, 3, 1),
    ];
    let mut n = 0;
    for (i, &(cin, cout, kernel, stride, padding, dilation, groups, h, wd, batch)) in
        shapes.iter().enumerate()
    {
        for wb in [2u32, 5, 8] {
            let ty = if (i + wb as usize).is_multiple_of(2) {
                ShiftType::PS
            } else {
                ShiftType::Q
            };
            let (ib, fb) = ACTS[(i + wb as usize) % ACTS.len()];
            let act = FixedPoint::new(ib, fb).unwrap();
            let geometry = ConvGeometry {
                stride,
                padding,
                dilation,
                groups,
            };
            let shape = Conv2dShape {
                in_channels: cin,
                out_channels: cout,
                kernel,
                geometry,
                height: h,
                width: wd,
            };
            let fan = shape.fan_in();
            let w = weights(&mut rng, cout * fan, ty, wb, 20);
            let bias: Option<Vec<f32>> = i.is_multiple_of(2).then(|| inputs(&mut rng, cout, act));
            let x = inputs(&mut rng, batch * cin * h * wd, act);
            let want = reference::conv2d(&w, bias.as_deref(), &x, batch, &shape, act);
            let gw = gpu_weights(&w, cout, fan, ty, wb);
            let plan =
                ConvPlan::new(gw.clone(), bias.as_deref(), act, cin, kernel, geometry).unwrap();
            for t in tunings() {
                let got = run_job(plan.job(&x, batch, h, wd, &t), gw.words(), backend);
                if let Err(e) = agree(got, &want) {
                    panic!("conv case {i}: {shape:?} batch {batch} wb {wb} {ty:?} -ab {ib} {fb} {t:?}: {e}");
                }
            }
            n += 1;
        }
    }
    n
}

/// Calls the CPU refuses for overflow are refused the same way, and the widest exact calls
/// (inputs of magnitude 2^31, 8-bit Q weights spanning 2^30) still agree.
pub fn edge_cases(backend: &mut Backend) -> usize {
    let act = FixedPoint::new(31, 0).unwrap();
    let wide = FixedPoint::new(16, 16).unwrap();
    let mut n = 0;
    for (w, x, act) in [
        // span 128 with 16/16 inputs: far beyond 64 bits
        (vec![1.0, exp2i(-127)], vec![1.0f32, 1.0], wide),
        // span 31 with 2^16 inputs: 47 bits, 64-bit kernels only
        (vec![1.0, -exp2i(-30)], vec![-1.0f32, 0.99], wide),
        // inputs clamped to -2^30 (format 31/0) with unit weights
        (vec![1.0, -1.0, 0.5], vec![-3.0e9f32, 7.0, 1.0], act),
    ] {
        let cols = w.len();
        let want = reference::linear(&w, 1, cols, None, &x, 1, act);
        let gw = GpuWeights::from_weights(&w, 1, cols).unwrap();
        let plan = LinearPlan::new(gw.clone(), None, act).unwrap();
        for t in tunings() {
            let got = run_job(plan.job(&x, 1, &t), gw.words(), backend);
            agree(got, &want).unwrap_or_else(|e| panic!("edge case {w:?} {x:?}: {e}"));
        }
        n += 1;
    }
    // The 32-bit windows at their worst: every term at its largest (all inputs at the
    // format's maximum, all weights but one at 2^0, the other at 2^-10 to set the span), so
    // a window's sum comes within 8 % of 2^31 and one more word would wrap.
    let act = FixedPoint::new(8, 8).unwrap();
    let cols = 500;
    let mut w = vec![1.0f32; 3 * cols];
    w[7] = exp2i(-10);
    for batch in [1usize, 4] {
        let x = vec![act.max_value(); batch * cols];
        let want = reference::linear(&w, 3, cols, None, &x, batch, act);
        let gw = GpuWeights::from_weights(&w, 3, cols).unwrap();
        let plan = LinearPlan::new(gw.clone(), None, act).unwrap();
        let one_slice = Tuning {
            gemv_slices: Some(1),
            ..tunings()[0]
        };
        let job = plan.job(&x, batch, &one_slice).unwrap();
        assert!(job.kernel.contains("i32"), "{}", job.kernel);
        let got = run_job(Ok(job), gw.words(), backend);
        agree(got, &want).unwrap_or_else(|e| panic!("worst-case window, batch {batch}: {e}"));
        n += 1;
    }
    let geometry = ConvGeometry::default();
    let shape = Conv2dShape {
        in_channels: cols,
        out_channels: 3,
        kernel: (1, 1),
        geometry,
        height: 2,
        width: 3,
    };
    let x = vec![act.max_value(); cols * 6];
    let want = reference::conv2d(&w, None, &x, 1, &shape, act);
    let gw = GpuWeights::from_weights(&w, 3, cols).unwrap();
    let plan = ConvPlan::new(gw.clone(), None, act, cols, (1, 1), geometry).unwrap();
    let got = run_job(plan.job(&x, 1, 2, 3, &tunings()[0]), gw.words(), backend);
    agree(got, &want).unwrap_or_else(|e| panic!("worst-case window, conv: {e}"));
    n + 1
}
