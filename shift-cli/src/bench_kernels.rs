//! `deepshift bench kernels [--json]`: the shift kernels against float baselines, measured in
//! the same run (medians of interleaved repetitions): GEMV against a hand-written AVX-512 f32
//! GEMV, GEMM against matrixmultiply's sgemm (same shapes, same threads), the ResNet-20
//! convolutions against shift-nn's float convolution, end-to-end inference of MNIST conv and
//! ResNet-20 against the float models, and model sizes. One JSON object per line and case
//! with `--json`: `case`, `kernel_ms`, `baseline`, `baseline_ms`, `speedup`.

use std::time::Instant;

use anyhow::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shift_core::{exp2i, shift_range, FixedPoint, Rounding, ShiftType};
use shift_kernels_cpu::{Conv2dShape, ConvGeometry, Level, ShiftConv2d, ShiftLinear, ShiftMatrix};
use shift_nn::models::{build_model, DataDomain};
use shift_nn::{no_grad, ops, Ctx, Model, ShiftOptions, Tensor, Var};

#[path = "../../shift-kernels-cpu/benches/baseline.rs"]
mod baseline;

/// `deepshift bench kernels` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchKernelsArgs {
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Repetitions per case (medians are reported).
    #[arg(long, default_value_t = 7)]
    pub reps: usize,
    /// Only cases whose name contains this.
    #[arg(long)]
    pub filter: Option<String>,
    /// `cuda`: the GPU cases of shift-kernels-cuda (GEMV 8192x8192 and GEMM 4096x4096 at
    /// batch 256 against cuBLAS SGEMM) instead of the CPU cases.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: crate::kernel_model::DeviceArg,
}

/// `--device cuda`: shift-kernels-cuda's benchmark (CUDA events, medians after warm-up).
fn run_cuda(args: &BenchKernelsArgs) -> Result<()> {
    use anyhow::Context;
    let dev = shift_kernels_cuda::CudaDevice::new(0)
        .context("bench kernels --device cuda: the CUDA kernels cannot run here")?;
    let report = shift_kernels_cuda::bench::run(&dev, args.reps.max(1))?;
    if args.json {
        for r in &report.rows {
            println!(
                "{}",
                serde_json::json!({
                    "case": r.case, "kernel_ms": r.kernel_ms, "gbps": r.gbps(),
                    "gterms_per_s": r.gterms(), "cublas_sgemm_ms": r.cublas_ms,
                    "speedup": r.cublas_ms.map(|c| c / r.kernel_ms), "exact": r.exact,
                    "copy_gbps": report.copy_gbps, "device": report.device,
                })
            );
        }
    } else {
        print!("{}", report.to_markdown());
    }
    if let Some(bad) = report.rows.iter().find(|r| !r.exact) {
        anyhow::bail!("{}: the GPU result differs from the CPU kernels'", bad.case);
    }
    Ok(())
}

/// One result line.
struct Row {
    case: String,
    kernel_ms: f64,
    baseline: &'static str,
    baseline_ms: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
}

/// Moves a value that is not `Send` (shift-nn's tape handles) into a thread pool's job.
/// Sound here: the calling thread blocks in `install` while the job runs, so the value is
/// never used by two threads at once.
struct AssertSend<T>(T);
// SAFETY: see above; used only in `measure`.
unsafe impl<T> Send for AssertSend<T> {}

/// Medians (ms) of `kernel` and `baseline`, run alternately `reps` times after one warm-up,
/// on a pool of `threads` threads.
fn measure(
    reps: usize,
    threads: usize,
    kernel: impl FnMut(),
    baseline: impl FnMut(),
) -> (f64, f64) {
    let job = AssertSend((kernel, baseline));
    pool(threads).install(move || {
        let job = job;
        let AssertSend((mut kernel, mut baseline)) = job;
        kernel();
        baseline();
        let (mut k, mut b) = (Vec::new(), Vec::new());
        for _ in 0..reps.max(1) {
            let t = Instant::now();
            kernel();
            k.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            baseline();
            b.push(t.elapsed().as_secs_f64() * 1e3);
        }
        (median(k), median(b))
    })
}

