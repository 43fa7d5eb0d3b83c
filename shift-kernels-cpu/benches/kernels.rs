#![allow(missing_docs)] // criterion_group! generates undocumented items
//! Criterion benches of the shift kernels against float baselines on the same shapes:
//! GEMV (batch 1) against a hand-written AVX-512 f32 GEMV, GEMM (batch 64) against
//! matrixmultiply's sgemm, one ResNet-20 convolution. `deepshift bench kernels` runs the
//! full case list of issue 14 with medians in one run.

use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shift_core::{exp2i, FixedPoint};
use shift_kernels_cpu::{ConvGeometry, Level, ShiftConv2d, ShiftLinear, ShiftMatrix};

mod baseline;

fn q_weights(rng: &mut ChaCha8Rng, n: usize, wb: u32) -> Vec<f32> {
    let lo = -((1i32 << (wb - 1)) - 1);
    (0..n)
        .map(|_| {
            let s = if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
            s * exp2i(rng.gen_range(lo..=0))
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let level = Level::detect();
    let act = FixedPoint::DEFAULT;
    for n in [1024usize, 4096] {
        let w = q_weights(&mut rng, n * n, 5);
        let x: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let layer =
            ShiftLinear::new(ShiftMatrix::from_weights(&w, n, n).unwrap(), None, act).unwrap();
        let mut y = vec![0f32; n];
        c.bench_function(&format!("gemv_{n}x{n}_wb5_{level}"), |b| {
            b.iter(|| layer.forward(&x, 1, level).unwrap())
        });
        c.bench_function(&format!("gemv_{n}x{n}_f32"), |b| {
            b.iter(|| baseline::sgemv(&w, n, n, &x, &mut y))
        });
    }
    let (m, k, batch) = (1024usize, 1024usize, 64usize);
    let w = q_weights(&mut rng, m * k, 5);
    let x: Vec<f32> = (0..batch * k).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let layer = ShiftLinear::new(ShiftMatrix::from_weights(&w, m, k).unwrap(), None, act).unwrap();
    let mut y = vec![0f32; batch * m];
    c.bench_function(&format!("gemm_b64_1024x1024_wb5_{level}"), |b| {
        b.iter(|| layer.forward(&x, batch, level).unwrap())
    });
    c.bench_function("gemm_b64_1024x1024_sgemm", |b| {
        b.iter(|| unsafe {
            // SAFETY: the slices hold the shapes given.
            matrixmultiply::sgemm(
                batch,
                k,
                m,
                1.0,
                x.as_ptr(),
                k as isize,
                1,
                w.as_ptr(),
                1,
                k as isize,
                0.0,
                y.as_mut_ptr(),
                m as isize,
                1,
            )
        })
    });
    let (ch, hw, batch) = (32usize, 16usize, 16usize);
    let geometry = ConvGeometry {
        padding: (1, 1),
        ..Default::default()
    };
    let w = q_weights(&mut rng, ch * ch * 9, 5);
    let x: Vec<f32> = (0..batch * ch * hw * hw)
        .map(|_| rng.gen_range(-1.0..1.0))
        .collect();
    let conv = ShiftConv2d::new(
        ShiftMatrix::from_weights(&w, ch, ch * 9).unwrap(),
        None,
        act,
        ch,
        (3, 3),
        geometry,
    )
    .unwrap();
    c.bench_function(&format!("conv3x3_c32_16x16_b16_wb5_{level}"), |b| {
        b.iter(|| conv.forward(&x, batch, hw, hw, level).unwrap())
    });
}

criterion_group!(kernels, benches);
criterion_main!(kernels);
