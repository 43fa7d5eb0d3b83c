//! `nn.BatchNorm2d`: affine batch normalisation with running statistics.

use crate::buffer::Buffer;
use crate::error::NnError;
use crate::layers::Ctx;
use crate::ops;
use crate::param::{Param, ParamKind};
use crate::tape::Var;
use crate::tensor::Tensor;

/// `nn.BatchNorm2d(channels)` with PyTorch's defaults: weight 1, bias 0, running mean 0,
/// running variance 1, momentum 0.1, eps 1e-5. Training mode normalises with the batch's
/// statistics and folds them into the running ones (the unbiased variance, as PyTorch);
/// evaluation mode uses the running statistics.
#[derive(Debug, Clone)]
pub struct BatchNorm2d {
    /// `weight` (gamma), a [`ParamKind::NormWeight`].
    pub weight: Param,
    /// `bias` (beta), a [`ParamKind::NormBias`].
    pub bias: Param,
    /// `running_mean`.
    pub running_mean: Buffer,
    /// `running_var`.
    pub running_var: Buffer,
    /// `num_batches_tracked`, a 0-d tensor (PyTorch stores it as int64; state dicts convert).
    pub num_batches_tracked: Buffer,
    /// Weight of the newest batch in the running statistics.
    pub momentum: f32,
    /// Added to the variance before the square root.
    pub eps: f32,
}

impl BatchNorm2d {
    /// A batch norm over `channels` channels with PyTorch's defaults.
    pub fn new(channels: usize) -> Self {
        Self::with_weight(channels, 1.0)
    }

    /// As [`BatchNorm2d::new`] with every `weight` element set to `gamma` (some reference
    /// models initialise it to 0.5).
    pub fn with_weight(channels: usize, gamma: f32) -> Self {
        let vec = |v: f32| Tensor::from_elem(vec![channels], v);
        Self {
            weight: Param::new(vec(gamma), ParamKind::NormWeight),
            bias: Param::new(vec(0.0), ParamKind::NormBias),
            running_mean: Buffer::new(vec(0.0)),
            running_var: Buffer::new(vec(1.0)),
            num_batches_tracked: Buffer::new(Tensor::from_elem(vec![], 0.0)),
            momentum: 0.1,
            eps: 1e-5,
        }
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.weight.len()
    }

    /// Normalises `x [N, C, H, W]`; in training mode (`ctx.train`) also updates the running
    /// statistics, whether or not gradients are recorded (as PyTorch).
    pub fn forward(&self, x: &Var, ctx: &mut Ctx) -> Result<Var, NnError> {
        let (w, b) = (Var::param(&self.weight), Var::param(&self.bias));
        if !ctx.train {
            let rm = self.running_mean.value();
            let rv = self.running_var.value();
            return ops::batch_norm2d_eval(
                x,
                &w,
                &b,
                rm.as_slice().expect("contiguous"),
                rv.as_slice().expect("contiguous"),
                self.eps,
            );
        }
        let (y, stats) = ops::batch_norm2d_train(x, &w, &b, self.eps)?;
        let m = self.momentum;
        let blend = |buf: &Buffer, new: &[f32]| {
            let mut v = buf.value_mut();
            for (r, n) in v.iter_mut().zip(new) {
                *r = (1.0 - m) * *r + m * n;
            }
        };
        blend(&self.running_mean, &stats.mean);
        blend(&self.running_var, &stats.var_unbiased);
        self.num_batches_tracked
            .value_mut()
            .mapv_inplace(|n| n + 1.0);
        Ok(y)
    }

    /// `weight` and `bias` under `prefix`.
    pub fn named_params(&self, prefix: &str) -> Vec<(String, Param)> {
        vec![
            (format!("{prefix}.weight"), self.weight.clone()),
            (format!("{prefix}.bias"), self.bias.clone()),
        ]
    }

    /// `running_mean`, `running_var` and `num_batches_tracked` under `prefix`.
    pub fn named_buffers(&self, prefix: &str) -> Vec<(String, Buffer)> {
        vec![
            (format!("{prefix}.running_mean"), self.running_mean.clone()),
            (format!("{prefix}.running_var"), self.running_var.clone()),
            (
                format!("{prefix}.num_batches_tracked"),
                self.num_batches_tracked.clone(),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn training_updates_running_statistics_like_pytorch() {
        let bn = BatchNorm2d::new(2);
        // Channel 0 holds 1, 2, 3, 4 (mean 2.5, unbiased variance 5/3); channel 1 is constant.
        let x =
            Tensor::from_shape_vec(vec![2, 2, 1, 2], vec![1., 2., 7., 7., 3., 4., 7., 7.]).unwrap();
        let mut ctx = Ctx {
            train: true,
            rng: ChaCha8Rng::seed_from_u64(0),
        };
        let y = bn.forward(&Var::constant(x), &mut ctx).unwrap();
        let rm = bn.running_mean.value().clone();
        let rv = bn.running_var.value().clone();
        assert!((rm[0] - 0.25).abs() < 1e-6 && (rm[1] - 0.7).abs() < 1e-6);
        assert!((rv[0] - (0.9 + 0.1 * 5.0 / 3.0)).abs() < 1e-6 && (rv[1] - 0.9).abs() < 1e-6);
        assert_eq!(bn.num_batches_tracked.value()[[]], 1.0);
        // Normalised with the biased variance 1.25.
        let want = (1.0 - 2.5) / (1.25f32 + 1e-5).sqrt();
        assert!((y.value()[[0, 0, 0, 0]] - want).abs() < 1e-5);
        assert_eq!(y.value()[[0, 1, 0, 0]], 0.0);
        ctx.train = false;
        let before = bn.running_mean.value().clone();
        let x = Tensor::from_elem(vec![1, 2, 1, 1], 1.0);
        bn.forward(&Var::constant(x), &mut ctx).unwrap();
        assert_eq!(*bn.running_mean.value(), before);
    }
}
