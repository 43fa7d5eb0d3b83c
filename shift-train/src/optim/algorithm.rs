//! The optimisation algorithms and their hyperparameters.

use serde::{Deserialize, Serialize};

use crate::TrainError;

/// An optimisation algorithm with its hyperparameters (those shared by all parameter groups;
/// the learning rate and weight decay are per group, see [`GroupOptions`](super::GroupOptions)).
///
/// Hyperparameters are `f64` because PyTorch keeps them as Python floats and casts each scalar
/// to `f32` only where it meets a tensor; this crate does the same, in the same places.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "lowercase")]
pub enum Algorithm {
    /// `torch.optim.SGD`: `d = g + wd*p`; with momentum `buf = m*buf + (1-dampening)*d` (the
    /// first step takes `buf = d`); Nesterov uses `d + m*buf`, otherwise `buf`; `p -= lr*d`.
    Sgd {
        /// Momentum factor (0: plain SGD).
        momentum: f64,
        /// Dampening of the momentum (PyTorch default 0).
        dampening: f64,
        /// Nesterov momentum (needs momentum > 0 and dampening 0).
        nesterov: bool,
    },
    /// `torch.optim.Adam` with L2 weight decay (`g + wd*p`, not AdamW's decoupled form).
    Adam {
        /// Coefficients of the running averages of the gradient and its square.
        betas: (f64, f64),
        /// Added to the denominator.
        eps: f64,
        /// Use the maximum of past squared-gradient averages (AMSGrad).
        amsgrad: bool,
    },
    /// `torch.optim.Adagrad`.
    Adagrad {
        /// Learning-rate decay: `clr = lr / (1 + (step-1)*lr_decay)`.
        lr_decay: f64,
        /// Starting value of the sum of squared gradients.
        initial_accumulator_value: f64,
        /// Added to the denominator.
        eps: f64,
    },
    /// `torch.optim.RMSprop`.
    RmsProp {
        /// Smoothing constant of the squared-gradient average.
        alpha: f64,
        /// Added to the denominator.
        eps: f64,
        /// Momentum factor (0: none).
        momentum: f64,
        /// Normalise by the estimated variance instead of the second moment.
        centered: bool,
    },
    /// `torch.optim.Adadelta`.
    Adadelta {
        /// Coefficient of the running averages.
        rho: f64,
        /// Added inside the square roots.
        eps: f64,
    },
    /// RAdam as in the DeepShift reference (`optim/radam.py`): rectified when
    /// `N_sma >= 5`, otherwise `p -= lr * m / (1 - beta1^t)`; decoupled weight decay
    /// `p -= wd*lr*p` before the update.
    RAdam {
        /// Coefficients of the running averages.
        betas: (f64, f64),
        /// Added to the denominator.
        eps: f64,
    },
    /// Ranger as in the DeepShift reference (`optim/ranger.py`): the RAdam core (rectified when
    /// `N_sma > n_sma_threshold`, strictly, as that file compares) plus Lookahead: every `k`
    /// steps the slow weights move `alpha` of the way to the fast ones and replace them.
    Ranger {
        /// Coefficients of the running averages.
        betas: (f64, f64),
        /// Added to the denominator.
        eps: f64,
        /// Lookahead period in steps.
        k: u64,
        /// Lookahead interpolation factor.
        alpha: f64,
        /// Rectification threshold on `N_sma`.
        n_sma_threshold: f64,
    },
}

impl Algorithm {
    /// SGD with the given momentum, no dampening, no Nesterov.
    pub fn sgd(momentum: f64) -> Self {
        Algorithm::Sgd {
            momentum,
            dampening: 0.0,
            nesterov: false,
        }
    }

    /// Adam with PyTorch's defaults: betas (0.9, 0.999), eps 1e-8, no AMSGrad.
    pub fn adam() -> Self {
        Algorithm::Adam {
            betas: (0.9, 0.999),
            eps: 1e-8,
            amsgrad: false,
        }
    }

    /// Adagrad with PyTorch's defaults: lr_decay 0, initial accumulator 0, eps 1e-10.
    pub fn adagrad() -> Self {
        Algorithm::Adagrad {
            lr_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
        }
    }

    /// RMSprop with PyTorch's defaults: alpha 0.99, eps 1e-8, no momentum, not centred.
    pub fn rmsprop() -> Self {
        Algorithm::RmsProp {
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.0,
            centered: false,
        }
    }

