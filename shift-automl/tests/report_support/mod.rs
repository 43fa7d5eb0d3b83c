//! A synthetic study for the report tests: ZDT1 over x0..x5 plus a hyperparameter the objective
//! ignores, random configurations at several budgets, the default among them.

// each test binary that includes this module uses only part of it
#![allow(dead_code)]

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shift_automl::problems::Problem;
use shift_automl::report::{ReportInput, ReportTrial, TrialState};
use shift_automl::{ConfigSpace, Configuration, Hyperparameter, Value};

/// Names of the decision variables, in ZDT1's order.
pub const XS: [&str; 6] = ["x0", "x1", "x2", "x3", "x4", "x5"];

/// The hyperparameter no objective depends on.
pub const UNUSED: &str = "unused";

/// The ZDT1 space plus [`UNUSED`].
pub fn space() -> ConfigSpace {
    let mut s = ConfigSpace::new();
    for x in XS {
        s.add(Hyperparameter::uniform_float(x, 0.0, 1.0)).unwrap();
    }
    s.add(Hyperparameter::uniform_float(UNUSED, 0.0, 1.0))
        .unwrap();
    s
}

/// ZDT1's observed objectives (noise-free part, with the fidelity bias) of a configuration.
pub fn zdt1(c: &Configuration, budget: f64) -> Vec<f64> {
    let x: Vec<f64> = XS
        .iter()
        .map(|n| c.get(n).and_then(Value::as_f64).unwrap())
        .collect();
    Problem::Zdt1.observe(&x, budget, &[0.0, 0.0]).unwrap()
}

/// x0, x1 and [`UNUSED`] on [0, 1].
pub fn small_space() -> ConfigSpace {
    let mut s = ConfigSpace::new();
    for x in ["x0", "x1", UNUSED] {
        s.add(Hyperparameter::uniform_float(x, 0.0, 1.0)).unwrap();
    }
    s
}

/// Two objectives that both depend clearly on x0 and x1 and not at all on [`UNUSED`], with a
/// fidelity bias that fades with the budget as ZDT1's does.
pub fn two_effects(c: &Configuration, budget: f64) -> Vec<f64> {
    let v = |n: &str| c.get(n).and_then(Value::as_f64).unwrap();
    let (a, b) = (v("x0"), v("x1"));
    let s = shift_automl::problems::fidelity_weight(budget).unwrap();
    vec![a + 0.5 * b + 0.3 * s, (1.0 - a) * (1.0 - a) + b + 0.3 * s]
}

/// `n` trials of ZDT1: see [`study_of`].
pub fn study(n: usize, seed: u64) -> ReportInput {
    study_of(space(), n, seed, zdt1)
}

/// `n` trials of `f`: the default first, then random configurations, budgets cycling 1, 3, 9,
/// 27; every 7th trial fails and every 11th is still running.
pub fn study_of(
    space: ConfigSpace,
    n: usize,
    seed: u64,
    f: fn(&Configuration, f64) -> Vec<f64>,
) -> ReportInput {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let budgets = [1.0, 3.0, 9.0, 27.0];
    let trials = (0..n)
        .map(|i| {
            let config = if i == 0 {
                space.default_configuration()
            } else {
                space.sample(&mut rng)
            };
            let budget = if i == 0 { 27.0 } else { budgets[i % 4] };
            let state = match i {
                i if i > 0 && i % 7 == 0 => TrialState::Failed,
                i if i > 0 && i % 11 == 0 => TrialState::Running,
                _ => TrialState::Finished,
            };
            let objectives = if state == TrialState::Finished {
                f(&config, budget)
            } else {
                Vec::new()
            };
            ReportTrial {
                number: i as u64,
                state,
                budget,
                config,
                objectives,
            }
        })
        .collect();
    ReportInput {
        study: "zdt1-synthetic".to_string(),
        method: Some("random, budgets 1 to 27".to_string()),
        space,
        objectives: vec!["f1".to_string(), "f2".to_string()],
        trials,
        references: Vec::new(),
    }
}
