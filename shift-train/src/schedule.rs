//! Learning-rate schedules, per epoch, as `torch.optim.lr_scheduler` computes them.
//!
//! Epochs count from 0, as PyTorch's `last_epoch` after `step()` has been called that many
//! times. [`LrSchedule::lr_at`] is PyTorch's closed form (`_get_closed_form_lr`); the
//! schedulers' `get_lr()` is recursive (each epoch's rate from the previous one), which
//! [`LrSchedule::chained_lr`] reproduces. The two agree to a few `f64` ulps, which vanish when
//! the rate is cast to `f32` in the update. The training loop uses the closed form because it
//! depends only on (base rate, epoch), so a resumed run gets the same rates.

use crate::TrainError;

/// A learning-rate schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum LrSchedule {
    /// The base rate throughout.
    Constant,
    /// `StepLR`: multiply by `gamma` every `step_size` epochs.
    Step {
        /// Epochs between decays (>= 1).
        step_size: usize,
        /// Decay factor (PyTorch's default 0.1).
        gamma: f64,
    },
    /// `MultiStepLR`: multiply by `gamma` at each milestone (a repeated milestone decays
    /// once per repetition, as PyTorch's `Counter` does).
    MultiStep {
        /// Epochs at which to decay.
        milestones: Vec<usize>,
        /// Decay factor.
        gamma: f64,
    },
    /// `CosineAnnealingLR`: from the base rate down to `eta_min` over `t_max` epochs.
    Cosine {
        /// Half period in epochs (the reference passes `float(epochs)`).
        t_max: f64,
        /// Lowest rate.
        eta_min: f64,
    },
}

impl LrSchedule {
    /// `StepLR(step_size, gamma=0.1)`, the reference's `--lr-step-size`.
    pub fn step(step_size: usize) -> Self {
        LrSchedule::Step {
            step_size,
            gamma: 0.1,
        }
    }

