//! The numbers of a report: per-configuration results, the front, the reference point, the
//! hypervolume curve and the default configuration's position.

use std::collections::BTreeMap;

use super::importance;
use super::{Report, ReportError, ReportInput, ReportOptions, ReportTrial, TrialState};
use crate::pareto::{dominates, hypervolume, nondominated_front, nondominated_sort};
use crate::Configuration;

/// How the hypervolume reference point was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceRule {
    /// Given by the caller (`--ref`).
    Given,
    /// Per objective, the worst value over all finished trials (every budget) plus 10 % of
    /// that objective's range (plus 10 % of the magnitude, or 0.1, when the range is 0), so that
    /// every finished result lies strictly inside the box and counts.
    MaxPlusTenPercent,
}

/// A configuration's result at the highest budget it finished at.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigResult {
    /// The trial that gave it (the last one at that budget).
    pub trial: u64,
    /// Its budget.
    pub budget: f64,
    /// The configuration.
    pub config: Configuration,
    /// Its objectives.
    pub objectives: Vec<f64>,
    /// Its non-dominated rank among all results: 0 is the front.
    pub rank: usize,
}

/// The hypervolume after one trial.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    /// The trial just counted.
    pub trial: u64,
    /// How many finished or failed trials have been counted, this one included.
    pub trials: usize,
    /// Sum of their budgets.
    pub budget_spent: f64,
    /// Hypervolume of the front of the results known then (per configuration, its highest
    /// budget so far). It can fall when a configuration's higher budget turns out worse than its
    /// lower one: the low-fidelity result was optimistic.
    pub hypervolume: f64,
}

/// A result that dominates the default configuration's, and by how much.
#[derive(Debug, Clone, PartialEq)]
pub struct Domination {
    /// Index into [`Report::results`].
    pub result: usize,
    /// Per objective, default minus this (positive: better than the default).
    pub absolute: Vec<f64>,
    /// Per objective, `absolute / |default|`; `None` where the default's value is 0.
    pub relative: Vec<Option<f64>>,
}

/// Where the space's default configuration stands.
#[derive(Debug, Clone, PartialEq)]
pub struct DefaultPosition {
    /// The default configuration.
    pub config: Configuration,
    /// Index into [`Report::results`] when the default was evaluated.
    pub result: Option<usize>,
    /// The objectives compared against: the evaluated ones, or else the importance forests'
    /// predictions (at the highest budget), or none when neither exists.
    pub objectives: Option<Vec<f64>>,
    /// How many results dominate it (0: it is on the front).
    pub dominated_by: Vec<Domination>,
}

/// The key that identifies a configuration: its JSON text, sorted by name.
fn key(c: &Configuration) -> String {
    c.to_string()
}

fn check(input: &ReportInput, t: &ReportTrial) -> Result<(), ReportError> {
    if !t.budget.is_finite() {
        return Err(ReportError::NotFinite {
            trial: t.number,
            what: "the budget".to_string(),
        });
    }
    if t.state != TrialState::Finished {
        return Ok(());
    }
    if t.objectives.len() != input.objectives.len() {
        return Err(ReportError::ObjectiveCount {
            trial: t.number,
            expected: input.objectives.len(),
            got: t.objectives.len(),
        });
    }
    if let Some(i) = t.objectives.iter().position(|v| !v.is_finite()) {
        return Err(ReportError::NotFinite {
            trial: t.number,
            what: format!("objective '{}'", input.objectives[i]),
        });
    }
    Ok(())
}

