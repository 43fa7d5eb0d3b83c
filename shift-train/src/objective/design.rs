//! A DSNN design read from one configuration of the search space: what a trial trains.

use serde_json::{Map, Value};
use shift_core::{FixedPoint, Rounding, ShiftType};

use crate::optim::OptimizerConfig;
use crate::TrainError;

/// Everything a configuration decides about a run. Hyperparameters absent from the
/// configuration (inactive ones, or ones the space does not search) take the reference MNIST
/// script's values: SGD, lr 0.01, momentum 0, no weight decay, PS, 5 bits, 16/16, deterministic
/// rounding, batch 64, every layer converted.
#[derive(Debug, Clone, PartialEq)]
pub struct DsnnDesign {
    /// Layers converted to shift layers, counted from the last (`--shift-depth`); 0 = float.
    pub shift_depth: usize,
    /// Q or PS.
    pub shift_type: ShiftType,
    /// Weight bits (`-wb`).
    pub weight_bits: u32,
    /// Activation format (`-ab I F`).
    pub act: FixedPoint,
    /// Rounding of shifts.
    pub rounding: Rounding,
    /// Optimiser and its settings.
    pub optimizer: OptimizerConfig,
    /// Training batch size.
    pub batch_size: usize,
}

/// The names this module reads; anything else in a configuration is an error, so a space with
/// a misspelt name fails at its first trial instead of silently searching nothing.
pub const HYPERPARAMETERS: [&str; 11] = [
    "shift_depth",
    "shift_type",
    "weight_bits",
    "activation_integer_bits",
    "activation_fraction_bits",
    "rounding",
    "optimizer",
    "lr",
    "momentum",
    "weight_decay",
    "batch_size",
];

fn bad(name: &str, problem: impl std::fmt::Display) -> TrainError {
    TrainError::InvalidConfig(format!("hyperparameter `{name}`: {problem}"))
}

fn int(config: &Map<String, Value>, name: &str, default: u64) -> Result<u64, TrainError> {
    match config.get(name) {
        None => Ok(default),
        Some(v) => v
            .as_u64()
            .or_else(|| {
                v.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            })
            .ok_or_else(|| bad(name, format!("{v} is not a non-negative integer"))),
    }
}

fn float(config: &Map<String, Value>, name: &str, default: f64) -> Result<f64, TrainError> {
    match config.get(name) {
        None => Ok(default),
        Some(v) => v
            .as_f64()
            .filter(|f| f.is_finite())
            .ok_or_else(|| bad(name, format!("{v} is not a finite number"))),
    }
}

fn text<'a>(
    config: &'a Map<String, Value>,
    name: &str,
    default: &'a str,
) -> Result<&'a str, TrainError> {
    match config.get(name) {
        None => Ok(default),
        Some(v) => v
            .as_str()
            .ok_or_else(|| bad(name, format!("{v} is not a string"))),
    }
}

impl DsnnDesign {
    /// Reads a configuration (a flat JSON object, inactive hyperparameters absent).
    pub fn from_config(config: &Map<String, Value>) -> Result<Self, TrainError> {
        if let Some(unknown) = config
            .keys()
            .find(|k| !HYPERPARAMETERS.contains(&k.as_str()))
        {
            return Err(bad(
                unknown,
                format!(
                    "not a DSNN hyperparameter (known: {})",
                    HYPERPARAMETERS.join(", ")
                ),
            ));
        }
        let shift_type = match text(config, "shift_type", "PS")? {
            "Q" | "q" => ShiftType::Q,
            "PS" | "ps" => ShiftType::PS,
            other => return Err(bad("shift_type", format!("`{other}` is neither Q nor PS"))),
        };
        let rounding = match text(config, "rounding", "deterministic")? {
            "deterministic" => Rounding::Deterministic,
            "stochastic" => Rounding::Stochastic,
            other => {
                return Err(bad(
                    "rounding",
                    format!("`{other}` is neither deterministic nor stochastic"),
                ))
            }
        };
        let weight_bits = int(config, "weight_bits", 5)?;
        if !(2..=8).contains(&weight_bits) {
            return Err(bad(
                "weight_bits",
                format!("{weight_bits} is outside 2..=8"),
            ));
        }
        let (i, f) = (
            int(config, "activation_integer_bits", 16)?,
            int(config, "activation_fraction_bits", 16)?,
        );
        let act = u32::try_from(i)
            .ok()
            .zip(u32::try_from(f).ok())
            .and_then(|(i, f)| FixedPoint::new(i, f).ok())
            .ok_or_else(|| {
                bad(
                    "activation_integer_bits",
                    format!("-ab {i} {f} is not a fixed-point format (I >= 1, I + F <= 32)"),
                )
            })?;
        let optimizer = text(config, "optimizer", "sgd")?.to_ascii_lowercase();
        let batch_size = int(config, "batch_size", 64)?;
        if batch_size == 0 {
            return Err(bad("batch_size", "must be at least 1"));
        }
        Ok(Self {
            shift_depth: int(config, "shift_depth", 1000)? as usize,
            shift_type,
            weight_bits: weight_bits as u32,
            act,
            rounding,
            optimizer: OptimizerConfig {
                name: optimizer,
                lr: float(config, "lr", 0.01)?,
                lr_sign: None,
                momentum: float(config, "momentum", 0.0)?,
                weight_decay: float(config, "weight_decay", 0.0)?,
            },
            batch_size: batch_size as usize,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Map<String, Value> {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn absent_hyperparameters_take_the_reference_defaults() {
        let d = DsnnDesign::from_config(&config("{}")).unwrap();
        assert_eq!(
            (d.shift_type, d.weight_bits, d.act),
            (ShiftType::PS, 5, FixedPoint::DEFAULT)
        );
        assert_eq!(
            (d.optimizer.name.as_str(), d.optimizer.lr, d.batch_size),
            ("sgd", 0.01, 64)
        );
    }

    #[test]
    fn a_configuration_is_read_and_checked() {
        let d = DsnnDesign::from_config(&config(
            r#"{"shift_depth": 2, "shift_type": "Q", "weight_bits": 3, "activation_integer_bits": 8,
                "activation_fraction_bits": 8, "rounding": "stochastic", "optimizer": "RAdam",
                "lr": 0.003, "weight_decay": 1e-5, "batch_size": 128}"#,
        ))
        .unwrap();
        assert_eq!(
            (d.shift_depth, d.shift_type, d.weight_bits),
            (2, ShiftType::Q, 3)
        );
        assert_eq!(d.act, FixedPoint::new(8, 8).unwrap());
        assert_eq!(
            (d.optimizer.name.as_str(), d.optimizer.weight_decay),
            ("radam", 1e-5)
        );
        for (text, needle) in [
            (r#"{"weight_bits": 9}"#, "weight_bits"),
            (
                r#"{"activation_integer_bits": 20, "activation_fraction_bits": 20}"#,
                "-ab 20 20",
            ),
            (r#"{"shift_type": "X"}"#, "shift_type"),
            (r#"{"lr": "fast"}"#, "lr"),
            (r#"{"learning_rate": 0.1}"#, "learning_rate"),
        ] {
            let e = DsnnDesign::from_config(&config(text))
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
