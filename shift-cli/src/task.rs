//! A run as the dataset subcommands describe it and the training path consumes it: the two
//! sides import this module, not each other.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use shift_data::{Dataset, Split};
use shift_nn::models::DataDomain;
use shift_train::{LrSchedule, OptimizerConfig};

/// The training hyperparameters of a run: the flags given, the defaults for the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct Hyper {
    /// Training batch size.
    pub batch_size: usize,
    /// Evaluation batch size.
    pub test_batch_size: usize,
    /// Epochs in total.
    pub epochs: usize,
    /// Optimiser and its settings.
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule.
    pub schedule: LrSchedule,
}

/// The data sets of a run: the test split, and the training split unless evaluating.
pub struct DataSets {
    /// The test split (ImageNet's `val`).
    pub test: Arc<dyn Dataset>,
    /// The training split; `None` for `-e`.
    pub train: Option<Arc<dyn Dataset>>,
}

impl DataSets {
    /// Opens the test split, and the training split when `with_train`, with `open`.
    pub fn open(
        with_train: bool,
        open: impl Fn(Split) -> Result<Arc<dyn Dataset>>,
    ) -> Result<DataSets> {
        Ok(DataSets {
            test: open(Split::Test)?,
            train: with_train.then(|| open(Split::Train)).transpose()?,
        })
    }
}

/// Opens the data of a run; the flag says whether the training split is needed.
pub type OpenData = Box<dyn Fn(bool) -> Result<DataSets>>;

/// What a dataset's subcommand passes to [`crate::run::run_training`].
pub struct Task {
    /// Folder under `--model-dir` (`mnist`, `cifar10`, `imagenet`).
    pub dataset: &'static str,
    /// Which model zoo the architecture comes from.
    pub zoo: DataDomain,
    /// Architecture name for [`shift_nn::models::build_model`] (`linear`, `resnet20`, ...).
    pub arch: String,
    /// Training hyperparameters, flags and defaults resolved.
    pub hyper: Hyper,
    /// `convert_weights` of the reference script when training from scratch.
    pub convert_from_scratch: bool,
    /// The file `--pretrained True` found ([`crate::pretrained`]), loaded as `--weights`.
    pub pretrained: Option<PathBuf>,
    /// Opens the data (the flag: whether the training split is needed).
    pub open: OpenData,
}
