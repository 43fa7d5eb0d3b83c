//! The training loop as a [`Trainer`] value: one step, one epoch, evaluation, checkpoints.
//!
//! Every source of randomness of an epoch is derived from (seed, epoch): the loader's shuffle
//! and augmentation, dropout and stochastic rounding. A run stopped after any epoch and
//! restored from its checkpoint therefore continues bit for bit as if it had never stopped,
//! which is what multi-fidelity search relies on when it promotes a trial to a larger budget.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shift_data::{DataLoader, Dataset, LoaderConfig};
use shift_nn::{named_params, zero_grad, Ctx, Model, Param, ParamKind, Tensor, Var};

use crate::checkpoint::{Checkpoint, EpochRecord};
use crate::csv_log::{TrainLog, TrainLogRow};
use crate::eval::{evaluate, EvalResult};
use crate::optim::{Optimizer, OptimizerConfig, ParamRef, GROUP_OTHER, GROUP_SHIFT, GROUP_SIGN};
use crate::progress::{EpochProgress, EpochSummary, ProgressMode};
use crate::schedule::LrSchedule;
use crate::TrainError;

/// Everything a training run needs besides the model and the data.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Number of epochs of the whole run (the schedule's horizon; [`Trainer::run`] stops there).
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
    /// How progress is shown.
    pub progress: ProgressMode,
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

/// A training run in progress: the model, its optimiser, the data and the epochs done so far.
pub struct Trainer<'m, D: Dataset + ?Sized, T: Dataset + ?Sized> {
    model: &'m dyn Model,
    params: Vec<(String, Param)>,
    optimizer: Optimizer,
    loader: DataLoader<D>,
    test_set: Arc<T>,
    config: TrainConfig,
    records: Vec<EpochRecord>,
}

impl<'m, D: Dataset + ?Sized + 'static, T: Dataset + ?Sized + 'static> Trainer<'m, D, T> {
    /// A run at epoch 0. Creates `config.out_dir`.
    pub fn new(
        model: &'m dyn Model,
        train_set: Arc<D>,
        test_set: Arc<T>,
        config: TrainConfig,
    ) -> Result<Self, TrainError> {
        std::fs::create_dir_all(&config.out_dir).map_err(|e| TrainError::io(&config.out_dir, e))?;
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
        Ok(Self {
            model,
            params: named_params(model),
            optimizer: Optimizer::from_config(&config.optimizer)?,
            loader,
            test_set,
            config,
            records: Vec::new(),
        })
    }

    /// Puts a checkpoint's model, optimiser and epoch log back: the next epoch trained is the
    /// checkpoint's next one.
    pub fn restore(&mut self, checkpoint: &Checkpoint) -> Result<(), TrainError> {
        checkpoint.restore(self.model, &mut self.optimizer)?;
        self.records = checkpoint.records.clone();
        Ok(())
    }

    /// Epochs completed (restored ones included).
    pub fn epochs_done(&self) -> usize {
        self.records.len()
    }

    /// The epoch log so far.
    pub fn records(&self) -> &[EpochRecord] {
        &self.records
    }

    /// The run's settings.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// One optimisation step on a batch: forward, loss (cross-entropy plus, with weight decay,
    /// the reference's `wd/2 * sum((2^shift)^2)` over PS shifts), backward, update. Returns the
    /// loss.
    pub fn step(
        &mut self,
        images: Tensor,
        labels: &[usize],
        ctx: &mut Ctx,
    ) -> Result<f32, TrainError> {
        zero_grad(self.model);
        let out = self.model.forward(&Var::constant(images), ctx)?;
        let mut loss = shift_nn::ops::cross_entropy(&out, labels)?;
        let wd = self.config.optimizer.weight_decay;
        if wd > 0.0 {
            for (_, p) in self
                .params
                .iter()
                .filter(|(_, p)| p.kind() == ParamKind::Shift)
            {
                loss = shift_nn::ops::add(&loss, &shift_nn::ops::shift_l2(p, wd))?;
            }
        }
        loss.backward();
        update(&mut self.optimizer, &self.params)?;
        Ok(loss.value().iter().next().copied().unwrap_or(f32::NAN))
    }

