//! Evaluation: top-1/top-5 accuracy and mean loss of a model over a data set, no graph recorded.

use std::sync::Arc;
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shift_data::{DataLoader, Dataset, LoaderConfig};
use shift_nn::{no_grad, Ctx, Model, Var};

use crate::meters::top1_top5;
use crate::progress::{batch_bar, ProgressMode};
use crate::TrainError;

/// Result of one evaluation pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalResult {
    /// Mean negative log-likelihood.
    pub loss: f64,
    /// Top-1 accuracy as a fraction.
    pub top1: f64,
    /// Top-5 accuracy as a fraction.
    pub top5: f64,
    /// Images evaluated.
    pub images: usize,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// Evaluates the model on a data set, in batches of `batch_size` loaded by `workers` threads
/// (0: on this thread).
pub fn evaluate<D: Dataset + ?Sized + 'static>(
    model: &dyn Model,
    data: Arc<D>,
    batch_size: usize,
    workers: usize,
    progress: ProgressMode,
) -> Result<EvalResult, TrainError> {
    let started = Instant::now();
    let loader = DataLoader::new(
        data,
        LoaderConfig {
            batch_size,
            shuffle: false,
            seed: 0,
            drop_last: false,
            num_workers: workers,
            ..Default::default()
        },
    )?;
    let bar = batch_bar(
        progress,
        loader.num_batches() as u64,
        "eval [{bar:30}] {pos}/{len} ETA {eta}",
    );
    let mut ctx = Ctx {
        train: false,
        rng: ChaCha8Rng::seed_from_u64(0),
    };
    let (mut loss_sum, mut top1, mut top5, mut images) = (0f64, 0usize, 0usize, 0usize);
    for batch in loader.epoch(0) {
        let batch = batch?;
        // log_softmax is idempotent, so this is right for models ending in log-softmax (MNIST)
        // and for models returning logits (CIFAR-10, ImageNet).
        let out = no_grad(|| {
            shift_nn::ops::log_softmax(
                &model.forward(&Var::constant(batch.images.into_dyn()), &mut ctx)?,
            )
        })?;
        let lp = out.value();
        let lp = lp.as_standard_layout();
        // Checks every label against the model's classes before any is used as an index.
        let (c1, c5) = top1_top5(
            lp.as_slice().expect("contiguous"),
            lp.shape()[1],
            &batch.labels,
        )?;
        for (row, &label) in lp.outer_iter().zip(&batch.labels) {
            loss_sum -= row[label] as f64;
        }
        top1 += c1;
        top5 += c5;
        images += batch.labels.len();
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let n = images.max(1) as f64;
    Ok(EvalResult {
        loss: loss_sum / n,
        top1: top1 as f64 / n,
        top5: top5 as f64 / n,
        images,
        seconds: started.elapsed().as_secs_f64(),
    })
}
