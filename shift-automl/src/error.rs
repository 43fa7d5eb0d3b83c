//! Errors of configuration spaces.

use thiserror::Error;

/// What can be wrong with a configuration space, a file describing one, or a configuration.
///
/// Every variant that concerns one hyperparameter, condition or clause names it, so a message
/// points at the offending entry of a file.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum SpaceError {
    /// The text is not JSON, or its top level is not a ConfigSpace object.
    #[error("not a ConfigSpace JSON document: {0}")]
    Format(String),
    /// A hyperparameter's definition is invalid.
    #[error("hyperparameter '{name}': {problem}")]
    Hyperparameter {
        /// The hyperparameter's name (or its position when it has none).
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// Two hyperparameters share a name.
    #[error("hyperparameter '{0}' is defined twice")]
    Duplicate(String),
    /// A condition is invalid.
    #[error("condition on '{child}': {problem}")]
    Condition {
        /// The hyperparameter the condition activates.
        child: String,
        /// What is wrong.
        problem: String,
    },
    /// A forbidden clause is invalid.
    #[error("forbidden clause {clause}: {problem}")]
    Forbidden {
        /// The clause, as ConfigSpace prints it (or its position).
        clause: String,
        /// What is wrong.
        problem: String,
    },
    /// A configuration (or a decoded vector) violates a forbidden clause.
    #[error("configuration violates forbidden clause {0}")]
    ForbiddenConfiguration(String),
    /// A configuration does not fit the space.
    #[error("configuration: hyperparameter '{name}': {problem}")]
    InvalidConfiguration {
        /// The hyperparameter concerned.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// An encoded vector has the wrong length.
    #[error("encoded vector has {got} entries, the space has {expected} hyperparameters")]
    VectorLength {
        /// The space's number of hyperparameters.
        expected: usize,
        /// The vector's length.
        got: usize,
    },
    /// Rejection sampling found no configuration that the forbidden clauses allow.
    #[error("no allowed configuration in {attempts} samples: the forbidden clauses exclude (almost) the whole space")]
    Empty {
        /// How many configurations were drawn.
        attempts: usize,
    },
}
