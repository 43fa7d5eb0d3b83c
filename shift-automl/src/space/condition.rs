//! Conditions: when a hyperparameter is active.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use super::hyperparameter::Hyperparameter;
use super::value::Value;
use super::ConfigSpace;
use crate::error::SpaceError;

/// How a simple condition compares its parent's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `EQ`: the parent equals the value.
    Eq,
    /// `NEQ`: the parent differs from the value.
    Neq,
    /// `LT`: the parent is smaller than the value.
    Lt,
    /// `GT`: the parent is greater than the value.
    Gt,
}

impl Comparison {
    /// ConfigSpace's JSON type name.
    pub fn type_name(self) -> &'static str {
        match self {
            Comparison::Eq => "EQ",
            Comparison::Neq => "NEQ",
            Comparison::Lt => "LT",
            Comparison::Gt => "GT",
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Comparison::Eq => "==",
            Comparison::Neq => "!=",
            Comparison::Lt => "<",
            Comparison::Gt => ">",
        }
    }
}

/// A condition on a child hyperparameter: it is active only when the condition holds.
///
/// A condition whose parent is inactive does not hold, so the child of an inactive
/// hyperparameter is inactive too.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `EQ`, `NEQ`, `LT` or `GT` against one value.
    Compare {
        /// The comparison.
        op: Comparison,
        /// The conditioned hyperparameter.
        child: String,
        /// The hyperparameter whose value decides.
        parent: String,
        /// The value compared with.
        value: Value,
    },
    /// `IN`: the parent takes one of the values.
    In {
        /// The conditioned hyperparameter.
        child: String,
        /// The hyperparameter whose value decides.
        parent: String,
        /// The accepted values.
        values: Vec<Value>,
    },
    /// `AND`: every component holds.
    And(Vec<Condition>),
    /// `OR`: some component holds.
    Or(Vec<Condition>),
}

impl Condition {
    /// `child` is active when `parent == value`.
    pub fn eq(child: &str, parent: &str, value: impl Into<Value>) -> Self {
        Self::compare(Comparison::Eq, child, parent, value.into())
    }

    /// `child` is active when `parent != value`.
    pub fn neq(child: &str, parent: &str, value: impl Into<Value>) -> Self {
        Self::compare(Comparison::Neq, child, parent, value.into())
    }

    /// `child` is active when `parent < value`.
    pub fn lt(child: &str, parent: &str, value: impl Into<Value>) -> Self {
        Self::compare(Comparison::Lt, child, parent, value.into())
    }

    /// `child` is active when `parent > value`.
    pub fn gt(child: &str, parent: &str, value: impl Into<Value>) -> Self {
        Self::compare(Comparison::Gt, child, parent, value.into())
    }

    /// `child` is active when `parent` is one of `values`.
    pub fn is_in(child: &str, parent: &str, values: Vec<Value>) -> Self {
        Condition::In {
            child: child.to_string(),
            parent: parent.to_string(),
            values,
        }
    }

    fn compare(op: Comparison, child: &str, parent: &str, value: Value) -> Self {
        Condition::Compare {
            op,
            child: child.to_string(),
            parent: parent.to_string(),
            value,
        }
    }

    /// The child of the condition: for a conjunction, its first component's child (all must
    /// agree, which [`Condition::check`] verifies).
    pub fn child(&self) -> &str {
        match self {
            Condition::Compare { child, .. } | Condition::In { child, .. } => child,
            Condition::And(cs) | Condition::Or(cs) => cs.first().map(|c| c.child()).unwrap_or(""),
        }
    }

    /// The parents the condition reads, with repetitions removed.
    pub fn parents(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_parents(&mut out);
        out
    }

