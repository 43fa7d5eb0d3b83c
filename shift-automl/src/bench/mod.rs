//! Benchmark runner: the full-fidelity table (60 evaluations at b = 27) and the multi-fidelity
//! table (total budget 1620, cost = budget) of `/work/shared/hpo/README.md`, for any method, with
//! the hypervolume of the true objectives as % of the true front's, and the time per ask.
//! Progress goes through a callback so that the library depends on no terminal crate.

mod methods;
mod report;

pub use methods::{Method, ETA, MF_SCREEN};

use std::time::Instant;

use serde::Serialize;

use crate::pareto::hypervolume;
use crate::problems::{NoisyProblem, Problem, ProblemError, B_MAX, B_MIN, DIM};
use crate::scheduler::{Outcome, SearchError};
use crate::{ConfigSpace, Hyperparameter, SpaceError};

/// Total budget of the multi-fidelity benchmark (60 full evaluations).
pub const TOTAL_BUDGET: f64 = 1620.0;
/// Anytime checkpoints reported beside the final value.
pub const CHECKPOINTS: [f64; 2] = [540.0, 1080.0];

/// Errors of a benchmark run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The search refused an ask or tell.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// A problem evaluation failed.
    #[error(transparent)]
    Problem(#[from] ProblemError),
    /// The benchmark space could not be built.
    #[error(transparent)]
    Space(#[from] SpaceError),
    /// A method name is unknown.
    #[error("unknown method '{0}'")]
    UnknownMethod(String),
}

/// The six-dimensional unit cube `x0..x5`, which encodes as the identity.
pub fn unit_space() -> Result<ConfigSpace, SpaceError> {
    let mut s = ConfigSpace::new();
    for i in 0..DIM {
        s.add(Hyperparameter::uniform_float(&format!("x{i}"), 0.0, 1.0))?;
    }
    Ok(s)
}

/// One run's result.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    /// Problem name.
    pub problem: String,
    /// Method name.
    pub method: String,
    /// Seed.
    pub seed: u64,
    /// Final hypervolume of the full-fidelity evaluations, % of the true front's.
    pub hv_percent: f64,
    /// The same at the checkpoints of [`CHECKPOINTS`] (multi-fidelity runs; equal to the final
    /// value in full-fidelity runs).
    pub hv_at_percent: Vec<f64>,
    /// Number of evaluations, all budgets.
    pub evaluations: usize,
    /// Number of evaluations at the largest budget.
    pub full_evaluations: usize,
    /// Seconds each ask took, in order.
    pub ask_seconds: Vec<f64>,
}

fn percent(problem: Problem, front: &[Vec<f64>]) -> f64 {
    100.0 * hypervolume(front, &problem.reference()) / problem.front_hv()
}

/// A full-fidelity run: `n_evals` evaluations of the true objectives.
pub fn run_full(
    problem: Problem,
    method: Method,
    seed: u64,
    n_evals: usize,
) -> Result<RunResult, BenchError> {
    let mut search = method.build(unit_space()?, problem.n_objectives(), seed, false)?;
    let mut asks = Vec::with_capacity(n_evals);
    let mut found = Vec::new();
    for _ in 0..n_evals {
        let t0 = Instant::now();
        let trial = search.ask()?;
        asks.push(t0.elapsed().as_secs_f64());
        let x = search.trials()[trial.id as usize].x.clone();
        let f = problem.evaluate(&x)?;
        found.push(f.clone());
        search.tell(trial.id, Outcome::Ok(f))?;
    }
    let hv = percent(problem, &found);
    Ok(RunResult {
        problem: problem.name().into(),
        method: method.name().into(),
        seed,
        hv_percent: hv,
        hv_at_percent: vec![hv; CHECKPOINTS.len()],
        evaluations: n_evals,
        full_evaluations: n_evals,
        ask_seconds: asks,
    })
}

/// A multi-fidelity run: asks until an evaluation would take the spent budget above
/// `total_budget`; scored on the configurations evaluated at b = 27.
pub fn run_multi_fidelity(
    problem: Problem,
    method: Method,
    seed: u64,
    total_budget: f64,
) -> Result<RunResult, BenchError> {
    let mut search = method.build(unit_space()?, problem.n_objectives(), seed, true)?;
    let mut noisy = NoisyProblem::new(problem, seed);
    let mut spent = 0.0;
    let mut asks = Vec::new();
    let mut full: Vec<(f64, Vec<f64>)> = Vec::new();
    let mut evaluations = 0;
    loop {
        let t0 = Instant::now();
        let trial = search.ask()?;
        asks.push(t0.elapsed().as_secs_f64());
        let b = trial.budget.clamp(B_MIN, B_MAX);
        if spent + b > total_budget {
            break;
        }
        let x = search.trials()[trial.id as usize].x.clone();
        let (obs, truth) = noisy.evaluate(&x, b)?;
        spent += b;
        evaluations += 1;
        if b == B_MAX {
            full.push((spent, truth));
        }
        search.tell(trial.id, Outcome::Ok(obs))?;
    }
    let upto = |limit: f64| -> Vec<Vec<f64>> {
        full.iter()
            .filter(|(s, _)| *s <= limit)
            .map(|(_, f)| f.clone())
            .collect()
    };
    Ok(RunResult {
        problem: problem.name().into(),
        method: method.name().into(),
        seed,
        hv_percent: percent(problem, &upto(f64::INFINITY)),
        hv_at_percent: CHECKPOINTS
            .iter()
            .map(|&c| percent(problem, &upto(c)))
            .collect(),
        evaluations,
        full_evaluations: full.len(),
        ask_seconds: asks,
    })
}

