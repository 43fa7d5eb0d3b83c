//! Vectors in `[0, 1]` for samplers, and the one-exchange neighbourhood for local search.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_distr::{Distribution, Normal};

use super::{ConfigSpace, Configuration, HpKind, SpaceError, Value};

/// Standard deviation, in the unit encoding, of a numeric neighbour's step: SMAC's value.
const NEIGHBOUR_STDEV: f64 = 0.2;

/// Draws of a numeric step before a neighbour search gives up on that hyperparameter (a step
/// can fall outside `[0, 1]` or round back to the same integer).
const STEP_TRIES: usize = 10;

impl ConfigSpace {
    /// The configuration as a vector in encoding order ([`ConfigSpace::names`]).
    ///
    /// Each entry lies in `[0, 1]`:
    /// - float and integer: `(x - lower) / (upper - lower)`, computed on `ln x` with `log`;
    /// - categorical and ordinal: `index / (n - 1)` (0 when `n = 1`), the index in the file's
    ///   order of choices;
    /// - constant: 0.
    ///
    /// An inactive (absent) hyperparameter, or a value that is not legal for its
    /// hyperparameter, is `f64::NAN`. Unit ranges encode as the identity: a float on `[0, 1]`
    /// maps `x` to `x`.
    pub fn encode(&self, c: &Configuration) -> Vec<f64> {
        self.hps
            .iter()
            .map(|h| c.get(h.name()).map_or(f64::NAN, |v| h.unit_of(v)))
            .collect()
    }

    /// The configuration a vector encodes, the inverse of [`ConfigSpace::encode`].
    ///
    /// Entries are clamped into `[0, 1]`; integers round to the nearest integer after mapping
    /// back, categoricals and ordinals round `v * (n - 1)`. Hyperparameters that the
    /// conditions make inactive are dropped whatever their entry. An active hyperparameter
    /// whose entry is NaN takes its default, as ConfigSpace does for a child that a change of
    /// its parent activates, so vectors mixed from several configurations still decode.
    /// Errors: a vector of the wrong length, or one that violates a forbidden clause.
    pub fn decode(&self, v: &[f64]) -> Result<Configuration, SpaceError> {
        if v.len() != self.len() {
            return Err(SpaceError::VectorLength {
                expected: self.len(),
                got: v.len(),
            });
        }
        let c = self.build(|i, h| {
            Ok(if v[i].is_nan() {
                h.default_value()
            } else {
                h.value_at(v[i])
            })
        })?;
        match self.violated(c.as_map()) {
            Some(f) => Err(SpaceError::ForbiddenConfiguration(f.to_string())),
            None => Ok(c),
        }
    }

    /// Up to `n` distinct valid neighbours of `c`, each differing from it in one active
    /// hyperparameter (SMAC's one-exchange neighbourhood): a float or integer moves by a
    /// Gaussian step of standard deviation 0.2 in the unit encoding, a categorical takes
    /// another choice, an ordinal an adjacent item. Children that the change activates take
    /// their defaults and children it deactivates are dropped; neighbours that violate a
    /// forbidden clause are skipped. Fewer than `n` come back when the neighbourhood is
    /// smaller (a space of constants has none).
    pub fn neighbours(
        &self,
        c: &Configuration,
        rng: &mut impl Rng,
        n: usize,
    ) -> Vec<Configuration> {
        let movable: Vec<usize> = self
            .hps
            .iter()
            .enumerate()
            .filter(|(_, h)| c.contains(h.name()) && !matches!(h.kind(), HpKind::Constant { .. }))
            .map(|(i, _)| i)
            .collect();
        let mut out: Vec<Configuration> = Vec::new();
        if movable.is_empty() {
            return out;
        }
        // Bounded so that a tiny neighbourhood (two binary categoricals, say) cannot loop
        // forever looking for distinct neighbours that do not exist.
        let budget = 20 * n + 100;
        let mut order = movable.clone();
        let mut tries = 0;
        while out.len() < n && tries < budget {
            order.shuffle(rng);
            for &i in &order {
                if out.len() >= n || tries >= budget {
                    break;
                }
                tries += 1;
                if let Some(nb) = self.one_exchange(c, i, rng) {
                    if nb != *c && !out.contains(&nb) {
                        out.push(nb);
                    }
                }
            }
        }
        out
    }

    /// `c` with hyperparameter `i` moved to a neighbouring value; `None` when no move was
    /// found or the result is forbidden.
    fn one_exchange(
        &self,
        c: &Configuration,
        i: usize,
        rng: &mut impl Rng,
    ) -> Option<Configuration> {
        let h = &self.hps[i];
        let current = c.get(h.name())?;
        let new = match h.kind() {
            HpKind::Float { .. } | HpKind::Int { .. } => {
                let u = h.unit_of(current);
                let normal = Normal::new(0.0, NEIGHBOUR_STDEV).ok()?;
                let stepped = (0..STEP_TRIES).find_map(|_| {
                    let w = u + normal.sample(rng);
                    let v = h.value_at(w);
                    ((0.0..=1.0).contains(&w) && !v.matches(current)).then_some(v)
                });
                match (stepped, h.kind()) {
                    (Some(v), _) => v,
                    // Gaussian steps on a short integer range mostly round back to the same
                    // value; the adjacent integer is then the natural neighbour.
                    (None, HpKind::Int { lower, upper, .. }) => {
                        let x = current.as_i64()?;
                        let up = x < *upper && (x == *lower || rng.gen::<bool>());
                        Value::Int(if up { x + 1 } else { x - 1 })
                    }
                    (None, _) => return None,
                }
            }
            HpKind::Categorical { choices, .. } => {
                let others: Vec<&Value> = choices.iter().filter(|v| !v.matches(current)).collect();
                (*others.choose(rng)?).clone()
            }
            HpKind::Ordinal { sequence } => {
                let k = h.index_of(current)?;
                let mut adjacent = Vec::with_capacity(2);
                if k > 0 {
                    adjacent.push(k - 1);
                }
                if k + 1 < sequence.len() {
                    adjacent.push(k + 1);
                }
                sequence[*adjacent.choose(rng)?].clone()
            }
            HpKind::Constant { .. } => return None,
        };
        let name = h.name();
        let nb = self
            .build(|_, g| {
                Ok(if g.name() == name {
                    new.clone()
                } else {
                    c.get(g.name())
                        .cloned()
                        .unwrap_or_else(|| g.default_value())
                })
            })
            .ok()?;
        self.violated(nb.as_map()).is_none().then_some(nb)
    }
}
