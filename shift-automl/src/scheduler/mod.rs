//! The ask/tell search: a [`Search`] pairs a [`Sampler`] (which configuration) with a
//! [`Schedule`] (which budget, and which earlier trial to continue at a higher one).
//!
//! `ask` hands out a [`Trial`] (id, configuration, budget, and the trial it promotes, if any);
//! `tell(id, Outcome::Ok(objectives) | Outcome::Failed(error))` reports it, in any order, so
//! several workers can share one search. A failed evaluation is recorded with its error and
//! never stops a search; models see it at the configured crash cost, or not at all.
//!
//! State is a function of the seeds and the ordered [`Event`]s: replaying a search's events into
//! a freshly built search with the same seeds ([`Search::replay`]) reproduces its state exactly,
//! and the next ask continues as the original would have. Events are serde-serialisable.

mod asha;
mod hyperband;
mod simple;

pub use asha::Asha;
pub use hyperband::{brackets, Bracket, Hyperband};
pub use simple::{FullFidelity, Screening};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::pareto::{crowding_distance, nondominated_sort};
use crate::sampler::{Context, Observation, Sampler, SamplerError};
use crate::{ConfigSpace, Configuration};

/// Identifies a trial within its search: 0, 1, 2, ... in ask order.
pub type TrialId = u64;

/// What an evaluation reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// The objective values, minimised.
    Ok(Vec<f64>),
    /// The evaluation failed; the message is kept.
    Failed(String),
}

/// One evaluation to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// Its id, for `tell`.
    pub id: TrialId,
    /// The configuration.
    pub config: Configuration,
    /// The budget to evaluate at (epochs, say).
    pub budget: f64,
    /// The lower-budget trial of the same configuration this one promotes, so that a worker can
    /// continue from its checkpoint; `None` for a new configuration.
    pub parent: Option<TrialId>,
}

/// Where a trial stands.
#[derive(Debug, Clone, PartialEq)]
pub enum TrialState {
    /// Asked, not yet told.
    Pending,
    /// Told with objectives.
    Done(Vec<f64>),
    /// Told as failed, with the error.
    Failed(String),
}

/// A trial with its encoding and state.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRecord {
    /// The trial as handed out.
    pub trial: Trial,
    /// `ConfigSpace::encode` of its configuration.
    pub x: Vec<f64>,
    /// Its state.
    pub state: TrialState,
}

/// One entry of a search's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// `ask` returned this trial id.
    Ask(TrialId),
    /// `tell` was called.
    Tell(TrialId, Outcome),
}

/// What the schedule wants next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// A new configuration from the sampler, at this budget.
    Sample {
        /// Budget.
        budget: f64,
    },
    /// The configuration of an earlier trial, again at a higher budget.
    Promote {
        /// The trial whose configuration continues.
        parent: TrialId,
        /// Budget.
        budget: f64,
    },
}

/// A multi-fidelity policy. `next` is told the id the trial will get, so the schedule can
/// remember it; it must be deterministic given the trials.
pub trait Schedule: Send {
    /// Short name for tables and logs.
    fn name(&self) -> String;
    /// The next decision; `trials` are all trials so far (with crash costs applied to failed
    /// ones by [`Search`] before ranking, see [`rank_order`]).
    fn next(
        &mut self,
        id: TrialId,
        trials: &[TrialRecord],
        ranked: &dyn Fn(TrialId) -> Option<Vec<f64>>,
    ) -> Decision;
}

/// Fixed settings of a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchOptions {
    /// Number of objectives every successful evaluation reports.
    pub n_objectives: usize,
    /// Smallest budget.
    pub min_budget: f64,
    /// Largest budget.
    pub max_budget: f64,
    /// Objective values a failed evaluation counts as for models and promotions (AutoDSNN uses
    /// (1, 1)); `None` leaves failures out of models and ranks them last.
    pub crash_cost: Option<Vec<f64>>,
}

/// Why an ask or tell was refused.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum SearchError {
    /// No trial has this id.
    #[error("no trial {0}")]
    UnknownTrial(TrialId),
    /// The trial was already told.
    #[error("trial {0} was already told")]
    AlreadyTold(TrialId),
    /// The objective vector has the wrong length.
    #[error("trial {id}: {got} objectives, the search has {expected}")]
    ObjectiveCount {
        /// The trial.
        id: TrialId,
        /// Expected count.
        expected: usize,
        /// Reported count.
        got: usize,
    },
    /// The options are inconsistent.
    #[error("invalid search options: {0}")]
    Options(String),
    /// The sampler failed.
    #[error(transparent)]
    Sampler(#[from] SamplerError),
    /// A replayed ask produced another id than the recorded one.
    #[error("replay diverged at event {0}")]
    Replay(usize),
}

/// An ask/tell search over a space.
pub struct Search {
    space: ConfigSpace,
    sampler: Box<dyn Sampler>,
    schedule: Box<dyn Schedule>,
    options: SearchOptions,
    trials: Vec<TrialRecord>,
    events: Vec<Event>,
    /// Configurations (and budgets) the next asks return before the schedule is consulted.
    queued: std::collections::VecDeque<(Configuration, f64)>,
}