    /// Adadelta with PyTorch's defaults: rho 0.9, eps 1e-6.
    pub fn adadelta() -> Self {
        Algorithm::Adadelta {
            rho: 0.9,
            eps: 1e-6,
        }
    }

    /// RAdam with the reference's defaults: betas (0.9, 0.999), eps 1e-8.
    pub fn radam() -> Self {
        Algorithm::RAdam {
            betas: (0.9, 0.999),
            eps: 1e-8,
        }
    }

    /// Ranger with the reference's defaults: betas (0.95, 0.999), eps 1e-5, k 6, alpha 0.5,
    /// threshold 5.
    pub fn ranger() -> Self {
        Algorithm::Ranger {
            betas: (0.95, 0.999),
            eps: 1e-5,
            k: 6,
            alpha: 0.5,
            n_sma_threshold: 5.0,
        }
    }

    /// The algorithm for a reference `--optimizer` name (case-insensitive) with its defaults;
    /// `momentum` is used by SGD only, as in the reference scripts.
    pub fn from_name(name: &str, momentum: f64) -> Result<Self, TrainError> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "sgd" => Algorithm::sgd(momentum),
            "adam" => Algorithm::adam(),
            "adagrad" => Algorithm::adagrad(),
            "rmsprop" => Algorithm::rmsprop(),
            "adadelta" => Algorithm::adadelta(),
            "radam" => Algorithm::radam(),
            "ranger" => Algorithm::ranger(),
            _ => return Err(TrainError::UnknownOptimizer(name.to_string())),
        })
    }

    /// The lower-case name (`sgd`, `adam`, ..., `ranger`).
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::Sgd { .. } => "sgd",
            Algorithm::Adam { .. } => "adam",
            Algorithm::Adagrad { .. } => "adagrad",
            Algorithm::RmsProp { .. } => "rmsprop",
            Algorithm::Adadelta { .. } => "adadelta",
            Algorithm::RAdam { .. } => "radam",
            Algorithm::Ranger { .. } => "ranger",
        }
    }

    /// Names of the per-parameter state buffers (each as long as the parameter), in the
    /// order the update kernels take them. PyTorch's state names are used where they exist.
    pub fn buffer_names(&self) -> Vec<&'static str> {
        match *self {
            Algorithm::Sgd { momentum, .. } if momentum != 0.0 => vec!["momentum_buffer"],
            Algorithm::Sgd { .. } => vec![],
            Algorithm::Adam { amsgrad, .. } => {
                let mut v = vec!["exp_avg", "exp_avg_sq"];
                if amsgrad {
                    v.push("max_exp_avg_sq");
                }
                v
            }
            Algorithm::Adagrad { .. } => vec!["sum"],
            Algorithm::RmsProp {
                momentum, centered, ..
            } => {
                let mut v = vec!["square_avg"];
                if momentum > 0.0 {
                    v.push("momentum_buffer");
                }
                if centered {
                    v.push("grad_avg");
                }
                v
            }
            Algorithm::Adadelta { .. } => vec!["square_avg", "acc_delta"],
            Algorithm::RAdam { .. } => vec!["exp_avg", "exp_avg_sq"],
            Algorithm::Ranger { .. } => vec!["exp_avg", "exp_avg_sq", "slow_buffer"],
        }
    }

    /// Checks the hyperparameters as PyTorch's constructors do (and rejects NaN).
    pub fn validate(&self) -> Result<(), TrainError> {
        fn check(
            name: &'static str,
            value: f64,
            ok: bool,
            reason: &'static str,
        ) -> Result<(), TrainError> {
            if ok && !value.is_nan() {
                Ok(())
            } else {
                Err(TrainError::InvalidHyperparameter {
                    name,
                    value,
                    reason,
                })
            }
        }
        fn betas(b: (f64, f64)) -> Result<(), TrainError> {
            check("beta1", b.0, (0.0..1.0).contains(&b.0), "must be in [0, 1)")?;
            check("beta2", b.1, (0.0..1.0).contains(&b.1), "must be in [0, 1)")
        }
        const NONNEG: &str = "must be finite and >= 0";
        let nonneg = |v: f64| v.is_finite() && v >= 0.0;
        match *self {
            Algorithm::Sgd {
                momentum,
                dampening,
                nesterov,
            } => {
                check("momentum", momentum, nonneg(momentum), NONNEG)?;
                check(
                    "dampening",
                    dampening,
                    dampening.is_finite(),
                    "must be finite",
                )?;
                if nesterov {
                    check(
                        "momentum",
                        momentum,
                        momentum > 0.0,
                        "Nesterov momentum needs momentum > 0",
                    )?;
                    check(
                        "dampening",
                        dampening,
                        dampening == 0.0,
                        "Nesterov momentum needs dampening 0",
                    )?;
                }
                Ok(())
            }
            Algorithm::Adam { betas: b, eps, .. } | Algorithm::RAdam { betas: b, eps } => {
                betas(b)?;
                check("eps", eps, nonneg(eps), NONNEG)
            }
            Algorithm::Adagrad {
                lr_decay,
                initial_accumulator_value,
                eps,
            } => {
                check("lr_decay", lr_decay, nonneg(lr_decay), NONNEG)?;
                check(
                    "initial_accumulator_value",
                    initial_accumulator_value,
                    nonneg(initial_accumulator_value),
                    NONNEG,
                )?;
                check("eps", eps, nonneg(eps), NONNEG)
            }
            Algorithm::RmsProp {
                alpha,
                eps,
                momentum,
                ..
            } => {
                check("alpha", alpha, nonneg(alpha), NONNEG)?;
                check("eps", eps, nonneg(eps), NONNEG)?;
                check("momentum", momentum, nonneg(momentum), NONNEG)
            }
            Algorithm::Adadelta { rho, eps } => {
                check("rho", rho, (0.0..=1.0).contains(&rho), "must be in [0, 1]")?;
                check("eps", eps, nonneg(eps), NONNEG)
            }
            Algorithm::Ranger {
                betas: b,
                eps,
                k,
                alpha,
                n_sma_threshold,
            } => {
                betas(b)?;
                check(
                    "eps",
                    eps,
                    eps.is_finite() && eps > 0.0,
                    "must be finite and > 0",
                )?;
                check("k", k as f64, k >= 1, "Lookahead needs k >= 1")?;
                check(
                    "alpha",
                    alpha,
                    (0.0..=1.0).contains(&alpha),
                    "must be in [0, 1]",
                )?;
                check(
                    "n_sma_threshold",
                    n_sma_threshold,
                    n_sma_threshold.is_finite(),
                    "must be finite",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in [
            "sgd", "adam", "adagrad", "rmsprop", "adadelta", "radam", "ranger",
        ] {
            let a = Algorithm::from_name(&name.to_uppercase(), 0.9).unwrap();
            assert_eq!(a.name(), name);
            a.validate().unwrap();
        }
        assert!(matches!(
            Algorithm::from_name("lbfgs", 0.0),
            Err(TrainError::UnknownOptimizer(n)) if n == "lbfgs"
        ));
    }

    #[test]
    fn invalid_hyperparameters_are_rejected() {
        let bad = [
            Algorithm::Sgd {
                momentum: -0.1,
                dampening: 0.0,
                nesterov: false,
            },
            Algorithm::Sgd {
                momentum: 0.0,
                dampening: 0.0,
                nesterov: true,
            },
            Algorithm::Sgd {
                momentum: 0.9,
                dampening: 0.1,
                nesterov: true,
            },
            Algorithm::Adam {
                betas: (1.0, 0.999),
                eps: 1e-8,
                amsgrad: false,
            },
            Algorithm::Adam {
                betas: (0.9, f64::NAN),
                eps: 1e-8,
                amsgrad: false,
            },
            Algorithm::RAdam {
                betas: (0.9, 0.999),
                eps: -1.0,
            },
            Algorithm::Adadelta {
                rho: 1.5,
                eps: 1e-6,
            },
            Algorithm::Ranger {
                betas: (0.95, 0.999),
                eps: 1e-5,
                k: 0,
                alpha: 0.5,
                n_sma_threshold: 5.0,
            },
            Algorithm::Ranger {
                betas: (0.95, 0.999),
                eps: 0.0,
                k: 6,
                alpha: 0.5,
                n_sma_threshold: 5.0,
            },
        ];
        for a in bad {
            assert!(
                matches!(a.validate(), Err(TrainError::InvalidHyperparameter { .. })),
                "{a:?} accepted"
            );
        }
    }

    #[test]
    fn serde_round_trip() {
        let a = Algorithm::ranger();
        let json = serde_json::to_string(&a).unwrap();
        assert!(json.contains("\"algorithm\":\"ranger\""), "{json}");
        assert_eq!(serde_json::from_str::<Algorithm>(&json).unwrap(), a);
    }
}
