//! Hypervolume-based Bayesian optimisation: one Gaussian process per objective (Matern 5/2, ARD,
//! hyperparameters by marginal likelihood), exact log expected hypervolume improvement, and an
//! acquisition search of random candidates, perturbations of the current front and coordinate
//! pattern search from the best of them. Pending trials enter as believed observations (the
//! "Kriging believer"): each pending point is added at its predicted mean, which removes the
//! variance there and puts its prediction on the front, so a second worker gets another point.
//!
//! In multi-fidelity mode every budget is modelled at once with a fidelity weight
//! `phi(b) = 1 - ln(b / b_min) / ln(b_max / b_min)` and the kernel `k(x, x') + phi phi' k2(x, x')`
//! (see [`kernel`]); proposals at the largest budget maximise EHVI of the full-fidelity part.

mod ehvi;
mod fit;
pub mod kernel;
mod linalg;
mod search;

pub use ehvi::{norm_cdf, Ehvi};
pub use fit::lbfgs;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{Context, Domain, Observation, Sampler, SamplerError};
use crate::pareto::nondominated_sort;
use crate::Configuration;
use kernel::{Data, Layout, Posterior};

/// Settings of [`GpSampler`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GpOptions {
    /// Space-filling proposals before the model takes over (the default configuration first).
    pub n_initial: usize,
    /// Whether the initial design starts with the space's default configuration.
    pub include_default: bool,
    /// Model all budgets jointly (budget as an input) instead of only the highest budget with
    /// `min_points` observations.
    pub multi_fidelity: bool,
    /// BOHB's rule: the highest budget with at least this many observations is modelled.
    pub min_points: usize,
    /// Random candidates scored per proposal.
    pub n_random: usize,
    /// Starting points of the local search.
    pub n_local: usize,
    /// Acquisition evaluations per local search.
    pub local_evals: usize,
    /// At most this many observations are modelled (the best ranks first, then the latest), so
    /// that the cost of a proposal stops growing with the history.
    pub max_points: usize,
    /// L-BFGS iterations of a hyperparameter fit.
    pub fit_iterations: usize,
    /// A fit from the default parameters besides the warm start every this many proposals.
    pub cold_start_every: usize,
    /// From [`LARGE`] modelled points on, the hyperparameters are refitted every this many
    /// proposals only.
    pub refit_every_large: usize,
}

/// Number of modelled points from which hyperparameter fits are spaced out.
pub const LARGE: usize = 100;

impl Default for GpOptions {
    fn default() -> Self {
        GpOptions {
            n_initial: 8,
            include_default: true,
            multi_fidelity: false,
            min_points: 8,
            n_random: 1000,
            n_local: 5,
            local_evals: 300,
            max_points: 200,
            fit_iterations: 40,
            cold_start_every: 5,
            refit_every_large: 3,
        }
    }
}

/// Expected hypervolume improvement on per-objective Gaussian processes.
#[derive(Debug, Clone)]
pub struct GpSampler {
    options: GpOptions,
    rng: ChaCha8Rng,
    /// Last fitted log-parameters per objective: the warm start of the next fit.
    theta: Vec<Option<Vec<f64>>>,
    proposals: usize,
    design: Vec<Vec<f64>>,
    design_used: usize,
}

/// Inactive dimensions become -1: at distance at least 1 from every active value.
fn features(x: &[f64]) -> Vec<f64> {
    x.iter()
        .map(|v| if v.is_nan() { -1.0 } else { *v })
        .collect()
}

impl GpSampler {
    /// A sampler with its own seeded generator.
    pub fn new(options: GpOptions, seed: u64) -> Self {
        GpSampler {
            options,
            rng: ChaCha8Rng::seed_from_u64(seed),
            theta: Vec::new(),
            proposals: 0,
            design: Vec::new(),
            design_used: 0,
        }
    }

