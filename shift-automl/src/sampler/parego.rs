//! ParEGO on a random forest, as AutoDSNN runs it through SMAC3: each proposal draws random
//! weights, scalarises the objectives normalised to [0, 1] by the augmented Chebyshev function
//! `max_i w_i f_i + rho sum_i w_i f_i` (rho 0.05), fits SMAC's forest to the scalarised values,
//! and maximises expected improvement by SMAC's local-and-sorted-random search (one-exchange
//! local search from the best points plus random points), with SMAC's random interleaving.
//! Pending trials enter at the mean scalarised value (a constant liar).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::forest::{Forest, ForestOptions};
use super::gp::norm_cdf;
use super::{Context, Domain, Sampler, SamplerError};
use crate::Configuration;

/// Settings of [`ParEgoSampler`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ParEgoOptions {
    /// Augmentation weight of the Chebyshev scalarisation.
    pub rho: f64,
    /// Initial design size, the default configuration included.
    pub n_initial: usize,
    /// Probability that a proposal is a random configuration (SMAC's interleaving).
    pub random_probability: f64,
    /// Random configurations scored per proposal.
    pub n_random: usize,
    /// Starts of the local search.
    pub n_local: usize,
    /// Neighbours drawn per local-search step.
    pub n_neighbours: usize,
    /// Log-transform the scalarised targets before fitting.
    pub log_y: bool,
    /// The forest.
    pub forest: ForestOptions,
}

impl Default for ParEgoOptions {
    fn default() -> Self {
        ParEgoOptions {
            rho: 0.05,
            n_initial: 10,
            random_probability: 0.2,
            n_random: 1000,
            n_local: 10,
            n_neighbours: 20,
            log_y: false,
            forest: ForestOptions::default(),
        }
    }
}

/// ParEGO with a random-forest surrogate and expected improvement.
#[derive(Debug, Clone)]
pub struct ParEgoSampler {
    options: ParEgoOptions,
    rng: ChaCha8Rng,
    design: Vec<Vec<f64>>,
    design_used: usize,
}

impl ParEgoSampler {
    /// A sampler with its own seeded generator.
    pub fn new(options: ParEgoOptions, seed: u64) -> Self {
        ParEgoSampler {
            options,
            rng: ChaCha8Rng::seed_from_u64(seed),
            design: Vec::new(),
            design_used: 0,
        }
    }
}

/// Expected improvement below `best` of a normal prediction.
fn expected_improvement(mean: f64, var: f64, best: f64) -> f64 {
    let sd = var.max(1e-12).sqrt();
    let z = (best - mean) / sd;
    let pdf = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    sd * (z * norm_cdf(z) + pdf)
}

impl Sampler for ParEgoSampler {
    fn name(&self) -> String {
        "parego-rf".into()
    }

