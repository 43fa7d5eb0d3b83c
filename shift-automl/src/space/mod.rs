//! Configuration spaces compatible with Python's ConfigSpace (1.x JSON format).
//!
//! A [`ConfigSpace`] holds hyperparameters (uniform floats and integers, optionally on a log
//! scale, categoricals with optional weights, ordinals, constants), conditions that make a
//! hyperparameter active only for some values of its parents, and forbidden clauses. It reads
//! and writes the JSON that `ConfigurationSpace.to_json` writes, samples configurations,
//! encodes them as vectors in `[0, 1]` for samplers, and gives SMAC's one-exchange
//! neighbourhood for local search.
//!
//! The encoding order ([`ConfigSpace::names`]) is ConfigSpace's: hyperparameters sorted by
//! their depth in the condition graph (unconditional ones first), then by name. A space without
//! conditions is therefore sorted by name.

mod condition;
mod encode;
mod forbidden;
mod hyperparameter;
mod json;
mod value;

use std::collections::BTreeMap;

use rand::Rng;

pub use crate::error::SpaceError;
pub use condition::{Comparison, Condition};
pub use forbidden::{Forbidden, Relation};
pub use hyperparameter::{DimKind, HpKind, Hyperparameter};
pub use value::{Configuration, Value};

/// How many draws [`ConfigSpace::try_sample`] makes before concluding that the forbidden
/// clauses leave (almost) nothing: enough for spaces where a clause excludes 99 % of the
/// space, small enough that a space excluding everything fails in milliseconds.
pub const SAMPLE_ATTEMPTS: usize = 10_000;

/// A configuration space: hyperparameters, conditions and forbidden clauses.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigSpace {
    name: Option<String>,
    /// In encoding order.
    hps: Vec<Hyperparameter>,
    index: BTreeMap<String, usize>,
    /// At most one per child (ConfigSpace's rule: several conditions need a conjunction).
    conditions: Vec<Condition>,
    forbiddens: Vec<Forbidden>,
}

impl ConfigSpace {
    /// An empty space.
    pub fn new() -> Self {
        Self::default()
    }

    /// The space's name (ConfigSpace's `name`, null when absent).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Sets the space's name.
    pub fn set_name(&mut self, name: Option<String>) -> &mut Self {
        self.name = name;
        self
    }

    /// Adds a hyperparameter after checking it (see [`Hyperparameter::check`]).
    pub fn add(&mut self, mut hp: Hyperparameter) -> Result<&mut Self, SpaceError> {
        hp.check()?;
        hp.freeze_default();
        if self.index.contains_key(hp.name()) {
            return Err(SpaceError::Duplicate(hp.name().to_string()));
        }
        self.hps.push(hp);
        self.reorder()?;
        Ok(self)
    }

    /// Adds a condition after checking it against the hyperparameters added so far. A
    /// hyperparameter takes one condition (combine several with [`Condition::And`] or
    /// [`Condition::Or`]), and conditions must not form a cycle.
    pub fn add_condition(&mut self, c: Condition) -> Result<&mut Self, SpaceError> {
        c.check(self)?;
        if self.condition_of(c.child()).is_some() {
            return Err(SpaceError::Condition {
                child: c.child().to_string(),
                problem: "it already has a condition; combine conditions with AND or OR"
                    .to_string(),
            });
        }
        let before = self.clone();
        self.conditions.push(c);
        if let Err(e) = self.reorder().and_then(|_| self.check_default()) {
            *self = before;
            return Err(e);
        }
        Ok(self)
    }

    /// Adds a forbidden clause after checking it. As in ConfigSpace, a clause may not forbid
    /// the default configuration, so every space has at least one valid configuration.
    pub fn add_forbidden(&mut self, f: Forbidden) -> Result<&mut Self, SpaceError> {
        f.check(self)?;
        self.forbiddens.push(f);
        if let Err(e) = self.check_default() {
            self.forbiddens.pop();
            return Err(e);
        }
        Ok(self)
    }

