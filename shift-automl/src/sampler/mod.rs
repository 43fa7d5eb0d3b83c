//! Samplers: given what has been observed (and what is still running), propose the next
//! configuration. Every sampler is seeded and draws only from its own generator, so a sampler's
//! proposals are a function of its seed and the ordered sequence of contexts it was asked in.

mod candidates;
pub mod forest;
pub mod gp;
mod parego;
mod random;

pub use candidates::Domain;
pub use gp::{GpOptions, GpSampler};
pub use parego::{ParEgoOptions, ParEgoSampler};
pub use random::RandomSampler;

use crate::{ConfigSpace, Configuration, SpaceError};
use thiserror::Error;

/// One finished evaluation as samplers see it: the encoded configuration, the budget it ran at
/// and its objectives (a failed run carries the crash cost, or is left out when none is set).
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// `ConfigSpace::encode` of the configuration (NaN = inactive).
    pub x: Vec<f64>,
    /// Budget of the evaluation.
    pub budget: f64,
    /// Objective values, minimised.
    pub objectives: Vec<f64>,
}

/// Everything a sampler may use for one proposal.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The space to propose from.
    pub space: &'a ConfigSpace,
    /// Number of objectives.
    pub n_objectives: usize,
    /// Finished evaluations, in the order they were told.
    pub observations: &'a [Observation],
    /// Encoded configurations of trials asked but not yet told, with their budgets, so that
    /// several workers sharing one search get distinct proposals.
    pub pending: &'a [(Vec<f64>, f64)],
    /// Budget the proposal will be evaluated at.
    pub budget: f64,
    /// Smallest budget of the search.
    pub min_budget: f64,
    /// Largest budget of the search (the fidelity results are judged at).
    pub max_budget: f64,
}

impl Context<'_> {
    /// Observations at the highest budget that has at least `min_points` of them (BOHB's rule
    /// for which budget to model), or all at the highest budget seen when none has enough.
    pub fn highest_budget_with(&self, min_points: usize) -> Vec<&Observation> {
        let mut budgets: Vec<f64> = self.observations.iter().map(|o| o.budget).collect();
        budgets.sort_by(|a, b| b.total_cmp(a));
        budgets.dedup();
        let at = |b: f64| -> Vec<&Observation> {
            self.observations.iter().filter(|o| o.budget == b).collect()
        };
        for &b in &budgets {
            let v = at(b);
            if v.len() >= min_points {
                return v;
            }
        }
        budgets.first().map(|&b| at(b)).unwrap_or_default()
    }
}

/// Why a sampler could not propose.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum SamplerError {
    /// The space rejected a vector or has no valid configuration.
    #[error(transparent)]
    Space(#[from] SpaceError),
    /// The space has no hyperparameters.
    #[error("the configuration space is empty")]
    EmptySpace,
}

/// A proposal strategy. Implementations must be deterministic given their seed and the
/// sequence of contexts, and must not return a configuration that is pending when another is
/// available.
pub trait Sampler: Send {
    /// Short name for tables and logs.
    fn name(&self) -> String;
    /// The next configuration to evaluate at `ctx.budget`.
    fn propose(&mut self, ctx: &Context<'_>) -> Result<Configuration, SamplerError>;
}