/// Random DeepShift-Q weights (no zeros, so the kernel skips nothing) at `wb` bits.
fn q_weights(rng: &mut ChaCha8Rng, n: usize, wb: u32) -> Vec<f32> {
    let r = shift_range(ShiftType::Q, wb).expect("weight bits 2..=8");
    (0..n)
        .map(|_| {
            let s = if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
            s * exp2i(rng.gen_range(r.min..=r.max))
        })
        .collect()
}

fn uniform(rng: &mut ChaCha8Rng, n: usize, a: f32) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-a..a)).collect()
}

/// `y [n, m] = x [n, k] · w [m, k]ᵀ` with matrixmultiply, the columns of `y` split over the
/// current rayon pool's threads (matrixmultiply itself runs single-threaded here).
fn sgemm_threads(x: &[f32], w: &[f32], n: usize, k: usize, m: usize, y: &mut [f32]) {
    struct Out(*mut f32);
    // SAFETY: each task writes its own columns of y.
    unsafe impl Sync for Out {}
    let out = Out(y.as_mut_ptr());
    let parts = rayon::current_num_threads().max(1);
    let cols = m.div_ceil(parts);
    rayon::scope(|s| {
        for p in 0..parts {
            let (c0, c1) = (p * cols, ((p + 1) * cols).min(m));
            if c0 >= c1 {
                continue;
            }
            let out = &out;
            s.spawn(move |_| unsafe {
                // SAFETY: the blocks of y are disjoint; x and w are read only.
                matrixmultiply::sgemm(
                    n,
                    k,
                    c1 - c0,
                    1.0,
                    x.as_ptr(),
                    k as isize,
                    1,
                    w.as_ptr().add(c0 * k),
                    1,
                    k as isize,
                    0.0,
                    out.0.add(c0),
                    m as isize,
                    1,
                );
            });
        }
    });
}

fn var(v: &[f32], shape: &[usize]) -> Var {
    Var::constant(Tensor::from_shape_vec(shape.to_vec(), v.to_vec()).expect("shape"))
}

