//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while measuring energy or writing its records.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnergyError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file was read but its contents are not what was expected.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// An existing `emissions.csv` has a header this crate does not write.
    #[error("{path}: existing header does not match ({message}); refusing to append to it")]
    CsvHeader {
        /// The CSV file.
        path: PathBuf,
        /// How the header differs.
        message: String,
    },
    /// A country code that is not in the carbon-intensity table.
    #[error(
        "unknown country code {code:?}: not in the carbon-intensity table (ISO 3166-1 alpha-2 or \
         alpha-3, e.g. FR or FRA); pass --carbon-intensity G_PER_KWH instead"
    )]
    UnknownCountry {
        /// The code as given.
        code: String,
    },
    /// A configuration value out of range (negative power, non-finite intensity, ...).
    #[error("invalid {what}: {message}")]
    InvalidConfig {
        /// Which setting.
        what: &'static str,
        /// Why it is invalid.
        message: String,
    },
    /// The command to measure could not be started or waited for.
    #[error("command {program:?}: {message}")]
    Command {
        /// The program that was run.
        program: String,
        /// What went wrong.
        message: String,
    },
    /// A region handle that belongs to another meter was passed to `stop`.
    #[error("region {name:?} was started by a different EnergyMeter")]
    ForeignRegion {
        /// The region's name.
        name: String,
    },
}

impl EnergyError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EnergyError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn parse(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        EnergyError::Parse {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Result with [`EnergyError`].
pub type Result<T> = std::result::Result<T, EnergyError>;
