//! Training support for DeepShift networks: optimisers, learning-rate schedules, the shift
//! weight-decay term, metrics, CSV logs, checkpoint files and progress display.
//!
//! - [`optim`]: SGD, Adam, Adagrad, RMSprop, Adadelta (PyTorch's definitions) and RAdam,
//!   Ranger (the DeepShift reference's), over flat `f32` slices with parameter groups and
//!   exportable state; [`optim::shift_l2`] is the reference's `wd/2 * sum((2^shift)^2)`.
//!   Six optimiser trajectories of the original PyTorch code are reproduced in the tests.
//! - [`schedule`]: `StepLR`, `MultiStepLR`, `CosineAnnealingLR`.
//! - [`meters`]: top-1/top-5 accuracy and running means; [`csv_log`]: `train_log.csv` and
//!   `test_log.csv` as the reference writes them.
//! - [`tensor_file`]: named `f32`/`i64` tensors and metadata in safetensors, written
//!   atomically ([`atomic`]) and checksummed.
//! - [`progress`]: an indicatif bar on terminals, plain lines otherwise.
//!
//! - [`trainer`]: the training loop ([`train`], [`evaluate`]) over a `shift-nn` model and
//!   `shift-data` sets, with energy regions, per-epoch logs and resumable [`Checkpoint`]s.
//!
//! Not here yet: the HPO objective; see the README status table.

pub mod atomic;
pub mod checkpoint;
pub mod csv_log;
mod error;
pub mod meters;
pub mod optim;
pub mod progress;
pub mod schedule;
pub mod tensor_file;
pub mod trainer;

pub use checkpoint::{Checkpoint, EpochRecord};
pub use error::TrainError;
pub use optim::{
    build_optimizer, Algorithm, GroupOptions, Optim, Optimizer, OptimizerConfig, ParamRef,
};
pub use schedule::LrSchedule;
pub use tensor_file::TensorFile;
pub use trainer::{
    evaluate, train, write_test_log, EnergyHook, EvalResult, TrainConfig, TrainSummary,
};
