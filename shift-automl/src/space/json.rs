//! ConfigSpace's JSON format (`ConfigurationSpace.to_json` / `from_json`, ConfigSpace >= 1.0).
//!
//! Reading also accepts the pre-1.0 spelling `default` for `default_value`, and `q` (which
//! ConfigSpace 1.x drops with a warning; so do we). Unknown fields are errors, as they are for
//! ConfigSpace, which passes the fields to the constructors: a typo such as `lowr` is caught.

use serde_json::{json, Map, Value as Json};

use super::{
    Comparison, Condition, ConfigSpace, Configuration, Forbidden, HpKind, Hyperparameter, Relation,
    SpaceError, Value,
};

/// The `format_version` written, ConfigSpace 1.x's `SERIALIZATION_FORMAT_VERSION`.
pub const FORMAT_VERSION: f64 = 0.4;

/// The `python_module_version` written: the ConfigSpace release whose format this follows.
pub const PYTHON_MODULE_VERSION: &str = "1.2.1";

/// An object's fields, consumed one by one so that leftovers can be reported as unknown.
struct Fields<'a> {
    obj: &'a Map<String, Json>,
    used: Vec<&'static str>,
    what: String,
}

impl<'a> Fields<'a> {
    fn new(v: &'a Json, what: String) -> Result<Self, String> {
        match v {
            Json::Object(obj) => Ok(Fields {
                obj,
                used: vec!["type"],
                what,
            }),
            other => Err(format!("{what} must be an object, got {other}")),
        }
    }

