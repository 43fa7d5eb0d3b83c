//! Hyperband (Li et al. 2018) with successive halving inside each bracket and promotion by
//! non-dominated rank then crowding distance, so it serves several objectives. Brackets run
//! concurrently: when the current rung of the oldest open bracket is handed out but not yet
//! finished, the next ask goes to a later bracket (opening the next one of the cycle if need be),
//! so workers never wait.

use super::{rank_order, Decision, Schedule, TrialId, TrialRecord, TrialState};

/// One rung of a bracket: how many configurations run at which budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rung {
    /// Number of configurations.
    pub n: usize,
    /// Their budget.
    pub budget: f64,
}

/// The rungs of one bracket, first (most configurations) to last (largest budget).
pub type Bracket = Vec<Rung>;

/// Li et al.'s brackets for `eta`, budgets `[min, max]`: `s_max = floor(log_eta(max/min))`;
/// bracket `s = s_max..=0` starts `ceil((s_max+1)/(s+1) eta^s)` configurations at
/// `max / eta^s` and keeps `floor(n_i / eta)` per rung. Empty for `eta < 2` or bad budgets.
pub fn brackets(eta: f64, min_budget: f64, max_budget: f64) -> Vec<Bracket> {
    if !(eta >= 2.0 && min_budget > 0.0 && max_budget >= min_budget) {
        return Vec::new();
    }
    // the small tolerance keeps log_3(27) = 3 although ln 27 / ln 3 is 3.0000000000000004
    let s_max = ((max_budget / min_budget).ln() / eta.ln() + 1e-9).floor() as i32;
    (0..=s_max)
        .rev()
        .map(|s| {
            let n =
                ((f64::from(s_max + 1) / f64::from(s + 1)) * eta.powi(s) - 1e-9).ceil() as usize;
            (0..=s)
                .map(|i| Rung {
                    n: ((n as f64) * eta.powi(-i) + 1e-9).floor().max(1.0) as usize,
                    budget: max_budget / eta.powi(s - i),
                })
                .collect()
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
struct Open {
    rungs: Bracket,
    rung: usize,
    /// Trial ids per rung, in hand-out order.
    members: Vec<Vec<TrialId>>,
    /// Configurations chosen for the current rung (parents), when it is not the first.
    chosen: Vec<TrialId>,
}

/// Hyperband over any sampler.
#[derive(Debug, Clone, PartialEq)]
pub struct Hyperband {
    eta: f64,
    cycle: Vec<Bracket>,
    next_bracket: usize,
    open: Vec<Open>,
}

impl Hyperband {
    /// Hyperband with reduction factor `eta` between `min_budget` and `max_budget`; degenerate
    /// settings (eta < 2, min > max) give one bracket at `max_budget`.
    pub fn new(eta: f64, min_budget: f64, max_budget: f64) -> Self {
        let mut cycle = brackets(eta, min_budget, max_budget);
        if cycle.is_empty() {
            cycle = vec![vec![Rung {
                n: 1,
                budget: max_budget,
            }]];
        }
        Hyperband {
            eta,
            cycle,
            next_bracket: 0,
            open: Vec::new(),
        }
    }

    /// The bracket cycle.
    pub fn cycle(&self) -> &[Bracket] {
        &self.cycle
    }
}

fn finished(trials: &[TrialRecord], id: TrialId) -> bool {
    trials
        .get(id as usize)
        .is_some_and(|r| r.state != TrialState::Pending)
}

impl Open {
    /// A decision for trial `id` from this bracket, or `None` while it waits for results.
    fn try_next(
        &mut self,
        id: TrialId,
        trials: &[TrialRecord],
        ranked: &dyn Fn(TrialId) -> Option<Vec<f64>>,
    ) -> Option<Decision> {
        loop {
            let rung = self.rungs[self.rung];
            let handed = self.members[self.rung].len();
            if handed < rung.n {
                self.members[self.rung].push(id);
                return Some(if self.rung == 0 {
                    Decision::Sample {
                        budget: rung.budget,
                    }
                } else {
                    Decision::Promote {
                        parent: self.chosen[handed],
                        budget: rung.budget,
                    }
                });
            }
            if self.rung + 1 >= self.rungs.len()
                || !self.members[self.rung].iter().all(|&t| finished(trials, t))
            {
                return None;
            }
            let members = &self.members[self.rung];
            let vals: Vec<Option<Vec<f64>>> = members.iter().map(|&t| ranked(t)).collect();
            let keep = self.rungs[self.rung + 1].n;
            // failures without a crash cost have no values and are never promoted
            self.chosen = rank_order(&vals)
                .into_iter()
                .filter(|&i| vals[i].is_some())
                .take(keep)
                .map(|i| members[i])
                .collect();
            // fewer survivors than planned (failures, tiny brackets): shrink the rung
            self.rungs[self.rung + 1].n = self.chosen.len();
            self.rung += 1;
        }
    }

    fn done(&self, trials: &[TrialRecord]) -> bool {
        self.rung + 1 == self.rungs.len()
            && self.members[self.rung].len() >= self.rungs[self.rung].n
            && self.members[self.rung].iter().all(|&t| finished(trials, t))
    }
}

impl Schedule for Hyperband {
    fn name(&self) -> String {
        format!("hyperband(eta {})", self.eta)
    }

    fn next(
        &mut self,
        id: TrialId,
        trials: &[TrialRecord],
        ranked: &dyn Fn(TrialId) -> Option<Vec<f64>>,
    ) -> Decision {
        self.open.retain(|b| !b.done(trials));
        for b in self.open.iter_mut() {
            if let Some(d) = b.try_next(id, trials, ranked) {
                return d;
            }
        }
        let rungs = self.cycle[self.next_bracket % self.cycle.len()].clone();
        self.next_bracket += 1;
        let mut b = Open {
            members: vec![Vec::new(); rungs.len()],
            rungs,
            rung: 0,
            chosen: Vec::new(),
        };
        let d = b.try_next(id, trials, ranked).unwrap_or(Decision::Sample {
            budget: b.rungs[0].budget,
        });
        self.open.push(b);
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn li_et_al_brackets_eta3_1_to_27() {
        let b = brackets(3.0, 1.0, 27.0);
        let shape: Vec<Vec<(usize, f64)>> = b
            .iter()
            .map(|r| r.iter().map(|x| (x.n, x.budget)).collect())
            .collect();
        assert_eq!(
            shape,
            vec![
                vec![(27, 1.0), (9, 3.0), (3, 9.0), (1, 27.0)],
                vec![(12, 3.0), (4, 9.0), (1, 27.0)],
                vec![(6, 9.0), (2, 27.0)],
                vec![(4, 27.0)],
            ]
        );
        assert!(brackets(1.0, 1.0, 27.0).is_empty());
    }
}
