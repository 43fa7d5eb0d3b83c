//! Forbidden clauses: combinations of values no configuration may take.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use super::value::Value;
use super::{ConfigSpace, HpKind};
use crate::error::SpaceError;

/// How a forbidden relation compares two hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// `RELATION_LT`: forbidden when `left < right`.
    Lt,
    /// `RELATION_EQ`: forbidden when `left == right`.
    Eq,
    /// `RELATION_GT`: forbidden when `left > right`.
    Gt,
}

impl Relation {
    /// ConfigSpace's JSON type name.
    pub fn type_name(self) -> &'static str {
        match self {
            Relation::Lt => "RELATION_LT",
            Relation::Eq => "RELATION_EQ",
            Relation::Gt => "RELATION_GT",
        }
    }
}

/// A forbidden clause. A clause that reads an inactive hyperparameter does not apply, as in
/// ConfigSpace (an inactive value is NaN there and equals nothing).
#[derive(Debug, Clone, PartialEq)]
pub enum Forbidden {
    /// `EQUALS`: forbidden when `name == value`.
    Equals {
        /// The hyperparameter.
        name: String,
        /// The forbidden value.
        value: Value,
    },
    /// `IN`: forbidden when `name` takes one of `values`.
    In {
        /// The hyperparameter.
        name: String,
        /// The forbidden values.
        values: Vec<Value>,
    },
    /// `AND`: forbidden when every clause applies.
    And(Vec<Forbidden>),
    /// `RELATION_LT`, `RELATION_EQ`, `RELATION_GT`: forbidden when the two values compare so.
    Relation {
        /// The comparison.
        op: Relation,
        /// Left-hand hyperparameter.
        left: String,
        /// Right-hand hyperparameter.
        right: String,
    },
}

impl Forbidden {
    /// Forbids `name == value`.
    pub fn equals(name: &str, value: impl Into<Value>) -> Self {
        Forbidden::Equals {
            name: name.to_string(),
            value: value.into(),
        }
    }

    /// Forbids `name` taking any of `values`.
    pub fn is_in(name: &str, values: Vec<Value>) -> Self {
        Forbidden::In {
            name: name.to_string(),
            values,
        }
    }

    /// Forbids the conjunction of `clauses`.
    pub fn and(clauses: Vec<Forbidden>) -> Self {
        Forbidden::And(clauses)
    }

    /// ConfigSpace's JSON type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Forbidden::Equals { .. } => "EQUALS",
            Forbidden::In { .. } => "IN",
            Forbidden::And(_) => "AND",
            Forbidden::Relation { op, .. } => op.type_name(),
        }
    }

    /// Whether these values violate the clause.
    pub fn applies(&self, values: &BTreeMap<String, Value>) -> bool {
        match self {
            Forbidden::Equals { name, value } => values.get(name).is_some_and(|v| v.matches(value)),
            Forbidden::In { name, values: vs } => values
                .get(name)
                .is_some_and(|v| vs.iter().any(|f| f.matches(v))),
            Forbidden::And(cs) => cs.iter().all(|c| c.applies(values)),
            Forbidden::Relation { op, left, right } => {
                let (Some(a), Some(b)) = (values.get(left), values.get(right)) else {
                    return false;
                };
                let ord = a.partial_cmp_num(b);
                match op {
                    Relation::Lt => ord == Some(Ordering::Less),
                    Relation::Gt => ord == Some(Ordering::Greater),
                    Relation::Eq => a.matches(b),
                }
            }
        }
    }

    /// The hyperparameters the clause reads.
    pub fn names(&self) -> Vec<&str> {
        match self {
            Forbidden::Equals { name, .. } | Forbidden::In { name, .. } => vec![name],
            Forbidden::And(cs) => cs.iter().flat_map(|c| c.names()).collect(),
            Forbidden::Relation { left, right, .. } => vec![left, right],
        }
    }

    /// Checks the clause against the space: known hyperparameters, legal values, conjunctions
    /// of at least two clauses, relations between numeric hyperparameters.
    pub fn check(&self, space: &ConfigSpace) -> Result<(), SpaceError> {
        let err = |problem: String| SpaceError::Forbidden {
            clause: self.to_string(),
            problem,
        };
        let known = |name: &str| {
            space
                .hyperparameter(name)
                .ok_or_else(|| err(format!("unknown hyperparameter '{name}'")))
        };
        match self {
            Forbidden::Equals { name, value } => {
                let h = known(name)?;
                if h.canonical(value).is_none() {
                    return Err(err(format!(
                        "{value} is not a legal value of '{name}' ({})",
                        h.describe_range()
                    )));
                }
            }
            Forbidden::In { name, values } => {
                let h = known(name)?;
                if values.is_empty() {
                    return Err(err("IN with no values".to_string()));
                }
                if let Some(v) = values.iter().find(|v| h.canonical(v).is_none()) {
                    return Err(err(format!(
                        "{v} is not a legal value of '{name}' ({})",
                        h.describe_range()
                    )));
                }
            }
            Forbidden::And(cs) => {
                if cs.len() < 2 {
                    return Err(err(format!(
                        "AND needs at least two clauses, got {}",
                        cs.len()
                    )));
                }
                for c in cs {
                    c.check(space)?;
                }
            }
            Forbidden::Relation { left, right, .. } => {
                for name in [left, right] {
                    let h = known(name)?;
                    if !matches!(h.kind(), HpKind::Float { .. } | HpKind::Int { .. }) {
                        return Err(err(format!(
                            "relations compare numbers, '{name}' is {}",
                            h.type_name()
                        )));
                    }
                }
                if left == right {
                    return Err(err(format!("'{left}' is compared with itself")));
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Forbidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Forbidden::Equals { name, value } => write!(f, "Forbidden: {name} == {value}"),
            Forbidden::In { name, values } => {
                let vs: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                write!(f, "Forbidden: {name} in {{{}}}", vs.join(", "))
            }
            Forbidden::And(cs) => {
                let parts: Vec<String> = cs.iter().map(|c| c.to_string()).collect();
                write!(f, "({})", parts.join(" && "))
            }
            Forbidden::Relation { op, left, right } => {
                let s = match op {
                    Relation::Lt => "<",
                    Relation::Eq => "==",
                    Relation::Gt => ">",
                };
                write!(f, "Forbidden: {left} {s} {right}")
            }
        }
    }
}