    /// The field, treating an explicit null as absent.
    fn opt(&mut self, key: &'static str) -> Option<&'a Json> {
        self.used.push(key);
        self.obj.get(key).filter(|v| !v.is_null())
    }

    fn req(&mut self, key: &'static str) -> Result<&'a Json, String> {
        self.opt(key)
            .ok_or_else(|| format!("missing field '{key}'"))
    }

    fn str(&mut self, key: &'static str) -> Result<&'a str, String> {
        let v = self.req(key)?;
        v.as_str()
            .ok_or_else(|| format!("'{key}' must be a string, got {v}"))
    }

    fn f64(&mut self, key: &'static str) -> Result<f64, String> {
        let v = self.req(key)?;
        v.as_f64()
            .ok_or_else(|| format!("'{key}' must be a number, got {v}"))
    }

    fn i64(&mut self, key: &'static str) -> Result<i64, String> {
        let v = self.req(key)?;
        scalar(v)
            .and_then(|s| s.as_i64())
            .ok_or_else(|| format!("'{key}' must be an integer, got {v}"))
    }

    fn bool(&mut self, key: &'static str) -> Result<bool, String> {
        match self.opt(key) {
            None => Ok(false),
            Some(Json::Bool(b)) => Ok(*b),
            Some(v) => Err(format!("'{key}' must be true or false, got {v}")),
        }
    }

    fn scalar(&mut self, key: &'static str) -> Result<Value, String> {
        let v = self.req(key)?;
        scalar(v).ok_or_else(|| format!("'{key}' must be a number, string or boolean, got {v}"))
    }

    fn scalars(&mut self, key: &'static str) -> Result<Vec<Value>, String> {
        match self.req(key)? {
            Json::Array(items) => items
                .iter()
                .map(|v| {
                    scalar(v).ok_or_else(|| {
                        format!("'{key}' items must be numbers, strings or booleans, got {v}")
                    })
                })
                .collect(),
            v => Err(format!("'{key}' must be a list, got {v}")),
        }
    }

    fn list(&mut self, key: &'static str) -> Result<&'a [Json], String> {
        match self.req(key)? {
            Json::Array(items) => Ok(items),
            v => Err(format!("'{key}' must be a list, got {v}")),
        }
    }

    /// The explicit default: ConfigSpace 1.x's `default_value`, or 0.x's `default`.
    fn default(&mut self) -> Result<Option<Value>, String> {
        let a = self.opt("default_value");
        let b = self.opt("default");
        match a.or(b) {
            None => Ok(None),
            Some(v) => scalar(v)
                .map(Some)
                .ok_or_else(|| format!("the default must be a number, string or boolean, got {v}")),
        }
    }

    fn finish(self) -> Result<(), String> {
        match self.obj.keys().find(|k| !self.used.contains(&k.as_str())) {
            Some(k) => Err(format!("unknown field '{k}' in {}", self.what)),
            None => Ok(()),
        }
    }
}

fn scalar(v: &Json) -> Option<Value> {
    Value::from_json(v)
}

fn type_of<'a>(v: &'a Json, what: &str) -> Result<&'a str, String> {
    match v.get("type") {
        Some(Json::String(t)) => Ok(t),
        Some(t) => Err(format!("{what}: 'type' must be a string, got {t}")),
        None => Err(format!("{what}: missing field 'type'")),
    }
}

fn read_hyperparameter(v: &Json, position: usize) -> Result<Hyperparameter, SpaceError> {
    let name = v
        .get("name")
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| format!("#{position}"));
    let err = |problem: String| SpaceError::Hyperparameter {
        name: name.clone(),
        problem,
    };
    let mut f = Fields::new(v, "a hyperparameter".to_string()).map_err(err)?;
    let ty = type_of(v, "a hyperparameter").map_err(err)?;
    f.str("name").map_err(err)?;
    let hp = match ty {
        "uniform_float" | "uniform_int" => {
            // ConfigSpace 1.x removed quantisation and ignores `q`; a file written by 0.x
            // still reads.
            f.opt("q");
            let log = f.bool("log").map_err(err)?;
            let hp = if ty == "uniform_float" {
                Hyperparameter::uniform_float(
                    &name,
                    f.f64("lower").map_err(err)?,
                    f.f64("upper").map_err(err)?,
                )
            } else {
                Hyperparameter::uniform_int(
                    &name,
                    f.i64("lower").map_err(err)?,
                    f.i64("upper").map_err(err)?,
                )
            };
            hp.log(log)
        }
        "categorical" => {
            let choices = f.scalars("choices").map_err(err)?;
            let weights = match f.opt("weights") {
                None => None,
                Some(Json::Array(w)) => Some(
                    w.iter()
                        .map(|x| {
                            x.as_f64()
                                .ok_or_else(|| err(format!("weights must be numbers, got {x}")))
                        })
                        .collect::<Result<Vec<f64>, _>>()?,
                ),
                Some(w) => return Err(err(format!("'weights' must be a list, got {w}"))),
            };
            let hp = Hyperparameter::categorical(&name, choices);
            match weights {
                Some(w) => hp.with_weights(w),
                None => hp,
            }
        }
        "ordinal" => Hyperparameter::ordinal(&name, f.scalars("sequence").map_err(err)?),
        "constant" => Hyperparameter::constant(&name, f.scalar("value").map_err(err)?),
        other => {
            return Err(err(format!(
                "unknown type '{other}' (supported: uniform_float, uniform_int, categorical, \
                 ordinal, constant)"
            )))
        }
    };
    let default = f.default().map_err(err)?;
    let meta = f.opt("meta").cloned();
    f.finish().map_err(err)?;
    let hp = match default {
        Some(d) => hp.with_default(d),
        None => hp,
    };
    Ok(match meta {
        Some(m) => hp.with_meta(m),
        None => hp,
    })
}

fn read_condition(v: &Json, position: usize) -> Result<Condition, SpaceError> {
    let child = v
        .get("child")
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .or_else(|| {
            // A conjunction's child may be left out; its components name it.
            v.get("conditions")?
                .get(0)?
                .get("child")?
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_else(|| format!("#{position}"));
    let err = |problem: String| SpaceError::Condition {
        child: child.clone(),
        problem,
    };
    let mut f = Fields::new(v, "a condition".to_string()).map_err(err)?;
    let ty = type_of(v, "a condition").map_err(err)?;
    let c = match ty {
        "EQ" | "NEQ" | "LT" | "GT" => {
            let op = match ty {
                "EQ" => Comparison::Eq,
                "NEQ" => Comparison::Neq,
                "LT" => Comparison::Lt,
                _ => Comparison::Gt,
            };
            Condition::Compare {
                op,
                child: f.str("child").map_err(err)?.to_string(),
                parent: f.str("parent").map_err(err)?.to_string(),
                value: f.scalar("value").map_err(err)?,
            }
        }
        "IN" => Condition::In {
            child: f.str("child").map_err(err)?.to_string(),
            parent: f.str("parent").map_err(err)?.to_string(),
            values: f.scalars("values").map_err(err)?,
        },
        "AND" | "OR" => {
            f.opt("child");
            let parts = f
                .list("conditions")
                .map_err(err)?
                .iter()
                .map(|c| read_condition(c, position))
                .collect::<Result<Vec<_>, _>>()?;
            if ty == "AND" {
                Condition::And(parts)
            } else {
                Condition::Or(parts)
            }
        }
        other => {
            return Err(err(format!(
                "unknown condition type '{other}' (supported: EQ, NEQ, LT, GT, IN, AND, OR)"
            )))
        }
    };
    f.finish().map_err(err)?;
    Ok(c)
}

fn read_forbidden(v: &Json, position: usize) -> Result<Forbidden, SpaceError> {
    let err = |problem: String| SpaceError::Forbidden {
        clause: format!("#{position} ({v})"),
        problem,
    };
    let mut f = Fields::new(v, "a forbidden clause".to_string()).map_err(err)?;
    let ty = type_of(v, "a forbidden clause").map_err(err)?;
    let relation = |op: Relation, f: &mut Fields| -> Result<Forbidden, String> {
        Ok(Forbidden::Relation {
            op,
            left: f.str("left")?.to_string(),
            right: f.str("right")?.to_string(),
        })
    };
    let clause = match ty {
        "EQUALS" => Forbidden::Equals {
            name: f.str("name").map_err(err)?.to_string(),
            value: f.scalar("value").map_err(err)?,
        },
        "IN" => Forbidden::In {
            name: f.str("name").map_err(err)?.to_string(),
            values: f.scalars("values").map_err(err)?,
        },
        "AND" => Forbidden::And(
            f.list("clauses")
                .map_err(err)?
                .iter()
                .map(|c| read_forbidden(c, position))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        "RELATION_LT" => relation(Relation::Lt, &mut f).map_err(err)?,
        "RELATION_EQ" => relation(Relation::Eq, &mut f).map_err(err)?,
        "RELATION_GT" => relation(Relation::Gt, &mut f).map_err(err)?,
        // The pre-1.0 spelling, which ConfigSpace 1.x still reads.
        "RELATION" => {
            let op = match f.str("lambda").map_err(err)? {
                "LT" => Relation::Lt,
                "EQ" => Relation::Eq,
                "GT" => Relation::Gt,
                other => return Err(err(format!("unknown relation lambda '{other}'"))),
            };
            relation(op, &mut f).map_err(err)?
        }
        other => {
            return Err(err(format!(
                "unknown forbidden type '{other}' (supported: EQUALS, IN, AND, RELATION_LT, \
                 RELATION_EQ, RELATION_GT)"
            )))
        }
    };
    f.finish().map_err(err)?;
    Ok(clause)
}

fn write_hyperparameter(h: &Hyperparameter) -> Json {
    let default = h.default_value().to_json();
    let meta = h.meta().cloned().unwrap_or(Json::Null);
    let list = |items: &[Value]| Json::Array(items.iter().map(Value::to_json).collect());
    match h.kind() {
        HpKind::Float { lower, upper, log } => json!({
            "type": "uniform_float", "name": h.name(), "lower": lower, "upper": upper,
            "default_value": default, "log": log, "meta": meta,
        }),
        HpKind::Int { lower, upper, log } => json!({
            "type": "uniform_int", "name": h.name(), "lower": lower, "upper": upper,
            "default_value": default, "log": log, "meta": meta,
        }),
        HpKind::Categorical { choices, weights } => json!({
            "type": "categorical", "name": h.name(), "choices": list(choices),
            "weights": weights, "default_value": default, "meta": meta,
        }),
        HpKind::Ordinal { sequence } => json!({
            "type": "ordinal", "name": h.name(), "sequence": list(sequence),
            "default_value": default, "meta": meta,
        }),
        HpKind::Constant { value } => json!({
            "type": "constant", "name": h.name(), "value": value.to_json(), "meta": meta,
        }),
    }
}

fn write_condition(c: &Condition) -> Json {
    match c {
        Condition::Compare {
            op,
            child,
            parent,
            value,
        } => json!({
            "type": op.type_name(), "child": child, "parent": parent, "value": value.to_json(),
        }),
        Condition::In {
            child,
            parent,
            values,
        } => json!({
            "type": "IN", "child": child, "parent": parent,
            "values": values.iter().map(Value::to_json).collect::<Vec<_>>(),
        }),
        Condition::And(parts) | Condition::Or(parts) => json!({
            "type": c.type_name(), "child": c.child(),
            "conditions": parts.iter().map(write_condition).collect::<Vec<_>>(),
        }),
    }
}

fn write_forbidden(f: &Forbidden) -> Json {
    match f {
        Forbidden::Equals { name, value } => {
            json!({"type": "EQUALS", "name": name, "value": value.to_json()})
        }
        Forbidden::In { name, values } => json!({
            "type": "IN", "name": name,
            "values": values.iter().map(Value::to_json).collect::<Vec<_>>(),
        }),
        Forbidden::And(clauses) => json!({
            "type": "AND", "clauses": clauses.iter().map(write_forbidden).collect::<Vec<_>>(),
        }),
        Forbidden::Relation { op, left, right } => {
            json!({"type": op.type_name(), "left": left, "right": right})
        }
    }
}

impl ConfigSpace {
    /// Reads a space from ConfigSpace's JSON (see the module documentation of
    /// [`space`](crate::space)). Every error names the entry and what is wrong with it.
    pub fn from_json(text: &str) -> Result<Self, SpaceError> {
        let doc: Json =
            serde_json::from_str(text).map_err(|e| SpaceError::Format(e.to_string()))?;
        let top = doc
            .as_object()
            .ok_or_else(|| SpaceError::Format("the top level must be an object".to_string()))?;
        let list = |key: &str| -> Result<&[Json], SpaceError> {
            match top.get(key) {
                None | Some(Json::Null) => Ok(&[]),
                Some(Json::Array(items)) => Ok(items),
                Some(v) => Err(SpaceError::Format(format!(
                    "'{key}' must be a list, got {v}"
                ))),
            }
        };
        let mut space = ConfigSpace::new();
        match top.get("name") {
            None | Some(Json::Null) => {}
            Some(Json::String(s)) => {
                space.set_name(Some(s.clone()));
            }
            Some(v) => {
                return Err(SpaceError::Format(format!(
                    "'name' must be a string, got {v}"
                )))
            }
        }
        for (i, h) in list("hyperparameters")?.iter().enumerate() {
            space.add(read_hyperparameter(h, i)?)?;
        }
        for (i, c) in list("conditions")?.iter().enumerate() {
            space.add_condition(read_condition(c, i)?)?;
        }
        for (i, f) in list("forbiddens")?.iter().enumerate() {
            space.add_forbidden(read_forbidden(f, i)?)?;
        }
        Ok(space)
    }

    /// The space in ConfigSpace's JSON format, readable by `ConfigurationSpace.from_json`
    /// (ConfigSpace >= 1.0). Defaults are always written, as ConfigSpace writes them.
    pub fn to_json(&self) -> String {
        let doc = json!({
            "name": self.name(),
            "hyperparameters": self.hyperparameters().iter().map(write_hyperparameter).collect::<Vec<_>>(),
            "conditions": self.conditions().iter().map(write_condition).collect::<Vec<_>>(),
            "forbiddens": self.forbiddens().iter().map(write_forbidden).collect::<Vec<_>>(),
            "python_module_version": PYTHON_MODULE_VERSION,
            "format_version": FORMAT_VERSION,
        });
        // Serialising a `serde_json::Value` built from finite numbers cannot fail.
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }

    /// A configuration from a flat JSON object (as [`Configuration::to_json`] writes it),
    /// with numbers converted to each hyperparameter's type, then validated.
    pub fn configuration_from_json(&self, v: &Json) -> Result<Configuration, SpaceError> {
        let obj = v.as_object().ok_or_else(|| {
            SpaceError::Format(format!("a configuration must be a JSON object, got {v}"))
        })?;
        let mut c = Configuration::default();
        for (name, x) in obj {
            let invalid = |problem: String| SpaceError::InvalidConfiguration {
                name: name.clone(),
                problem,
            };
            let h = self
                .hyperparameter(name)
                .ok_or_else(|| invalid("not a hyperparameter of the space".to_string()))?;
            let value = scalar(x).and_then(|s| h.canonical(&s)).ok_or_else(|| {
                invalid(format!("{x} is not a legal value ({})", h.describe_range()))
            })?;
            c.insert(name, value);
        }
        self.validate(&c)?;
        Ok(c)
    }
}