/// Runs the cases and prints them.
pub fn run(args: &BenchKernelsArgs) -> Result<()> {
    if args.device == crate::kernel_model::DeviceArg::Cuda {
        return run_cuda(args);
    }
    let level = Level::detect();
    let want = |name: &str| args.filter.as_deref().is_none_or(|f| name.contains(f));
    let mut rows: Vec<Row> = Vec::new();
    let mut emit = |row: Row, json: bool| {
        let speedup = row.baseline_ms / row.kernel_ms;
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "case": row.case, "kernel_ms": row.kernel_ms, "baseline": row.baseline,
                    "baseline_ms": row.baseline_ms, "speedup": speedup, "level": level.name(),
                })
            );
        } else {
            println!(
                "{:<34} kernel {:>9.3} ms  {:<22} {:>9.3} ms  speedup {:>5.2}x",
                row.case, row.kernel_ms, row.baseline, row.baseline_ms, speedup
            );
        }
        rows.push(row);
    };
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let act = FixedPoint::DEFAULT;
    let reps = args.reps;

    // Batch 1: GEMV, inputs in [-1, 1) on the default 16/16 grid and on 8/8 (where the
    // 5-bit layer's table entries fit 32 bits).
    for n in [1024usize, 4096] {
        for wb in [4u32, 5] {
            for (ib, fb) in [(16u32, 16u32), (8, 8)] {
                let case = format!("gemv_{n}x{n}_wb{wb}_ab{ib}_{fb}_t1");
                if !want(&case) {
                    continue;
                }
                let act = FixedPoint::new(ib, fb)?;
                let w = q_weights(&mut rng, n * n, wb);
                let x = uniform(&mut rng, n, 1.0);
                let layer = ShiftLinear::new(ShiftMatrix::from_weights(&w, n, n)?, None, act)?;
                let mut y = vec![0f32; n];
                let (k, b) = measure(
                    reps,
                    1,
                    || {
                        std::hint::black_box(layer.forward(&x, 1, level).expect("fits"));
                    },
                    || baseline::sgemv(&w, n, n, &x, &mut y),
                );
                emit(
                    Row {
                        case,
                        kernel_ms: k,
                        baseline: "f32 gemv avx512",
                        baseline_ms: b,
                    },
                    args.json,
                );
            }
        }
    }

    // Batches 64 and 256: GEMM.
    for (m, kk) in [(1024usize, 1024usize), (4096, 1024)] {
        for batch in [64usize, 256] {
            for threads in [1usize, 2] {
                let case = format!("gemm_b{batch}_{m}x{kk}_wb5_t{threads}");
                if !want(&case) {
                    continue;
                }
                let w = q_weights(&mut rng, m * kk, 5);
                let x = uniform(&mut rng, batch * kk, 1.0);
                let layer = ShiftLinear::new(ShiftMatrix::from_weights(&w, m, kk)?, None, act)?;
                let mut y = vec![0f32; batch * m];
                let (k, b) = measure(
                    reps,
                    threads,
                    || {
                        std::hint::black_box(layer.forward(&x, batch, level).expect("fits"));
                    },
                    || sgemm_threads(&x, &w, batch, kk, m, &mut y),
                );
                emit(
                    Row {
                        case,
                        kernel_ms: k,
                        baseline: "matrixmultiply sgemm",
                        baseline_ms: b,
                    },
                    args.json,
                );
            }
        }
    }

    // ResNet-20's convolutions, batch 128.
    for (c, hw) in [(16usize, 32usize), (32, 16), (64, 8)] {
        for threads in [1usize, 2] {
            let case = format!("conv3x3_c{c}_{hw}x{hw}_b128_wb5_t{threads}");
            if !want(&case) {
                continue;
            }
            let batch = 128;
            let geometry = ConvGeometry {
                padding: (1, 1),
                ..Default::default()
            };
            let shape = Conv2dShape {
                in_channels: c,
                out_channels: c,
                kernel: (3, 3),
                geometry,
                height: hw,
                width: hw,
            };
            let w = q_weights(&mut rng, c * shape.fan_in(), 5);
            let x = uniform(&mut rng, batch * c * hw * hw, 1.0);
            let layer = ShiftConv2d::new(
                ShiftMatrix::from_weights(&w, c, shape.fan_in())?,
                None,
                act,
                c,
                (3, 3),
                geometry,
            )?;
            let (xv, wv) = (var(&x, &[batch, c, hw, hw]), var(&w, &[c, c, 3, 3]));
            let g = ops::Conv2dGeometry {
                padding: (1, 1),
                ..Default::default()
            };
            let (k, b) = measure(
                reps,
                threads,
                || {
                    std::hint::black_box(layer.forward(&x, batch, hw, hw, level).expect("fits"));
                },
                || {
                    std::hint::black_box(ops::conv2d(&xv, &wv, None, g).expect("shapes"));
                },
            );
            emit(
                Row {
                    case,
                    kernel_ms: k,
                    baseline: "shift-nn f32 conv",
                    baseline_ms: b,
                },
                args.json,
            );
        }
    }

    // End to end: the model with every layer on the kernels against the float model.
    for (domain, arch, image) in [
        (DataDomain::Mnist, "conv", [1usize, 28, 28]),
        (DataDomain::Cifar10, "resnet20", [3, 32, 32]),
    ] {
        for batch in [1usize, 128] {
            let threads = rayon::current_num_threads();
            let case = format!("e2e_{arch}_b{batch}_wb5_t{threads}");
            if !want(&case) {
                continue;
            }
            let mut r = ChaCha8Rng::seed_from_u64(1);
            let float = build_model(domain, arch, &mut r)?;
            let mut shifted = build_model(domain, arch, &mut ChaCha8Rng::seed_from_u64(1))?;
            let options = ShiftOptions {
                shift_type: ShiftType::PS,
                weight_bits: 5,
                act,
                rounding: Rounding::Deterministic,
            };
            shift_nn::convert_to_shift(
                shifted.as_mut(),
                1000,
                options,
                domain.linear_rule(arch),
                true,
                &mut r,
            )?;
            crate::kernel_model::freeze_shift_layers(shifted.as_mut(), level)?;
            let n: usize = image.iter().product();
            let x = var(
                &uniform(&mut rng, batch * n, 1.0),
                &[batch, image[0], image[1], image[2]],
            );
            let infer = |m: &dyn Model| {
                let mut ctx = Ctx {
                    train: false,
                    rng: ChaCha8Rng::seed_from_u64(0),
                };
                std::hint::black_box(no_grad(|| m.forward(&x, &mut ctx)).expect("forward"));
            };
            // Models hold Rc handles: measure on this thread, with the global pool.
            let (mut k, mut b) = (Vec::new(), Vec::new());
            infer(shifted.as_ref());
            infer(float.as_ref());
            for _ in 0..reps.max(1) {
                let t = Instant::now();
                infer(shifted.as_ref());
                k.push(t.elapsed().as_secs_f64() * 1e3);
                let t = Instant::now();
                infer(float.as_ref());
                b.push(t.elapsed().as_secs_f64() * 1e3);
            }
            emit(
                Row {
                    case,
                    kernel_ms: median(k),
                    baseline: "shift-nn f32 model",
                    baseline_ms: median(b),
                },
                args.json,
            );
        }
    }

    // Model sizes: bits per shift weight, packed on disk (DSPW) and in the kernels' form.
    for (domain, arch) in [
        (DataDomain::Mnist, "conv"),
        (DataDomain::Cifar10, "resnet20"),
    ] {
        let case = format!("size_{arch}_wb5");
        if !want(&case) {
            continue;
        }
        let mut r = ChaCha8Rng::seed_from_u64(1);
        let mut model = build_model(domain, arch, &mut r)?;
        let options = ShiftOptions {
            shift_type: ShiftType::PS,
            weight_bits: 5,
            act,
            rounding: Rounding::Deterministic,
        };
        shift_nn::convert_to_shift(
            model.as_mut(),
            1000,
            options,
            domain.linear_rule(arch),
            true,
            &mut r,
        )?;
        let (mut weights, mut disk, mut mem) = (0usize, 0usize, 0usize);
        for (name, layer) in model.layers() {
            let w = crate::kernel_model::shift_weights(&name, layer)?;
            let shape = layer.shape.weight_shape();
            let (rows, cols) = (shape[0], shape[1..].iter().product::<usize>());
            let packed = shift_core::PackedShiftWeights::from_weights(
                &w,
                rows,
                cols,
                shift_core::Encoding::Ternary,
                5,
            )?;
            disk += packed.to_bytes().len();
            mem += ShiftMatrix::from_weights(&w, rows, cols)?.memory_bytes();
            weights += w.len();
        }
        let (d, m) = (
            8.0 * disk as f64 / weights as f64,
            8.0 * mem as f64 / weights as f64,
        );
        if args.json {
            println!(
                "{}",
                serde_json::json!({"case": case, "weights": weights, "disk_bits_per_weight": d,
                    "memory_bits_per_weight": m, "f32_bits_per_weight": 32})
            );
        } else {
            println!("{case:<34} {weights} weights: {d:.2} bits each on disk, {m:.2} in memory (f32: 32)");
        }
    }
    if !args.json {
        eprintln!("kernel level {level}; {} cases", rows.len());
    }
    Ok(())
}
