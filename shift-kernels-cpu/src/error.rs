//! The errors of the kernels.

use thiserror::Error;

/// Errors of the shift kernels. Bad input is an error, never a panic or a silent overflow.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KernelError {
    /// A weight that is not exactly zero or `±2^p` with `p` in `[-127, 0]`.
    #[error("weight {index} ({value}) is not 0 or ±2^p with p in [-127, 0]")]
    NotAShiftWeight {
        /// Row-major index of the weight.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// Buffers whose lengths or shapes do not fit together.
    #[error("shape error: {0}")]
    Shape(String),
    /// An input activation that is NaN (the fixed-point grid has no NaN).
    #[error("input {index} is NaN")]
    NanInput {
        /// Index of the value in the input.
        index: usize,
    },
    /// The exact sum could exceed the widest accumulator (64 bits): the bound on the layer's
    /// output for this input, in bits, is reported.
    #[error(
        "the exact sum needs up to {needed_bits} bits, more than the 64-bit accumulator holds \
         (largest input {max_input} on a 2^-{frac_bits} grid, weights spanning {span} shift \
         levels, fan-in {fan_in}): use fewer activation or weight bits"
    )]
    AccumulatorOverflow {
        /// Bits the worst case of this input needs (sign included).
        needed_bits: u32,
        /// Largest |input| on the fixed-point grid (an integer).
        max_input: u64,
        /// Fraction bits of the activations.
        frac_bits: u32,
        /// `max shift - min shift + 1` of the layer's non-zero weights.
        span: u32,
        /// Inputs per output.
        fan_in: usize,
    },
    /// An unsupported configuration (e.g. a fan-in above 65535).
    #[error("{0}")]
    Unsupported(String),
    /// A packed weight tensor that cannot be read.
    #[error(transparent)]
    Core(#[from] shift_core::CoreError),
}
