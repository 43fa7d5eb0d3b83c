//! Ops with forward and backward passes. Each records itself on the tape when gradients are
//! enabled and any input needs one.

mod basic;
mod conv;
mod gemm;
mod linear;
mod shift;

pub use basic::{
    add, cross_entropy, dropout, flatten, log_softmax, max_pool2d, nll_loss, relu, reshape,
    weighted_sum,
};
pub use conv::{conv2d, Conv2dSpec};
pub use linear::linear;
pub use shift::{ps_weight, q_weight, round_fixed};
