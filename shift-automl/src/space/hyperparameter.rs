//! Hyperparameter definitions: ranges, choices, defaults, sampling and the unit encoding.

use rand::Rng;

use super::value::Value;
use crate::error::SpaceError;

/// What kind of dimension a hyperparameter is, for samplers that treat kinds differently
/// (a random forest splits categorical dimensions by set, a Gaussian process needs their count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DimKind {
    /// A float range.
    Continuous,
    /// An integer range with this many values.
    Integer {
        /// `upper - lower + 1`.
        levels: u64,
    },
    /// Unordered choices.
    Categorical {
        /// Number of choices.
        choices: usize,
    },
    /// An ordered sequence.
    Ordinal {
        /// Length of the sequence.
        levels: usize,
    },
    /// A single value.
    Constant,
}

/// The type of a hyperparameter with its type-specific fields, as ConfigSpace has them.
#[derive(Debug, Clone, PartialEq)]
pub enum HpKind {
    /// `uniform_float`.
    Float {
        /// Lower bound (inclusive).
        lower: f64,
        /// Upper bound (inclusive).
        upper: f64,
        /// Sampled and encoded in log space.
        log: bool,
    },
    /// `uniform_int`.
    Int {
        /// Lower bound (inclusive).
        lower: i64,
        /// Upper bound (inclusive).
        upper: i64,
        /// Sampled and encoded in log space.
        log: bool,
    },
    /// `categorical`.
    Categorical {
        /// The choices, in file order (the encoding's order).
        choices: Vec<Value>,
        /// Sampling weights, one per choice; uniform when absent.
        weights: Option<Vec<f64>>,
    },
    /// `ordinal`.
    Ordinal {
        /// The ordered values.
        sequence: Vec<Value>,
    },
    /// `constant`.
    Constant {
        /// The only value.
        value: Value,
    },
}

/// One hyperparameter: a name, a kind, an optional explicit default and ConfigSpace's `meta`.
///
/// Builders do not check anything; [`ConfigSpace::add`](super::ConfigSpace::add) does, through
/// [`Hyperparameter::check`], so a builder chain never panics and errors surface in one place.
#[derive(Debug, Clone, PartialEq)]
pub struct Hyperparameter {
    name: String,
    kind: HpKind,
    default: Option<Value>,
    meta: Option<serde_json::Value>,
}

impl Hyperparameter {
    fn with_kind(name: &str, kind: HpKind) -> Self {
        Hyperparameter {
            name: name.to_string(),
            kind,
            default: None,
            meta: None,
        }
    }

    /// A float drawn uniformly from `[lower, upper]`.
    pub fn uniform_float(name: &str, lower: f64, upper: f64) -> Self {
        Self::with_kind(
            name,
            HpKind::Float {
                lower,
                upper,
                log: false,
            },
        )
    }

    /// An integer drawn uniformly from `[lower, upper]`.
    pub fn uniform_int(name: &str, lower: i64, upper: i64) -> Self {
        Self::with_kind(
            name,
            HpKind::Int {
                lower,
                upper,
                log: false,
            },
        )
    }

    /// One of `choices`, uniformly unless [`Hyperparameter::with_weights`] says otherwise.
    pub fn categorical(name: &str, choices: Vec<Value>) -> Self {
        Self::with_kind(
            name,
            HpKind::Categorical {
                choices,
                weights: None,
            },
        )
    }

    /// One of an ordered `sequence`; neighbours are adjacent items.
    pub fn ordinal(name: &str, sequence: Vec<Value>) -> Self {
        Self::with_kind(name, HpKind::Ordinal { sequence })
    }

    /// A hyperparameter with a single value.
    pub fn constant(name: &str, value: Value) -> Self {
        Self::with_kind(name, HpKind::Constant { value })
    }

    /// Samples and encodes a numeric range in log space; ignored by other kinds.
    pub fn log(mut self, yes: bool) -> Self {
        match &mut self.kind {
            HpKind::Float { log, .. } | HpKind::Int { log, .. } => *log = yes,
            _ => {}
        }
        self
    }

    /// Sets the default value instead of ConfigSpace's rule (see [`Hyperparameter::default_value`]).
    pub fn with_default(mut self, v: Value) -> Self {
        self.default = Some(v);
        self
    }

    /// Sets a categorical's sampling weights, one per choice; ignored by other kinds.
    pub fn with_weights(mut self, w: Vec<f64>) -> Self {
        if let HpKind::Categorical { weights, .. } = &mut self.kind {
            *weights = Some(w);
        }
        self
    }