/// The reference point: the given one after checking it, or the default rule's.
fn reference(
    given: Option<&[f64]>,
    finished: &[&ReportTrial],
    m: usize,
) -> Result<(Vec<f64>, ReferenceRule), ReportError> {
    if let Some(r) = given {
        if r.len() != m {
            return Err(ReportError::Reference(format!(
                "{} coordinates, the study has {m} objectives",
                r.len()
            )));
        }
        if r.iter().any(|v| !v.is_finite()) {
            return Err(ReportError::Reference(format!(
                "{r:?} has a coordinate that is not a finite number"
            )));
        }
        return Ok((r.to_vec(), ReferenceRule::Given));
    }
    let r = (0..m)
        .map(|i| {
            let (lo, hi) = finished
                .iter()
                .map(|t| t.objectives[i])
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                    (lo.min(v), hi.max(v))
                });
            let span = hi - lo;
            let pad = if span > 0.0 {
                0.1 * span
            } else if hi != 0.0 {
                0.1 * hi.abs()
            } else {
                0.1
            };
            hi + pad
        })
        .collect();
    Ok((r, ReferenceRule::MaxPlusTenPercent))
}

/// Per configuration, its last finished trial at its highest budget among `trials`.
fn best_budget<'a>(trials: impl Iterator<Item = &'a ReportTrial>) -> BTreeMap<String, usize> {
    let mut by: BTreeMap<String, (f64, u64, usize)> = BTreeMap::new();
    for (i, t) in trials.enumerate() {
        let e = by.entry(key(&t.config)).or_insert((t.budget, t.number, i));
        if t.budget >= e.0 {
            *e = (t.budget, t.number, i);
        }
    }
    by.into_iter().map(|(k, (_, _, i))| (k, i)).collect()
}

