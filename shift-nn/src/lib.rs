//! Tensors, a small define-by-run autograd, layers, DeepShift-Q/PS layers, conversion of
//! float models to shift models, the MNIST models and PyTorch-compatible state dicts.
//!
//! - [`Var`] is a tensor on the tape; ops in [`ops`] record themselves and
//!   [`Var::backward`] accumulates gradients into [`Param`]s. [`no_grad`] records nothing.
//! - [`WeightLayer`] is a Linear or Conv2d layer, float or shift (Q or PS), with PyTorch's
//!   initialisation and DeepShift's options; [`convert_to_shift`] converts the last layers.
//! - [`state_dict`], [`load_state_dict`], [`save_safetensors`], [`load_safetensors`] move
//!   weights to and from PyTorch with its names and layouts.
//!
//! Not done yet (issue 3): batch norm, average/adaptive pooling, concat, the option-A
//! shortcut, the CIFAR-10 and ImageNet model zoo, and the speed comparison with PyTorch.

mod error;
mod layers;
mod model;
pub mod models;
pub mod ops;
mod param;
mod state_dict;
mod tape;

pub use error::NnError;
pub use layers::{Ctx, LayerShape, LayerWeights, ShiftOptions, ShiftWeights, WeightLayer};
pub use model::{convert_to_shift, named_params, param_count, zero_grad, LinearRule, Model};
pub use param::{Param, ParamKind};
pub use state_dict::{
    load_safetensors, load_state_dict, parse_safetensors, rounded_state_dict, save_safetensors,
    state_dict, write_atomically, StateDict,
};
pub use tape::{grad_enabled, no_grad, Tensor, Var};
