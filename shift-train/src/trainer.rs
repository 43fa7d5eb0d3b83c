//! The training loop: epochs of training and evaluation with logs, progress, energy regions,
//! atomic per-epoch checkpoints and bit-exact resume.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shift_data::{DataLoader, Dataset, LoaderConfig};
use shift_nn::{named_params, no_grad, zero_grad, Ctx, Model, ParamKind, Tensor, Var};

use crate::atomic::write_atomic_bytes;
use crate::checkpoint::{Checkpoint, EpochRecord};
use crate::meters::top1_top5;
use crate::optim::{build_optimizer, OptimizerConfig, ParamRef};
use crate::schedule::LrSchedule;
use crate::TrainError;

/// Everything a training run needs besides the model and the data.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Number of epochs in total (a resumed run continues up to this).
    pub epochs: usize,
    /// Training batch size.
    pub batch_size: usize,
    /// Evaluation batch size.
    pub test_batch_size: usize,
    /// Optimiser and its hyperparameters.
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule, applied at the start of each epoch.
    pub schedule: LrSchedule,
    /// Seed of shuffling, dropout and stochastic rounding.
    pub seed: u64,
    /// Data loading threads (0: on the training thread).
    pub workers: usize,
    /// The run's folder (`train_log.csv`, `checkpoint.safetensors`, ...).
    pub out_dir: PathBuf,
    /// Show a progress bar (it also hides itself when stderr is not a terminal).
    pub progress: bool,
}

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

/// Summary of a finished run.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    /// One record per epoch (including epochs restored from a checkpoint).
    pub epochs: Vec<EpochRecord>,
}

impl TrainSummary {
    /// The last epoch's test accuracy.
    pub fn final_accuracy(&self) -> Option<f64> {
        self.epochs.last().map(|e| e.test_accuracy)
    }

    /// The best epoch's test accuracy.
    pub fn best_accuracy(&self) -> Option<f64> {
        self.epochs.iter().map(|e| e.test_accuracy).reduce(f64::max)
    }
}

/// Energy regions of a run: called around each training and evaluation phase.
pub trait EnergyHook {
    /// A phase starts (`training` or `evaluation`).
    fn start(&mut self, region: &str);
    /// The phase that started last ends.
    fn stop(&mut self);
}

/// The RNG of dropout and stochastic rounding for an epoch, derived from (seed, epoch) so a
/// resumed run continues exactly as an uninterrupted one.
fn epoch_rng(seed: u64, epoch: usize) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(shift_data::loader::derive_seed(&[
        seed,
        0x0074_7261_696e,
        epoch as u64,
    ]))
}

fn progress_bar(len: usize, enabled: bool, message: String) -> ProgressBar {
    let target = if enabled {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(len as u64), target);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} batches, {per_sec}, ETA {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(message);
    bar
}

