//! Train step (forward, backward, SGD update) and inference of the models that
//! `bench/torch_reference.py` times, float / Q / PS, printed as one JSON object per line with
//! the wall-clock median and the process CPU time per iteration, so that a run on a loaded
//! machine can still be compared on CPU time.
//!
//! `cargo bench -p shift-nn --bench zoo` runs every model; `ZOO_MODELS=resnet20,mnist_conv`,
//! `ZOO_VARIANTS=float,PS` and `ZOO_ITERS=10` narrow it; `RAYON_NUM_THREADS` sets the threads.
//! Names are `<model>/<float|Q|PS>/<train_step|infer>_b<batch>`.

// As in the `deepshift` binary: activations reuse the allocator's pages.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

extern "C" {
    /// mimalloc's option setter (the allocator above links it).
    fn mi_option_set(option: std::os::raw::c_int, value: std::os::raw::c_long);
}

/// Keeps the pages mimalloc frees instead of returning them to the OS after 10 ms, as the
/// `deepshift` binary does: a step frees and reallocates its activations, and fresh pages
/// cost a fault and a kernel zeroing each (about a tenth of a ResNet-20 step).
fn keep_freed_pages() {
    // mimalloc's `mi_option_purge_decommits` (5) and `mi_option_purge_delay` (15, -1: never).
    // SAFETY: plain option stores, valid at any time.
    unsafe {
        mi_option_set(5, 0);
        mi_option_set(15, -1);
    }
}

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shift_core::{FixedPoint, Rounding, ShiftType};
use shift_nn::models::{build_model, mnist_model, DataDomain};
use shift_nn::{
    convert_to_shift, named_params, no_grad, zero_grad, Ctx, LinearRule, Model, ShiftOptions,
    Tensor, Var,
};

/// The models of `torch_reference.py`: name, input shape without the batch, batch.
const MODELS: [(&str, [usize; 3], usize); 5] = [
    ("mnist_linear", [1, 28, 28], 64),
    ("mnist_conv", [1, 28, 28], 64),
    ("resnet20", [3, 32, 32], 128),
    ("mobilenetv2", [3, 32, 32], 128),
    ("resnet18", [3, 32, 32], 128),
];

/// User + system CPU time of the whole process, in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Median wall time and mean CPU time of `iters` runs of `f` after one warm-up run, in ms.
fn time(iters: usize, mut f: impl FnMut()) -> (f64, f64) {
    f();
    let mut wall = Vec::with_capacity(iters);
    let cpu0 = cpu_seconds();
    for _ in 0..iters {
        let t = Instant::now();
        f();
        wall.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let cpu = (cpu_seconds() - cpu0) * 1e3 / iters as f64;
    wall.sort_by(f64::total_cmp);
    (wall[iters / 2], cpu)
}

fn build(name: &str, variant: Option<ShiftType>, rng: &mut ChaCha8Rng) -> Box<dyn Model> {
    let mut model = match name.strip_prefix("mnist_") {
        Some(arch) => mnist_model(arch, rng).unwrap(),
        None => build_model(DataDomain::Cifar10, name, rng).unwrap(),
    };
    if let Some(ty) = variant {
        let opts = ShiftOptions {
            shift_type: ty,
            weight_bits: 5,
            act: FixedPoint::DEFAULT,
            rounding: Rounding::Deterministic,
        };
        convert_to_shift(
            model.as_mut(),
            1000,
            opts,
            // As the reference: the MNIST linear model converts by its layer count rule.
            if name == "mnist_linear" {
                LinearRule::Count
            } else {
                LinearRule::AlwaysConvert
            },
            !name.starts_with("mnist_"),
            rng,
        )
        .unwrap();
    }
    model
}

fn main() {
    keep_freed_pages();
    let list = |var: &str, default: &str| -> Vec<String> {
        std::env::var(var)
            .unwrap_or_else(|_| default.to_string())
            .split(',')
            .map(str::to_string)
            .collect()
    };
    let models = list(
        "ZOO_MODELS",
        "mnist_linear,mnist_conv,resnet20,mobilenetv2,resnet18",
    );
    let variants = list("ZOO_VARIANTS", "float,Q,PS");
    let iters: usize = std::env::var("ZOO_ITERS").map_or(5, |s| s.parse().expect("ZOO_ITERS"));
    let threads = rayon::current_num_threads();
    for (name, shape, batch) in MODELS {
        if !models.iter().any(|m| m == name) {
            continue;
        }
        for variant_name in &variants {
            let variant = match variant_name.as_str() {
                "float" => None,
                "Q" => Some(ShiftType::Q),
                "PS" => Some(ShiftType::PS),
                other => panic!("ZOO_VARIANTS: unknown variant `{other}` (float, Q, PS)"),
            };
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            let model = build(name, variant, &mut rng);
            let x = Tensor::from_shape_fn(vec![batch, shape[0], shape[1], shape[2]], |_| {
                rng.gen_range(-1.0..1.0)
            });
            let labels: Vec<usize> = (0..batch).map(|i| i % 10).collect();
            let params = named_params(model.as_ref());
            let mut ctx = Ctx {
                train: true,
                rng: ChaCha8Rng::seed_from_u64(1),
            };
            let train = time(iters, || {
                zero_grad(model.as_ref());
                let out = model.forward(&Var::constant(x.clone()), &mut ctx).unwrap();
                // The MNIST models end in log_softmax, as the reference's.
                let loss = if name.starts_with("mnist_") {
                    shift_nn::ops::nll_loss(&out, &labels)
                } else {
                    shift_nn::ops::cross_entropy(&out, &labels)
                };
                loss.unwrap().backward();
                for (_, p) in &params {
                    p.with_value_and_grad(|v, g| {
                        v.iter_mut().zip(g).for_each(|(v, g)| *v -= 0.01 * g)
                    });
                }
            });
            ctx.train = false;
            let infer = time(iters, || {
                no_grad(|| model.forward(&Var::constant(x.clone()), &mut ctx).unwrap());
            });
            for (step, (ms, cpu_ms)) in [("train_step", train), ("infer", infer)] {
                println!(
                    "{{\"bench\": \"{name}/{variant_name}/{step}_b{batch}\", \"threads\": {threads}, \"ms\": {ms:.2}, \"cpu_ms\": {cpu_ms:.2}}}"
                );
            }
        }
    }
}