    fn propose(&mut self, ctx: &Context<'_>) -> Result<Configuration, SamplerError> {
        let domain = Domain::new(ctx.space);
        if domain.dim() == 0 {
            return Err(SamplerError::EmptySpace);
        }
        let data = ctx.highest_budget_with(self.options.n_initial.max(2));
        if data.len() < self.options.n_initial.max(2) {
            if self.design.is_empty() {
                self.design = domain.space_filling(self.options.n_initial.max(1), &mut self.rng)?;
            }
            let i = self.design_used;
            self.design_used += 1;
            if i == 0 {
                return Ok(ctx.space.default_configuration());
            }
            return match self.design.get(i) {
                Some(x) => domain.decode(x),
                None => domain.decode(&domain.random(&mut self.rng)?),
            };
        }
        if self.rng.gen::<f64>() < self.options.random_probability {
            return domain.decode(&domain.random(&mut self.rng)?);
        }
        let m = ctx.n_objectives;
        let mut w: Vec<f64> = (0..m).map(|_| self.rng.gen::<f64>()).collect();
        let ws: f64 = w.iter().sum();
        w.iter_mut().for_each(|v| *v /= ws.max(1e-300));
        let lo: Vec<f64> = (0..m)
            .map(|j| {
                data.iter()
                    .map(|o| o.objectives[j])
                    .fold(f64::INFINITY, f64::min)
            })
            .collect();
        let hi: Vec<f64> = (0..m)
            .map(|j| {
                data.iter()
                    .map(|o| o.objectives[j])
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .collect();
        let rho = self.options.rho;
        let scal = |f: &[f64]| -> f64 {
            let z: Vec<f64> = (0..m)
                .map(|j| {
                    if hi[j] > lo[j] {
                        (f[j] - lo[j]) / (hi[j] - lo[j])
                    } else {
                        0.0
                    }
                })
                .collect();
            let mx = (0..m)
                .map(|j| w[j] * z[j])
                .fold(f64::NEG_INFINITY, f64::max);
            mx + rho * (0..m).map(|j| w[j] * z[j]).sum::<f64>()
        };
        let mut y: Vec<f64> = data.iter().map(|o| scal(&o.objectives)).collect();
        let feat = |x: &[f64]| -> Vec<f64> {
            x.iter()
                .map(|v| if v.is_nan() { -1.0 } else { *v })
                .collect()
        };
        let mut xs: Vec<Vec<f64>> = data.iter().map(|o| feat(&o.x)).collect();
        let liar = y.iter().sum::<f64>() / y.len() as f64;
        for (px, _) in ctx.pending {
            xs.push(feat(px));
            y.push(liar);
        }
        if self.options.log_y {
            // scalarised values are in [0, 1 + rho]; the offset keeps the log finite at 0
            y.iter_mut().for_each(|v| *v = (*v + 1e-3).ln());
        }
        let best = y[..data.len()]
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let forest = Forest::fit(
            &xs,
            &y,
            &domain.categorical(),
            &self.options.forest,
            &mut self.rng,
        );
        let acq = |x: &[f64]| {
            let (mu, var) = forest.predict(&feat(x));
            expected_improvement(mu, var, best)
        };
        let taken: Vec<Vec<f64>> = data
            .iter()
            .map(|o| o.x.clone())
            .chain(ctx.pending.iter().map(|p| p.0.clone()))
            .collect();
        let is_taken = |x: &[f64]| {
            taken.iter().any(|t| {
                t.iter()
                    .zip(x)
                    .all(|(a, b)| a == b || (a.is_nan() && b.is_nan()))
            })
        };
        // sorted random search
        let mut scored: Vec<(f64, Vec<f64>)> = Vec::new();
        for _ in 0..self.options.n_random {
            let x = domain.random(&mut self.rng)?;
            scored.push((acq(&x), x));
        }
        // local search starts: the best observed configurations and the best random ones
        let mut starts: Vec<(f64, Vec<f64>)> =
            data.iter().map(|o| (acq(&o.x), o.x.clone())).collect();
        starts.sort_by(|a, b| b.0.total_cmp(&a.0));
        starts.truncate(self.options.n_local);
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        starts.extend(scored.iter().take(self.options.n_local).cloned());
        let mut best_cand = scored.iter().find(|c| !is_taken(&c.1)).cloned();
        for (s0, x0) in starts {
            let (mut cur_s, mut cur) = (s0, x0);
            // one-exchange first-improvement hill climbing, as SMAC's LocalSearch
            for _ in 0..100 {
                let c = domain.decode(&cur)?;
                let nbs = ctx
                    .space
                    .neighbours(&c, &mut self.rng, self.options.n_neighbours);
                let mut moved = false;
                for nb in nbs {
                    let v = ctx.space.encode(&nb);
                    let s = acq(&v);
                    if s > cur_s {
                        cur_s = s;
                        cur = v;
                        moved = true;
                        break;
                    }
                }
                if !moved {
                    break;
                }
            }
            if !is_taken(&cur) && best_cand.as_ref().is_none_or(|b| cur_s > b.0) {
                best_cand = Some((cur_s, cur));
            }
        }
        match best_cand {
            Some((_, x)) => domain.decode(&x),
            None => domain.decode(&domain.random(&mut self.rng)?),
        }
    }
}