    fn check_default(&self) -> Result<(), SpaceError> {
        let d = self.default_configuration();
        match self.violated(d.as_map()) {
            Some(f) => Err(SpaceError::Forbidden {
                clause: f.to_string(),
                problem: format!("it forbids the default configuration {d}"),
            }),
            None => Ok(()),
        }
    }

    /// Sorts the hyperparameters by (depth in the condition graph, name), detecting cycles.
    fn reorder(&mut self) -> Result<(), SpaceError> {
        let by_name: BTreeMap<&str, &Hyperparameter> =
            self.hps.iter().map(|h| (h.name(), h)).collect();
        let parents: BTreeMap<&str, Vec<&str>> = self
            .conditions
            .iter()
            .map(|c| (c.child(), c.parents()))
            .collect();
        let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
        for &name in by_name.keys() {
            depth_of(name, &parents, &mut depth, &mut Vec::new())?;
        }
        let mut order: Vec<Hyperparameter> = self.hps.clone();
        order.sort_by(|a, b| (depth[a.name()], a.name()).cmp(&(depth[b.name()], b.name())));
        self.index = order
            .iter()
            .enumerate()
            .map(|(i, h)| (h.name().to_string(), i))
            .collect();
        self.hps = order;
        Ok(())
    }

    /// The hyperparameter of this name.
    pub fn hyperparameter(&self, name: &str) -> Option<&Hyperparameter> {
        self.index.get(name).map(|&i| &self.hps[i])
    }

    /// The hyperparameters in encoding order.
    pub fn hyperparameters(&self) -> &[Hyperparameter] {
        &self.hps
    }

