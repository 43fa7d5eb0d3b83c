//! One training step (forward, backward, SGD update) of a zoo model on random data, for
//! profilers: `cargo run --release -p shift-nn --example train_step -- resnet20 128 float 2`
//! runs two steps (the first warms the allocator; the total of the others is printed, so 392
//! steps of 128 time a CIFAR-10-sized epoch); under callgrind, collect only
//! `--toggle-collect=*timed_step*` to leave out model building and the warm-up.
//!
//! Arguments: `ARCH BATCH [float|Q|PS] [STEPS]` where ARCH is a CIFAR-10 zoo name
//! (`resnet20`, `resnet18`, `mobilenetv2`, ...) or `mnist_conv` / `mnist_linear`.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

extern "C" {
    /// mimalloc's option setter (the allocator above links it).
    fn mi_option_set(option: std::os::raw::c_int, value: std::os::raw::c_long);
}

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shift_core::{FixedPoint, Rounding, ShiftType};
use shift_nn::models::{build_model, mnist_model, DataDomain};
use shift_nn::{
    convert_to_shift, named_params, zero_grad, Ctx, LinearRule, Model, Param, ShiftOptions, Tensor,
    Var,
};

/// One step; not inlined so that callgrind can collect exactly this function's cost.
#[inline(never)]
fn timed_step(
    model: &dyn Model,
    params: &[(String, Param)],
    x: &Tensor,
    labels: &[usize],
    ctx: &mut Ctx,
) {
    zero_grad(model);
    let out = model.forward(&Var::constant(x.clone()), ctx).unwrap();
    shift_nn::ops::cross_entropy(&out, labels)
        .unwrap()
        .backward();
    for (_, p) in params {
        p.with_value_and_grad(|v, g| v.iter_mut().zip(g).for_each(|(v, g)| *v -= 0.01 * g));
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // As the `deepshift` binary: freed pages stay with mimalloc (`mi_option_purge_decommits`
    // 5 off, `mi_option_purge_delay` 15 never), so steps do not fault them in again.
    // SAFETY: plain option stores, valid at any time.
    unsafe {
        mi_option_set(5, 0);
        mi_option_set(15, -1);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: train_step ARCH BATCH [float|Q|PS] [STEPS]";
    let arch = args.first().ok_or(usage)?.as_str();
    let batch: usize = args.get(1).ok_or(usage)?.parse()?;
    let variant = match args.get(2).map_or("float", String::as_str) {
        "float" => None,
        "Q" => Some(ShiftType::Q),
        "PS" => Some(ShiftType::PS),
        other => return Err(format!("unknown variant `{other}`; {usage}").into()),
    };
    let steps: usize = args.get(3).map_or(Ok(2), |s| s.parse())?;
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let (mut model, shape) = match arch.strip_prefix("mnist_") {
        Some(a) => (mnist_model(a, &mut rng)?, vec![batch, 1, 28, 28]),
        None => (
            build_model(DataDomain::Cifar10, arch, &mut rng)?,
            vec![batch, 3, 32, 32],
        ),
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
            LinearRule::AlwaysConvert,
            true,
            &mut rng,
        )?;
    }
    let x = Tensor::from_shape_fn(shape, |_| rng.gen_range(-1.0..1.0));
    let labels: Vec<usize> = (0..batch).map(|i| i % 10).collect();
    let params = named_params(model.as_ref());
    let mut ctx = Ctx {
        train: true,
        rng: ChaCha8Rng::seed_from_u64(1),
    };
    let mut after_first = std::time::Duration::ZERO;
    for step in 0..steps {
        let t = std::time::Instant::now();
        timed_step(model.as_ref(), &params, &x, &labels, &mut ctx);
        let took = t.elapsed();
        if step > 0 {
            after_first += took;
        }
        eprintln!("step {step}: {:.1} ms", took.as_secs_f64() * 1e3);
    }
    if steps > 1 {
        // The first step warms the allocator; 392 steps of 128 give a CIFAR-10-sized epoch
        // (50,000 images in 391 batches) after it.
        eprintln!(
            "steps 1..{steps}: {:.2} s ({} images)",
            after_first.as_secs_f64(),
            (steps - 1) * batch
        );
    }
    Ok(())
}