    /// Attaches ConfigSpace's free-form `meta` field (kept on a round trip, never interpreted).
    pub fn with_meta(mut self, meta: serde_json::Value) -> Self {
        self.meta = if meta.is_null() { None } else { Some(meta) };
        self
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The kind and its fields.
    pub fn kind(&self) -> &HpKind {
        &self.kind
    }

    /// The `meta` field, when set.
    pub fn meta(&self) -> Option<&serde_json::Value> {
        self.meta.as_ref()
    }

    /// Stores the default that [`Hyperparameter::default_value`] gives, so that two
    /// definitions with the same behaviour compare equal whether the default was written out or
    /// derived (a file read back after writing has every default written out).
    pub(crate) fn freeze_default(&mut self) {
        self.default = Some(self.default_value());
    }

    /// The dimension kind samplers see.
    pub fn dim_kind(&self) -> DimKind {
        match &self.kind {
            HpKind::Float { .. } => DimKind::Continuous,
            HpKind::Int { lower, upper, .. } => DimKind::Integer {
                levels: upper.abs_diff(*lower).saturating_add(1),
            },
            HpKind::Categorical { choices, .. } => DimKind::Categorical {
                choices: choices.len(),
            },
            HpKind::Ordinal { sequence } => DimKind::Ordinal {
                levels: sequence.len(),
            },
            HpKind::Constant { .. } => DimKind::Constant,
        }
    }

    /// The default value: the explicit one, else ConfigSpace's rule: the middle of a range
    /// (the geometric middle in log space, rounded half to even for integers, as NumPy's
    /// `rint`), a categorical's most heavily weighted choice (the first when unweighted or tied),
    /// an ordinal's first item, a constant's value. (An empty list of choices, which
    /// [`Hyperparameter::check`] rejects, gives `Value::Int(0)` rather than a panic.)
    pub fn default_value(&self) -> Value {
        if let Some(v) = &self.default {
            return self.canonical(v).unwrap_or_else(|| v.clone());
        }
        match &self.kind {
            HpKind::Float { lower, upper, log } => Value::Float(if *log {
                ((lower.ln() + upper.ln()) / 2.0).exp()
            } else {
                (lower + upper) / 2.0
            }),
            HpKind::Int { lower, upper, log } => {
                let (lo, hi) = (*lower as f64, *upper as f64);
                let mid = if *log {
                    ((lo.ln() + hi.ln()) / 2.0).exp()
                } else {
                    (lo + hi) / 2.0
                };
                Value::Int((mid.round_ties_even() as i64).clamp(*lower, *upper))
            }
            HpKind::Categorical { choices, weights } => {
                let best = match weights {
                    Some(w) => {
                        // First maximum, as NumPy's argmax.
                        let mut best = 0;
                        for (i, x) in w.iter().enumerate() {
                            if *x > w[best] {
                                best = i;
                            }
                        }
                        best
                    }
                    None => 0,
                };
                choices.get(best).cloned().unwrap_or(Value::Int(0))
            }
            HpKind::Ordinal { sequence } => sequence.first().cloned().unwrap_or(Value::Int(0)),
            HpKind::Constant { value } => value.clone(),
        }
    }

    fn error(&self, problem: impl Into<String>) -> SpaceError {
        SpaceError::Hyperparameter {
            name: self.name.clone(),
            problem: problem.into(),
        }
    }

    /// Checks the definition: a name, finite bounds with `lower < upper`, positive bounds for
    /// log scales, distinct non-empty choices, valid weights, a legal default.
    pub fn check(&self) -> Result<(), SpaceError> {
        if self.name.is_empty() {
            return Err(self.error("the name is empty"));
        }
        match &self.kind {
            HpKind::Float { lower, upper, log } => {
                if !lower.is_finite() || !upper.is_finite() {
                    return Err(self.error(format!(
                        "bounds must be finite, got lower {lower:?}, upper {upper:?}"
                    )));
                }
                if lower >= upper {
                    return Err(self.error(format!(
                        "lower ({lower:?}) must be smaller than upper ({upper:?})"
                    )));
                }
                if *log && *lower <= 0.0 {
                    return Err(
                        self.error(format!("a log scale needs lower > 0, got lower {lower:?}"))
                    );
                }
            }
            HpKind::Int { lower, upper, log } => {
                if lower >= upper {
                    return Err(self.error(format!(
                        "lower ({lower}) must be smaller than upper ({upper})"
                    )));
                }
                if *log && *lower <= 0 {
                    return Err(
                        self.error(format!("a log scale needs lower > 0, got lower {lower}"))
                    );
                }
            }
            HpKind::Categorical { choices, weights } => {
                self.check_items(choices, "choices")?;
                if let Some(w) = weights {
                    if w.len() != choices.len() {
                        return Err(self.error(format!(
                            "{} weights for {} choices",
                            w.len(),
                            choices.len()
                        )));
                    }
                    if let Some(x) = w.iter().find(|x| !x.is_finite() || **x < 0.0) {
                        return Err(self.error(format!(
                            "weights must be finite and non-negative, got {x:?}"
                        )));
                    }
                    if w.iter().all(|x| *x == 0.0) {
                        return Err(self.error("all weights are zero"));
                    }
                }
            }
            HpKind::Ordinal { sequence } => self.check_items(sequence, "sequence")?,
            HpKind::Constant { value } => {
                if let Value::Float(x) = value {
                    if !x.is_finite() {
                        return Err(self.error("the constant value is not finite"));
                    }
                }
            }
        }
        if let Some(d) = &self.default {
            if self.canonical(d).is_none() {
                return Err(self.error(format!(
                    "default {d} is not a legal value ({})",
                    self.describe_range()
                )));
            }
        }
        Ok(())
    }

    fn check_items(&self, items: &[Value], what: &str) -> Result<(), SpaceError> {
        if items.is_empty() {
            return Err(self.error(format!("{what} is empty")));
        }
        for (i, a) in items.iter().enumerate() {
            if let Value::Float(x) = a {
                if !x.is_finite() {
                    return Err(self.error(format!("{what} holds a non-finite number")));
                }
            }
            if items[..i].iter().any(|b| b.matches(a)) {
                return Err(self.error(format!("{what} holds {a} twice")));
            }
        }
        Ok(())
    }

    /// The legal value equal to `v` in this hyperparameter's own representation (an integer
    /// for `uniform_int`, the stored item for a categorical), or `None` when `v` is not legal.
    pub fn canonical(&self, v: &Value) -> Option<Value> {
        match &self.kind {
            HpKind::Float { lower, upper, .. } => {
                let x = v.as_f64()?;
                (x >= *lower && x <= *upper).then_some(Value::Float(x))
            }
            HpKind::Int { lower, upper, .. } => {
                let i = v.as_i64()?;
                (i >= *lower && i <= *upper).then_some(Value::Int(i))
            }
            HpKind::Categorical { choices, .. } => choices.iter().find(|c| c.matches(v)).cloned(),
            HpKind::Ordinal { sequence } => sequence.iter().find(|c| c.matches(v)).cloned(),
            HpKind::Constant { value } => value.matches(v).then(|| value.clone()),
        }
    }

    /// Position of `v` among a categorical's choices or an ordinal's sequence.
    pub fn index_of(&self, v: &Value) -> Option<usize> {
        match &self.kind {
            HpKind::Categorical { choices, .. } => choices.iter().position(|c| c.matches(v)),
            HpKind::Ordinal { sequence } => sequence.iter().position(|c| c.matches(v)),
            _ => None,
        }
    }

    /// Whether this kind has an order that `<` and `>` conditions and relations can use.
    pub fn is_ordered(&self) -> bool {
        matches!(
            self.kind,
            HpKind::Float { .. } | HpKind::Int { .. } | HpKind::Ordinal { .. }
        )
    }

    /// Compares two legal values in this hyperparameter's order (numeric, or sequence position
    /// for an ordinal); `None` when unordered or not comparable.
    pub fn compare(&self, a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
        match &self.kind {
            HpKind::Ordinal { .. } => Some(self.index_of(a)?.cmp(&self.index_of(b)?)),
            HpKind::Float { .. } | HpKind::Int { .. } => a.partial_cmp_num(b),
            _ => None,
        }
    }

    /// A short description of the legal values, as used in messages and `deepshift hpo space`.
    pub fn describe_range(&self) -> String {
        let list = |items: &[Value]| {
            items
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match &self.kind {
            HpKind::Float { lower, upper, log } => {
                format!(
                    "[{lower:?}, {upper:?}]{}",
                    if *log { ", log scale" } else { "" }
                )
            }
            HpKind::Int { lower, upper, log } => {
                format!(
                    "[{lower}, {upper}]{}",
                    if *log { ", log scale" } else { "" }
                )
            }
            HpKind::Categorical { choices, weights } => match weights {
                Some(w) => format!(
                    "{{{}}}, weights {}",
                    list(choices),
                    w.iter()
                        .map(|x| format!("{x:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => format!("{{{}}}", list(choices)),
            },
            HpKind::Ordinal { sequence } => format!("{{{}}} (ordered)", list(sequence)),
            HpKind::Constant { value } => format!("{value}"),
        }
    }

    /// ConfigSpace's type name (`uniform_float`, `uniform_int`, `categorical`, `ordinal`,
    /// `constant`).
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            HpKind::Float { .. } => "uniform_float",
            HpKind::Int { .. } => "uniform_int",
            HpKind::Categorical { .. } => "categorical",
            HpKind::Ordinal { .. } => "ordinal",
            HpKind::Constant { .. } => "constant",
        }
    }

    /// Draws a value from the prior: uniform (log-uniform with `log`), a categorical by its
    /// weights. Crate-private because it relies on [`Hyperparameter::check`] having passed
    /// (non-empty choices), which [`ConfigSpace::add`](super::ConfigSpace::add) guarantees.
    pub(crate) fn sample(&self, rng: &mut impl Rng) -> Value {
        match &self.kind {
            HpKind::Float { lower, upper, log } => {
                let x = if *log {
                    (lower.ln() + rng.gen::<f64>() * (upper.ln() - lower.ln())).exp()
                } else {
                    lower + rng.gen::<f64>() * (upper - lower)
                };
                // exp(ln(x)) can step a last bit outside the range.
                Value::Float(x.clamp(*lower, *upper))
            }
            HpKind::Int { lower, upper, log } => {
                if *log {
                    // Through the unit encoding, so that a sampler drawing uniformly in the
                    // unit cube has the same prior as this method.
                    self.value_at(rng.gen::<f64>())
                } else {
                    Value::Int(rng.gen_range(*lower..=*upper))
                }
            }
            HpKind::Categorical { choices, weights } => {
                let i = match weights {
                    Some(w) => {
                        let total: f64 = w.iter().sum();
                        let mut u = rng.gen::<f64>() * total;
                        let mut pick = w.len() - 1;
                        for (i, x) in w.iter().enumerate() {
                            if u < *x {
                                pick = i;
                                break;
                            }
                            u -= x;
                        }
                        // Rounding can leave u past the last positive weight; never pick a
                        // zero-weight choice for it.
                        while w[pick] == 0.0 && pick > 0 {
                            pick -= 1;
                        }
                        pick
                    }
                    None => rng.gen_range(0..choices.len()),
                };
                choices[i].clone()
            }
            HpKind::Ordinal { sequence } => sequence[rng.gen_range(0..sequence.len())].clone(),
            HpKind::Constant { value } => value.clone(),
        }
    }

    /// The value's position in `[0, 1]` (see [`ConfigSpace::encode`](super::ConfigSpace::encode));
    /// NaN when the value is not legal.
    pub(crate) fn unit_of(&self, v: &Value) -> f64 {
        let Some(v) = self.canonical(v) else {
            return f64::NAN;
        };
        match &self.kind {
            HpKind::Float { lower, upper, log } => {
                let x = v.as_f64().unwrap_or(f64::NAN);
                scale_to_unit(x, *lower, *upper, *log)
            }
            HpKind::Int { lower, upper, log } => {
                let x = v.as_f64().unwrap_or(f64::NAN);
                scale_to_unit(x, *lower as f64, *upper as f64, *log)
            }
            HpKind::Categorical { choices: items, .. } | HpKind::Ordinal { sequence: items } => {
                let i = items.iter().position(|c| c.matches(&v)).unwrap_or(0);
                if items.len() <= 1 {
                    0.0
                } else {
                    i as f64 / (items.len() - 1) as f64
                }
            }
            HpKind::Constant { .. } => 0.0,
        }
    }

    /// The value at position `u` of `[0, 1]` (clamped into it), the inverse of
    /// [`Hyperparameter::unit_of`] up to rounding for integers and choices. `u` must not be NaN,
    /// and the definition must have passed [`Hyperparameter::check`] (non-empty choices).
    pub(crate) fn value_at(&self, u: f64) -> Value {
        let u = u.clamp(0.0, 1.0);
        match &self.kind {
            HpKind::Float { lower, upper, log } => {
                Value::Float(scale_from_unit(u, *lower, *upper, *log).clamp(*lower, *upper))
            }
            HpKind::Int { lower, upper, log } => {
                let x = scale_from_unit(u, *lower as f64, *upper as f64, *log).round() as i64;
                Value::Int(x.clamp(*lower, *upper))
            }
            HpKind::Categorical { choices: items, .. } | HpKind::Ordinal { sequence: items } => {
                let i = (u * (items.len().saturating_sub(1)) as f64).round() as usize;
                items[i.min(items.len() - 1)].clone()
            }
            HpKind::Constant { value } => value.clone(),
        }
    }
}

fn scale_to_unit(x: f64, lo: f64, hi: f64, log: bool) -> f64 {
    if log {
        (x.ln() - lo.ln()) / (hi.ln() - lo.ln())
    } else {
        (x - lo) / (hi - lo)
    }
}

fn scale_from_unit(u: f64, lo: f64, hi: f64, log: bool) -> f64 {
    if log {
        (lo.ln() + u * (hi.ln() - lo.ln())).exp()
    } else {
        lo + u * (hi - lo)
    }
}
