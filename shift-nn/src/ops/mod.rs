//! Ops with forward and backward passes. Each records itself on the tape when gradients are
//! enabled and any input needs one.

mod act;
mod basic;
mod conv;
mod gemm;
mod join;
mod linear;
mod norm;
mod pool;
mod sgemm;
mod shift;
mod shift_l2;

pub use act::{channel_affine, scale_channels, sigmoid, silu, stochastic_depth};
pub use basic::{
    add, cross_entropy, dropout, flatten, log_softmax, nll_loss, relu, reshape, weighted_sum,
};
pub use conv::{conv2d, Conv2dGeometry};
pub use join::{concat_channels, relu6, zero_pad_shortcut};
pub use linear::linear;
pub use norm::{batch_norm2d_eval, batch_norm2d_train, BatchStats};
pub use pool::{adaptive_avg_pool2d, avg_pool2d, max_pool2d, max_pool2d_ceil};
pub(crate) use shift::NoRng;
pub use shift::{ps_weight, q_weight, round_fixed};
pub use shift_l2::shift_l2;

/// Deterministic pseudo-random values in `[-0.5, 0.5)` for the ops' unit tests.
#[cfg(test)]
pub(crate) fn test_values(len: usize, seed: u32) -> Vec<f32> {
    let mut s = seed;
    (0..len)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        })
        .collect()
}
