//! Exact integer inference kernels for Deep Shift layers on CPU.
//!
//! A DeepShift weight is `s * 2^p` (`s` in {-1, 0, +1}, `p <= 0`) and a shift layer's input
//! and bias lie on a fixed-point grid `2^-F` (`-ab I F`). These kernels compute the layer's
//! output **exactly**: with `q_k = floor(x_k * 2^F)` (clamped as `round_fixed` does) and the
//! layer's smallest shift `p_min`,
//!
//! ```text
//! y * 2^(F - p_min) = b_q << (-p_min) + sum_k s_k * (q_k << (p_k - p_min))
//! ```
//!
//! is an integer: every shift becomes a left shift. The result is returned exactly
//! ([`FixedOutput`]: the integers and the grid `2^(p_min - F)`), as f32 correctly rounded
//! from it, or floored onto another fixed-point format for a next shift layer
//! ([`FixedOutput::to_fixed`]).
//!
//! # Accumulators: exact, never a silent overflow
//! For each call the largest input magnitude `M = max |q_k|` is known from the quantisation.
//! Each row's bound `R = sum_k 2^(p_k - p_min)` is computed when the layer is built. If
//! `M * R + |b_q| * 2^(-p_min)` exceeds `i64::MAX` for any row, the call is an error
//! ([`KernelError::AccumulatorOverflow`]) naming the bits it would need; otherwise no partial
//! sum of any row can overflow the 64-bit totals. (The rule uses the layer's actual shifts
//! and the call's actual inputs, so it is never looser than a worst case over the format,
//! and a trained layer whose shifts do not use the whole range gets the room it needs.)
//!
//! # The algorithm: add per weight, shift once per level
//! A [`ShiftMatrix`] stores each row's non-zero weights as column indices grouped by shift
//! level and sign (zeros are dropped). Activations are packed into panels of `NR` columns
//! (batch entries, or the output pixels of one image after im2col). For each row and level,
//! the micro-kernel adds the `NR`-wide panel rows of the level's positive weights and
//! subtracts those of its negative weights in `i32` lanes, then sign-extends the sum to
//! `i64`, shifts it left **once** by the level's shift and adds it to the row's totals. A
//! run of `i32` adds is at most `floor((2^31 - 1) / M)` terms long, so it cannot overflow
//! either; the rare input of magnitude `2^31` takes an `i64`-only path.
//!
//! # No multiplications
//! The micro-kernels' loops contain loads, adds, subtractions, sign extensions and shifts
//! only: panel addresses are `k << log2(NR)` (`NR` is a power of two), the sign is the
//! choice between the add and the subtract loop, the weight's magnitude is the level's
//! shift. This is ensured by construction (no `*` on a value in `kernel/`, address
//! arithmetic by shifts) and checked on the disassembly of the compiled kernels (the crate's
//! README shows the AVX-512 loop: `vpaddd`/`vpsubd` with a memory operand, `vpmovsxdq`,
//! `vpsllq`, `vpaddq`). Outside the micro-kernels, quantising an input multiplies it by
//! `2^F` once (as the float layer's rounding does) and im2col computes panel offsets.
//!
//! # Layout (in the manner of matrixmultiply)
//! - [`dispatch`]: [`Level`] (scalar, AVX2, AVX-512, NEON), detected at run time,
//!   capped by `SHIFT_KERNELS_MAX_LEVEL`.
//! - `kernel`: one micro-kernel per level (one row against one panel).
//! - `pack`: activations into panels, im2col straight into panels.
//! - `gemm`: the driver over (panel, row block) tasks on the rayon pool; integer results do
//!   not depend on the thread count.
//! - [`ShiftLinear`], [`ShiftConv2d`] (stride, padding, dilation, groups, depthwise): the
//!   layers; [`reference`](mod@reference): the scalar reference every level must equal bit for bit.

mod conv;
pub mod dispatch;
mod error;
mod fixed;
mod gemm;
mod kernel;
mod layer;
mod linear;
mod matrix;
mod pack;
pub mod reference;
mod table;

pub use conv::{Conv2dShape, ConvGeometry, ShiftConv2d};
pub use dispatch::{Level, MAX_LEVEL_ENV};
pub use error::KernelError;
pub use fixed::{quantize, quantize_into, total_to_f32, FixedOutput};
pub use linear::ShiftLinear;
pub use matrix::{decode_weight, ShiftMatrix, MAX_COLS, MIN_SHIFT};
