use thiserror::Error;

/// Errors of the layer library.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NnError {
    /// Tensor shapes that an op cannot combine.
    #[error("shape error in {op}: {detail}")]
    Shape {
        /// The op.
        op: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A DeepShift numerics error (bit widths, NaN weights).
    #[error(transparent)]
    Core(#[from] shift_core::CoreError),
    /// A state dict that does not fit the model.
    #[error("state dict {file}: {problem}")]
    StateDict {
        /// The file (or a description of the bytes read).
        file: String,
        /// What is wrong, naming the tensor.
        problem: String,
    },
    /// Reading or writing a file.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// An unknown architecture or option.
    #[error("{0}")]
    Config(String),
}

pub(crate) fn shape_err(op: &'static str, detail: impl Into<String>) -> NnError {
    NnError::Shape {
        op,
        detail: detail.into(),
    }
}