/// The whole analysis (see [`Report::build`]).
pub(super) fn build(input: &ReportInput, options: &ReportOptions) -> Result<Report, ReportError> {
    let m = input.objectives.len();
    if m == 0 {
        return Err(ReportError::NoObjectives(input.study.clone()));
    }
    let mut trials: Vec<&ReportTrial> = input.trials.iter().collect();
    trials.sort_by_key(|t| t.number);
    for t in &trials {
        check(input, t)?;
    }
    let mut counts = [0usize; 4];
    for t in &trials {
        counts[t.state as usize] += 1;
    }
    let finished: Vec<&ReportTrial> = trials
        .iter()
        .copied()
        .filter(|t| t.state == TrialState::Finished)
        .collect();
    if finished.is_empty() {
        return Err(ReportError::NoFinishedTrial(input.study.clone()));
    }
    let (reference, reference_rule) = reference(options.reference.as_deref(), &finished, m)?;

    let mut results: Vec<ConfigResult> = best_budget(finished.iter().copied())
        .into_values()
        .map(|i| {
            let t = finished[i];
            ConfigResult {
                trial: t.number,
                budget: t.budget,
                config: t.config.clone(),
                objectives: t.objectives.clone(),
                rank: 0,
            }
        })
        .collect();
    results.sort_by_key(|r| r.trial);
    let points: Vec<Vec<f64>> = results.iter().map(|r| r.objectives.clone()).collect();
    for (rank, layer) in nondominated_sort(&points).into_iter().enumerate() {
        for i in layer {
            results[i].rank = rank;
        }
    }
    let mut front: Vec<usize> = (0..results.len())
        .filter(|&i| results[i].rank == 0)
        .collect();
    front.sort_by(|&a, &b| {
        points[a]
            .iter()
            .zip(&points[b])
            .map(|(x, y)| x.total_cmp(y))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let front_points: Vec<Vec<f64>> = front.iter().map(|&i| points[i].clone()).collect();
    let hv = hypervolume(&front_points, &reference);

    let curve = curve(&trials, &reference);
    let hyperparameters: Vec<String> = input.space.names().iter().map(|s| s.to_string()).collect();
    let importance = importance::compute(input, &results, options);
    let default = position(
        input.space.default_configuration(),
        &results,
        importance.default_prediction(),
    );
    // the forests predict the default only: a reference not evaluated has no objectives
    let references = input
        .references
        .iter()
        .map(|(label, c)| (label.clone(), position(c.clone(), &results, None)))
        .collect();
    Ok(Report {
        study: input.study.clone(),
        method: input.method.clone(),
        objectives: input.objectives.clone(),
        hyperparameters,
        counts,
        budget_spent: curve.last().map_or(0.0, |c| c.budget_spent),
        reference,
        reference_rule,
        results,
        front,
        hypervolume: hv,
        curve,
        default,
        references,
        importance,
    })
}

/// Hypervolume after each finished or failed trial, replaying `trials` (sorted by number).
///
/// The front is kept incrementally, so a long study costs one hypervolume of the (small) front
/// per trial that changes it, not one of every result per trial: a new configuration that the
/// front dominates changes nothing, one that is not dominated joins it and evicts what it
/// dominates; only a configuration seen before (a higher budget of it) rebuilds the front from
/// all results, since its old value may have been hiding others.
fn curve(trials: &[&ReportTrial], reference: &[f64]) -> Vec<CurvePoint> {
    let mut known: BTreeMap<String, (f64, Vec<f64>)> = BTreeMap::new();
    let mut front: Vec<Vec<f64>> = Vec::new();
    let mut out = Vec::new();
    let mut spent = 0.0;
    let mut hv = 0.0;
    for t in trials {
        match t.state {
            TrialState::Finished => {
                let k = key(&t.config);
                let seen = known.get(&k).map(|(b, _)| *b);
                match seen {
                    Some(b) if t.budget < b => {}
                    Some(_) => {
                        known.insert(k, (t.budget, t.objectives.clone()));
                        let all: Vec<Vec<f64>> = known.values().map(|(_, o)| o.clone()).collect();
                        front = nondominated_front(&all)
                            .into_iter()
                            .map(|i| all[i].clone())
                            .collect();
                        hv = hypervolume(&front, reference);
                    }
                    None => {
                        known.insert(k, (t.budget, t.objectives.clone()));
                        let p = &t.objectives;
                        if !front.iter().any(|f| dominates(f, p) || f == p) {
                            front.retain(|f| !dominates(p, f));
                            front.push(p.clone());
                            hv = hypervolume(&front, reference);
                        }
                    }
                }
            }
            TrialState::Failed => {}
            TrialState::Running | TrialState::Waiting => continue,
        }
        spent += t.budget;
        out.push(CurvePoint {
            trial: t.number,
            trials: out.len() + 1,
            budget_spent: spent,
            hypervolume: hv,
        });
    }
    out
}

/// Locates a configuration among the results (else takes `prediction` for it) and lists the
/// results that dominate it.
fn position(
    config: Configuration,
    results: &[ConfigResult],
    prediction: Option<Vec<f64>>,
) -> DefaultPosition {
    let k = key(&config);
    let result = results.iter().position(|r| key(&r.config) == k);
    let objectives = match result {
        Some(i) => Some(results[i].objectives.clone()),
        None => prediction,
    };
    let dominated_by = objectives
        .as_ref()
        .map(|d| dominators(d, results, result))
        .unwrap_or_default();
    DefaultPosition {
        config,
        result,
        objectives,
        dominated_by,
    }
}

/// The results (other than `skip`) that dominate `d`, most dominating first (by the sum of the
/// relative improvements).
pub(super) fn dominators(
    d: &[f64],
    results: &[ConfigResult],
    skip: Option<usize>,
) -> Vec<Domination> {
    let mut out: Vec<(f64, Domination)> = results
        .iter()
        .enumerate()
        .filter(|(i, r)| Some(*i) != skip && dominates(&r.objectives, d))
        .map(|(i, r)| {
            let absolute: Vec<f64> = d.iter().zip(&r.objectives).map(|(a, b)| a - b).collect();
            let relative: Vec<Option<f64>> = absolute
                .iter()
                .zip(d)
                .map(|(a, dv)| (*dv != 0.0).then(|| a / dv.abs()))
                .collect();
            let score = relative.iter().map(|v| v.unwrap_or(0.0)).sum::<f64>();
            (
                score,
                Domination {
                    result: i,
                    absolute,
                    relative,
                },
            )
        })
        .collect();
    out.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.result.cmp(&b.1.result)));
    out.into_iter().map(|(_, d)| d).collect()
}
