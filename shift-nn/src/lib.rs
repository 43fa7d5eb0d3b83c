#![doc = include_str!("../README.md")]
//!
//! ## Inside the crate
//!
//! Bench: `benches/zoo.rs` (the MNIST models, ResNet-20, MobileNetV2 and ResNet-18 for
//! CIFAR-10), one training step and one inference pass each, float / Q / PS, to compare
//! with PyTorch's `torch_reference.py` on the same machine (`bench/zoo_vs_torch.py` runs
//! both).
//!
//! ### Layers of the crate
//! Each module imports only from the rows above it, so the module graph has no cycles:
//! 1. `tensor` (the [`Tensor`] type and the element-wise helpers on the rayon pool) and
//!    `error`;
//! 2. `param` and `buffer`: [`Param`] and [`Buffer`], shared handles to tensors;
//! 3. `tape`: [`Var`] and the backward pass (parameter leaves accumulate into [`Param`]s);
//! 4. `ops`: the differentiable ops;
//! 5. `layers` ([`WeightLayer`], [`Ctx`]), then `norm` ([`BatchNorm2d`]);
//! 6. `model`: the [`Model`] trait, parameter access and [`convert_to_shift`];
//! 7. `models` (the zoo) and `state_dict`.

mod buffer;
mod error;
mod layers;
mod model;
pub mod models;
mod norm;
pub mod ops;
mod param;
pub mod pth;
mod state_dict;
mod tape;
mod tensor;

pub use buffer::Buffer;
pub use error::NnError;
pub use layers::{
    Conv2dSpec, Ctx, FrozenForward, LayerShape, LayerWeights, ShiftOptions, ShiftWeights,
    WeightLayer,
};
pub use model::{
    convert_to_shift, named_buffers, named_params, param_count, zero_grad, LinearRule, Model,
    ModuleRef,
};
/// The `ndarray` crate (0.16) that [`Tensor`] is an array of, so a caller can build tensors
/// without a dependency of its own.
pub use ndarray;
pub use norm::BatchNorm2d;
pub use param::{Param, ParamKind};
pub use state_dict::{
    encode_safetensors, load_safetensors, load_state_dict, parse_safetensors, rounded_state_dict,
    save_safetensors, state_dict, StateDict,
};
pub use tape::{grad_enabled, no_grad, Var};
pub use tensor::Tensor;
// The shift-core types in [`ShiftOptions`], so a caller needs no shift-core of its own.
pub use shift_core::{FixedPoint, Rounding, ShiftType};