impl std::fmt::Debug for Search {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Search")
            .field("sampler", &self.sampler.name())
            .field("schedule", &self.schedule.name())
            .field("trials", &self.trials.len())
            .finish()
    }
}

impl Search {
    /// A search with no trials yet.
    pub fn new(
        space: ConfigSpace,
        sampler: Box<dyn Sampler>,
        schedule: Box<dyn Schedule>,
        options: SearchOptions,
    ) -> Result<Self, SearchError> {
        let o = &options;
        if o.n_objectives == 0 {
            return Err(SearchError::Options("no objectives".into()));
        }
        if !(o.min_budget > 0.0 && o.min_budget <= o.max_budget && o.max_budget.is_finite()) {
            return Err(SearchError::Options(format!(
                "budgets must satisfy 0 < min <= max, got {} and {}",
                o.min_budget, o.max_budget
            )));
        }
        if let Some(c) = &o.crash_cost {
            if c.len() != o.n_objectives || c.iter().any(|v| !v.is_finite()) {
                return Err(SearchError::Options(
                    "crash cost needs one finite value per objective".into(),
                ));
            }
        }
        if space.is_empty() {
            return Err(SearchError::Sampler(SamplerError::EmptySpace));
        }
        Ok(Search {
            space,
            sampler,
            schedule,
            options,
            trials: Vec::new(),
            events: Vec::new(),
            queued: Default::default(),
        })
    }

    /// Makes the next asks return `config` at `budget`, in the order enqueued, before any
    /// configuration of the method (Optuna's `enqueue_trial`): a baseline to compare with, or
    /// a known good design. The sampler sees their results like any other; the schedule does
    /// not rank or promote them. Enqueueing is not an [`Event`]: a search that is replayed
    /// must be given the same queue before its events (studies build it from their settings).
    pub fn enqueue(&mut self, config: Configuration, budget: f64) -> Result<(), SearchError> {
        self.space
            .validate(&config)
            .map_err(|e| SearchError::Options(format!("enqueued configuration: {e}")))?;
        if !(budget >= self.options.min_budget && budget <= self.options.max_budget) {
            return Err(SearchError::Options(format!(
                "enqueued budget {budget} lies outside {}..{}",
                self.options.min_budget, self.options.max_budget
            )));
        }
        self.queued.push_back((config, budget));
        Ok(())
    }

    /// The space searched.
    pub fn space(&self) -> &ConfigSpace {
        &self.space
    }

    /// The options.
    pub fn options(&self) -> &SearchOptions {
        &self.options
    }

    /// All trials, in ask order (index = id).
    pub fn trials(&self) -> &[TrialRecord] {
        &self.trials
    }

    /// The ordered history of asks and tells.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// "sampler + schedule", for tables.
    pub fn name(&self) -> String {
        format!("{} + {}", self.sampler.name(), self.schedule.name())
    }

    /// Objectives a trial counts with: its values, the crash cost when it failed, `None` when
    /// it is pending or failed without a crash cost.
    pub fn effective_objectives(&self, id: TrialId) -> Option<Vec<f64>> {
        effective(&self.trials, &self.options, id)
    }

    /// The next trial to evaluate.
    pub fn ask(&mut self) -> Result<Trial, SearchError> {
        let id = self.trials.len() as TrialId;
        if let Some((config, budget)) = self.queued.pop_front() {
            return Ok(self.record_ask(id, config, budget, None));
        }
        let decision = {
            let (trials, options) = (&self.trials, &self.options);
            let ranked = |t: TrialId| effective(trials, options, t);
            self.schedule.next(id, trials, &ranked)
        };
        let (config, budget, parent) = match decision {
            Decision::Sample { budget } => {
                let observations: Vec<Observation> = self
                    .trials
                    .iter()
                    .filter_map(|r| {
                        effective(&self.trials, &self.options, r.trial.id).map(|objectives| {
                            Observation {
                                x: r.x.clone(),
                                budget: r.trial.budget,
                                objectives,
                            }
                        })
                    })
                    .collect();
                let pending: Vec<(Vec<f64>, f64)> = self
                    .trials
                    .iter()
                    .filter(|r| r.state == TrialState::Pending)
                    .map(|r| (r.x.clone(), r.trial.budget))
                    .collect();
                let ctx = Context {
                    space: &self.space,
                    n_objectives: self.options.n_objectives,
                    observations: &observations,
                    pending: &pending,
                    budget,
                    min_budget: self.options.min_budget,
                    max_budget: self.options.max_budget,
                };
                let proposed = self.sampler.propose(&ctx)?;
                (self.unless_repeated(proposed, budget, id), budget, None)
            }
            Decision::Promote { parent, budget } => {
                let c = self
                    .trials
                    .get(parent as usize)
                    .ok_or(SearchError::UnknownTrial(parent))?
                    .trial
                    .config
                    .clone();
                (c, budget, Some(parent))
            }
        };
        Ok(self.record_ask(id, config, budget, parent))
    }

