//! Bit-exact agreement with tensors produced by the reference PyTorch implementation
//! (`tests/golden/README.md` describes each tensor).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use safetensors::{Dtype, SafeTensors};
use shift_core::*;

const GOLDEN: &[u8] = include_bytes!("golden/deepshift_reference.safetensors");

fn tensor(name: &str) -> Vec<f32> {
    let st = SafeTensors::deserialize(GOLDEN).expect("golden file parses");
    let view = st
        .tensor(name)
        .unwrap_or_else(|e| panic!("golden tensor {name}: {e}"));
    assert_eq!(view.dtype(), Dtype::F32, "{name}");
    view.data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// Bitwise equality, treating the two zeros as equal (the reference's `0 * 2^-inf` is +0).
fn assert_bits_eq(name: &str, got: &[f32], want: &[f32], input: &[f32]) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    let mismatches: Vec<_> = (0..got.len())
        .filter(|&i| !(got[i] == want[i] || got[i].to_bits() == want[i].to_bits()))
        .collect();
    assert!(
        mismatches.is_empty(),
        "{name}: {} mismatches, first at {}: input {:e}, got {:e}, want {:e}",
        mismatches.len(),
        mismatches[0],
        input[mismatches[0]],
        got[mismatches[0]],
        want[mismatches[0]]
    );
}

#[test]
fn q_rounding_matches_for_every_weight_width() {
    let input = tensor("pow2.input");
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    for wb in 2..=6 {
        let range = shift_range(ShiftType::Q, wb).unwrap();
        let mut projected = input.clone();
        let mut out = vec![0.0; input.len()];
        q_weight_slice(
            &mut projected,
            &mut out,
            range,
            Rounding::Deterministic,
            &mut rng,
        )
        .unwrap();
        assert_bits_eq(
            &format!("pow2.q_wb{wb}"),
            &out,
            &tensor(&format!("pow2.q_wb{wb}")),
            &input,
        );
    }
}

#[test]
fn conversion_to_shift_and_sign_matches() {
    let mut input = tensor("pow2.input");
    // The reference replaced exact zeros by 1e-30 before converting.
    for w in input.iter_mut().filter(|w| **w == 0.0) {
        *w = 1e-30;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut shift = vec![0.0; input.len()];
    let mut sign = vec![0.0; input.len()];
    weights_to_shift_sign_slice(
        &input,
        &mut shift,
        &mut sign,
        None,
        Rounding::Deterministic,
        &mut rng,
    )
    .unwrap();
    assert_bits_eq("convert.shift", &shift, &tensor("convert.shift"), &input);
    assert_bits_eq("convert.sign", &sign, &tensor("convert.sign"), &input);
}

#[test]
fn fixed_point_rounding_matches() {
    let input = tensor("fixed.input");
    for (i, f) in [(16, 16), (2, 4), (3, 5), (4, 2), (8, 8)] {
        let mut out = input.clone();
        round_fixed_slice(&mut out, FixedPoint::new(i, f).unwrap());
        let name = format!("fixed.i{i}_f{f}");
        assert_bits_eq(&name, &out, &tensor(&name), &input);
        let scalar: Vec<f32> = input
            .iter()
            .map(|&x| round_fixed(x, FixedPoint::new(i, f).unwrap()))
            .collect();
        assert_bits_eq(&name, &scalar, &out, &input);
    }
}

#[test]
fn ps_weights_match() {
    let shift = tensor("ps.shift_param");
    let sign = tensor("ps.sign_param");
    for wb in [2, 3, 5] {
        let range = shift_range(ShiftType::PS, wb).unwrap();
        let mut clamped = shift.clone();
        ps_clamp_shift_slice(&mut clamped, range);
        let mut out = vec![0.0; shift.len()];
        ps_weight_slice(&clamped, &sign, &mut out, range).unwrap();
        let name = format!("ps.weight_wb{wb}");
        assert_bits_eq(&name, &out, &tensor(&name), &shift);
    }
}

#[test]
fn golden_q_weights_pack_losslessly() {
    let input = tensor("pow2.input");
    for wb in 2..=6 {
        let want = tensor(&format!("pow2.q_wb{wb}"));
        // Zeros stay zero in Q, so they need the ternary code and one more bit.
        let packed =
            PackedShiftWeights::from_weights(&want, 64, 64, Encoding::Ternary, wb + 1).unwrap();
        assert_bits_eq("packed", &packed.unpack(), &want, &input);
    }
}
