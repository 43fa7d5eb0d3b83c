//! Rounding primitives that compile to plain arithmetic on every x86-64 CPU.
//!
//! `f32::round_ties_even` and `f32::floor` become calls to libm's `rintf` and `floorf` unless
//! the build enables SSE4.1, and a profile of DeepShift-PS training showed a third of the time
//! in `rintf`. Adding and subtracting `±2^23` (the sign of `x`) rounds to an integer in the
//! FPU's default round-half-to-even mode, exactly, for every `|x| < 2^23`, where the sum lies
//! in an octave of unit spacing; larger magnitudes are integers already. Results equal the std functions except that a zero result may be `+0.0` where std
//! gives `-0.0`.

const TWO_POW_23: f32 = 8_388_608.0;

/// Round half to even, as `torch.round`.
#[inline(always)]
pub fn round_half_even(x: f32) -> f32 {
    if x.abs() < TWO_POW_23 {
        let magic = TWO_POW_23.copysign(x);
        (x + magic) - magic
    } else {
        x
    }
}

/// The largest integer not above `x`.
#[inline(always)]
pub fn floor(x: f32) -> f32 {
    if x.abs() < TWO_POW_23 {
        let r = round_half_even(x);
        if r > x {
            r - 1.0
        } else {
            r
        }
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn same(a: f32, b: f32) -> bool {
        a == b || (a.is_nan() && b.is_nan())
    }

    #[test]
    fn agree_with_std() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let specials = [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            2.5,
            -2.5,
            4_194_303.5,
            8_388_607.5,
            1e30,
            -1e-30,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MIN_POSITIVE,
            0.49999997,
        ];
        let randoms = (0..1_000_000).map(|_| f32::from_bits(rng.gen::<u32>()));
        let halves = (-2000..2000).map(|i| i as f32 * 0.5);
        for x in specials.into_iter().chain(randoms).chain(halves) {
            assert!(same(round_half_even(x), x.round_ties_even()), "round {x:e}");
            assert!(same(floor(x), x.floor()), "floor {x:e}");
        }
    }
}
