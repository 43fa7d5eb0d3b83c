//! Multi-objective, multi-fidelity hyperparameter optimisation (the search of AutoDSNN),
//! generic: it depends on no crate of this workspace and knows nothing about neural networks.
//!
//! - [`space`]: configuration spaces in ConfigSpace 1.x's JSON format (floats and integers with
//!   log scales, categoricals, ordinals, constants; `EQ`/`NEQ`/`GT`/`LT`/`IN` conditions with
//!   `AND`/`OR`; forbidden clauses), sampling, the unit-cube encoding, one-exchange neighbours.
//! - [`sampler`]: random search, ParEGO on SMAC's random forest, and a Gaussian process per
//!   objective with exact (log) expected hypervolume improvement; all take pending points.
//! - [`scheduler`]: the ask/tell [`scheduler::Search`] with full fidelity, Hyperband, MO-ASHA
//!   and a model-based multi-fidelity GP; every ask and tell is an event, and replaying the
//!   events rebuilds a search exactly (what a resumed study relies on).
//! - [`pareto`]: dominance, non-dominated sorting, crowding distance, exact hypervolume.
//! - [`problems`], [`mod@bench`]: ZDT1-3 and DTLZ2 with the synthetic fidelity, and the benchmark
//!   runner behind `deepshift hpo bench`.
//! - [`storage`], [`study`]: studies in SQLite (feature `sqlite`, default) or PostgreSQL
//!   (feature `postgres`), crash-safe, shared by many workers.
//! - [`report`]: the front, hypervolume curves, the default configuration's position and
//!   hyperparameter importance as markdown, plots and HTML (plots behind feature `report`).

pub mod bench;
pub mod error;
pub mod pareto;
pub mod problems;
pub mod report;
pub mod sampler;
pub mod scheduler;
pub mod space;
pub mod storage;
pub mod study;

pub use space::{ConfigSpace, Configuration, DimKind, Hyperparameter, SpaceError, Value};
