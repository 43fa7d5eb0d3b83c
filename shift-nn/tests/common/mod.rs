//! Shared test helpers.
#![allow(dead_code)]

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shift_nn::{parse_safetensors, StateDict, Tensor};

/// The RNG of the zoo and model tests: ChaCha8 seeded with 1.
pub fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(1)
}

pub const GOLDEN: &[u8] = include_bytes!("../fixtures/deepshift_reference.safetensors");

pub fn golden() -> StateDict {
    parse_safetensors(GOLDEN, "deepshift_reference.safetensors").unwrap()
}

/// Normwise relative error: `max|a - b| / max|b|`.
pub fn rel_err(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.shape(), b.shape());
    let diff = (a - b).mapv(f32::abs).fold(0.0f32, |m, &v| m.max(v));
    let scale = b.mapv(f32::abs).fold(0.0f32, |m, &v| m.max(v)).max(1e-30);
    diff / scale
}
