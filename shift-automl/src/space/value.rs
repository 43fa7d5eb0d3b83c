//! Hyperparameter values and configurations.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

/// One hyperparameter's value.
///
/// Categorical and ordinal items may be numbers, strings or booleans, as in ConfigSpace, so a
/// value carries its JSON type. `Int(1)` and `Float(1.0)` are different values for storage but
/// [`Value::matches`] treats them as equal, as Python's `1 == 1.0` does when ConfigSpace compares
/// a condition's value with a parent's.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A floating-point number.
    Float(f64),
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
}

impl Value {
    /// The value as a number, for integers and floats.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(x) => Some(*x),
            Value::Int(i) => Some(*i as f64),
            Value::Str(_) | Value::Bool(_) => None,
        }
    }

    /// The value as an integer: an `Int`, or a `Float` with no fractional part.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            // The range check keeps the cast exact instead of saturating.
            Value::Float(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Some(*x as i64),
            _ => None,
        }
    }

    /// The value as a string slice, for strings.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Equality as ConfigSpace applies it: numbers compare by value whatever their type.
    pub fn matches(&self, other: &Value) -> bool {
        match (self.as_f64(), other.as_f64()) {
            (Some(a), Some(b)) => a == b,
            _ => self == other,
        }
    }

    /// Numeric order of two numbers; `None` when either is not a number.
    pub fn partial_cmp_num(&self, other: &Value) -> Option<Ordering> {
        self.as_f64()?.partial_cmp(&other.as_f64()?)
    }

    /// The value as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            // JSON has no NaN or infinity; such a value can only come from a caller's own
            // configuration and is written as null rather than producing invalid JSON.
            Value::Float(x) => serde_json::Number::from_f64(*x)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Bool(b) => serde_json::Value::Bool(*b),
        }
    }

    /// A JSON scalar as a value; `None` for null, arrays, objects and integers beyond `i64`.
    pub fn from_json(v: &serde_json::Value) -> Option<Value> {
        match v {
            serde_json::Value::Bool(b) => Some(Value::Bool(*b)),
            serde_json::Value::String(s) => Some(Value::Str(s.clone())),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Some(Value::Int(i))
                } else if n.is_u64() {
                    None
                } else {
                    n.as_f64().map(Value::Float)
                }
            }
            serde_json::Value::Null
            | serde_json::Value::Array(_)
            | serde_json::Value::Object(_) => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => write!(f, "'{s}'"),
            Value::Bool(b) => write!(f, "{}", if *b { "True" } else { "False" }),
        }
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// A configuration: a value for every active hyperparameter.
///
/// Inactive hyperparameters are absent, never stored with a placeholder, so iterating gives
/// exactly what a trial should receive. Whether it is valid for a space is
/// [`ConfigSpace::validate`](super::ConfigSpace::validate)'s business.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Configuration {
    values: BTreeMap<String, Value>,
}

impl Configuration {
    /// A configuration holding these values.
    pub fn new(values: BTreeMap<String, Value>) -> Self {
        Configuration { values }
    }

    /// The value of a hyperparameter; `None` when it is inactive or unknown.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// Sets a hyperparameter's value, returning the previous one.
    pub fn insert(&mut self, name: &str, value: Value) -> Option<Value> {
        self.values.insert(name.to_string(), value)
    }

    /// Removes a hyperparameter, making it inactive; returns its value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.values.remove(name)
    }

    /// Whether a hyperparameter has a value.
    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The values, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of active hyperparameters.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no hyperparameter is active.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The values as one flat JSON object, name to value, sorted by name.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.values
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
        )
    }

    /// The underlying map.
    pub fn as_map(&self) -> &BTreeMap<String, Value> {
        &self.values
    }
}

impl fmt::Display for Configuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}