    /// Checks the parameters as PyTorch's constructors do (and rejects NaN and infinities).
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |name, value, reason| {
            Err(TrainError::InvalidHyperparameter {
                name,
                value,
                reason,
            })
        };
        match self {
            LrSchedule::Constant => Ok(()),
            LrSchedule::Step { step_size, gamma } => {
                if *step_size == 0 {
                    return bad("step_size", 0.0, "must be at least 1 epoch");
                }
                if !gamma.is_finite() {
                    return bad("gamma", *gamma, "must be finite");
                }
                Ok(())
            }
            LrSchedule::MultiStep { milestones, gamma } => {
                if milestones.windows(2).any(|w| w[0] > w[1]) {
                    return bad("milestones", f64::NAN, "must be increasing");
                }
                if !gamma.is_finite() {
                    return bad("gamma", *gamma, "must be finite");
                }
                Ok(())
            }
            LrSchedule::Cosine { t_max, eta_min } => {
                if !(t_max.is_finite() && *t_max > 0.0) {
                    return bad("t_max", *t_max, "must be finite and > 0");
                }
                if !eta_min.is_finite() {
                    return bad("eta_min", *eta_min, "must be finite");
                }
                Ok(())
            }
        }
    }

    /// The rate at `epoch` for a group whose initial rate is `base_lr` (closed form).
    pub fn lr_at(&self, base_lr: f64, epoch: usize) -> f64 {
        match self {
            LrSchedule::Constant => base_lr,
            LrSchedule::Step { step_size, gamma } => {
                base_lr * gamma.powf((epoch / step_size.max(&1)) as f64)
            }
            LrSchedule::MultiStep { milestones, gamma } => {
                // bisect_right: milestones <= epoch.
                let passed = milestones.iter().filter(|&&m| m <= epoch).count();
                base_lr * gamma.powf(passed as f64)
            }
            LrSchedule::Cosine { t_max, eta_min } => {
                eta_min
                    + (base_lr - eta_min)
                        * (1.0 + (std::f64::consts::PI * epoch as f64 / t_max).cos())
                        / 2.0
            }
        }
    }

    /// PyTorch's recursive `get_lr()`: the rate at `epoch` (>= 1) from the rate `current_lr`
    /// at `epoch - 1` (epoch 0 gives `current_lr` back, as a freshly built scheduler does).
    pub fn chained_lr(&self, current_lr: f64, base_lr: f64, epoch: usize) -> f64 {
        if epoch == 0 {
            return current_lr;
        }
        match self {
            LrSchedule::Constant => current_lr,
            LrSchedule::Step { step_size, gamma } => {
                if epoch % step_size.max(&1) != 0 {
                    current_lr
                } else {
                    current_lr * gamma
                }
            }
            LrSchedule::MultiStep { milestones, gamma } => {
                let hits = milestones.iter().filter(|&&m| m == epoch).count();
                if hits == 0 {
                    current_lr
                } else {
                    current_lr * gamma.powf(hits as f64)
                }
            }
            LrSchedule::Cosine { t_max, eta_min } => {
                use std::f64::consts::PI;
                let e = epoch as f64;
                if (e - 1.0 - t_max) % (2.0 * t_max) == 0.0 {
                    current_lr + (base_lr - eta_min) * (1.0 - (PI / t_max).cos()) / 2.0
                } else {
                    (1.0 + (PI * e / t_max).cos()) / (1.0 + (PI * (e - 1.0) / t_max).cos())
                        * (current_lr - eta_min)
                        + eta_min
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rates of the first epochs as PyTorch's schedulers print them (`get_last_lr()` after
    /// each `step()`), evaluated from their source's formulas in Python floats.
    #[test]
    fn step_lr_values() {
        let s = LrSchedule::Step {
            step_size: 3,
            gamma: 0.1,
        };
        let want = [
            0.1,
            0.1,
            0.1,
            0.010000000000000002,
            0.010000000000000002,
            0.010000000000000002,
            0.0010000000000000002,
        ];
        let mut lr = 0.1;
        for (e, &w) in want.iter().enumerate() {
            lr = s.chained_lr(lr, 0.1, e);
            assert_eq!(lr, w, "chained epoch {e}");
            assert_eq!(s.lr_at(0.1, e), w, "closed epoch {e}");
        }
    }

    /// `StepLR(SGD(lr=0.01), step_size=5, gamma=0.1)`: `get_last_lr()` of torch 2.x for
    /// epochs 0..=10.
    #[test]
    fn step_lr_matches_torch() {
        let s = LrSchedule::Step {
            step_size: 5,
            gamma: 0.1,
        };
        let want = [
            0.01, 0.01, 0.01, 0.01, 0.01, 0.001, 0.001, 0.001, 0.001, 0.001, 0.0001,
        ];
        let mut lr = 0.01;
        for (e, &w) in want.iter().enumerate() {
            lr = s.chained_lr(lr, 0.01, e);
            assert_eq!(lr, w, "chained epoch {e}");
            let closed = s.lr_at(0.01, e);
            assert!(
                (closed - w).abs() <= 1e-15 * w,
                "closed epoch {e}: {closed} vs {w}"
            );
        }
    }

    #[test]
    fn multistep_lr_values() {
        let s = LrSchedule::MultiStep {
            milestones: vec![2, 4, 4],
            gamma: 0.5,
        };
        let want = [1.0, 1.0, 0.5, 0.5, 0.125, 0.125];
        let mut lr = 1.0;
        for (e, &w) in want.iter().enumerate() {
            lr = s.chained_lr(lr, 1.0, e);
            assert_eq!(lr, w, "chained epoch {e}");
            assert_eq!(s.lr_at(1.0, e), w, "closed epoch {e}");
        }
        // The reference's CIFAR-10 schedule.
        let cifar = LrSchedule::MultiStep {
            milestones: vec![80, 120, 160, 180],
            gamma: 0.1,
        };
        assert_eq!(cifar.lr_at(0.1, 79), 0.1);
        assert!((cifar.lr_at(0.1, 80) - 0.01).abs() < 1e-17);
        assert!((cifar.lr_at(0.1, 199) - 1e-5).abs() < 1e-19);
    }

    #[test]
    fn cosine_values() {
        // CosineAnnealingLR(opt, T_max=10.0, eta_min=0.001), base lr 0.1: its recursive
        // get_lr() evaluated in Python floats (the closed form gives the same digits here).
        let s = LrSchedule::Cosine {
            t_max: 10.0,
            eta_min: 0.001,
        };
        let want = [
            0.1,
            0.09757729755661011,
            0.0905463412215599,
            0.07959536998847742,
            0.0657963412215599,
            0.0505,
        ];
        let mut lr = 0.1;
        for (e, &w) in want.iter().enumerate() {
            lr = s.chained_lr(lr, 0.1, e);
            assert!((lr - w).abs() <= 1e-15, "chained epoch {e}: {lr} vs {w}");
            assert!((s.lr_at(0.1, e) - w).abs() <= 1e-15, "closed epoch {e}");
        }
        // Past T_max the rate rises again, the chained form via its special case.
        for e in 6..=25 {
            lr = s.chained_lr(lr, 0.1, e);
            let closed = s.lr_at(0.1, e);
            assert!((lr - closed).abs() <= 1e-12, "epoch {e}: {lr} vs {closed}");
        }
        assert!((s.lr_at(0.1, 10) - 0.001).abs() < 1e-15);
    }

    #[test]
    fn constant_and_validation() {
        assert_eq!(LrSchedule::Constant.lr_at(0.3, 100), 0.3);
        assert_eq!(LrSchedule::Constant.chained_lr(0.2, 0.3, 5), 0.2);
        assert_eq!(
            LrSchedule::step(30),
            LrSchedule::Step {
                step_size: 30,
                gamma: 0.1
            }
        );
        assert!(LrSchedule::step(0).validate().is_err());
        assert!(LrSchedule::MultiStep {
            milestones: vec![5, 3],
            gamma: 0.1
        }
        .validate()
        .is_err());
        assert!(LrSchedule::Cosine {
            t_max: 0.0,
            eta_min: 0.0
        }
        .validate()
        .is_err());
        assert!(LrSchedule::Cosine {
            t_max: 10.0,
            eta_min: f64::NAN
        }
        .validate()
        .is_err());
        assert!(LrSchedule::step(1).validate().is_ok());
    }
}
