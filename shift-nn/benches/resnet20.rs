#![allow(missing_docs)] // criterion_group! generates undocumented items
//! CIFAR-10 ResNet-20 at batch 128: one training step (forward, backward, SGD update) and one
//! inference pass, float / Q / PS, beside PyTorch's `torch_reference.py --models resnet20`.

// As in the `deepshift` binary: large activations are reused from the allocator's pages
// instead of being mapped and unmapped (with TLB shootdowns) at every step.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shift_core::{FixedPoint, Rounding, ShiftType};
use shift_nn::models::{build_model, DataDomain};
use shift_nn::{
    convert_to_shift, named_params, no_grad, zero_grad, Ctx, LinearRule, ShiftOptions, Tensor, Var,
};

fn bench(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let x = Tensor::from_shape_fn(vec![128, 3, 32, 32], |_| rng.gen_range(-1.0..1.0));
    let labels: Vec<usize> = (0..128).map(|i| i % 10).collect();
    for variant in [None, Some(ShiftType::Q), Some(ShiftType::PS)] {
        let name = format!(
            "resnet20/{}",
            variant.map_or("float".to_string(), |v| format!("{v:?}"))
        );
        let mut model = build_model(DataDomain::Cifar10, "resnet20", &mut rng).unwrap();
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
            )
            .unwrap();
        }
        let params = named_params(model.as_ref());
        let mut ctx = Ctx {
            train: true,
            rng: ChaCha8Rng::seed_from_u64(1),
        };
        c.bench_function(&format!("{name}/train_step_b128"), |b| {
            b.iter(|| {
                zero_grad(model.as_ref());
                let out = model.forward(&Var::constant(x.clone()), &mut ctx).unwrap();
                shift_nn::ops::cross_entropy(&out, &labels)
                    .unwrap()
                    .backward();
                for (_, p) in &params {
                    p.with_value_and_grad(|v, g| {
                        v.iter_mut().zip(g).for_each(|(v, g)| *v -= 0.01 * g)
                    });
                }
            })
        });
        ctx.train = false;
        c.bench_function(&format!("{name}/infer_b128"), |b| {
            b.iter(|| no_grad(|| model.forward(&Var::constant(x.clone()), &mut ctx).unwrap()))
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
