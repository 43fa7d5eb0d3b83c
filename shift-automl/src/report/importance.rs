//! Hyperparameter importance: permutation importance on a random forest, cross-validated.
//!
//! Rows are the per-configuration results (each configuration at its highest budget), columns
//! the unit encoding of the configuration ([`ConfigSpace::encode`], with -1 for an inactive
//! hyperparameter) plus the budget when the rows span several budgets, so
//! that the fidelity's effect is not credited to a hyperparameter. For each of `k` folds a forest
//! fits the other folds; a column's importance is the rise of the held-out squared error when the
//! column's held-out values are replaced by values drawn without replacement from the whole
//! column, averaged over the repeats and divided by twice the objective's variance. On that scale a
//! hyperparameter that alone decides the objective scores 1 (permuting it makes a perfect
//! model's error that of two independent draws: twice the variance) and one the model ignores
//! scores 0 (slightly negative values are noise).

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{ConfigResult, ReportInput, ReportOptions};
use crate::sampler::forest::{Forest, ForestOptions};
use crate::{ConfigSpace, Configuration, DimKind};

/// Fewest results for which importance is computed: below it every fold is a handful of points.
pub const MIN_ROWS: usize = 10;

/// Name of the extra column when the results span several budgets.
pub const BUDGET_COLUMN: &str = "budget";

/// One column's importance for one objective.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureImportance {
    /// The hyperparameter's name (or [`BUDGET_COLUMN`]).
    pub name: String,
    /// Mean rise of the held-out squared error, over twice the objective's variance.
    pub importance: f64,
    /// Standard deviation of that rise over the folds' repeats, same unit.
    pub spread: f64,
}

/// The importance of every column for one objective.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectiveImportance {
    /// The objective.
    pub objective: String,
    /// Cross-validated R^2 of the forest: how far to trust the numbers below.
    pub r2: f64,
    /// Columns, most important first.
    pub features: Vec<FeatureImportance>,
}

/// The importance analysis, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Importance {
    /// Computed for every objective.
    Computed {
        /// One entry per objective, in the study's order.
        objectives: Vec<ObjectiveImportance>,
        /// Number of folds.
        folds: usize,
        /// Trees per forest.
        trees: usize,
        /// Permutations per column and fold.
        repeats: usize,
        /// Number of rows (results).
        rows: usize,
        /// Whether the budget was a column.
        with_budget: bool,
        /// The default configuration's objectives as forests fitted to all rows predict them
        /// (at the highest budget of the rows).
        default_prediction: Vec<f64>,
    },
    /// Not computed, with the reason.
    Skipped(String),
}

impl Importance {
    /// The forests' prediction of the default configuration, when computed.
    pub(super) fn default_prediction(&self) -> Option<Vec<f64>> {
        match self {
            Importance::Computed {
                default_prediction, ..
            } => Some(default_prediction.clone()),
            Importance::Skipped(_) => None,
        }
    }
}

/// The value an inactive hyperparameter takes in the design matrix: outside the unit encoding,
/// so a split can separate "inactive" from every value (SMAC's imputation, as ParEGO does it).
/// The forest is not given NaN: an ordered split between a number and NaN has a NaN threshold
/// that sends every point the same way.
const INACTIVE: f64 = -1.0;

/// The design matrix: encoded configurations, plus the budget column when `with_budget`.
fn row(space: &ConfigSpace, c: &Configuration, budget: f64, with_budget: bool) -> Vec<f64> {
    let mut x: Vec<f64> = space
        .encode(c)
        .into_iter()
        .map(|v| if v.is_nan() { INACTIVE } else { v })
        .collect();
    if with_budget {
        x.push(budget);
    }
    x
}

