//! Optimises the ZDT1 benchmark (six variables in [0, 1], two objectives, a convex front
//! `f2 = 1 - sqrt(f1)`) with ask/tell: the Gaussian-process sampler (expected hypervolume
//! improvement) against random search, the same number of trials each, and prints each front
//! and its hypervolume against the problem's reference point.
//!
//! `cargo run --release -p shift-automl --example zdt1 [-- TRIALS]` (default 40)

use shift_automl::bench::unit_space;
use shift_automl::pareto::{hypervolume, nondominated_front};
use shift_automl::problems::Problem;
use shift_automl::sampler::{GpOptions, GpSampler, RandomSampler, Sampler};
use shift_automl::scheduler::{FullFidelity, Outcome, Search, SearchOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let trials: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().map_err(|e| format!("TRIALS `{n}`: {e}"))?,
        None => 40,
    };
    let problem = Problem::Zdt1;
    let reference = problem.reference();
    let samplers: Vec<Box<dyn Sampler>> = vec![
        Box::new(GpSampler::new(GpOptions::default(), 1)),
        Box::new(RandomSampler::new(1)),
    ];
    for sampler in samplers {
        let name = sampler.name();
        let options = SearchOptions {
            n_objectives: problem.n_objectives(),
            min_budget: 1.0,
            max_budget: 1.0,
            crash_cost: None,
        };
        let schedule = Box::new(FullFidelity::new(1.0));
        let mut search = Search::new(unit_space()?, sampler, schedule, options)?;
        let mut points = Vec::with_capacity(trials);
        for _ in 0..trials {
            let trial = search.ask()?;
            // The unit-cube encoding of a configuration of x0..x5 in [0, 1] is the values.
            let x = search.trials()[trial.id as usize].x.clone();
            let f = problem.evaluate(&x)?;
            search.tell(trial.id, Outcome::Ok(f.clone()))?;
            points.push(f);
        }
        let mut front = nondominated_front(&points);
        front.sort_by(|&a, &b| points[a][0].total_cmp(&points[b][0]));
        let front: Vec<Vec<f64>> = front.into_iter().map(|i| points[i].clone()).collect();
        println!(
            "{name}: {trials} trials, {} on the front, hypervolume {:.4} (the true front's: {:.4})",
            front.len(),
            hypervolume(&front, &reference),
            problem.front_hv()
        );
        for f in &front {
            println!("  f1 {:.4}  f2 {:.4}", f[0], f[1]);
        }
    }
    Ok(())
}