/// Median, minimum and maximum.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Stats {
    /// Median (mean of the middle two for an even count).
    pub median: f64,
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
}

impl Stats {
    /// Statistics of `v`; all NaN when empty.
    pub fn of(v: &[f64]) -> Stats {
        if v.is_empty() {
            return Stats {
                median: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
            };
        }
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            0.5 * (s[n / 2 - 1] + s[n / 2])
        };
        Stats {
            median,
            min: s[0],
            max: s[n - 1],
        }
    }
}

/// One cell of a table: a method on a problem over seeds.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// Problem name.
    pub problem: String,
    /// Method name.
    pub method: String,
    /// Final HV %, over seeds.
    pub hv: Stats,
    /// HV % at each checkpoint, over seeds.
    pub hv_at: Vec<Stats>,
    /// Median over all asks of all seeds of the seconds per ask.
    pub median_ask_seconds: f64,
    /// Mean of the same (for methods whose cheap asks hide the model's cost in the median).
    pub mean_ask_seconds: f64,
    /// The runs.
    pub runs: Vec<RunResult>,
}

fn cell(runs: Vec<RunResult>) -> Cell {
    let hv: Vec<f64> = runs.iter().map(|r| r.hv_percent).collect();
    let hv_at = (0..CHECKPOINTS.len())
        .map(|k| Stats::of(&runs.iter().map(|r| r.hv_at_percent[k]).collect::<Vec<_>>()))
        .collect();
    let asks: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.ask_seconds.iter().copied())
        .collect();
    Cell {
        problem: runs.first().map(|r| r.problem.clone()).unwrap_or_default(),
        method: runs.first().map(|r| r.method.clone()).unwrap_or_default(),
        hv: Stats::of(&hv),
        hv_at,
        median_ask_seconds: Stats::of(&asks).median,
        mean_ask_seconds: asks.iter().sum::<f64>() / asks.len().max(1) as f64,
        runs,
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Problems.
    pub problems: Vec<Problem>,
    /// Methods of the full-fidelity table.
    pub full_methods: Vec<Method>,
    /// Methods of the multi-fidelity table.
    pub mf_methods: Vec<Method>,
    /// Seeds 0..seeds.
    pub seeds: u64,
    /// Evaluations of a full-fidelity run.
    pub n_evals: usize,
    /// Budget of a multi-fidelity run.
    pub total_budget: f64,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            problems: Problem::ALL.to_vec(),
            full_methods: Method::FULL_FIDELITY.to_vec(),
            mf_methods: Method::MULTI_FIDELITY.to_vec(),
            seeds: 10,
            n_evals: 60,
            total_budget: TOTAL_BUDGET,
        }
    }
}

/// Both tables.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Full-fidelity cells.
    pub full: Vec<Cell>,
    /// Multi-fidelity cells.
    pub multi_fidelity: Vec<Cell>,
}

/// Progress of [`run_bench`]: runs done out of the total, and the run just finished.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// Runs finished.
    pub done: usize,
    /// Runs in all.
    pub total: usize,
    /// Whether the run was one of the multi-fidelity table.
    pub multi_fidelity: bool,
    /// The run just finished.
    pub last: &'a RunResult,
}

/// Runs every (table, problem, method, seed).
pub fn run_bench(
    config: &BenchConfig,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<BenchReport, BenchError> {
    let per = config.problems.len() * config.seeds as usize;
    let total = per * (config.full_methods.len() + config.mf_methods.len());
    let mut done = 0;
    let mut full = Vec::new();
    let mut multi = Vec::new();
    for (mf, methods) in [(false, &config.full_methods), (true, &config.mf_methods)] {
        for &p in &config.problems {
            for &m in methods {
                let mut runs = Vec::new();
                for seed in 0..config.seeds {
                    let r = if mf {
                        run_multi_fidelity(p, m, seed, config.total_budget)?
                    } else {
                        run_full(p, m, seed, config.n_evals)?
                    };
                    done += 1;
                    progress(Progress {
                        done,
                        total,
                        multi_fidelity: mf,
                        last: &r,
                    });
                    runs.push(r);
                }
                let c = cell(runs);
                if mf {
                    multi.push(c)
                } else {
                    full.push(c)
                }
            }
        }
    }
    Ok(BenchReport {
        full,
        multi_fidelity: multi,
    })
}

/// Median seconds per ask over a full-fidelity run of `n_trials` trials (ZDT1 or DTLZ2, say).
pub fn overhead(
    problem: Problem,
    method: Method,
    seed: u64,
    n_trials: usize,
) -> Result<Stats, BenchError> {
    Ok(Stats::of(
        &run_full(problem, method, seed, n_trials)?.ask_seconds,
    ))
}
