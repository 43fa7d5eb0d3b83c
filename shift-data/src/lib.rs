//! MNIST, Fashion-MNIST, CIFAR-10/100 and ImageNet loaders for deepshift-rs.
//!
//! - [`Mnist`]: IDX files, raw or `.gz`, MNIST (mean 0.1307, std 0.3081) or Fashion-MNIST
//!   (mean 0.2860, std 0.3530), from `data/mnist`, `data/fashion-mnist` or Debian's
//!   `/usr/share/datasets/fashion-mnist`.
//! - [`Cifar`]: the binary CIFAR-10 / CIFAR-100 batches, from the folder or the `.tar.gz`;
//!   training split augmented (random crop 32, padding 4, horizontal flip).
//! - [`ImageFolder`]: ImageNet-style class folders with torchvision's `RandomResizedCrop(224)`
//!   + flip, or `Resize(256)` + `CenterCrop(224)`; resampling bit-exact with Pillow's bilinear.
//! - [`DataLoader`]: `(NCHW f32, labels)` batches, reproducible shuffling and augmentation
//!   from `(seed, epoch)`, `drop_last`, background workers with a bounded queue.
//!
//! Limits (not done):
//! - ImageNet's validation images must be in class folders (`val/<wnid>/*.JPEG`); the flat
//!   layout with a ground-truth file is not read.
//! - Only JPEG and PNG decode. Files with torchvision's other image extensions (`.bmp`,
//!   `.webp`, ...) are listed, so indices match torchvision, and are skipped as undecodable.
//! - JPEGs decode in zune-jpeg's strict mode: a file cut short is an error, as in PIL, and
//!   so may be some damaged files that libjpeg only warns about (a training loader skips them
//!   with a warning).
//! - Resampling has no hand-written SIMD; the compiler vectorises the vertical pass.
//!
//! ```no_run
//! use std::sync::Arc;
//! use shift_data::{DataLoader, LoaderConfig, Mnist, MnistKind, Split};
//! let dir = shift_data::data_dir().join("mnist");
//! let train = Mnist::open(&dir, MnistKind::Mnist, Split::Train)?;
//! let config = LoaderConfig { batch_size: 64, shuffle: true, seed: 1, ..Default::default() };
//! let loader = DataLoader::new(Arc::new(train), config)?;
//! for batch in loader.epoch(0) {
//!     let batch = batch?;
//!     assert_eq!(batch.images.shape()[1..], [1, 28, 28]);
//! }
//! # Ok::<(), shift_data::DataError>(())
//! ```

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
