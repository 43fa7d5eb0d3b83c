//! Multi-objective, multi-fidelity hyperparameter optimisation (AutoDSNN).
//!
//! Not implemented yet. This crate will hold configuration spaces (ConfigSpace-compatible
//! JSON), samplers, Hyperband scheduling, ParEGO scalarisation, Pareto ranking, hypervolume,
//! trial storage and reports. It knows nothing about neural networks.

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
