//! A frozen weight layer runs its replacement forward pass inside the model's unchanged
//! forward code, only without gradients, and unfreezing restores the layer's own pass.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shift_nn::models::{build_model, DataDomain};
use shift_nn::{no_grad, Ctx, FrozenForward, NnError, Tensor, Var};

/// Outputs zeros of the layer's output width.
#[derive(Debug)]
struct Zeros(usize);

impl FrozenForward for Zeros {
    fn forward(&self, x: &Tensor) -> Result<Tensor, NnError> {
        Ok(Tensor::zeros(vec![x.shape()[0], self.0]))
    }
}

#[test]
fn frozen_layers_run_without_gradients_only() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut model = build_model(DataDomain::Mnist, "linear", &mut rng).unwrap();
    let x = Var::constant(Tensor::ones(vec![2, 1, 28, 28]));
    let mut ctx = Ctx {
        train: false,
        rng: ChaCha8Rng::seed_from_u64(2),
    };
    let before = no_grad(|| model.forward(&x, &mut ctx))
        .unwrap()
        .value()
        .clone();
    for (name, layer) in model.layers_mut() {
        if name == "fc3" {
            layer.freeze(Box::new(Zeros(10)));
            assert!(layer.is_frozen());
        }
    }
    // Zero logits: log-softmax gives -ln 10 everywhere.
    let y = no_grad(|| model.forward(&x, &mut ctx)).unwrap();
    assert!(y.value().iter().all(|v| (v + 10f32.ln()).abs() < 1e-6));
    let err = model.forward(&x, &mut ctx).unwrap_err();
    assert!(err.to_string().contains("inference only"), "{err}");
    for (_, layer) in model.layers_mut() {
        layer.unfreeze();
    }
    let after = no_grad(|| model.forward(&x, &mut ctx))
        .unwrap()
        .value()
        .clone();
    assert_eq!(before, after);
}
