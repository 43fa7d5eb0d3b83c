#![doc = include_str!("../README.md")]

mod error;
mod fixed;
mod packed;
mod pow2;
mod ps;
mod range;
mod rounding;

/// The `rand` crate (0.8) whose [`rand::Rng`] the rounding functions take, so a caller needs
/// no `rand` dependency of its own (and cannot pick an incompatible version).
pub use rand;

pub use error::CoreError;
pub use fixed::{round_fixed, round_fixed_slice, FixedPoint};
pub use packed::{
    bits_per_weight, codes_per_word, decode_code, encode_weight, Encoding, PackedShiftWeights,
    ShiftCode, PACKED_FORMAT_VERSION,
};
pub use pow2::{
    exp2i, log2_abs, q_project, q_weight, q_weight_slice, round_log2_abs, round_pow2, round_value,
    rounded_shift, sign, weight_to_shift_sign, weights_to_shift_sign_slice,
};
pub use ps::{
    ps_backward_slice, ps_clamp_shift_slice, ps_shift, ps_sign, ps_weight, ps_weight_slice,
};
pub use range::{
    check_weight_bits, shift_range, Rounding, ShiftRange, ShiftType, MAX_WEIGHT_BITS,
    MIN_WEIGHT_BITS,
};
