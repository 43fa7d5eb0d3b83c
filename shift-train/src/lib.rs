#![doc = include_str!("../README.md")]

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

/// The data sets and loader a [`Trainer`] reads (`shift-data`, the version this crate uses).
pub use shift_data;
/// The models and layers a [`Trainer`] trains (`shift-nn`, the version this crate uses).
pub use shift_nn;
