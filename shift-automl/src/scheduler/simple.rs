//! Schedules without promotions: everything at the largest budget, or a screening phase at the
//! smallest budget followed by the largest (the model-based multi-fidelity method: with the
//! multi-fidelity GP sampler, cheap evaluations only inform the model and every decision that
//! counts is made at full fidelity by EHVI).

use super::{Decision, Schedule, TrialId, TrialRecord};

/// Every trial at one budget.
#[derive(Debug, Clone, PartialEq)]
pub struct FullFidelity {
    budget: f64,
}

impl FullFidelity {
    /// All trials at `budget`.
    pub fn new(budget: f64) -> Self {
        FullFidelity { budget }
    }
}

impl Schedule for FullFidelity {
    fn name(&self) -> String {
        "full fidelity".into()
    }

    fn next(
        &mut self,
        _id: TrialId,
        _t: &[TrialRecord],
        _r: &dyn Fn(TrialId) -> Option<Vec<f64>>,
    ) -> Decision {
        Decision::Sample {
            budget: self.budget,
        }
    }
}

/// The first `n_screen` trials at `min_budget`, all later ones at `max_budget`.
#[derive(Debug, Clone, PartialEq)]
pub struct Screening {
    n_screen: usize,
    min_budget: f64,
    max_budget: f64,
}

impl Screening {
    /// `n_screen` screening trials at `min_budget`, then `max_budget`.
    pub fn new(n_screen: usize, min_budget: f64, max_budget: f64) -> Self {
        Screening {
            n_screen,
            min_budget,
            max_budget,
        }
    }
}

impl Schedule for Screening {
    fn name(&self) -> String {
        format!(
            "screening {}@{} then {}",
            self.n_screen, self.min_budget, self.max_budget
        )
    }

    fn next(
        &mut self,
        id: TrialId,
        _t: &[TrialRecord],
        _r: &dyn Fn(TrialId) -> Option<Vec<f64>>,
    ) -> Decision {
        let budget = if (id as usize) < self.n_screen {
            self.min_budget
        } else {
            self.max_budget
        };
        Decision::Sample { budget }
    }
}
