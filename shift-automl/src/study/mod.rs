//! Studies: an ask/tell [`Search`](crate::scheduler::Search) whose every ask and tell is a
//! transaction in a [`Storage`](crate::storage::Storage), shared by any number of workers.
//!
//! A [`Worker`] holds a local copy of the study's search and keeps it current by replaying
//! the stored events it has not seen (asks and tells of every worker, in commit order), so the
//! method's state survives any crash: a new process replays everything and continues exactly
//! where the stored history ends. Asking a trial happens under the study's write lock, after
//! the replay, so two workers never get the same trial; each asked trial is checked against
//! its stored configuration, which catches a replay that diverged (another build of the
//! method, say).
//!
//! A running trial sends heartbeats; one whose worker stays silent for the grace period (or
//! whose process is gone, on the same machine) is handed to the next worker that asks, once
//! per allowed attempt, and then failed, as Optuna's heartbeat storage does.

pub mod command;
pub mod method;
mod worker;

pub use method::{build_search, default_method, method_names, MethodError};
pub use worker::{Next, Worker, WorkerEvent};

use serde_json::Value as Json;
use thiserror::Error;

use crate::scheduler::SearchError;
use crate::storage::StorageError;
use crate::SpaceError;

/// Why a study operation failed; messages name the study.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StudyError {
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The stored or given space is invalid.
    #[error("study '{study}': space: {source}")]
    Space {
        /// The study.
        study: String,
        /// The problem.
        source: SpaceError,
    },
    /// The method cannot be built.
    #[error("study '{study}': method: {source}")]
    Method {
        /// The study.
        study: String,
        /// The problem.
        source: MethodError,
    },
    /// The search refused an ask or a tell of the stored history.
    #[error("study '{study}': {source}")]
    Search {
        /// The study.
        study: String,
        /// The problem.
        source: SearchError,
    },
    /// Replaying the stored history gave another trial than the one stored.
    #[error("study '{study}': replay diverged at trial {number}: {problem} (was the study written by another version of the method?)")]
    Diverged {
        /// The study.
        study: String,
        /// The trial.
        number: u64,
        /// What differs.
        problem: String,
    },
    /// The settings are unusable.
    #[error("study '{study}': {problem}")]
    Settings {
        /// The study.
        study: String,
        /// What is wrong.
        problem: String,
    },
}

/// What an objective is asked to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialSpec {
    /// The trial's number in the study.
    pub number: u64,
    /// Its configuration (flat JSON object).
    pub config: Json,
    /// Its budget.
    pub budget: f64,
    /// Its seed.
    pub seed: u64,
    /// The lower-budget trial of the same configuration it continues, if any.
    pub parent: Option<u64>,
    /// Which run of the trial this is (1 unless an earlier worker died).
    pub attempt: u32,
}

/// What an objective reports.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialResult {
    /// The objective values (in the study's order), or why there are none.
    pub outcome: Result<Vec<f64>, String>,
    /// Further values to keep with the trial (a JSON object).
    pub metadata: Json,
}

impl TrialResult {
    /// A failure with no metadata.
    pub fn failed(error: impl Into<String>) -> Self {
        TrialResult {
            outcome: Err(error.into()),
            metadata: Json::Object(Default::default()),
        }
    }
}

/// Something that evaluates trials.
pub trait Objective {
    /// Evaluates one trial. It must call `still_wanted` now and then (every second or so,
    /// while it waits); when that returns `false` the trial has been given to another worker
    /// and the evaluation should stop (its result is dropped).
    fn evaluate(
        &mut self,
        trial: &TrialSpec,
        still_wanted: &mut dyn FnMut() -> bool,
    ) -> TrialResult;
}
