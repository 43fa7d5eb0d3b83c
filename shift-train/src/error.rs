//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in `shift-train`.
///
/// File errors name the file; checkpoint errors name the file and the tensor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// An operating-system error while reading or writing a file.
    #[error("could not {op} {}: {source}", path.display())]
    Io {
        /// What was being done ("write", "create a temporary file in", ...).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint file that is not valid safetensors, is truncated or fails its checksum.
    #[error("checkpoint {file} is corrupt: {reason}")]
    CorruptCheckpoint {
        /// The file (or `<memory>`).
        file: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A tensor the caller needs is not in the checkpoint.
    #[error("checkpoint {file} has no tensor `{tensor}`")]
    MissingTensor {
        /// The file (or `<memory>`).
        file: String,
        /// The tensor's name.
        tensor: String,
    },
    /// A tensor has a shape other than the one expected.
    #[error("checkpoint {file}: tensor `{tensor}` has shape {found:?}, expected {expected:?}")]
    WrongShape {
        /// The file (or `<memory>`).
        file: String,
        /// The tensor's name.
        tensor: String,
        /// The shape the caller needs.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// A tensor has a data type other than the one expected.
    #[error("checkpoint {file}: tensor `{tensor}` has dtype {found}, expected {expected}")]
    WrongDtype {
        /// The file (or `<memory>`).
        file: String,
        /// The tensor's name.
        tensor: String,
        /// The dtype the caller needs (`F32`, `I64`).
        expected: &'static str,
        /// The dtype in the file.
        found: String,
    },
    /// A checkpoint's metadata entry is missing or malformed.
    #[error("checkpoint {file}: metadata `{key}`: {reason}")]
    BadMetadata {
        /// The file (or `<memory>`).
        file: String,
        /// The metadata key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A tensor given for writing whose data length does not match its shape.
    #[error("tensor `{tensor}`: shape {shape:?} needs {expected} values, got {found}")]
    ShapeDataMismatch {
        /// The tensor's name.
        tensor: String,
        /// The declared shape.
        shape: Vec<usize>,
        /// The element count the shape implies.
        expected: usize,
        /// The element count given.
        found: usize,
    },
    /// An optimiser or schedule hyperparameter outside its valid range.
    #[error("invalid {name} = {value}: {reason}")]
    InvalidHyperparameter {
        /// The hyperparameter's name.
        name: &'static str,
        /// The value given.
        value: f64,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A trial configuration the DSNN objective cannot train (unknown name, impossible value).
    #[error("invalid DSNN configuration: {0}")]
    InvalidConfig(String),
    /// The energy meter of a trial failed.
    #[error("energy measurement: {0}")]
    Energy(#[from] shift_energy::EnergyError),
    /// Parameter groups that cannot form an optimiser (duplicate names, empty shapes, ...).
    #[error("invalid parameter groups: {0}")]
    InvalidGroups(String),
    /// A parameter name or index the optimiser does not know.
    #[error("unknown parameter {0}")]
    UnknownParameter(String),
    /// A group index or name the optimiser does not know.
    #[error("unknown parameter group {0}")]
    UnknownGroup(String),
    /// A value or gradient slice whose length differs from the parameter's size.
    #[error("parameter `{param}`: {what} has {found} values, expected {expected}")]
    LengthMismatch {
        /// The parameter's name.
        param: String,
        /// `value` or `grad`.
        what: &'static str,
        /// The parameter's size.
        expected: usize,
        /// The slice's length.
        found: usize,
    },
    /// Saved optimiser state that does not fit the optimiser it is loaded into (the caller
    /// that read the file adds its name, e.g. through [`TrainError::Checkpoint`]).
    #[error("optimiser state does not match: {0}")]
    StateMismatch(String),
    /// An optimiser name other than sgd, adam, adagrad, rmsprop, adadelta, radam, ranger.
    #[error(
        "unknown optimiser `{0}` (expected sgd, adam, adagrad, rmsprop, adadelta, radam or ranger)"
    )]
    UnknownOptimizer(String),
    /// A resumable checkpoint that does not fit the run (wrong format, unexpected content).
    #[error("checkpoint {file}: {problem}")]
    Checkpoint {
        /// The file.
        file: String,
        /// What is wrong.
        problem: String,
    },
    /// An error of the layer library.
    #[error(transparent)]
    Nn(#[from] shift_nn::NnError),
    /// An error of the data loaders.
    #[error(transparent)]
    Data(#[from] shift_data::DataError),
    /// Logits and labels that do not fit together.
    #[error("metrics: {0}")]
    BadMetricsInput(String),
    /// A CSV log that cannot be parsed.
    #[error("log {file}, line {line}: {reason}")]
    BadLog {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

impl TrainError {
    /// An I/O error while doing `op` ("write", "read", ...) on `path`.
    pub(crate) fn io_op(
        op: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        TrainError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// An I/O error on `path` where the operation is clear from the context.
    #[allow(dead_code)] // used by the training loop
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::io_op("access", path, source)
    }
}