/// Computes the importance of every hyperparameter for every objective.
pub(super) fn compute(
    input: &ReportInput,
    results: &[ConfigResult],
    options: &ReportOptions,
) -> Importance {
    let n = results.len();
    if n < MIN_ROWS {
        return Importance::Skipped(format!(
            "{n} distinct finished configurations; importance needs at least {MIN_ROWS}"
        ));
    }
    if input.space.is_empty() {
        return Importance::Skipped("the space has no hyperparameters".to_string());
    }
    let max_budget = results.iter().map(|r| r.budget).fold(f64::MIN, f64::max);
    let with_budget = results.iter().any(|r| r.budget != max_budget);
    let mut names: Vec<String> = input.space.names().iter().map(|s| s.to_string()).collect();
    let mut cat: Vec<bool> = input
        .space
        .dim_kinds()
        .iter()
        .map(|k| matches!(k, DimKind::Categorical { .. }))
        .collect();
    if with_budget {
        names.push(BUDGET_COLUMN.to_string());
        cat.push(false);
    }
    let x: Vec<Vec<f64>> = results
        .iter()
        .map(|r| row(&input.space, &r.config, r.budget, with_budget))
        .collect();
    let forest = ForestOptions {
        n_trees: options.trees.max(1),
        ..ForestOptions::default()
    };
    let folds = 5.min(n / 2);
    let repeats = options.repeats.max(1);
    let default_x = row(
        &input.space,
        &input.space.default_configuration(),
        max_budget,
        with_budget,
    );
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    let fold_of: Vec<usize> = {
        let mut f = vec![0; n];
        for (pos, &i) in order.iter().enumerate() {
            f[i] = pos % folds;
        }
        f
    };
    let mut per_objective = Vec::new();
    let mut default_prediction = Vec::new();
    for (o, objective) in input.objectives.iter().enumerate() {
        let y: Vec<f64> = results.iter().map(|r| r.objectives[o]).collect();
        let mean = y.iter().sum::<f64>() / n as f64;
        let var = y.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
        let all = Forest::fit(&x, &y, &cat, &forest, &mut rng);
        default_prediction.push(all.predict(&default_x).0);
        if var <= 0.0 {
            per_objective.push(ObjectiveImportance {
                objective: objective.clone(),
                r2: 0.0,
                features: names
                    .iter()
                    .map(|name| FeatureImportance {
                        name: name.clone(),
                        importance: 0.0,
                        spread: 0.0,
                    })
                    .collect(),
            });
            continue;
        }
        // rises[j]: one entry per (fold, repeat), the held-out squared-error sum's rise
        let mut rises: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
        let mut base_sse = 0.0;
        for fold in 0..folds {
            let (train, test): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| fold_of[i] != fold);
            let tx: Vec<Vec<f64>> = train.iter().map(|&i| x[i].clone()).collect();
            let ty: Vec<f64> = train.iter().map(|&i| y[i]).collect();
            let f = Forest::fit(&tx, &ty, &cat, &forest, &mut rng);
            let sse = |rows: &[Vec<f64>]| -> f64 {
                rows.iter()
                    .zip(&test)
                    .map(|(r, &i)| (f.predict(r).0 - y[i]).powi(2))
                    .sum()
            };
            let held: Vec<Vec<f64>> = test.iter().map(|&i| x[i].clone()).collect();
            let base = sse(&held);
            base_sse += base;
            for (j, rise) in rises.iter_mut().enumerate() {
                for _ in 0..repeats {
                    let mut column: Vec<f64> = x.iter().map(|r| r[j]).collect();
                    column.shuffle(&mut rng);
                    let permuted: Vec<Vec<f64>> = held
                        .iter()
                        .zip(&column)
                        .map(|(r, v)| {
                            let mut r = r.clone();
                            r[j] = *v;
                            r
                        })
                        .collect();
                    rise.push(sse(&permuted) - base);
                }
            }
        }
        let scale = n as f64 * var;
        // a perfect model's error on a column that alone decides the objective rises by twice
        // the variance when that column is permuted (two independent draws): that is 1
        let unit = 2.0 * scale;
        let mut features: Vec<FeatureImportance> = names
            .iter()
            .zip(&rises)
            .map(|(name, r)| {
                // a repeat's rise covers one fold; `folds` of them together cover every row
                let per_row: Vec<f64> = r.iter().map(|v| v * folds as f64 / unit).collect();
                let mean = per_row.iter().sum::<f64>() / per_row.len() as f64;
                let sd = (per_row.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
                    / per_row.len() as f64)
                    .sqrt();
                FeatureImportance {
                    name: name.clone(),
                    importance: mean,
                    spread: sd,
                }
            })
            .collect();
        features.sort_by(|a, b| b.importance.total_cmp(&a.importance));
        per_objective.push(ObjectiveImportance {
            objective: objective.clone(),
            r2: 1.0 - base_sse / scale,
            features,
        });
    }
    Importance::Computed {
        objectives: per_objective,
        folds,
        trees: forest.n_trees,
        repeats,
        rows: n,
        with_budget,
        default_prediction,
    }
}
