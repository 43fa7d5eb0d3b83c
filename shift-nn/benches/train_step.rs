#![allow(missing_docs)] // criterion_group! generates undocumented items
//! One training step (forward, backward, SGD update) and one inference pass of the MNIST
//! models at batch 64, float / Q / PS, for side-by-side ratios with PyTorch's
//! `torch_reference.py` medians measured on the same machine.

// As in the `deepshift` binary: large activations are reused from the allocator's pages
// instead of being mapped and unmapped (with TLB shootdowns) at every step.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shift_core::{FixedPoint, Rounding, ShiftType};
use shift_nn::models::mnist_model;
use shift_nn::{
    convert_to_shift, named_params, no_grad, zero_grad, Ctx, LinearRule, ShiftOptions, Tensor, Var,
};

fn bench(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let x = Tensor::from_shape_fn(vec![64, 1, 28, 28], |_| rng.gen_range(-1.0..1.0));
    let labels: Vec<usize> = (0..64).map(|i| i % 10).collect();
    for arch in ["linear", "conv"] {
        for variant in [None, Some(ShiftType::Q), Some(ShiftType::PS)] {
            let name = format!(
                "mnist_{arch}/{}",
                variant.map_or("float".to_string(), |v| format!("{v:?}"))
            );
            let mut model = mnist_model(arch, &mut rng).unwrap();
            if let Some(ty) = variant {
                let opts = ShiftOptions {
                    shift_type: ty,
                    weight_bits: 5,
                    act: FixedPoint::DEFAULT,
                    rounding: Rounding::Deterministic,
                };
                let rule = if arch == "linear" {
                    LinearRule::Count
                } else {
                    LinearRule::AlwaysConvert
                };
                convert_to_shift(model.as_mut(), 1000, opts, rule, false, &mut rng).unwrap();
            }
            let params = named_params(model.as_ref());
            let mut ctx = Ctx {
                train: true,
                rng: ChaCha8Rng::seed_from_u64(1),
            };
            c.bench_function(&format!("{name}/train_step_b64"), |b| {
                b.iter(|| {
                    zero_grad(model.as_ref());
                    let out = model.forward(&Var::constant(x.clone()), &mut ctx).unwrap();
                    shift_nn::ops::nll_loss(&out, &labels).unwrap().backward();
                    for (_, p) in &params {
                        p.with_value_and_grad(|v, g| {
                            v.iter_mut().zip(g).for_each(|(v, g)| *v -= 0.01 * g)
                        });
                    }
                })
            });
            ctx.train = false;
            c.bench_function(&format!("{name}/infer_b64"), |b| {
                b.iter(|| no_grad(|| model.forward(&Var::constant(x.clone()), &mut ctx).unwrap()))
            });
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