    fn collect_parents<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Condition::Compare { parent, .. } | Condition::In { parent, .. } => {
                if !out.contains(&parent.as_str()) {
                    out.push(parent);
                }
            }
            Condition::And(cs) | Condition::Or(cs) => {
                for c in cs {
                    c.collect_parents(out);
                }
            }
        }
    }

    /// ConfigSpace's JSON type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Condition::Compare { op, .. } => op.type_name(),
            Condition::In { .. } => "IN",
            Condition::And(_) => "AND",
            Condition::Or(_) => "OR",
        }
    }

    /// Whether the condition holds for these (active) values.
    pub fn holds(&self, values: &BTreeMap<String, Value>, space: &ConfigSpace) -> bool {
        match self {
            Condition::Compare {
                op, parent, value, ..
            } => {
                let (Some(v), Some(p)) = (values.get(parent), space.hyperparameter(parent)) else {
                    return false;
                };
                match op {
                    Comparison::Eq => v.matches(value),
                    Comparison::Neq => !v.matches(value),
                    Comparison::Lt => p.compare(v, value) == Some(Ordering::Less),
                    Comparison::Gt => p.compare(v, value) == Some(Ordering::Greater),
                }
            }
            Condition::In {
                parent,
                values: accepted,
                ..
            } => match values.get(parent) {
                Some(v) => accepted.iter().any(|a| a.matches(v)),
                None => false,
            },
            Condition::And(cs) => cs.iter().all(|c| c.holds(values, space)),
            Condition::Or(cs) => cs.iter().any(|c| c.holds(values, space)),
        }
    }

    /// Checks the condition against the space's hyperparameters: known parents and child,
    /// values legal for the parent, `LT`/`GT` only on ordered parents, conjunctions of at least
    /// two components about one child, no hyperparameter conditioned on itself.
    pub fn check(&self, space: &ConfigSpace) -> Result<(), SpaceError> {
        let child = self.child().to_string();
        let err = |problem: String| SpaceError::Condition {
            child: child.clone(),
            problem,
        };
        if space.hyperparameter(&child).is_none() {
            return Err(err(format!("unknown hyperparameter '{child}'")));
        }
        match self {
            Condition::Compare {
                op, parent, value, ..
            } => {
                let p = self.check_parent(parent, space, &err)?;
                if p.canonical(value).is_none() {
                    return Err(err(format!(
                        "{} value {value} is not a legal value of '{parent}' ({})",
                        op.type_name(),
                        p.describe_range()
                    )));
                }
                if matches!(op, Comparison::Lt | Comparison::Gt) && !p.is_ordered() {
                    return Err(err(format!(
                        "{} needs an ordered parent, '{parent}' is {}",
                        op.type_name(),
                        p.type_name()
                    )));
                }
            }
            Condition::In { parent, values, .. } => {
                let p = self.check_parent(parent, space, &err)?;
                if values.is_empty() {
                    return Err(err("IN with no values".to_string()));
                }
                if let Some(v) = values.iter().find(|v| p.canonical(v).is_none()) {
                    return Err(err(format!(
                        "IN value {v} is not a legal value of '{parent}' ({})",
                        p.describe_range()
                    )));
                }
            }
            Condition::And(cs) | Condition::Or(cs) => {
                if cs.len() < 2 {
                    return Err(err(format!(
                        "{} needs at least two conditions, got {}",
                        self.type_name(),
                        cs.len()
                    )));
                }
                for c in cs {
                    if c.child() != child {
                        return Err(err(format!(
                            "{} mixes conditions on '{child}' and '{}'",
                            self.type_name(),
                            c.child()
                        )));
                    }
                    c.check(space)?;
                }
            }
        }
        Ok(())
    }

    fn check_parent<'a>(
        &self,
        parent: &str,
        space: &'a ConfigSpace,
        err: &dyn Fn(String) -> SpaceError,
    ) -> Result<&'a Hyperparameter, SpaceError> {
        if parent == self.child() {
            return Err(err(format!("'{parent}' cannot be its own parent")));
        }
        space
            .hyperparameter(parent)
            .ok_or_else(|| err(format!("unknown parent '{parent}'")))
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Compare {
                op,
                child,
                parent,
                value,
            } => write!(f, "{child} | {parent} {} {value}", op.symbol()),
            Condition::In {
                child,
                parent,
                values,
            } => {
                let vs: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                write!(f, "{child} | {parent} in {{{}}}", vs.join(", "))
            }
            Condition::And(cs) | Condition::Or(cs) => {
                let sep = if matches!(self, Condition::And(_)) {
                    " && "
                } else {
                    " || "
                };
                let parts: Vec<String> = cs.iter().map(|c| c.to_string()).collect();
                write!(f, "({})", parts.join(sep))
            }
        }
    }
}