    /// Observations to model, with their fidelity weights, capped at `max_points`.
    fn select<'c>(&self, ctx: &'c Context<'_>) -> Vec<(&'c Observation, f64)> {
        let chosen: Vec<(&Observation, f64)> = if self.options.multi_fidelity {
            let span = (ctx.max_budget / ctx.min_budget).ln();
            ctx.observations
                .iter()
                .map(|o| {
                    let phi = if span > 0.0 {
                        (1.0 - (o.budget / ctx.min_budget).ln() / span).clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    (o, phi)
                })
                .collect()
        } else {
            ctx.highest_budget_with(self.options.min_points)
                .into_iter()
                .map(|o| (o, 0.0))
                .collect()
        };
        let cap = self.options.max_points.max(2);
        if chosen.len() <= cap {
            return chosen;
        }
        // best non-dominated ranks (among full-fidelity points first) up to half, latest after
        let ys: Vec<Vec<f64>> = chosen
            .iter()
            .map(|(o, phi)| {
                if *phi == 0.0 {
                    o.objectives.clone()
                } else {
                    vec![f64::INFINITY; o.objectives.len()]
                }
            })
            .collect();
        let mut keep = vec![false; chosen.len()];
        let mut kept = 0;
        'fronts: for front in nondominated_sort(&ys) {
            for i in front {
                if kept >= cap / 2 {
                    break 'fronts;
                }
                keep[i] = true;
                kept += 1;
            }
        }
        for i in (0..chosen.len()).rev() {
            if kept >= cap {
                break;
            }
            if !keep[i] {
                keep[i] = true;
                kept += 1;
            }
        }
        chosen
            .into_iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|(c, _)| c)
            .collect()
    }

    fn initial_point(
        &mut self,
        ctx: &Context<'_>,
        domain: &Domain<'_>,
    ) -> Result<Configuration, SamplerError> {
        if self.design.is_empty() {
            self.design = domain.space_filling(self.options.n_initial.max(1), &mut self.rng)?;
        }
        let i = self.design_used;
        self.design_used += 1;
        if i == 0 && self.options.include_default {
            return Ok(ctx.space.default_configuration());
        }
        match self.design.get(i) {
            Some(x) => domain.decode(x),
            None => domain.decode(&domain.random(&mut self.rng)?),
        }
    }
}

impl Sampler for GpSampler {
    fn name(&self) -> String {
        if self.options.multi_fidelity {
            "gp-ehvi-mf".into()
        } else {
            "gp-ehvi".into()
        }
    }

