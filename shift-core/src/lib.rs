//! DeepShift numerics: the exact arithmetic of the reference PyTorch implementation.
//!
//! DeepShift replaces each weight by `±2^p`, so a multiplication becomes a shift and a sign
//! flip. This crate holds the pure functions both training schemes need:
//!
//! - [`shift_range`]: the shifts allowed at a weight bit width for Q and PS.
//! - DeepShift-Q: [`q_project`] (the in-place clamp of magnitudes), [`round_pow2`],
//!   [`q_weight_slice`]; the backward pass is the identity (straight-through).
//! - DeepShift-PS: [`ps_weight`], [`ps_weight_slice`], [`ps_backward_slice`]
//!   (`dL/dshift = G * s * 2^p * ln 2`, `dL/dsign = G`).
//! - Conversion of float weights into PS parameters: [`weight_to_shift_sign`].
//! - Fixed-point activations: [`FixedPoint`], [`round_fixed`].
//! - The packed weight format for kernels: [`PackedShiftWeights`].
//!
//! Rounding is deterministic (half to even, as `torch.round`) or stochastic with an RNG the
//! caller supplies, so results are reproducible from a seed. Impossible inputs (bit widths,
//! activation formats, NaN weights) are [`CoreError`]s. No I/O, no threads.
//!
//! ```
//! use shift_core::{shift_range, q_weight, Rounding, ShiftType};
//! let range = shift_range(ShiftType::Q, 5)?;
//! let mut rng = rand::thread_rng();
//! assert_eq!(q_weight(0.3, range, Rounding::Deterministic, &mut rng)?, 0.25);
//! # Ok::<(), shift_core::CoreError>(())
//! ```

mod error;
mod fixed;
mod packed;
mod pow2;
mod ps;
mod range;
pub mod rounding;

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
