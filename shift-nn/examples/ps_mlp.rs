//! Trains a two-layer DeepShift-PS MLP (2 -> 32 -> 2, 5-bit weights, 16/16 fixed-point
//! activations, trained from scratch) on a toy problem, XOR of the signs of two coordinates,
//! with Adam written out here (`shift-train` has the full optimisers; plain SGD barely moves
//! the from-scratch PS weights, most of which start near 2^-7, in this many steps).
//! Prints the loss and accuracy as it goes and the learned weights' distinct values, which
//! are all 0 or a signed power of two.
//!
//! `cargo run --release -p shift-nn --example ps_mlp`

use shift_nn::ndarray::IxDyn;
use shift_nn::{
    ops, Ctx, FixedPoint, LayerWeights, NnError, Param, Rounding, ShiftOptions, ShiftType,
    ShiftWeights, Tensor, Var, WeightLayer,
};

const POINTS: usize = 512;
const HIDDEN: usize = 32;
const STEPS: usize = 600;
const LR: f32 = 0.02;

fn main() -> Result<(), NnError> {
    let mut ctx = Ctx::new(true, 1);
    let (x, labels) = xor_data(POINTS, 7);

    let options = ShiftOptions {
        shift_type: ShiftType::PS,
        weight_bits: 5,
        act: FixedPoint::new(16, 16)?,
        rounding: Rounding::Deterministic,
    };
    let mut fc1 = WeightLayer::linear(2, HIDDEN, true, &mut ctx.rng);
    let mut fc2 = WeightLayer::linear(HIDDEN, 2, true, &mut ctx.rng);
    // `false`: DeepShift-PS's own initialisation (training from scratch), not a conversion
    // of the float weights.
    fc1.convert_to_shift(options, false, &mut ctx.rng)?;
    fc2.convert_to_shift(options, false, &mut ctx.rng)?;
    let params: Vec<Param> = [("fc1", &fc1), ("fc2", &fc2)]
        .iter()
        .flat_map(|(name, layer)| layer.named_params(name))
        .map(|(_, p)| p)
        .collect();

    // Adam's first and second moments, one pair per parameter.
    let mut moments: Vec<(Vec<f32>, Vec<f32>)> = params
        .iter()
        .map(|p| (vec![0.0; p.len()], vec![0.0; p.len()]))
        .collect();
    let input = Var::constant(x);
    for step in 0..=STEPS {
        let hidden = ops::relu(&fc1.forward(&input, &mut ctx)?);
        let logits = fc2.forward(&hidden, &mut ctx)?;
        let loss = ops::cross_entropy(&logits, &labels)?;
        if step % 100 == 0 {
            println!(
                "step {step:>4}: loss {:.4}, accuracy {:.1} %",
                loss.value().sum(),
                100.0 * accuracy(logits.value(), &labels)
            );
        }
        if step == STEPS {
            break;
        }
        for p in &params {
            p.zero_grad();
        }
        loss.backward();
        for (p, (m, v)) in params.iter().zip(&mut moments) {
            adam_step(p, m, v, step + 1);
        }
    }

    // The weights the layers compute with: each is 0 or +-2^p, p in [-14, 0].
    let range = options.range()?;
    let mut distinct = Vec::new();
    for layer in [&fc1, &fc2] {
        if let LayerWeights::Shift(ShiftWeights::PS { shift, sign }, _) = &layer.weights {
            let (shift, sign) = (shift.value(), sign.value());
            distinct.extend(
                shift
                    .iter()
                    .zip(sign.iter())
                    .map(|(&p, &s)| shift_core::ps_weight(p, s, range)),
            );
        }
    }
    distinct.sort_by(f32::total_cmp);
    distinct.dedup();
    println!("distinct weight values: {distinct:?}");
    let final_accuracy = {
        let hidden = ops::relu(&fc1.forward(&input, &mut ctx)?);
        accuracy(fc2.forward(&hidden, &mut ctx)?.value(), &labels)
    };
    if final_accuracy < 0.9 {
        return Err(NnError::Config(format!(
            "the PS MLP reached only {:.1} % on XOR",
            100.0 * final_accuracy
        )));
    }
    Ok(())
}

/// One Adam step (betas 0.9 and 0.999, eps 1e-8, PyTorch's bias correction) on a parameter.
fn adam_step(p: &Param, m: &mut [f32], v: &mut [f32], t: usize) {
    let (b1, b2) = (0.9f32, 0.999f32);
    let (c1, c2) = (1.0 - b1.powi(t as i32), 1.0 - b2.powi(t as i32));
    p.with_value_and_grad(|value, grad| {
        for ((w, g), (m, v)) in value
            .iter_mut()
            .zip(grad)
            .zip(m.iter_mut().zip(v.iter_mut()))
        {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *w -= LR * (*m / c1) / ((*v / c2).sqrt() + 1e-8);
        }
    });
}

/// `n` points uniform in [-1, 1]^2 (from a small LCG, so the example needs no RNG crate),
/// labelled 1 where the coordinates' signs differ.
fn xor_data(n: usize, seed: u64) -> (Tensor, Vec<usize>) {
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
    let coords: Vec<f32> = (0..2 * n).map(|_| next()).collect();
    let labels = coords
        .chunks_exact(2)
        .map(|p| usize::from((p[0] < 0.0) != (p[1] < 0.0)))
        .collect();
    let x = Tensor::from_shape_vec(IxDyn(&[n, 2]), coords).expect("2n coordinates");
    (x, labels)
}

/// Fraction of rows whose larger logit is the label.
fn accuracy(logits: &Tensor, labels: &[usize]) -> f64 {
    let correct = logits
        .outer_iter()
        .zip(labels)
        .filter(|(row, &label)| usize::from(row[1] > row[0]) == label)
        .count();
    correct as f64 / labels.len() as f64
}