    fn propose(&mut self, ctx: &Context<'_>) -> Result<Configuration, SamplerError> {
        let domain = Domain::new(ctx.space);
        if domain.dim() == 0 {
            return Err(SamplerError::EmptySpace);
        }
        if self.options.multi_fidelity && ctx.budget < ctx.max_budget {
            // cheap evaluations screen the space; the model decides only full-fidelity points
            return domain.decode(&domain.random(&mut self.rng)?);
        }
        let data = self.select(ctx);
        // In multi-fidelity mode the design counts full-fidelity points only: without a
        // space-filling set at full fidelity the discrepancy between budgets is not identified
        // and biased cheap data can steer every later proposal.
        let at_target = data.iter().filter(|(_, phi)| *phi == 0.0).count();
        if data.len() < self.options.n_initial.max(2)
            || (self.options.multi_fidelity && at_target < self.options.n_initial)
        {
            return self.initial_point(ctx, &domain);
        }
        self.proposals += 1;
        let m = ctx.n_objectives;
        let d = domain.dim();
        let cat = domain.categorical();
        let layout = Layout::new(d, self.options.multi_fidelity);
        if self.theta.len() != m {
            self.theta = vec![None; m];
        }
        let xs: Vec<Vec<f64>> = data.iter().map(|(o, _)| features(&o.x)).collect();
        let phis: Vec<f64> = data.iter().map(|(_, p)| *p).collect();
        let pending: Vec<Vec<f64>> = ctx
            .pending
            .iter()
            .filter(|(_, b)| *b >= ctx.max_budget || !self.options.multi_fidelity)
            .map(|(x, _)| features(x))
            .collect();
        let mut models = Vec::with_capacity(m);
        let mut scales = Vec::with_capacity(m);
        for j in 0..m {
            let raw: Vec<f64> = data.iter().map(|(o, _)| o.objectives[j]).collect();
            let n = raw.len() as f64;
            let mean = raw.iter().sum::<f64>() / n;
            let var = raw.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            let sd = if var > 1e-24 { var.sqrt() } else { 1.0 };
            let y: Vec<f64> = raw.iter().map(|v| (v - mean) / sd).collect();
            let train = Data {
                x: xs.clone(),
                phi: phis.clone(),
                y,
            };
            let warm = self.theta[j].clone().filter(|t| t.len() == layout.len());
            // With many points the fitted parameters barely move between proposals: refit only
            // every `refit_every_large`-th time and reuse the last fit otherwise.
            let phase = self.proposals % self.options.refit_every_large.max(1);
            let reuse = train.y.len() >= LARGE && phase > 0;
            let theta = match warm {
                Some(t) if reuse => t,
                warm => {
                    let cold = warm.is_none()
                        || self.proposals % self.options.cold_start_every.max(1) == 1;
                    let mut starts: Vec<Vec<f64>> = warm.into_iter().collect();
                    if cold {
                        starts.push(layout.initial());
                    }
                    fit::fit(layout, &train, &cat, &starts, self.options.fit_iterations)
                        .unwrap_or_else(|| layout.initial())
                }
            };
            self.theta[j] = Some(theta.clone());
            let post = Posterior::new(layout, theta.clone(), &train, &cat);
            let Some(post) = post else {
                // a covariance that never factors: no model, a random point keeps the search going
                return domain.decode(&domain.random(&mut self.rng)?);
            };
            // believed pending observations: their predicted means, noise-free
            let post = if pending.is_empty() {
                post
            } else {
                let mut buf = Vec::new();
                let mut aug = train.clone();
                for p in &pending {
                    aug.x.push(p.clone());
                    aug.phi.push(0.0);
                    aug.y.push(post.predict(p, &mut buf).0);
                }
                Posterior::new(layout, theta, &aug, &cat).unwrap_or(post)
            };
            models.push(post);
            scales.push((mean, sd));
        }
        // front (standardised) of full-fidelity data plus believed pending points
        let mut buf = Vec::new();
        let mut front_pts: Vec<Vec<f64>> = Vec::new();
        let mut front_x: Vec<Vec<f64>> = Vec::new();
        let mut worst = vec![f64::NEG_INFINITY; m];
        let mut best = vec![f64::INFINITY; m];
        for (o, phi) in &data {
            let z: Vec<f64> = (0..m)
                .map(|j| (o.objectives[j] - scales[j].0) / scales[j].1)
                .collect();
            for j in 0..m {
                worst[j] = worst[j].max(z[j]);
                best[j] = best[j].min(z[j]);
            }
            if *phi == 0.0 {
                front_pts.push(z);
                front_x.push(o.x.clone());
            }
        }
        for p in &pending {
            front_pts.push((0..m).map(|j| models[j].predict(p, &mut buf).0).collect());
            front_x.push(p.clone());
        }
        let reference: Vec<f64> = (0..m)
            .map(|j| worst[j] + 0.1 * (worst[j] - best[j]).max(1e-9))
            .collect();
        let nd = nondominated_sort(&front_pts);
        let first: Vec<usize> = nd.first().cloned().unwrap_or_default();
        let front: Vec<Vec<f64>> = first.iter().map(|&i| front_pts[i].clone()).collect();
        let starts_x: Vec<Vec<f64>> = first.iter().map(|&i| front_x[i].clone()).collect();
        let acq = Ehvi::new(&front, &reference);
        let mut taken: Vec<Vec<f64>> = data.iter().map(|(o, _)| o.x.clone()).collect();
        taken.extend(ctx.pending.iter().map(|(x, _)| x.clone()));
        let score = |x: &[f64], buf: &mut Vec<f64>| -> f64 {
            let f = features(x);
            let mut mu = vec![0.0; m];
            let mut sd = vec![0.0; m];
            for j in 0..m {
                let (a, v) = models[j].predict(&f, buf);
                mu[j] = a;
                sd[j] = v.sqrt();
            }
            acq.ln_ehvi(&mu, &sd)
        };
        let x = search::maximise(
            &domain,
            &score,
            &starts_x,
            &taken,
            &self.options,
            &mut self.rng,
        )?;
        domain.decode(&x)
    }
}