    /// Position of a hyperparameter in encoded vectors.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The conditions, in the order they were added.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// The condition that activates `child`, if it has one.
    pub fn condition_of(&self, child: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.child() == child)
    }

    /// The forbidden clauses, in the order they were added.
    pub fn forbiddens(&self) -> &[Forbidden] {
        &self.forbiddens
    }

    /// Number of hyperparameters, the length of an encoded vector.
    pub fn len(&self) -> usize {
        self.hps.len()
    }

    /// Whether the space has no hyperparameter.
    pub fn is_empty(&self) -> bool {
        self.hps.is_empty()
    }

    /// The hyperparameter names in encoding order (see the module documentation).
    pub fn names(&self) -> Vec<&str> {
        self.hps.iter().map(|h| h.name()).collect()
    }

    /// The kind of each dimension, in encoding order.
    pub fn dim_kinds(&self) -> Vec<DimKind> {
        self.hps.iter().map(|h| h.dim_kind()).collect()
    }

    /// Whether `name` is active given the values of the hyperparameters before it.
    fn is_active(&self, name: &str, values: &BTreeMap<String, Value>) -> bool {
        match self.condition_of(name) {
            Some(c) => c.holds(values, self),
            None => true,
        }
    }

    /// The first forbidden clause these values violate.
    pub fn violated(&self, values: &BTreeMap<String, Value>) -> Option<&Forbidden> {
        self.forbiddens.iter().find(|f| f.applies(values))
    }

    /// Builds a configuration in encoding order: `value_of` gives each active hyperparameter's
    /// value (parents come first, so activity is known when a child is reached).
    fn build(
        &self,
        mut value_of: impl FnMut(usize, &Hyperparameter) -> Result<Value, SpaceError>,
    ) -> Result<Configuration, SpaceError> {
        let mut values = BTreeMap::new();
        for (i, h) in self.hps.iter().enumerate() {
            if self.is_active(h.name(), &values) {
                let v = value_of(i, h)?;
                values.insert(h.name().to_string(), v);
            }
        }
        Ok(Configuration::new(values))
    }

    /// The default configuration: each active hyperparameter at its default
    /// ([`Hyperparameter::default_value`]).
    pub fn default_configuration(&self) -> Configuration {
        self.build(|_, h| Ok(h.default_value())).unwrap_or_default()
    }

    /// One configuration from the prior, respecting conditions and forbidden clauses
    /// (rejection sampling, at most [`SAMPLE_ATTEMPTS`] draws).
    pub fn try_sample(&self, rng: &mut impl Rng) -> Result<Configuration, SpaceError> {
        for _ in 0..SAMPLE_ATTEMPTS {
            let c = self.build(|_, h| Ok(h.sample(rng)))?;
            if self.violated(c.as_map()).is_none() {
                return Ok(c);
            }
        }
        Err(SpaceError::Empty {
            attempts: SAMPLE_ATTEMPTS,
        })
    }

    /// One configuration from the prior, as [`ConfigSpace::try_sample`]; when the forbidden
    /// clauses reject every draw it returns the default configuration, which they never forbid,
    /// so that samplers always get a valid configuration. Use `try_sample` to detect that case.
    pub fn sample(&self, rng: &mut impl Rng) -> Configuration {
        self.try_sample(rng)
            .unwrap_or_else(|_| self.default_configuration())
    }

    /// `n` configurations from [`ConfigSpace::try_sample`].
    pub fn sample_n(&self, rng: &mut impl Rng, n: usize) -> Result<Vec<Configuration>, SpaceError> {
        (0..n).map(|_| self.try_sample(rng)).collect()
    }

    /// Checks that `c` belongs to the space: only known hyperparameters, every active one set
    /// to a legal value of its own type, no inactive one set, no forbidden clause violated.
    pub fn validate(&self, c: &Configuration) -> Result<(), SpaceError> {
        let invalid = |name: &str, problem: String| SpaceError::InvalidConfiguration {
            name: name.to_string(),
            problem,
        };
        if let Some((name, _)) = c.iter().find(|(n, _)| !self.index.contains_key(*n)) {
            return Err(invalid(
                name,
                "not a hyperparameter of the space".to_string(),
            ));
        }
        let mut seen = BTreeMap::new();
        for h in &self.hps {
            let active = self.is_active(h.name(), &seen);
            match (active, c.get(h.name())) {
                (true, None) => return Err(invalid(h.name(), "active but not set".to_string())),
                (false, Some(v)) => {
                    return Err(invalid(h.name(), format!("inactive but set to {v}")))
                }
                (true, Some(v)) => {
                    if h.canonical(v).as_ref() != Some(v) {
                        return Err(invalid(
                            h.name(),
                            format!("{v} is not a legal value ({})", h.describe_range()),
                        ));
                    }
                    seen.insert(h.name().to_string(), v.clone());
                }
                (false, None) => {}
            }
        }
        match self.violated(c.as_map()) {
            Some(f) => Err(SpaceError::ForbiddenConfiguration(f.to_string())),
            None => Ok(()),
        }
    }
}

/// Depth of `name` in the condition graph: 0 without parents, else one more than its deepest
/// parent. `path` holds the names being resolved, to report a cycle instead of recursing
/// forever.
fn depth_of<'a>(
    name: &'a str,
    parents: &BTreeMap<&'a str, Vec<&'a str>>,
    depth: &mut BTreeMap<&'a str, usize>,
    path: &mut Vec<&'a str>,
) -> Result<usize, SpaceError> {
    if let Some(&d) = depth.get(name) {
        return Ok(d);
    }
    if path.contains(&name) {
        let mut cycle: Vec<&str> = path.clone();
        cycle.push(name);
        return Err(SpaceError::Condition {
            child: name.to_string(),
            problem: format!("the conditions form a cycle: {}", cycle.join(" <- ")),
        });
    }
    path.push(name);
    let mut d = 0;
    for &p in parents.get(name).map(|v| v.as_slice()).unwrap_or(&[]) {
        d = d.max(depth_of(p, parents, depth, path)? + 1);
    }
    path.pop();
    depth.insert(name, d);
    Ok(d)
}
