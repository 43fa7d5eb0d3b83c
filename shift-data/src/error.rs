//! The one error type of the crate: every variant names the file and the problem.

use std::path::PathBuf;

/// An error while reading or decoding a data set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// None of the accepted file names exists.
    #[error("{dir}: none of {tried:?} exists{hint}")]
    MissingFile {
        /// The folder that was searched.
        dir: PathBuf,
        /// The names that were tried, in order.
        tried: Vec<String>,
        /// Where to get the data (starts with a separator, or is empty).
        hint: String,
    },
    /// The file ends before the data its header announces.
    #[error("{path}: truncated file: expected {expected} bytes, found {found}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header announces (header included).
        expected: u64,
        /// Bytes actually present.
        found: u64,
    },
    /// The file has bytes after the data its header announces.
    #[error("{path}: {extra} unexpected bytes after the {expected} announced by the header")]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// Bytes the header announces.
        expected: u64,
        /// Bytes beyond that.
        extra: u64,
    },
    /// The magic number is not the one of the expected format.
    #[error("{path}: wrong magic number {found:#010x}, expected {expected:#010x} ({what})")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The magic number read.
        found: u32,
        /// The magic number expected.
        expected: u32,
        /// What kind of file was expected.
        what: &'static str,
    },
    /// The dimensions in the header are not the expected ones.
    #[error("{path}: wrong dimensions {found:?}, expected {expected}")]
    BadDimensions {
        /// The file.
        path: PathBuf,
        /// The dimensions read (the count excluded).
        found: Vec<u32>,
        /// The dimensions expected, in words.
        expected: String,
    },
    /// Image and label files disagree on the number of items.
    #[error("{images} holds {n_images} images but {labels} holds {n_labels} labels")]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// Number of images.
        n_images: usize,
        /// The label file.
        labels: PathBuf,
        /// Number of labels.
        n_labels: usize,
    },
    /// A label is not below the number of classes.
    #[error("{path}: label {label} of item {index} is out of range (the data set has {classes} classes)")]
    LabelOutOfRange {
        /// The file.
        path: PathBuf,
        /// Index of the item within the file.
        index: usize,
        /// The label read.
        label: u32,
        /// Number of classes.
        classes: usize,
    },
    /// A file that must hold whole records does not.
    #[error("{path}: {len} bytes is not a whole number of {record}-byte records (truncated?)")]
    PartialRecord {
        /// The file.
        path: PathBuf,
        /// File length.
        len: u64,
        /// Record size.
        record: usize,
    },
    /// A file or archive holds no items at all.
    #[error("{path}: holds no items")]
    Empty {
        /// The file, archive or folder.
        path: PathBuf,
    },
    /// A class folder of an image-folder data set has no image in it.
    #[error("{path}: empty class folder (no .jpg, .jpeg, .png or other image file)")]
    EmptyClassFolder {
        /// The class folder.
        path: PathBuf,
    },
    /// An image-folder root has no class folders.
    #[error("{path}: no class folders (expected <root>/<class>/<image>.JPEG)")]
    NoClassFolders {
        /// The root folder.
        path: PathBuf,
    },
    /// An archive is corrupt or lacks a member.
    #[error("{path}: {problem}")]
    Archive {
        /// The archive.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// An image could not be decoded.
    #[error("{path}: cannot decode image: {problem}")]
    Decode {
        /// The image file.
        path: PathBuf,
        /// The decoder's message.
        problem: String,
    },
    /// A background worker died (a panic in dataset code).
    #[error("data loader worker failed: {0}")]
    Worker(String),
    /// A setting is invalid (batch size zero, crop larger than the image, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl DataError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether a training loader may skip the sample (with a warning) instead of failing.
    pub fn is_skippable(&self) -> bool {
        matches!(self, DataError::Decode { .. })
    }
}