/// Evaluates the model on a data set (no graph is recorded).
pub fn evaluate<D: Dataset + ?Sized + 'static>(
    model: &dyn Model,
    data: Arc<D>,
    batch_size: usize,
    workers: usize,
    progress: bool,
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
    let bar = progress_bar(loader.num_batches(), progress, "eval".into());
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
        bar.inc(1);
    }
    bar.finish_and_clear();
    let n = images.max(1) as f64;
    Ok(EvalResult {
        loss: loss_sum / n,
        top1: top1 as f64 / n,
        top5: top5 as f64 / n,
        images,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Trains `model` for `config.epochs` epochs, evaluating after each, writing
/// `train_log.csv` and an atomic `checkpoint.safetensors` every epoch. With `resume`, the
/// model and optimiser continue from the checkpoint bit for bit.
pub fn train<D: Dataset + ?Sized + 'static, T: Dataset + ?Sized + 'static>(
    model: &dyn Model,
    train_set: Arc<D>,
    test_set: Arc<T>,
    config: &TrainConfig,
    resume: Option<Checkpoint>,
    mut energy: Option<&mut dyn EnergyHook>,
) -> Result<TrainSummary, TrainError> {
    std::fs::create_dir_all(&config.out_dir).map_err(|e| TrainError::io(&config.out_dir, e))?;
    let params = named_params(model);
    let group_of = |kind: ParamKind| match kind {
        ParamKind::Sign => 1,
        ParamKind::Shift => 2,
        _ => 0,
    };
    let mut optimizer = build_optimizer(&config.optimizer)?;
    let mut records = Vec::new();
    let mut start_epoch = 0;
    if let Some(ckpt) = resume {
        ckpt.restore(model, optimizer.as_mut())?;
        start_epoch = ckpt.epochs_done;
        records = ckpt.records.clone();
    }
    let loader = DataLoader::new(
        train_set,
        LoaderConfig {
            batch_size: config.batch_size,
            shuffle: true,
            seed: config.seed,
            drop_last: false,
            num_workers: config.workers,
            ..Default::default()
        },
    )?;
    let wd = config.optimizer.weight_decay;
    for epoch in start_epoch..config.epochs {
        for group in 0..3 {
            let base = if group == 1 {
                config.optimizer.lr_sign.unwrap_or(config.optimizer.lr)
            } else {
                config.optimizer.lr
            };
            optimizer.set_lr(group, config.schedule.lr_at(base, epoch))?;
        }
        let started = Instant::now();
        if let Some(e) = energy.as_deref_mut() {
            e.start("training");
        }
        let mut ctx = Ctx {
            train: true,
            rng: epoch_rng(config.seed, epoch),
        };
        let bar = progress_bar(
            loader.num_batches(),
            config.progress,
            format!("epoch {}/{}", epoch + 1, config.epochs),
        );
        let (mut loss_sum, mut seen) = (0f64, 0usize);
        for batch in loader.epoch(epoch as u64) {
            let batch = batch?;
            zero_grad(model);
            let out = model.forward(&Var::constant(batch.images.into_dyn()), &mut ctx)?;
            let loss = shift_nn::ops::cross_entropy(&out, &batch.labels)?;
            loss.backward();
            let mut extra = 0f32;
            if wd > 0.0 {
                // The reference adds wd/2 * sum((2^shift)^2) to the loss of PS models.
                for (_, p) in params.iter().filter(|(_, p)| p.kind() == ParamKind::Shift) {
                    let shift = p.value().clone();
                    let s = shift.as_slice().expect("contiguous");
                    extra += crate::optim::shift_l2(s, wd);
                    crate::optim::shift_l2_grad(
                        s,
                        wd,
                        p.grad_mut().as_slice_mut().expect("contiguous"),
                    )?;
                }
            }
            let mut guards: Vec<_> = params
                .iter()
                .map(|(n, p)| (n.as_str(), group_of(p.kind()), p.clone()))
                .collect();
            step(optimizer.as_mut(), &mut guards)?;
            let l = loss.value().iter().next().copied().unwrap_or(f32::NAN) + extra;
            loss_sum += l as f64 * batch.labels.len() as f64;
            seen += batch.labels.len();
            bar.inc(1);
            bar.set_message(format!(
                "epoch {}/{} loss {:.4}",
                epoch + 1,
                config.epochs,
                loss_sum / seen as f64
            ));
        }
        bar.finish_and_clear();
        if let Some(e) = energy.as_deref_mut() {
            e.stop();
            e.start("evaluation");
        }
        let train_seconds = started.elapsed().as_secs_f64();
        let eval = evaluate(
            model,
            test_set.clone(),
            config.test_batch_size,
            config.workers,
            config.progress,
        )?;
        if let Some(e) = energy.as_deref_mut() {
            e.stop();
        }
        let record = EpochRecord {
            epoch: epoch + 1,
            train_loss: loss_sum / seen.max(1) as f64,
            test_loss: eval.loss,
            test_accuracy: eval.top1,
            test_top5: eval.top5,
            train_seconds,
            eval_seconds: eval.seconds,
        };
        eprintln!(
            "epoch {:>3}: train loss {:.4}, test loss {:.4}, top-1 {:.2} %, top-5 {:.2} %, {:.1} s train + {:.1} s test",
            record.epoch, record.train_loss, record.test_loss, 100.0 * record.test_accuracy,
            100.0 * record.test_top5, record.train_seconds, record.eval_seconds
        );
        records.push(record);
        write_train_log(&config.out_dir.join("train_log.csv"), &records)?;
        Checkpoint::capture(model, optimizer.as_ref(), epoch + 1, &records)?
            .save(&config.out_dir.join("checkpoint.safetensors"))?;
    }
    Ok(TrainSummary { epochs: records })
}

fn step(
    optimizer: &mut dyn crate::optim::Optimizer,
    params: &mut [(&str, usize, shift_nn::Param)],
) -> Result<(), TrainError> {
    // Gradients are copied out first: value and gradient share one RefCell per parameter.
    let grads: Vec<Tensor> = params.iter().map(|(_, _, p)| p.grad().clone()).collect();
    let mut values: Vec<_> = params.iter().map(|(_, _, p)| p.value_mut()).collect();
    let mut refs: Vec<ParamRef<'_>> = values
        .iter_mut()
        .zip(&grads)
        .zip(params.iter())
        .map(|((v, g), (name, group, _))| ParamRef {
            name,
            group: *group,
            value: v.as_slice_mut().expect("contiguous"),
            grad: g.as_slice().expect("contiguous"),
        })
        .collect();
    optimizer.step(&mut refs)
}

fn write_train_log(path: &Path, records: &[EpochRecord]) -> Result<(), TrainError> {
    let rows: Vec<String> = records
        .iter()
        .map(|r| {
            format!(
                "{},{},{},{}",
                r.epoch, r.train_loss, r.test_loss, r.test_accuracy
            )
        })
        .collect();
    write_csv_atomically(path, "epoch,train_loss,test_loss,test_accuracy", &rows)
}

/// Writes `test_log.csv` (`test_loss,test_accuracy`, accuracy as a fraction).
pub fn write_test_log(path: &Path, eval: &EvalResult) -> Result<(), TrainError> {
    write_csv_atomically(
        path,
        "test_loss,test_accuracy",
        &[format!("{},{}", eval.loss, eval.top1)],
    )
}

/// Writes a CSV file (header plus rows) atomically.
fn write_csv_atomically(path: &Path, header: &str, rows: &[String]) -> Result<(), TrainError> {
    let mut text = String::with_capacity(64 * (rows.len() + 1));
    for line in std::iter::once(header).chain(rows.iter().map(String::as_str)) {
        text.push_str(line);
        text.push('\n');
    }
    write_atomic_bytes(path, text.as_bytes())
}
