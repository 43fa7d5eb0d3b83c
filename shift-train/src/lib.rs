//! Training support for DeepShift networks: the [`Trainer`], optimisers, learning-rate
//! schedules, metrics, CSV logs, checkpoints and progress display.
//!
//! - [`Trainer`]: one step, one epoch, evaluation, checkpoints; a run stopped after any epoch
//!   and restored from its [`Checkpoint`] continues bit for bit ([`evaluate`] alone for `-e`).
//! - [`optim`]: SGD, Adam, Adagrad, RMSprop, Adadelta (PyTorch's definitions) and RAdam,
//!   Ranger (the DeepShift reference's), over flat `f32` slices with parameter groups and
//!   exportable state. Six optimiser trajectories of the original PyTorch code are reproduced
//!   in the tests. The PS shift weight decay is a term of the loss (`shift_nn::ops::shift_l2`).
//! - [`schedule`]: `StepLR`, `MultiStepLR`, `CosineAnnealingLR`.
//! - [`meters`]: top-1/top-5 accuracy and running means; [`csv_log`]: `train_log.csv` and
//!   `test_log.csv` as the reference writes them.
//! - [`checkpoint`]: model, optimiser state and epoch log in one checksummed safetensors file
//!   (shift-nn's codec), written atomically.
//! - [`progress`]: an indicatif bar on terminals, plain lines otherwise.
//! - [`objective`]: the DSNN objective of the search: (configuration, budget, seed) -> loss on a
//!   held-out validation split, energy, inference energy, model size, with provenance;
//!   promotions continue from the lower budget's checkpoint.

pub mod checkpoint;
pub mod csv_log;
mod error;
mod eval;
pub mod meters;
pub mod objective;
pub mod optim;
pub mod progress;
pub mod schedule;
pub mod trainer;

pub use checkpoint::{Checkpoint, EpochRecord};
pub use csv_log::{TestLog, TrainLog, TrainLogRow};
pub use error::TrainError;
pub use eval::{evaluate, EvalResult};
pub use optim::{Algorithm, GroupOptions, Optimizer, OptimizerConfig, ParamRef};
pub use progress::ProgressMode;
pub use schedule::LrSchedule;
pub use trainer::{EnergyHook, TrainConfig, TrainSummary, Trainer};