    /// `config`, or a random configuration when `config` was already asked at `budget`: a
    /// model whose acquisition is flat everywhere (every result so far failed, say) can
    /// return the same optimum again, and a repeat at the same budget tells the search
    /// nothing. Seeded by the trial id, so replays repeat the choice.
    fn unless_repeated(&self, config: Configuration, budget: f64, id: TrialId) -> Configuration {
        use rand::SeedableRng;
        let repeated = |c: &Configuration| {
            self.trials
                .iter()
                .any(|r| r.trial.budget == budget && r.trial.config == *c)
        };
        if !repeated(&config) {
            return config;
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(id ^ 0x5eed_0f4e_9ea7);
        (0..16)
            .filter_map(|_| self.space.try_sample(&mut rng).ok())
            .find(|c| !repeated(c))
            .unwrap_or(config)
    }

    fn record_ask(
        &mut self,
        id: TrialId,
        config: Configuration,
        budget: f64,
        parent: Option<TrialId>,
    ) -> Trial {
        let x = self.space.encode(&config);
        let trial = Trial {
            id,
            config,
            budget,
            parent,
        };
        self.trials.push(TrialRecord {
            trial: trial.clone(),
            x,
            state: TrialState::Pending,
        });
        self.events.push(Event::Ask(id));
        trial
    }

    /// Reports a trial. Non-finite objectives are recorded as a failure.
    pub fn tell(&mut self, id: TrialId, outcome: Outcome) -> Result<(), SearchError> {
        let m = self.options.n_objectives;
        let rec = self
            .trials
            .get_mut(id as usize)
            .ok_or(SearchError::UnknownTrial(id))?;
        if rec.state != TrialState::Pending {
            return Err(SearchError::AlreadyTold(id));
        }
        rec.state = match &outcome {
            Outcome::Ok(v) if v.len() != m => {
                return Err(SearchError::ObjectiveCount {
                    id,
                    expected: m,
                    got: v.len(),
                })
            }
            Outcome::Ok(v) if v.iter().any(|x| !x.is_finite()) => {
                TrialState::Failed(format!("non-finite objectives {v:?}"))
            }
            Outcome::Ok(v) => TrialState::Done(v.clone()),
            Outcome::Failed(e) => TrialState::Failed(e.clone()),
        };
        self.events.push(Event::Tell(id, outcome));
        Ok(())
    }

    /// Applies recorded events to this (freshly built, identically seeded) search: each ask is
    /// repeated and must give the recorded id, each tell is applied.
    pub fn replay(&mut self, events: &[Event]) -> Result<(), SearchError> {
        for (i, e) in events.iter().enumerate() {
            match e {
                Event::Ask(id) => {
                    if self.ask()?.id != *id {
                        return Err(SearchError::Replay(i));
                    }
                }
                Event::Tell(id, o) => self.tell(*id, o.clone())?,
            }
        }
        Ok(())
    }
}

fn effective(trials: &[TrialRecord], options: &SearchOptions, id: TrialId) -> Option<Vec<f64>> {
    match &trials.get(id as usize)?.state {
        TrialState::Done(v) => Some(v.clone()),
        TrialState::Failed(_) => options.crash_cost.clone(),
        TrialState::Pending => None,
    }
}

/// Indices of `points` from best to worst: by non-dominated rank, then by crowding distance
/// within a front (largest first), then by index. `None` entries (failures without a crash
/// cost) come last.
pub fn rank_order(points: &[Option<Vec<f64>>]) -> Vec<usize> {
    let present: Vec<usize> = (0..points.len()).filter(|&i| points[i].is_some()).collect();
    let vals: Vec<Vec<f64>> = present
        .iter()
        .map(|&i| points[i].clone().unwrap_or_default())
        .collect();
    let mut order = Vec::with_capacity(points.len());
    for front in nondominated_sort(&vals) {
        let pts: Vec<Vec<f64>> = front.iter().map(|&i| vals[i].clone()).collect();
        let cd = crowding_distance(&pts);
        let mut idx: Vec<usize> = (0..front.len()).collect();
        idx.sort_by(|&a, &b| cd[b].total_cmp(&cd[a]).then(front[a].cmp(&front[b])));
        order.extend(idx.into_iter().map(|k| present[front[k]]));
    }
    order.extend((0..points.len()).filter(|&i| points[i].is_none()));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_order_hand_case() {
        let p = vec![
            Some(vec![3.0, 3.0]),
            None,
            Some(vec![0.0, 4.0]),
            Some(vec![1.0, 2.0]),
            Some(vec![1.5, 1.5]),
            Some(vec![4.0, 0.0]),
        ];
        let o = rank_order(&p);
        // front {2,3,4,5}: extremes 2 and 5 first, then 3 (wider gap) and 4; then 0; then 1
        assert_eq!(o[..2], [2, 5]);
        assert_eq!(o[4..], [0, 1]);
    }
}
