#![doc = include_str!("../README.md")]

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
// The shift-core types in this crate's signatures, so a caller needs no shift-core of its own.
pub use shift_core::{Encoding, FixedPoint, PackedShiftWeights};
