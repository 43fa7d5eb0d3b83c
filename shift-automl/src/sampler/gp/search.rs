//! Maximisation of an acquisition over the encoded space: random candidates and Gaussian
//! perturbations of the current front's configurations are scored, and a coordinate pattern
//! search (step halving from 0.1, clipped to the unit cube, so bounds are reached exactly)
//! refines the best few. Gradient-free, so it handles discrete dimensions through snapping.

use rand::Rng;
use rand_distr::{Distribution, Normal};

use super::GpOptions;
use crate::sampler::{Domain, SamplerError};

/// Perturbations drawn around each front configuration.
const PERTURBATIONS: usize = 10;
/// Standard deviation of those perturbations in the unit encoding.
const PERTURB_SD: f64 = 0.05;

fn is_taken(x: &[f64], taken: &[Vec<f64>]) -> bool {
    taken.iter().any(|t| {
        t.len() == x.len()
            && t.iter()
                .zip(x)
                .all(|(a, b)| (a.is_nan() && b.is_nan()) || (a - b).abs() < 1e-9)
    })
}

/// The best point found; never one of `taken` (observed or pending) unless nothing else is
/// scored.
pub fn maximise<F>(
    domain: &Domain<'_>,
    score: &F,
    front_x: &[Vec<f64>],
    taken: &[Vec<f64>],
    options: &GpOptions,
    rng: &mut impl Rng,
) -> Result<Vec<f64>, SamplerError>
where
    F: Fn(&[f64], &mut Vec<f64>) -> f64,
{
    let mut buf = Vec::new();
    let mut scored: Vec<(f64, Vec<f64>)> = Vec::new();
    for _ in 0..options.n_random {
        let x = domain.random(rng)?;
        let s = score(&x, &mut buf);
        scored.push((s, x));
    }
    let normal = Normal::new(0.0, PERTURB_SD).expect("positive sd");
    for fx in front_x.iter().take(50) {
        for _ in 0..PERTURBATIONS {
            let y: Vec<f64> = fx
                .iter()
                .map(|v| {
                    if v.is_nan() {
                        *v
                    } else {
                        v + normal.sample(rng)
                    }
                })
                .collect();
            if let Some(y) = domain.snap(&y) {
                let s = score(&y, &mut buf);
                scored.push((s, y));
            }
        }
    }
    // NaN scores sort last
    scored.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Less));
    let mut best: Option<(f64, Vec<f64>)> =
        scored.iter().find(|(_, x)| !is_taken(x, taken)).cloned();
    let d = domain.dim();
    let mut starts: Vec<&(f64, Vec<f64>)> = Vec::new();
    for c in &scored {
        if starts.len() >= options.n_local {
            break;
        }
        if !starts.iter().any(|s| s.1 == c.1) {
            starts.push(c);
        }
    }
    for (s0, x0) in starts.into_iter().cloned().collect::<Vec<_>>() {
        let (mut cur_s, mut cur) = (s0, x0);
        let mut step = 0.1;
        let mut evals = 0;
        while step >= 1e-3 && evals < options.local_evals {
            let mut improved = false;
            for k in 0..d {
                for y in domain.moves(&cur, k, step, rng) {
                    evals += 1;
                    let s = score(&y, &mut buf);
                    if s > cur_s && !is_taken(&y, taken) {
                        cur_s = s;
                        cur = y;
                        improved = true;
                        break;
                    }
                }
            }
            if !improved {
                step *= 0.5;
            }
        }
        if !is_taken(&cur, taken) && best.as_ref().is_none_or(|(bs, _)| cur_s > *bs) {
            best = Some((cur_s, cur));
        }
    }
    match best {
        Some((_, x)) => Ok(x),
        None => domain.random(rng),
    }
}
