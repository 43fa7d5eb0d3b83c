//! The encoded view of a space that model-based samplers search in: random and space-filling
//! vectors, moves along one dimension, and snapping a vector back onto a valid configuration.

use rand::seq::SliceRandom;
use rand::Rng;

use super::SamplerError;
use crate::{ConfigSpace, Configuration, DimKind};

/// A space seen as vectors in `[0, 1]^d` (NaN = inactive).
#[derive(Debug, Clone)]
pub struct Domain<'a> {
    space: &'a ConfigSpace,
    kinds: Vec<DimKind>,
    /// Only continuous dimensions, no conditions, no forbidden clauses: every vector in the unit
    /// cube is a configuration, so nothing needs snapping (the fast path of the benchmarks).
    plain: bool,
}

impl<'a> Domain<'a> {
    /// The encoded view of `space`.
    pub fn new(space: &'a ConfigSpace) -> Self {
        let kinds = space.dim_kinds();
        let plain = kinds.iter().all(|k| matches!(k, DimKind::Continuous))
            && space.conditions().is_empty()
            && space.forbiddens().is_empty();
        Domain {
            space,
            kinds,
            plain,
        }
    }

    /// Number of dimensions.
    pub fn dim(&self) -> usize {
        self.kinds.len()
    }

    /// Which dimensions are unordered choices (a kernel compares them by equality).
    pub fn categorical(&self) -> Vec<bool> {
        self.kinds
            .iter()
            .map(|k| matches!(k, DimKind::Categorical { .. }))
            .collect()
    }

    /// A vector drawn from the space's prior.
    pub fn random(&self, rng: &mut impl Rng) -> Result<Vec<f64>, SamplerError> {
        if self.kinds.is_empty() {
            return Err(SamplerError::EmptySpace);
        }
        if self.plain {
            return Ok((0..self.dim()).map(|_| rng.gen::<f64>()).collect());
        }
        Ok(self.space.encode(&self.space.try_sample(rng)?))
    }

    /// `n` vectors spread by a Latin hypercube in the plain case, prior draws otherwise.
    pub fn space_filling(
        &self,
        n: usize,
        rng: &mut impl Rng,
    ) -> Result<Vec<Vec<f64>>, SamplerError> {
        if !self.plain {
            return (0..n).map(|_| self.random(rng)).collect();
        }
        let d = self.dim();
        let mut out = vec![vec![0.0; d]; n];
        for k in 0..d {
            let mut perm: Vec<usize> = (0..n).collect();
            perm.shuffle(rng);
            for (row, p) in out.iter_mut().zip(perm) {
                row[k] = (p as f64 + rng.gen::<f64>()) / n as f64;
            }
        }
        Ok(out)
    }

    /// The vector of the configuration that `x` decodes to, or `None` when it decodes to none
    /// (forbidden); identity in the plain case apart from clamping into the cube.
    pub fn snap(&self, x: &[f64]) -> Option<Vec<f64>> {
        if self.plain {
            return Some(x.iter().map(|v| v.clamp(0.0, 1.0)).collect());
        }
        self.space.decode(x).ok().map(|c| self.space.encode(&c))
    }

    /// The configuration of a vector.
    pub fn decode(&self, x: &[f64]) -> Result<Configuration, SamplerError> {
        Ok(self.space.decode(x)?)
    }

    /// Moves of `x` along dimension `k` by about `step`: both directions for ordered
    /// dimensions (at least one level for discrete ones), other choices for categoricals.
    /// Inactive (NaN) and constant dimensions have none. Results are snapped.
    pub fn moves(&self, x: &[f64], k: usize, step: f64, rng: &mut impl Rng) -> Vec<Vec<f64>> {
        if x[k].is_nan() {
            return Vec::new();
        }
        let mut targets: Vec<f64> = Vec::new();
        match self.kinds[k] {
            DimKind::Constant => {}
            DimKind::Continuous => {
                targets.push((x[k] - step).max(0.0));
                targets.push((x[k] + step).min(1.0));
            }
            DimKind::Integer { levels } => {
                let s = step.max(1.0 / (levels.max(2) - 1) as f64);
                targets.push((x[k] - s).max(0.0));
                targets.push((x[k] + s).min(1.0));
            }
            DimKind::Ordinal { levels } => {
                let s = step.max(1.0 / (levels.max(2) - 1) as f64);
                targets.push((x[k] - s).max(0.0));
                targets.push((x[k] + s).min(1.0));
            }
            DimKind::Categorical { choices } => {
                if choices >= 2 {
                    let mut all: Vec<f64> = (0..choices)
                        .map(|i| i as f64 / (choices - 1) as f64)
                        .filter(|v| (v - x[k]).abs() > 1e-12)
                        .collect();
                    all.shuffle(rng);
                    all.truncate(3);
                    targets = all;
                }
            }
        }
        targets
            .into_iter()
            .filter(|t| *t != x[k])
            .filter_map(|t| {
                let mut y = x.to_vec();
                y[k] = t;
                self.snap(&y)
            })
            .filter(|y| y.as_slice() != x)
            .collect()
    }
}
