#![doc = include_str!("../README.md")]

pub mod cifar;
pub mod error;
pub mod idx;
pub mod imagefolder;
pub mod loader;
pub mod mnist;
pub mod resize;
pub mod transforms;

pub use cifar::{Cifar, Cifar100Labels};
pub use error::DataError;
pub use imagefolder::{ImageFolder, ImageTransform};
pub use loader::{Batch, DataLoader, Dataset, EpochIter, LoaderConfig, SampleRng, Scratch};
pub use mnist::{Mnist, MnistKind};
pub use transforms::{Normalize, RandomResizedCrop, ResizeCenterCrop};

use std::path::PathBuf;

/// A split of a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The training split.
    Train,
    /// The test split (ImageNet's `val`).
    Test,
}

/// Environment variable that overrides the data directory.
pub const DATA_DIR_ENV: &str = "DEEPSHIFT_DATA_DIR";

/// The data directory: `$DEEPSHIFT_DATA_DIR` when set, else `data` (relative to the current
/// folder, which for the CLI and xtask is the workspace root).
pub fn data_dir() -> PathBuf {
    std::env::var_os(DATA_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("data"), PathBuf::from)
}