    /// Trains the next epoch, evaluates, appends the epoch to `train_log.csv` and replaces
    /// `checkpoint.safetensors`, both atomically.
    pub fn train_epoch(
        &mut self,
        mut energy: Option<&mut dyn EnergyHook>,
    ) -> Result<EpochRecord, TrainError> {
        let epoch = self.epochs_done();
        self.apply_schedule(epoch)?;
        if let Some(e) = energy.as_deref_mut() {
            e.start("training");
        }
        let mut ctx = Ctx {
            train: true,
            rng: epoch_rng(self.config.seed, epoch),
        };
        let mut progress = EpochProgress::start(
            self.config.progress,
            epoch + 1,
            self.config.epochs,
            self.loader.num_batches() as u64,
        );
        for batch in self.loader.epoch(epoch as u64) {
            let batch = batch?;
            let loss = self.step(batch.images.into_dyn(), &batch.labels, &mut ctx)?;
            progress.batch(batch.labels.len() as u64, f64::from(loss));
        }
        let (train_seconds, images_per_second) =
            (progress.elapsed_seconds(), progress.images_per_second());
        if let Some(e) = energy.as_deref_mut() {
            e.stop();
            e.start("evaluation");
        }
        let eval = self.evaluate()?;
        if let Some(e) = energy {
            e.stop();
        }
        let record = EpochRecord {
            epoch: epoch + 1,
            train_loss: progress.mean_loss().unwrap_or(0.0),
            test_loss: eval.loss,
            test_accuracy: eval.top1,
            test_top5: eval.top5,
            train_seconds,
            eval_seconds: eval.seconds,
        };
        progress.finish(&EpochSummary {
            epoch: record.epoch,
            epochs: self.config.epochs,
            train_loss: record.train_loss,
            test_loss: record.test_loss,
            test_accuracy: record.test_accuracy,
            seconds: train_seconds,
            images_per_second,
        });
        self.records.push(record.clone());
        self.write_log()?;
        self.save_checkpoint(&self.config.out_dir.join("checkpoint.safetensors"))?;
        Ok(record)
    }

    /// Trains until `epochs` epochs are done (nothing if they already are).
    pub fn train_until(
        &mut self,
        epochs: usize,
        mut energy: Option<&mut dyn EnergyHook>,
    ) -> Result<TrainSummary, TrainError> {
        while self.epochs_done() < epochs {
            // Reborrowed per epoch; the object lifetime shortens only outside the Option.
            let hook: Option<&mut dyn EnergyHook> = match &mut energy {
                Some(e) => Some(&mut **e),
                None => None,
            };
            self.train_epoch(hook)?;
        }
        Ok(TrainSummary {
            epochs: self.records.clone(),
        })
    }

    /// Trains until `config.epochs` epochs are done.
    pub fn run(&mut self, energy: Option<&mut dyn EnergyHook>) -> Result<TrainSummary, TrainError> {
        self.train_until(self.config.epochs, energy)
    }

    /// Evaluates the model on the test set as it is now.
    pub fn evaluate(&self) -> Result<EvalResult, TrainError> {
        evaluate(
            self.model,
            self.test_set.clone(),
            self.config.test_batch_size,
            self.config.workers,
            self.config.progress,
        )
    }

    /// The resumable state after the epochs done so far.
    pub fn checkpoint(&self) -> Result<Checkpoint, TrainError> {
        Checkpoint::capture(
            self.model,
            &self.optimizer,
            self.epochs_done(),
            &self.records,
        )
    }

    /// Writes [`Trainer::checkpoint`] to `path` atomically.
    pub fn save_checkpoint(&self, path: &Path) -> Result<(), TrainError> {
        self.checkpoint()?.save(path)
    }

    /// Sets each group's learning rate for `epoch` (0-based) from the schedule.
    fn apply_schedule(&mut self, epoch: usize) -> Result<(), TrainError> {
        let opt = &self.config.optimizer;
        for (group, base) in [
            (GROUP_OTHER, opt.lr),
            (GROUP_SIGN, opt.lr_sign.unwrap_or(opt.lr)),
            (GROUP_SHIFT, opt.lr),
        ] {
            self.optimizer
                .set_lr(group, self.config.schedule.lr_at(base, epoch))?;
        }
        Ok(())
    }

    fn write_log(&self) -> Result<(), TrainError> {
        let rows = self.records.iter().map(|r| TrainLogRow {
            epoch: r.epoch,
            train_loss: r.train_loss,
            test_loss: r.test_loss,
            test_accuracy: r.test_accuracy,
        });
        TrainLog {
            rows: rows.collect(),
        }
        .write(&self.config.out_dir.join("train_log.csv"))
    }
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

/// The optimiser group of a parameter: PS signs and shifts have their own (no weight decay).
fn group_of(kind: ParamKind) -> usize {
    match kind {
        ParamKind::Sign => GROUP_SIGN,
        ParamKind::Shift => GROUP_SHIFT,
        _ => GROUP_OTHER,
    }
}

/// Applies the optimiser to every parameter's gradient.
fn update(optimizer: &mut Optimizer, params: &[(String, Param)]) -> Result<(), TrainError> {
    // Gradients are copied out first: value and gradient share one RefCell per parameter.
    let grads: Vec<Tensor> = params.iter().map(|(_, p)| p.grad().clone()).collect();
    let groups: Vec<usize> = params.iter().map(|(_, p)| group_of(p.kind())).collect();
    let mut values: Vec<_> = params.iter().map(|(_, p)| p.value_mut()).collect();
    let mut refs: Vec<ParamRef<'_>> = values
        .iter_mut()
        .zip(&grads)
        .zip(params.iter().zip(groups))
        .map(|((v, g), ((name, _), group))| ParamRef {
            name,
            group,
            value: v.as_slice_mut().expect("contiguous"),
            grad: g.as_slice().expect("contiguous"),
        })
        .collect();
    optimizer.step(&mut refs)
}
