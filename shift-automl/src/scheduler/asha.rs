//! Asynchronous successive halving for several objectives (MO-ASHA, Schmucker et al. 2021):
//! rungs at `min eta^k`; whenever a finished trial of rung k is in the top `floor(n_k / eta)` of
//! its rung by non-dominated rank then crowding distance and not yet promoted, the next ask
//! promotes it to rung k+1 (highest rungs first); otherwise a new configuration starts at rung 0.

use super::{rank_order, Decision, Schedule, TrialId, TrialRecord};

/// MO-ASHA over any sampler.
#[derive(Debug, Clone, PartialEq)]
pub struct Asha {
    eta: f64,
    budgets: Vec<f64>,
    /// Trial ids per rung.
    rungs: Vec<Vec<TrialId>>,
    promoted: Vec<Vec<TrialId>>,
}

impl Asha {
    /// Rungs `min, min eta, ...` up to `max` (the last rung is `max` itself).
    pub fn new(eta: f64, min_budget: f64, max_budget: f64) -> Self {
        let mut budgets = vec![min_budget];
        if eta >= 2.0 && min_budget > 0.0 {
            loop {
                let next = budgets[budgets.len() - 1] * eta;
                if next > max_budget * (1.0 + 1e-9) {
                    break;
                }
                budgets.push(next.min(max_budget));
            }
        }
        if budgets[budgets.len() - 1] < max_budget {
            budgets.push(max_budget);
        }
        let k = budgets.len();
        Asha {
            eta,
            budgets,
            rungs: vec![Vec::new(); k],
            promoted: vec![Vec::new(); k],
        }
    }

    /// The rung budgets.
    pub fn budgets(&self) -> &[f64] {
        &self.budgets
    }
}

impl Schedule for Asha {
    fn name(&self) -> String {
        format!("mo-asha(eta {})", self.eta)
    }

    fn next(
        &mut self,
        id: TrialId,
        _trials: &[TrialRecord],
        ranked: &dyn Fn(TrialId) -> Option<Vec<f64>>,
    ) -> Decision {
        for k in (0..self.budgets.len() - 1).rev() {
            let members = &self.rungs[k];
            let quota = (members.len() as f64 / self.eta).floor() as usize;
            if quota == 0 {
                continue;
            }
            // pending members and failures without a crash cost have no values and rank last
            let vals: Vec<Option<Vec<f64>>> = members.iter().map(|&t| ranked(t)).collect();
            let finished = vals.iter().filter(|v| v.is_some()).count();
            let order = rank_order(&vals);
            let top: Vec<TrialId> = order
                .into_iter()
                .take(quota.min(finished))
                .map(|i| members[i])
                .collect();
            if let Some(&p) = top
                .iter()
                .find(|t| !self.promoted[k].contains(t) && ranked(**t).is_some())
            {
                self.promoted[k].push(p);
                self.rungs[k + 1].push(id);
                return Decision::Promote {
                    parent: p,
                    budget: self.budgets[k + 1],
                };
            }
        }
        self.rungs[0].push(id);
        Decision::Sample {
            budget: self.budgets[0],
        }
    }
}
