use thiserror::Error;

/// Errors for inputs that DeepShift's numerics cannot represent.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The weight bit width is outside what the shift ranges and the packed format support.
    #[error("weight bits {bits} are not supported: use {min}..={max} (wb=1 would leave no shift range; wb>8 shifts below 2^-127 underflow f32)")]
    WeightBits {
        /// The rejected width.
        bits: u32,
        /// Smallest supported width.
        min: u32,
        /// Largest supported width.
        max: u32,
    },
    /// Fixed-point activation bits that cannot be represented in a 32-bit word.
    #[error(
        "activation bits I={int_bits} F={frac_bits} are impossible: need I >= 1 and I + F <= 32"
    )]
    ActivationBits {
        /// Integer bits (including the sign bit).
        int_bits: u32,
        /// Fraction bits.
        frac_bits: u32,
    },
    /// A NaN or infinite weight where a shift has to be computed.
    #[error("weight at index {index} is {value}: a shift cannot be computed from NaN or infinity")]
    NonFiniteWeight {
        /// Position in the slice (0 for scalar calls).
        index: usize,
        /// The offending value.
        value: f32,
    },
    /// Slices that must have equal lengths do not.
    #[error("length mismatch: {what} has {got} elements, expected {expected}")]
    LengthMismatch {
        /// Which argument.
        what: &'static str,
        /// Its length.
        got: usize,
        /// The length it should have.
        expected: usize,
    },
    /// A weight that the packed format cannot hold exactly.
    #[error("weight at index {index} ({value}) cannot be packed: {reason}")]
    Unpackable {
        /// Position in the flattened weights.
        index: usize,
        /// The offending value.
        value: f32,
        /// Why it does not fit.
        reason: String,
    },
    /// A byte buffer that is not a packed shift-weight tensor of a known version.
    #[error("invalid packed shift weights: {0}")]
    InvalidPacked(String),
}
