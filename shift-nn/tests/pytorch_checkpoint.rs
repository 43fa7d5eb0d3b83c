//! A state dict written by PyTorch (`safetensors.torch.save_file(model.state_dict())`) loads
//! into this project's MNIST conv model and reproduces PyTorch's log-probabilities.

mod common;

use common::rel_err;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shift_nn::models::MnistConv;
use shift_nn::{
    load_state_dict, no_grad, parse_safetensors, save_safetensors, state_dict, Ctx, Model, NnError,
    StateDict, Var,
};

const FILE: &[u8] = include_bytes!("fixtures/mnist_conv_float_logits.safetensors");

fn model_dict() -> (StateDict, StateDict) {
    let all = parse_safetensors(FILE, "mnist_conv_float_logits.safetensors").unwrap();
    let mut weights = all.clone();
    weights.tensors.remove("input");
    weights.tensors.remove("log_probs");
    (all, weights)
}

#[test]
fn pytorch_weights_reproduce_pytorch_outputs() {
    let (all, weights) = model_dict();
    let model = MnistConv::new(&mut ChaCha8Rng::seed_from_u64(0));
    load_state_dict(&model, &weights, "fixture").unwrap();
    let mut ctx = Ctx {
        train: false,
        rng: ChaCha8Rng::seed_from_u64(0),
    };
    let out =
        no_grad(|| model.forward(&Var::constant(all.tensors["input"].clone()), &mut ctx)).unwrap();
    let want = &all.tensors["log_probs"];
    let max_abs = (out.value() - want)
        .mapv(f32::abs)
        .fold(0.0f32, |m, &v| m.max(v));
    assert!(
        max_abs < 1e-5,
        "max abs error {max_abs}, rel {}",
        rel_err(out.value(), want)
    );
}

#[test]
fn saved_state_dict_round_trips() {
    let (_, weights) = model_dict();
    let model = MnistConv::new(&mut ChaCha8Rng::seed_from_u64(0));
    load_state_dict(&model, &weights, "fixture").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    save_safetensors(&state_dict(&model), &path).unwrap();
    let back = shift_nn::load_safetensors(&path).unwrap();
    assert_eq!(back.tensors, weights.tensors);
}

#[test]
fn strict_loading_names_the_bad_tensor() {
    let (_, weights) = model_dict();
    let model = MnistConv::new(&mut ChaCha8Rng::seed_from_u64(0));
    let mut missing = weights.clone();
    missing.tensors.remove("fc2.bias");
    let e = load_state_dict(&model, &missing, "f")
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing") && e.contains("fc2.bias"), "{e}");
    let mut extra = weights.clone();
    extra
        .tensors
        .insert("fc9.weight".into(), weights.tensors["fc2.bias"].clone());
    let e = load_state_dict(&model, &extra, "f")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unexpected") && e.contains("fc9.weight"), "{e}");
    let mut shape = weights.clone();
    shape
        .tensors
        .insert("conv1.weight".into(), weights.tensors["fc2.bias"].clone());
    let e = load_state_dict(&model, &shape, "f")
        .unwrap_err()
        .to_string();
    assert!(e.contains("conv1.weight") && e.contains("shape"), "{e}");
    let e = parse_safetensors(b"garbage bytes here", "bad.safetensors").unwrap_err();
    assert!(matches!(e, NnError::StateDict { .. }) && e.to_string().contains("bad.safetensors"));
}
