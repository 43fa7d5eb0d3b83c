//! Invariants of the numerics, checked on random inputs.

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shift_core::*;

fn any_weight() -> impl Strategy<Value = f32> {
    prop_oneof![-4.0f32..4.0, -1e-6f32..1e-6, Just(0.0)]
}

proptest! {
    #[test]
    fn q_rounding_is_idempotent_and_in_range(
        w in any_weight(),
        wb in 2u32..=8,
        stochastic in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let rounding = if stochastic { Rounding::Stochastic } else { Rounding::Deterministic };
        let range = shift_range(ShiftType::Q, wb).unwrap();
        let q = q_weight(w, range, rounding, &mut rng).unwrap();
        prop_assert_eq!(q_weight(q, range, rounding, &mut rng).unwrap(), q);
        if w == 0.0 {
            prop_assert_eq!(q, 0.0);
        } else {
            // f64 log2 is exact on powers of two, unlike the reference's f32 formula.
            let p = (q.abs() as f64).log2();
            prop_assert_eq!(p, p.round());
            prop_assert!(p >= range.min as f64 && p <= range.max as f64, "shift {} out of range", p);
            prop_assert_eq!(q.signum(), w.signum());
        }
    }

    #[test]
    fn ps_weights_are_in_range_and_stable_under_conversion(
        shift in -40.0f32..10.0,
        sign in -2.0f32..2.0,
        wb in 2u32..=8,
    ) {
        let range = shift_range(ShiftType::PS, wb).unwrap();
        let w = ps_weight(shift, sign, range);
        if w != 0.0 {
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            let (p, s) = weight_to_shift_sign(w, Rounding::Deterministic, &mut rng).unwrap();
            prop_assert!(p >= range.min as f32 && p <= 0.0);
            prop_assert_eq!(ps_weight(p, s, range), w);
        }
    }

    #[test]
    fn fixed_point_is_idempotent_and_bounded(x in -1e5f32..1e5, i in 1u32..=16, f in 0u32..=16) {
        let fp = FixedPoint::new(i, f).unwrap();
        let r = round_fixed(x, fp);
        prop_assert_eq!(round_fixed(r, fp), r);
        prop_assert!(r >= fp.min_value() && r <= fp.max_value());
        prop_assert!(r <= x.max(fp.min_value()));
    }

    #[test]
    fn pack_then_unpack_is_identity(
        bits in 2u32..=8,
        rows in 1usize..5,
        cols in 1usize..40,
        ternary in any::<bool>(),
        seed in any::<u64>(),
    ) {
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (encoding, ty) = if ternary {
            (Encoding::Ternary, ShiftType::PS)
        } else {
            (Encoding::Binary, ShiftType::Q)
        };
        let range = shift_range(ty, bits).unwrap();
        let weights: Vec<f32> = (0..rows * cols)
            .map(|_| {
                let sign = if ternary { rng.gen_range(-1..=1) } else { [-1, 1][rng.gen_range(0..2)] };
                sign as f32 * exp2i(rng.gen_range(range.min..=range.max))
            })
            .collect();
        let packed = PackedShiftWeights::from_weights(&weights, rows, cols, encoding, bits).unwrap();
        prop_assert_eq!(packed.unpack(), weights.clone());
        let restored = PackedShiftWeights::from_bytes(&packed.to_bytes()).unwrap();
        prop_assert_eq!(restored, packed);
    }
}

/// Stochastic rounding is unbiased: the mean of many roundings of x approaches x.
///
/// With n = 200,000 Bernoulli draws the standard error is at most 0.5 / sqrt(n) = 0.0011;
/// the tolerance of 0.01 is nine standard errors, and the seed is fixed, so the test is
/// deterministic and can only fail if the rounding is biased.
#[test]
fn stochastic_rounding_is_unbiased() {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let n = 200_000;
    for x in [-3.7f32, -0.25, 0.1, 2.5, 6.999] {
        let mean = (0..n)
            .map(|_| round_value(x, Rounding::Stochastic, &mut rng) as f64)
            .sum::<f64>()
            / n as f64;
        assert!((mean - x as f64).abs() < 0.01, "x = {x}, mean = {mean}");
    }
    // In the log domain, the shift of a weight is unbiased too.
    let w = 0.3f32;
    let mean = (0..n)
        .map(|_| rounded_shift(w, Rounding::Stochastic, &mut rng) as f64)
        .sum::<f64>()
        / n as f64;
    assert!((mean - (w.ln() / std::f32::consts::LN_2) as f64).abs() < 0.01);
}
