#![doc = include_str!("../README.md")]

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
