//! Rounds a random float weight matrix to DeepShift-Q and DeepShift-PS weights at every
//! supported bit width, packs each result and prints the rounding error and the packed size.
//!
//! `cargo run -p shift-core --example round_and_pack`

use shift_core::rand::{rngs::StdRng, Rng, SeedableRng};
use shift_core::{
    bits_per_weight, ps_weight_slice, q_weight_slice, shift_range, weights_to_shift_sign_slice,
    CoreError, Encoding, PackedShiftWeights, Rounding, ShiftType, MAX_WEIGHT_BITS, MIN_WEIGHT_BITS,
};

const ROWS: usize = 256;
const COLS: usize = 256;

fn main() -> Result<(), CoreError> {
    let mut rng = StdRng::seed_from_u64(7);
    // Uniform in +-1/sqrt(fan_in), as PyTorch initialises a Linear layer, plus a few exact
    // zeros (which PS keeps and Q cannot encode without a zero code).
    let bound = 1.0 / (COLS as f32).sqrt();
    let float: Vec<f32> = (0..ROWS * COLS)
        .map(|i| {
            if i % 97 == 0 {
                0.0
            } else {
                rng.gen_range(-bound..bound)
            }
        })
        .collect();
    let f32_bytes = float.len() * 4;
    let mean_abs = float.iter().map(|w| f64::from(w.abs())).sum::<f64>() / float.len() as f64;
    println!(
        "{ROWS} x {COLS} weights, U(+-{bound:.4}), mean |w| {mean_abs:.4}; f32: {f32_bytes} bytes\n\
         (Q layers with exact zeros are packed as ternary codes with one more bit)\n\
         scheme bits  range       mean |w - w_shift| / mean |w|  packed bytes  bits/weight  vs f32"
    );
    for scheme in [ShiftType::Q, ShiftType::PS] {
        for bits in MIN_WEIGHT_BITS..=MAX_WEIGHT_BITS {
            let range = shift_range(scheme, bits)?;
            let mut rounded = vec![0.0; float.len()];
            // Q has no zero code: a layer with exact zeros packs as Ternary with one more bit.
            let (encoding, code_bits) = match scheme {
                ShiftType::Q => {
                    // q_weight_slice projects its input in place, as the reference does.
                    let mut stored = float.clone();
                    q_weight_slice(
                        &mut stored,
                        &mut rounded,
                        range,
                        Rounding::Deterministic,
                        &mut rng,
                    )?;
                    if rounded.contains(&0.0) {
                        if bits == MAX_WEIGHT_BITS {
                            println!(
                                "Q      {bits}     has zeros and no 9-bit ternary code: skipped"
                            );
                            continue;
                        }
                        (Encoding::Ternary, bits + 1)
                    } else {
                        (Encoding::Binary, bits)
                    }
                }
                ShiftType::PS => {
                    let (mut shift, mut sign) = (vec![0.0; float.len()], vec![0.0; float.len()]);
                    weights_to_shift_sign_slice(
                        &float,
                        &mut shift,
                        &mut sign,
                        Some(range),
                        Rounding::Deterministic,
                        &mut rng,
                    )?;
                    ps_weight_slice(&shift, &sign, &mut rounded, range)?;
                    (Encoding::Ternary, bits)
                }
            };
            let packed =
                PackedShiftWeights::from_weights(&rounded, ROWS, COLS, encoding, code_bits)?;
            let bytes = packed.to_bytes();
            // The byte form must give back exactly the rounded weights.
            assert_eq!(PackedShiftWeights::from_bytes(&bytes)?.unpack(), rounded);
            let error = float
                .iter()
                .zip(&rounded)
                .map(|(a, b)| f64::from((a - b).abs()))
                .sum::<f64>()
                / float.len() as f64;
            println!(
                "{:<6} {bits}     [{:>4}, 0]  {:<29.4}  {:<12}  {:<11.2}  {:.1}x smaller",
                format!("{scheme:?}"),
                range.min,
                error / mean_abs,
                bytes.len(),
                bits_per_weight(code_bits),
                f32_bytes as f64 / bytes.len() as f64
            );
        }
    }
    Ok(())
}
