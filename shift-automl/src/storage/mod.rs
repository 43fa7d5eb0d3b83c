//! Durable studies: a study's space, method and settings, every trial, and the ordered history
//! of asks and tells that rebuilds the method's state, behind one [`Storage`] trait.
//!
//! Backends (cargo features of this crate):
//! - `sqlite` (default): an embedded database file, `sqlite:///abs/path/study.db`,
//!   `sqlite://relative/path.db` or a plain path;
//! - `postgres`: a PostgreSQL server, `postgresql://user@host:port/db` (or `postgres://`), for
//!   workers on several machines.
//!
//! Every state change is one transaction ([`Storage::begin`] locks the study: `BEGIN
//! IMMEDIATE` on SQLite, `SELECT ... FOR UPDATE` on the study's row in PostgreSQL), so a
//! process killed at any moment leaves either the state before the change or the one after.
//!
//! The method's state is not serialised: samplers are deterministic functions of their seed
//! and the ordered events (see [`crate::scheduler`]), so the stored [`Event`]s are what is
//! needed to replay it. `crate::study` does that replay; readers (status, export, reports)
//! only need [`Storage::load_study`] and the [`StudyRecord`] it returns.

mod columns;
#[cfg(feature = "postgres")]
mod postgres;
mod record;
#[cfg(feature = "sqlite")]
mod sqlite;
mod url;

pub use record::{
    host_name, time_used_s, LostAttempt, NewStudy, Provenance, ReferenceTrial, StoredTrial,
    StudyRecord, StudySettings, TrialState,
};
pub use url::{open, StorageUrl};

use crate::scheduler::Event;
use thiserror::Error;

/// Version of the tables' layout; a database written by another version is refused rather
/// than misread.
pub const SCHEMA_VERSION: u32 = 1;

/// What went wrong with a storage; every message names the storage (URL) or the study.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The storage URL cannot be used.
    #[error("storage '{url}': {problem}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong.
        problem: String,
    },
    /// No study of that name.
    #[error("storage '{url}': no study named '{study}'{known}")]
    NoStudy {
        /// The storage.
        url: String,
        /// The study asked for.
        study: String,
        /// The names that exist, as a suffix for the message.
        known: String,
    },
    /// A study of that name exists already.
    #[error("storage '{url}': a study named '{study}' exists already")]
    StudyExists {
        /// The storage.
        url: String,
        /// The study.
        study: String,
    },
    /// The database was written with another table layout.
    #[error("storage '{url}': schema version {found}, this build reads version {supported}")]
    Schema {
        /// The storage.
        url: String,
        /// The version found.
        found: String,
        /// [`SCHEMA_VERSION`].
        supported: u32,
    },
    /// The database engine failed (I/O, locking, connection, SQL).
    #[error("storage '{url}': {problem}")]
    Backend {
        /// The storage.
        url: String,
        /// The engine's message, with what was being done.
        problem: String,
    },
    /// Stored data cannot be read back (hand-edited or from another program).
    #[error("storage '{url}', study '{study}': {problem}")]
    Corrupt {
        /// The storage.
        url: String,
        /// The study.
        study: String,
        /// What is wrong.
        problem: String,
    },
}

/// A place where studies live. Each call is its own transaction unless it goes through
/// [`Storage::begin`].
pub trait Storage: Send {
    /// The URL it was opened with, for messages.
    fn url(&self) -> &str;
    /// Creates a study with no trials; fails when the name is taken.
    fn create_study(&mut self, study: &NewStudy) -> Result<(), StorageError>;
    /// Names of all studies, sorted.
    fn study_names(&mut self) -> Result<Vec<String>, StorageError>;
    /// A study with all its trials, in number order: the read API of status, export and
    /// reports. It is a consistent snapshot (one read transaction).
    fn load_study(&mut self, name: &str) -> Result<StudyRecord, StorageError>;
    /// Starts a transaction holding the study's write lock; dropping it without
    /// [`StudyTx::commit`] rolls back.
    fn begin<'a>(&'a mut self, study: &str) -> Result<Box<dyn StudyTx + 'a>, StorageError>;
    /// Records that `worker` is still running trial `number` at time `now` (unix seconds);
    /// `false` when the trial is no longer running on that worker (it was given up and handed
    /// to another), so the caller should stop.
    fn heartbeat(
        &mut self,
        study: &str,
        number: u64,
        worker: &str,
        now: f64,
    ) -> Result<bool, StorageError>;
}

/// One transaction on one study, holding its write lock.
pub trait StudyTx {
    /// Trials in number order, all of them or those in one state.
    fn trials(&mut self, state: Option<TrialState>) -> Result<Vec<StoredTrial>, StorageError>;
    /// Number of trials (= the next trial's number).
    fn trial_count(&mut self) -> Result<u64, StorageError>;
    /// Events with a sequence number above `seq` (0 = all), in order, with their numbers
    /// (1, 2, ...).
    fn events_after(&mut self, seq: u64) -> Result<Vec<(u64, Event)>, StorageError>;
    /// Appends an event; returns its sequence number.
    fn append_event(&mut self, event: &Event) -> Result<u64, StorageError>;
    /// Takes the lowest-numbered waiting trial for `worker` (state running, started and
    /// heartbeat at `now`, provenance set), or `None` when none waits. On PostgreSQL the row is
    /// taken with `FOR UPDATE SKIP LOCKED`.
    fn claim_waiting(
        &mut self,
        worker: &str,
        provenance: &Provenance,
        now: f64,
    ) -> Result<Option<StoredTrial>, StorageError>;
    /// Inserts a new trial (its number must be [`StudyTx::trial_count`]).
    fn insert_trial(&mut self, trial: &StoredTrial) -> Result<(), StorageError>;
    /// Overwrites a trial's row with `trial` (matched by number).
    fn update_trial(&mut self, trial: &StoredTrial) -> Result<(), StorageError>;
    /// Makes every change of this transaction durable at once.
    fn commit(self: Box<Self>) -> Result<(), StorageError>;
}

/// Seconds since the Unix epoch, the timestamps of stored trials. Workers on several machines
/// compare each other's heartbeats with it, so their clocks must be synchronised (NTP).
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The error for a missing study, listing the studies that exist.
pub(crate) fn no_study(url: &str, name: &str, names: &[String]) -> StorageError {
    StorageError::NoStudy {
        url: url.to_string(),
        study: name.to_string(),
        known: if names.is_empty() {
            " (it holds no studies)".to_string()
        } else {
            format!(" (it holds: {})", names.join(", "))
        },
    }
}
